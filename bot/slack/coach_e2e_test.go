package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

func TestSlackCoachCycle(t *testing.T) {
	h := newHarness(t)
	eng := h.eng
	const (
		coach, client = "UCOACH1", "UCLIENT1"
		privateNote   = "PRIVATE-slack-note"
		sharedNote    = "SHARED-slack-note"
	)
	has := func(what string, got []string, want string) {
		t.Helper()
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("%s: lacks %q:\n%s", what, want, strings.Join(got, "\n"))
		}
	}
	n := h.ncalls()
	h.slash(coach, "C1", "coach invite <@"+client+"|client>")
	has("invitation", h.replies(client, n), "would like to be your coach")
	has("coach confirmation", h.replies(coach, n), "Invitation sent")
	h.click(client, findChoice(t, h, client, "coach:accept:"))

	n = h.ncalls()
	h.slash(coach, "C1", "coach assign <@"+client+"> name-the-story daily 09:00")
	has("assignment", h.replies(client, n), "Name the story")
	h.click(client, "practice:done:name-the-story")
	h.click(client, "practice:note:name-the-story")
	h.dm(client, privateNote)
	h.click(client, findChoice(t, h, client, "note:private:"))

	// The reminder, as the scheduler delivers it.
	clientRef := bot.UserRef{Platform: Platform, Workspace: testTeam, User: client}
	job, due, ok, err := h.store.Job(context.Background(), clientRef, bot.JobPractice)
	if err != nil || !ok {
		t.Fatalf("no reminder job: %v %v", ok, err)
	}
	h.clock.Add(due.Sub(h.clock.Now()) + time.Second)
	n = h.ncalls()
	if err := eng.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	has("reminder", h.replies(client, n), "Time for your practice: Name the story")
	h.click(client, "practice:done:name-the-story")
	h.dm(client, "add a note")
	h.dm(client, sharedNote)
	h.click(client, findChoice(t, h, client, "note:share:"))

	n = h.ncalls()
	h.slash(coach, "C1", "coach progress <@"+client+">")
	has("progress", h.replies(coach, n), "Done 2 · missed 0 · current streak 2")
	has("progress", h.replies(coach, n), sharedNote)

	h.slash(client, "C1", "coach revoke")
	n = h.ncalls()
	h.slash(coach, "C1", "coach progress <@"+client+">")
	has("progress after revoke", h.replies(coach, n), "not <@"+client+">'s coach")

	for _, c := range h.fake.snapshot() {
		if c.Channel == "D"+coach || c.RouteUser == coach {
			if strings.Contains(c.Text, privateNote) || strings.Contains(c.Blocks, privateNote) {
				t.Errorf("the private note reached the coach: %+v", c)
			}
		}
		if c.Method == "chat.postMessage" && !strings.HasPrefix(c.Channel, "D") {
			t.Errorf("posted to a channel: %+v", c)
		}
	}
}

// findChoice returns the value of the newest button to user whose value starts with prefix.
func findChoice(tb testing.TB, h *harness, user, prefix string) string {
	tb.Helper()
	calls := h.fake.snapshot()
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		if c.Channel != "D"+user {
			continue
		}
		if i := strings.Index(c.Blocks, `"value":"`+prefix); i >= 0 {
			rest := c.Blocks[i+len(`"value":"`):]
			return rest[:strings.Index(rest, `"`)]
		}
	}
	tb.Fatalf("no button %s… to %s", prefix, user)
	return ""
}
