package engine

import (
	"strings"
	"testing"
)

// TestTextsSayWhoCouldReachTheData checks the welcome and privacy texts against SPEC.md's
// honesty rule: no coach or colleague through storybot, the people who run its Redis can
// read what is not encrypted, and whether this installation encrypts.
func TestTextsSayWhoCouldReachTheData(t *testing.T) {
	tests := []struct {
		encrypted    bool
		welcome      []string
		privacy      []string
		neverSayThis string
	}{
		{false,
			[]string{"No coach or colleague", "unencrypted", "people who run its Redis could read it", "180 days"},
			[]string{"people who run this storybot and its Redis", "does not encrypt", "could read it", "never your journal"},
			"scrambled"},
		{true,
			[]string{"No coach or colleague", "stores it encrypted", "see only scrambled text", "180 days"},
			[]string{"people who run this storybot and its Redis", "encrypts your dialogues, journal", "not encrypted"},
			"could read it"},
	}
	for _, tt := range tests {
		tx := texts{retentionDays: 180, encrypted: tt.encrypted}
		w, p := tx.welcome(), tx.privacy()
		if n := strings.Count(w, "\n") + 1; n != 3 {
			t.Errorf("welcome (encrypted %v) has %d lines, want 3:\n%s", tt.encrypted, n, w)
		}
		for _, want := range tt.welcome {
			if !strings.Contains(w, want) {
				t.Errorf("welcome (encrypted %v) lacks %q:\n%s", tt.encrypted, want, w)
			}
		}
		for _, want := range tt.privacy {
			if !strings.Contains(p, want) {
				t.Errorf("privacy (encrypted %v) lacks %q:\n%s", tt.encrypted, want, p)
			}
		}
		if strings.Contains(w, tt.neverSayThis) {
			t.Errorf("welcome (encrypted %v) says %q:\n%s", tt.encrypted, tt.neverSayThis, w)
		}
		for _, s := range []string{w, p} {
			if strings.Contains(s, "only you can read") {
				t.Errorf("text claims only the user can read it:\n%s", s)
			}
		}
	}
}
