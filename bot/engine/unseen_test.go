package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
)

// TestUnseenReplies: what the engine does with a dialogue whose replies may not have
// reached the user (bot.DeliveryTracker). While a queue is on its way, answers apply as
// usual; once replies were given up, a typed answer gets the open prompt again (and is not
// applied), crisis language still gets the crisis answer, and a button press applies; the
// failure is counted by platform and reason; a delivered queue clears the mark.
func TestUnseenReplies(t *testing.T) {
	r := newRig(t, rigOptions{})
	u := bot.UserRef{Platform: "slack", Workspace: "T1", User: "UUNSEEN"}
	ctx := context.Background()
	dialogue := func() flows.State {
		t.Helper()
		st, _, err := r.store.Dialogue(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	r.cmd(u, "pause")
	r.say(u, "The meeting ran over")

	// Waiting in a queue: answers within the window apply, and the mark stays.
	r.eng.DMDelayed(ctx, u, 10*time.Minute)
	if st := dialogue(); st.Unseen.IsZero() {
		t.Fatal("DMDelayed left no mark")
	}
	r.say(u, "They think I'm careless")
	if st := dialogue(); st.Entry.Story != "They think I'm careless" || st.Unseen.IsZero() {
		t.Fatalf("within the window: story %q, mark %v; want the answer applied and the mark kept", st.Entry.Story, st.Unseen)
	}
	r.eng.DMDelivered(ctx, u)
	if st := dialogue(); !st.Unseen.IsZero() {
		t.Fatal("DMDelivered left the mark")
	}

	// Given up: the next typed answer gets the open prompt again.
	r.eng.DMFailed(ctx, u, "api_error")
	msgs := r.say(u, "hello?")
	if got := texts(msgs); !strings.Contains(got, engine.TextMissedPrompt) || !strings.Contains(got, "What are you feeling?") {
		t.Errorf("after a failed delivery \"hello?\" got %q, want the feeling prompt again", got)
	}
	if st := dialogue(); st.Entry.Feeling != "" || !st.Unseen.IsZero() {
		t.Errorf("\"hello?\" applied (feeling %q) or the mark kept (%v)", st.Entry.Feeling, st.Unseen)
	}

	// A button press is an answer to something the user saw: it applies.
	r.eng.DMFailed(ctx, u, "shutdown")
	r.choose(u, "anxious")
	if st := dialogue(); st.Entry.Feeling == "" || !st.Unseen.IsZero() {
		t.Errorf("a press with a mark: feeling %q, mark %v; want it applied and the mark gone", st.Entry.Feeling, st.Unseen)
	}

	// Safety comes first, mark or not.
	r.eng.DMFailed(ctx, u, "timeout")
	msgs = r.say(u, "I want to end my life")
	if got := texts(msgs); strings.Contains(got, engine.TextMissedPrompt) || !hasKind(msgs, flows.ReplyCrisis) {
		t.Errorf("crisis language with a mark got %q, want the crisis answer", got)
	}

	for reason, want := range map[string]float64{"api_error": 1, "timeout": 1, "shutdown": 1} {
		if got := counterValue(t, r, "storybot_delivery_failures_total", map[string]string{"platform": "slack", "reason": reason}); got != want {
			t.Errorf("delivery failures (slack, %s) = %v, want %v", reason, got, want)
		}
	}
	if strings.Contains(r.logs.String(), "hello?") || strings.Contains(r.logs.String(), "careless") {
		t.Errorf("user text in logs")
	}
}

func hasKind(msgs []bot.Message, k flows.ReplyKind) bool {
	for _, m := range msgs {
		if m.Kind == k {
			return true
		}
	}
	return false
}

func counterValue(t *testing.T, r *rig, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
