package slack

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFollowupEndToEnd: through the Slack fake, a quick pause whose next step gets
// "Tomorrow" and is saved; the clock moves to the check-back; exactly one follow-up DM
// quotes the step; Done, what they found out and how true are answered by typing; history
// and export show the outcome.
func TestFollowupEndToEnd(t *testing.T) {
	h := newHarness(t)
	runScheduler(h)
	u := "UFOLLOW1"
	ref := userRef(testTeam, u)
	ctx := context.Background()
	h.clock.Set(time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)) // a Tuesday
	h.slash(u, "D"+u, "quick")
	for _, answer := range []string{"Sam thinks my draft is weak", "Sam is swamped", "Ask Sam when we can pick it up.", "Tomorrow"} {
		h.clock.Add(time.Minute)
		h.dm(u, answer)
	}
	h.clock.Add(time.Minute)
	h.dm(u, "save")
	entries, err := h.store.Journal(ctx, ref, 5)
	if err != nil || len(entries) != 1 || entries[0].CheckBack == nil {
		t.Fatalf("journal after save = %+v, %v; want one entry with a check-back", entries, err)
	}
	due, err := h.store.FollowupsDue(ctx, ref, []string{entries[0].ID})
	if err != nil || due[entries[0].ID].IsZero() {
		t.Fatalf("no follow-up scheduled: %v, %v", due, err)
	}
	at := due[entries[0].ID]
	if !at.Equal(*entries[0].CheckBack) || at.Sub(h.clock.Now()) < 12*time.Hour || at.Sub(h.clock.Now()) > 36*time.Hour {
		t.Fatalf("follow-up due %v, check-back %v, now %v: want tomorrow", at, *entries[0].CheckBack, h.clock.Now())
	}
	from := len(h.fake.snapshot())
	h.clock.Set(at.Add(-time.Second))
	time.Sleep(50 * time.Millisecond)
	if got := h.replies(u, from); len(got) != 0 {
		t.Fatalf("sent before the check-back time: %q", got)
	}
	h.clock.Set(at)
	var fu []string
	waitFor(t, "the follow-up DM", func() bool { fu = h.replies(u, from); return len(fu) > 0 })
	if len(fu) != 1 || !strings.Contains(fu[0], "you planned: “Ask Sam when we can pick it up.” Did it happen?") {
		t.Fatalf("follow-up DM = %q", fu)
	}
	for _, step := range []struct{ say, want string }{
		{"Done", "What did you find out?"},
		{"She liked it; she was just swamped.", "how true was your first story"},
		{"2", "Thank you"},
	} {
		n := len(h.fake.snapshot())
		h.clock.Add(time.Minute)
		h.dm(u, step.say)
		var got []string
		waitFor(t, "the reply to "+step.say, func() bool { got = h.replies(u, n); return len(got) > 0 })
		if !strings.Contains(strings.Join(got, "\n"), step.want) {
			t.Fatalf("after %q: %q, want %q", step.say, got, step.want)
		}
	}
	time.Sleep(50 * time.Millisecond)
	en, _, err := h.store.Entry(ctx, ref, entries[0].ID)
	if err != nil || en.FollowUp == nil || en.FollowUp.Outcome != "done" || en.FollowUp.FoundOut != "She liked it; she was just swamped." || en.FollowUp.HowTrue == nil || *en.FollowUp.HowTrue != 2 {
		t.Fatalf("entry follow-up = %+v, %v", en.FollowUp, err)
	}
	n := len(h.fake.snapshot())
	h.slash(u, "D"+u, "history")
	var hist []string
	waitFor(t, "history", func() bool { hist = h.replies(u, n); return len(hist) > 0 })
	if s := strings.Join(hist, "\n"); !strings.Contains(s, "Followed up: done") || !strings.Contains(s, "the first story was 2/10 true") || !strings.Contains(s, "Found out: She liked it") {
		t.Errorf("history = %q, want the follow-up", s)
	}
	h.slash(u, "D"+u, "export")
	waitFor(t, "the export", func() bool { return strings.Contains(h.fake.lastUpload(), "follow_up") })
	if up := h.fake.lastUpload(); !strings.Contains(up, `"storybot.export/v2"`) || !strings.Contains(up, `"how_true": 2`) || !strings.Contains(up, "She liked it") {
		t.Errorf("export lacks the follow-up: %s", up)
	}
	time.Sleep(50 * time.Millisecond)
	if extra := h.replies(u, from); strings.Count(strings.Join(extra, "\n"), "Did it happen?") != 1 {
		t.Errorf("the follow-up came %d times", strings.Count(strings.Join(extra, "\n"), "Did it happen?"))
	}
}
