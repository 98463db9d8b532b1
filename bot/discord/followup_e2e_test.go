package discord

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFollowupEndToEnd: through the Discord fake, a quick pause typed in the bot DM whose
// next step gets "Tomorrow" and is saved; the clock moves to the check-back; exactly one
// follow-up DM quotes the step; Done, what they found out and how true are answered by
// typing; the entry and history show the outcome.
func TestFollowupEndToEnd(t *testing.T) {
	e := newEnv(t, 1, true)
	const user = "u-follow"
	e.welcomed(t, user)
	ctx := context.Background()
	e.clock.Set(time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)) // a Tuesday
	runScheduler(t, e, e.engines[0])

	say := func(text string) string {
		t.Helper()
		n := len(e.fake.dmPosts(user))
		e.clock.Add(time.Minute)
		e.dm(user, text)
		waitFor(t, "a reply to "+text, func() bool { return len(e.fake.dmPosts(user)) > n })
		e.idle()
		time.Sleep(20 * time.Millisecond)
		var out []string
		for _, c := range e.fake.dmPosts(user)[n:] {
			out = append(out, content(c))
		}
		return strings.Join(out, "\n")
	}
	e.run(t, e.command(user, "", "quick", strOpt("story", "Sam thinks my draft is weak")))
	for _, a := range []string{"Sam is swamped", "Ask Sam when we can pick it up.", "Tomorrow"} {
		say(a)
	}
	if got := say("Save to journal"); !strings.Contains(got, "Saved") {
		t.Fatalf("saving answered %q", got)
	}
	entries, err := e.store.Journal(ctx, userRef(user), 5)
	if err != nil || len(entries) != 1 || entries[0].CheckBack == nil {
		t.Fatalf("journal after save = %+v, %v; want one entry with a check-back", entries, err)
	}
	at := *entries[0].CheckBack
	if d := at.Sub(e.clock.Now()); d < 12*time.Hour || d > 36*time.Hour {
		t.Fatalf("check-back at %v, now %v: want tomorrow", at, e.clock.Now())
	}
	n := len(e.fake.dmPosts(user))
	e.clock.Set(at.Add(-time.Second))
	time.Sleep(100 * time.Millisecond)
	if len(e.fake.dmPosts(user)) != n {
		t.Fatal("a DM came before the check-back time")
	}
	e.clock.Set(at)
	waitFor(t, "the follow-up DM", func() bool { return len(e.fake.dmPosts(user)) > n })
	if fu := content(e.fake.dmPosts(user)[n]); !strings.Contains(fu, "you planned: “Ask Sam when we can pick it up.” Did it happen?") {
		t.Fatalf("follow-up DM = %q", fu)
	}
	for _, step := range []struct{ say, want string }{
		{"Done", "What did you find out?"},
		{"She liked it; she was just swamped.", "how true was your first story"},
		{"2", "Thank you"},
	} {
		if got := say(step.say); !strings.Contains(got, step.want) {
			t.Fatalf("after %q: %q, want %q", step.say, got, step.want)
		}
	}
	en, _, err := e.store.Entry(ctx, userRef(user), entries[0].ID)
	if err != nil || en.FollowUp == nil || en.FollowUp.Outcome != "done" || en.FollowUp.HowTrue == nil || *en.FollowUp.HowTrue != 2 {
		t.Fatalf("entry follow-up = %+v, %v", en.FollowUp, err)
	}
	tok := e.run(t, e.command(user, "", "history"))
	hist := e.inPlace(tok)
	for _, c := range e.fake.dmPosts(user) {
		hist += "\n" + content(c)
	}
	if !strings.Contains(hist, "Followed up: done") || !strings.Contains(hist, "Found out: She liked it") {
		t.Errorf("history lacks the follow-up:\n%s", hist)
	}
	if c := strings.Count(hist, "Did it happen?"); c != 1 {
		t.Errorf("the follow-up came %d times, want once", c)
	}
}
