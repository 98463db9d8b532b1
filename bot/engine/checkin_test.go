package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/flows"
)

func TestDigest(t *testing.T) {
	now := time.Date(2026, 3, 8, 18, 0, 0, 0, time.UTC)
	n := func(v int) *int { return &v }
	entries := []flows.Entry{ // newest first, as Journal returns them
		{Flow: flows.FlowReframe, Created: now.Add(-1 * time.Hour), Story: "x", Traps: []string{"mind-reading"}},
		{Flow: flows.FlowQuick, Created: now.Add(-2 * time.Hour), Story: "They always ignore me", Next: "Ask Sam for ten minutes",
			SuggestedTraps: []string{"overgeneralising"}}, // suggested, never confirmed: not counted
		{Flow: flows.FlowPause, Created: now.Add(-50 * time.Hour), Story: "she thinks I'm lazy", StrengthBefore: n(8), StrengthAfter: n(5), Next: "Send the draft today"},
		{Flow: flows.FlowPause, Created: now.Add(-8 * 24 * time.Hour), Next: "too old to count"},
	}
	got := Digest(entries, now)
	for _, want := range []string{"2 pauses and 1 reframe this week", "eased by 3.0 points", "Send the draft today", "Ask Sam for ten minutes", "Thinking traps you recognised most: mind reading (1)."} {
		if !strings.Contains(got, want) {
			t.Errorf("Digest = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "overgeneralising") {
		t.Errorf("Digest = %q counts a trap that was only suggested", got)
	}
	if strings.Contains(got, "too old") {
		t.Errorf("Digest = %q includes an entry older than a week", got)
	}
	if got := Digest(nil, now); !strings.Contains(got, "No pauses this week") {
		t.Errorf("empty Digest = %q", got)
	}
}
