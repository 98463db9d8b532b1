package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// checkBackPrompt is the check-back question's opening words.
const checkBackPrompt = "When shall I check back"

// TestCheckBacksOffNoOffer: after /story followups off, no dialogue offers a check-back — a
// quick pause in the DM, a pause started from a scheduled check-in, the quick pause form
// (opened without the field, a submitted check-back ignored) — and nothing is scheduled;
// /story followups on brings the offer back.
func TestCheckBacksOffNoOffer(t *testing.T) {
	r := newRig(t, rigOptions{})
	u := testUser("cboff", 1)
	ctx := context.Background()
	if got := joinTexts(r.cmd(u, "followups off")); !strings.Contains(got, "Check-backs are off") {
		t.Fatalf("followups off = %q", got)
	}

	// A quick pause in the DM: the next step leads straight to the summary.
	r.handle(u, bot.Event{Kind: bot.EventCommand, Text: "quick Sam thinks my draft is weak", InDM: true})
	r.say(u, "Sam is busy this week")
	got := joinTexts(r.say(u, "Ask Sam when we can go through it"))
	if strings.Contains(got, checkBackPrompt) || strings.Contains(got, "check back") || !strings.Contains(got, "Here's your quick pause") {
		t.Fatalf("after the next step with check-backs off = %q, want the summary and no check-back", got)
	}
	// "back" from the summary returns to the next step, not to a check-back.
	if got := joinTexts(r.say(u, "back")); !strings.Contains(got, "next step") {
		t.Errorf("back from the summary = %q, want the next step", got)
	}
	r.say(u, "Ask Sam when we can go through it")
	r.choose(u, "save")

	// A pause from a scheduled check-in.
	if err := r.eng.Deliver(ctx, bot.Job{Kind: bot.JobCheckin, User: u}); err != nil {
		t.Fatal(err)
	}
	r.take()
	for _, step := range []func() []bot.Message{
		func() []bot.Message { return r.choose(u, "checkin-pause") },
		func() []bot.Message { return r.say(u, "The build broke after my merge") },
		func() []bot.Message { return r.say(u, "I broke everything again") },
		func() []bot.Message { return r.say(u, "skip") }, // the feeling
		func() []bot.Message { return r.say(u, "The failing test is in my module") },
		func() []bot.Message { return r.say(u, "The test was flaky before") },
		func() []bot.Message { return r.say(u, "skip") }, // what more to learn
	} {
		step()
	}
	got = joinTexts(r.say(u, "Ask whether it failed yesterday too"))
	if strings.Contains(got, checkBackPrompt) || !strings.Contains(got, "Here's your pause") {
		t.Fatalf("a check-in's pause after the next step = %q, want the summary and no check-back", got)
	}
	r.choose(u, "save")

	// The form: opened without the field; a check-back submitted anyway is ignored.
	msgs := r.handle(u, bot.Event{Kind: bot.EventCommand, Text: "quick", Trigger: "trigger-1", Route: "route-1"})
	if len(msgs) != 1 || msgs[0].Form == nil || !msgs[0].Form.NoCheckBack {
		t.Fatalf("/story quick with a trigger = %+v, want the form without a check-back", msgs)
	}
	msgs = r.handle(u, bot.Event{Kind: bot.EventForm, Route: "route-2", Form: &flows.QuickForm{
		Story: "Lee ignores my messages", Other: "Lee is on holiday", Next: "Wait until Monday", CheckBack: "checkback-tomorrow"}})
	if got := joinTexts(msgs); len(msgs) != 1 || msgs[0].Kind != flows.ReplySummary || strings.Contains(got, "check back") {
		t.Fatalf("form with a check-back while off = %q, want the summary with none", got)
	}
	r.handle(u, bot.Event{Kind: bot.EventChoice, Choice: "save", Route: "route-2", Modal: true})

	entries, err := r.store.Journal(ctx, u, 10)
	if err != nil || len(entries) != 3 {
		t.Fatalf("journal = %d entries, %v; want 3", len(entries), err)
	}
	ids := make([]string, len(entries))
	for i, en := range entries {
		ids[i] = en.ID
		if en.CheckBack != nil {
			t.Errorf("entry %q saved with a check-back while off", en.Next)
		}
	}
	if due, err := r.store.FollowupsDue(ctx, u, ids); err != nil || len(due) != 0 {
		t.Errorf("follow-ups pending while off = %v, %v", due, err)
	}

	// On again: the offer is back, in the DM and in the form.
	r.cmd(u, "followups on")
	r.handle(u, bot.Event{Kind: bot.EventCommand, Text: "quick Sam thinks my draft is weak", InDM: true})
	r.say(u, "Sam is busy this week")
	if got := joinTexts(r.say(u, "Ask Sam")); !strings.Contains(got, checkBackPrompt) {
		t.Fatalf("after the next step with check-backs on = %q, want the check-back offer", got)
	}
	if got := joinTexts(r.say(u, "Tomorrow")); !strings.Contains(got, "I'll check back") {
		t.Errorf("summary after Tomorrow = %q, want the check-back", got)
	}
	r.choose(u, "save")
	entries, _ = r.store.Journal(ctx, u, 1)
	if due, _ := r.store.FollowupsDue(ctx, u, []string{entries[0].ID}); len(due) != 1 {
		t.Errorf("no follow-up scheduled with check-backs on")
	}
	msgs = r.handle(u, bot.Event{Kind: bot.EventCommand, Text: "quick", Trigger: "trigger-2", Route: "route-3"})
	if len(msgs) != 1 || msgs[0].Form == nil || msgs[0].Form.NoCheckBack {
		t.Errorf("/story quick with a trigger after on = %+v, want the form with the check-back", msgs)
	}
}
