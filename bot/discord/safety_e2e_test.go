package discord

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// TestSafety runs the safety protocol through Discord: crisis language in a command (parsed,
// and one whose options do not parse) gets the crisis answer in place, ephemeral; in a DM it
// stops the dialogue; /story sos answers in place; a practice note with crisis language is
// not kept, and an ambiguous one never reaches the coach, even marked shared.
func TestSafety(t *testing.T) {
	e := newEnv(t, 1, false)
	const (
		coach, client = "u-coach-s", "u-client-s"
		guild         = "g-safety"
	)
	e.welcomed(t, client)
	crisis := func(what, got string) {
		t.Helper()
		if !strings.Contains(got, "findahelpline.com") || !strings.Contains(got, "saved nothing") || strings.Contains(got, "How to use") {
			t.Errorf("%s: want the crisis answer, got %q", what, got)
		}
	}

	// A parsed command in a guild: the answer on the interaction, nothing in the DM.
	before := len(e.fake.dmPosts(client))
	tok := e.run(t, e.command(client, guild, "pause", strOpt("text", "i want to kill myself")))
	crisis("pause text", e.inPlace(tok))
	// A command whose options do not parse: still the crisis answer, not the help.
	tok = e.run(t, e.command(client, guild, "checkin", strOpt("schedule", "honestly kms")))
	crisis("checkin schedule", e.inPlace(tok))
	if n := len(e.fake.dmPosts(client)); n != before {
		t.Errorf("crisis commands posted %d DMs, want the answer only in place", n-before)
	}

	// In the DM, mid-dialogue.
	e.run(t, e.command(client, "", "quick"))
	e.lastDM(t, client, "the story I'm telling myself")
	e.dm(client, "nobody would miss me if i was gone")
	e.lastDM(t, client, "findahelpline.com")
	if st, _, _ := e.store.Dialogue(context.Background(), userRef(client)); st.Open() {
		t.Errorf("dialogue open after the crisis answer: %+v", st)
	}

	// A modal field (the answer modal of the DMs-closed fallback) is read like any answer.
	e.run(t, e.command(client, "", "reframe"))
	e.lastDM(t, client, "What's the story you're telling yourself")
	n0 := len(e.fake.dmPosts(client))
	response(t, e.post(t, e.modalSubmit(client, "", "I've been cutting again", nil)))
	e.idle()
	waitFor(t, "the crisis answer to the modal", func() bool { return len(e.fake.dmPosts(client)) > n0 })
	crisis("modal field", content(e.fake.dmPosts(client)[n0]))

	// sos, in place.
	tok = e.run(t, e.command(client, guild, "sos"))
	if got := e.inPlace(tok); !strings.Contains(got, "Breathe in") || !strings.Contains(got, "findahelpline.com") {
		t.Errorf("sos answered %q", got)
	}

	// Practice notes.
	e.run(t, e.coachCommand(coach, guild, "invite", true, userOpt(client)))
	e.press(t, client, e.lastDM(t, client, "would like to be your coach"), "c:coach:accept:")
	e.run(t, e.coachCommand(coach, guild, "assign", true, userOpt(client), strOpt("practice", "name-the-story"), strOpt("cadence", "daily 09:00")))
	assigned := e.lastDM(t, client, "Name the story")
	e.press(t, client, assigned, "c:practice:note:")
	e.lastDM(t, client, "Type your note")
	n := len(e.fake.dmPosts(client))
	e.dm(client, "I want to end my life")
	waitFor(t, "the crisis answer to the note", func() bool { return len(e.fake.dmPosts(client)) > n })
	crisis("crisis note", content(e.fake.dmPosts(client)[n]))

	runScheduler(t, e, e.engines[0])
	_, due, ok, err := e.store.Job(context.Background(), userRef(client), bot.JobPractice)
	if err != nil || !ok {
		t.Fatalf("no reminder job: %v %v", ok, err)
	}
	e.clock.Set(due.Add(time.Second))
	reminder := e.lastDM(t, client, "Time for your practice")
	e.press(t, client, reminder, "c:practice:note:")
	waitFor(t, "the second note prompt", func() bool {
		k := 0
		for _, c := range e.fake.dmPosts(client) {
			if strings.Contains(content(c), "Type your note") {
				k++
			}
		}
		return k == 2
	})
	e.dm(client, "I'm killing myself to keep this streak going")
	kept := e.lastDM(t, client, "I don't offer to share")
	if ids := customIDs(kept.Body); len(ids) != 0 {
		t.Errorf("an ambiguous note was offered buttons %v", ids)
	}
	notes, err := e.store.Coaching().Notes(context.Background(), userRef(client))
	if err != nil || len(notes) != 1 {
		t.Fatalf("notes = %+v, %v; want only the ambiguous one", notes, err)
	}
	if _, err := e.store.Coaching().ShareNote(context.Background(), userRef(client), notes[0].ID, true); err != nil {
		t.Fatal(err)
	}
	tok = e.run(t, e.coachCommand(coach, guild, "progress", true, userOpt(client)))
	if got := e.inPlace(tok); !strings.Contains(got, "name-the-story") || strings.Contains(got, "killing") {
		t.Errorf("coach progress = %q, want the practice without the note", got)
	}

	e.fake.mu.Lock()
	calls := append([]call(nil), e.fake.calls...)
	e.fake.mu.Unlock()
	for _, c := range calls {
		if strings.HasPrefix(c.Path, "channels/dm-"+coach+"/") {
			for _, w := range []string{"kill", "end my life", "findahelpline"} {
				if strings.Contains(content(c), w) {
					t.Errorf("the coach's DM got %q: %q", w, content(c))
				}
			}
		}
		if ch, ok := strings.CutPrefix(c.Path, "channels/"); ok && c.Method == http.MethodPost {
			if ch, _, _ = strings.Cut(ch, "/"); ch != "dm-"+coach && ch != "dm-"+client {
				t.Errorf("posted outside the two DMs: %s %s", c.Method, c.Path)
			}
		}
	}
}
