package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// TestSlashReplayStartsOnce: one signed slash command sent twice (a replay within its five
// minutes, or a proxy's retry) starts one dialogue and sends one first prompt.
func TestSlashReplayStartsOnce(t *testing.T) {
	h := newHarness(t)
	body := slashBody(h.fake, "UREPLAY", "C1", "pause")
	for range 2 {
		if code, got := h.post("/slack/commands", "application/x-www-form-urlencoded", body, nil); code != 200 || got != "" {
			t.Fatalf("slash command: %d %q", code, got)
		}
		h.wait()
	}
	prompts := 0
	for _, r := range h.replies("UREPLAY", 0) {
		if strings.Contains(r, "What's happening?") {
			prompts++
		}
	}
	if prompts != 1 {
		t.Errorf("first prompt sent %d times, want 1; replies: %q", prompts, h.replies("UREPLAY", 0))
	}
}

// TestBusyAnswersHonestly fills the work pool: a slash command is answered in its own
// response with a private busy note, a DM event gets 503 and is not recorded, so Slack's
// redelivery, once there is room, is handled — once.
func TestBusyAnswersHonestly(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Work = bot.NewPool(bot.PoolConfig{Workers: 1, Queue: 1})
	})
	t.Cleanup(func() { _ = h.adapter.work.Drain(context.Background()) })
	h.slash("UBUSY", "C1", "pause")
	h.dm("UBUSY", "The meeting ran over")

	release := make(chan struct{})
	block := func(context.Context) { <-release }
	if err := h.adapter.work.Submit("other", "test", block); err != nil {
		t.Fatal(err)
	}
	for h.adapter.work.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := h.adapter.work.Submit("other2", "test", block); err != nil {
		t.Fatal(err) // fills the one queue slot
	}

	code, body := h.post("/slack/commands", "application/x-www-form-urlencoded", slashBody(h.fake, "UBUSY2", "C1", "pause"), nil)
	var busy struct{ ResponseType, Text string }
	_ = json.Unmarshal([]byte(body), &struct {
		ResponseType *string `json:"response_type"`
		Text         *string `json:"text"`
	}{&busy.ResponseType, &busy.Text})
	if code != 200 || busy.ResponseType != "ephemeral" || busy.Text != TextBusy {
		t.Errorf("slash command while saturated: %d %q, want 200 with an ephemeral busy note", code, body)
	}
	ev := h.messageBody("UBUSY", "I think they are angry", "EvBusy1")
	if code, _ := h.post("/slack/events", "application/json", ev, nil); code != 503 {
		t.Errorf("event while saturated: status %d, want 503", code)
	}
	close(release)
	h.wait()
	// Slack's retry of the refused event.
	if code, _ := h.post("/slack/events", "application/json", ev, map[string][]string{"X-Slack-Retry-Num": {"1"}}); code != 200 {
		t.Fatalf("retried event: status %d, want 200", code)
	}
	h.wait()
	if code, _ := h.post("/slack/events", "application/json", ev, map[string][]string{"X-Slack-Retry-Num": {"2"}}); code != 200 {
		t.Fatalf("second retry: status %d, want 200", code)
	}
	h.wait()
	st, _, err := h.store.Dialogue(context.Background(), userRef(testTeam, "UBUSY"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.Story != "I think they are angry" || st.Step == flows.StepStory {
		t.Errorf("after the retry the dialogue is at %v with story %q: the refused event was not applied once", st.Step, st.Entry.Story)
	}
	if n := len(st.Trail); n != 2 {
		t.Errorf("dialogue trail has %d steps, want 2 (two answers, each applied once)", n)
	}
}
