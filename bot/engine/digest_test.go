package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage/redistest"
)

// TestDigestEndToEnd opts in to the weekly digest, keeps a few pauses, and lets the real
// scheduler deliver the digest on Sunday evening in the user's zone: one DM, from the
// user's own journal, with their next steps in their words.
func TestDigestEndToEnd(t *testing.T) {
	h := newHarness(t, redistest.Start(t))
	h.command("tz America/New_York", true)
	if got := texts(h.command("digest weekly", true)); !strings.Contains(got, "Sunday") {
		t.Fatalf("/story digest weekly said %q, want it to say when", got)
	}
	h.savePause("they-think-im-slow", "they-are-busy", "ask-for-ten-minutes")
	h.savePause("the-launch-will-flop", "it-might-go-fine", "send-the-draft-today")

	defer h.runScheduler(nil)()

	ny, _ := time.LoadLocation("America/New_York")
	h.clock.Set(time.Date(2026, 3, 8, 17, 59, 0, 0, ny)) // Sunday, one minute early
	time.Sleep(100 * time.Millisecond)
	if got := h.rec.take(); len(got) != 0 {
		t.Fatalf("digest before 18:00 local: %+v", got)
	}
	h.clock.Set(time.Date(2026, 3, 8, 18, 0, 0, 0, ny))
	var digest []bot.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(digest) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		digest = h.rec.take()
	}
	if len(digest) != 1 || digest[0].To.Kind != bot.DestDM || digest[0].To.User != h.user {
		t.Fatalf("on Sunday 18:00 the user got %+v, want one digest DM", digest)
	}
	for _, want := range []string{"2 pauses this week", "ask-for-ten-minutes", "send-the-draft-today"} {
		if !strings.Contains(digest[0].Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, digest[0].Text)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if extra := h.rec.take(); len(extra) != 0 {
		t.Errorf("more than one digest: %+v", extra)
	}
}
