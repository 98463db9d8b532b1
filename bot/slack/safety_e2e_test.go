package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// TestSlackSafety: crisis language in a slash command (parsed or not) gets the crisis answer
// in place, ephemeral, never the help; in a DM it stops the dialogue; an idiom gets the check
// question and "no" goes on; a practice note with crisis language is not kept, and an
// ambiguous one marked to share never reaches the coach. TestMain's audit checks every call.
func TestSlackSafety(t *testing.T) {
	h := newHarness(t)
	const coach, client = "UCOACHS", "UCLIENTS"
	joined := func(xs []string) string { return strings.Join(xs, "\n---\n") }
	crisisAnswer := func(what string, got []string) {
		t.Helper()
		all := joined(got)
		if !strings.Contains(all, "findahelpline.com") || !strings.Contains(all, "saved nothing") || strings.Contains(all, "/story help —") {
			t.Errorf("%s: want the crisis answer and no help, got:\n%s", what, all)
		}
	}

	// In a command, in a channel: the answer comes ephemeral, in place.
	for _, text := range []string{"I want to kill myself", "checkin i wanna kms", "i want to kil myself &amp; nobody would miss me"} {
		n := h.ncalls()
		h.slash(client, "C1", text)
		crisisAnswer("/story "+text, h.replies(client, n))
		for _, c := range h.fake.snapshot()[n:] {
			if c.Method == "chat.postMessage" {
				t.Errorf("/story %s posted %+v; want only the ephemeral answer", text, c)
			}
			if c.Method == "response_url" && c.ResponseType != "ephemeral" {
				t.Errorf("/story %s answered %q, want ephemeral", text, c.ResponseType)
			}
		}
	}

	// In a DM, mid-dialogue: the dialogue stops.
	h.slash(client, "D"+client, "quick")
	n := h.ncalls()
	h.dm(client, "honestly i just want to end it all")
	crisisAnswer("DM", h.replies(client, n))
	st, _, _ := h.store.Dialogue(context.Background(), bot.UserRef{Platform: Platform, Workspace: testTeam, User: client})
	if st.Open() {
		t.Errorf("dialogue open after the crisis answer: %+v", st)
	}

	// An idiom: the check question, then "No, a figure of speech" by button.
	h.slash(client, "D"+client, "quick")
	n = h.ncalls()
	h.dm(client, "It's a suicide mission to ship by Friday")
	if got := joined(h.replies(client, n)); !strings.Contains(got, "are you having thoughts of hurting yourself") {
		t.Fatalf("idiom: want the check question, got:\n%s", got)
	}
	n = h.ncalls()
	h.click(client, "safety-no")
	if got := joined(h.replies(client, n)); !strings.Contains(got, "What else could be true?") {
		t.Errorf("after no: want the pause to go on, got:\n%s", got)
	}

	// Practice notes.
	h.slash(coach, "C1", "coach invite <@"+client+"|client>")
	h.click(client, findChoice(t, h, client, "coach:accept:"))
	h.slash(coach, "C1", "coach assign <@"+client+"> name-the-story daily 09:00")
	h.click(client, "practice:note:name-the-story")
	n = h.ncalls()
	h.dm(client, "I want to die, I can't keep doing this")
	crisisAnswer("crisis note", h.replies(client, n))
	// The next reminder offers a note again.
	clientRef := bot.UserRef{Platform: Platform, Workspace: testTeam, User: client}
	job, due, ok, err := h.store.Job(context.Background(), clientRef, bot.JobPractice)
	if err != nil || !ok {
		t.Fatalf("no reminder job: %v %v", ok, err)
	}
	h.clock.Add(due.Sub(h.clock.Now()) + time.Second)
	if err := h.eng.Deliver(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	h.click(client, "practice:note:name-the-story")
	n = h.ncalls()
	h.dm(client, "I'm killing myself to keep this streak going")
	if got := joined(h.replies(client, n)); !strings.Contains(got, "private") || strings.Contains(got, "Share with coach") {
		t.Errorf("ambiguous note: want kept private, no share offer; got:\n%s", got)
	}
	notes, err := h.store.Coaching().Notes(context.Background(), clientRef)
	if err != nil || len(notes) != 1 {
		t.Fatalf("notes = %+v, %v; want only the ambiguous one, private", notes, err)
	}
	// Even marked shared in the store (by an old button, say), it never reaches the coach.
	if _, err := h.store.Coaching().ShareNote(context.Background(), clientRef, notes[0].ID, true); err != nil {
		t.Fatal(err)
	}
	n = h.ncalls()
	h.slash(coach, "C1", "coach progress <@"+client+">")
	if got := joined(h.replies(coach, n)); !strings.Contains(got, "name-the-story") {
		t.Errorf("coach progress = %q, want the practice listed", got)
	}
	for _, c := range h.fake.snapshot() {
		if c.Channel == "D"+coach || c.RouteUser == coach {
			for _, w := range []string{"kill", "die", "findahelpline", "streak going"} {
				if strings.Contains(c.Text, w) || strings.Contains(c.Blocks, w) {
					t.Errorf("the coach was sent %q: %+v", w, c)
				}
			}
		}
	}
}
