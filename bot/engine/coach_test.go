package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage/redistest"
)

// newCoachRig is a rig for several users (coach, client, others) over url, encrypted at rest
// as production is, starting at 07:00 UTC on a Monday (08:00 in Berlin).
func newCoachRig(tb testing.TB, url string, coaches []string) *rig {
	tb.Helper()
	return newRig(tb, rigOptions{url: url, keys: true, coaches: coaches, start: time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)})
}

// to returns the messages addressed to u.
func to(msgs []bot.Message, u bot.UserRef) []bot.Message {
	var out []bot.Message
	for _, m := range msgs {
		if m.To.User == u {
			out = append(out, m)
		}
	}
	return out
}

// choiceID returns the ID of the choice labelled label in msgs.
func choiceID(tb testing.TB, msgs []bot.Message, label string) string {
	tb.Helper()
	for _, m := range msgs {
		for _, c := range m.Choices {
			if c.Label == label {
				return c.ID
			}
		}
	}
	tb.Fatalf("no choice %q in:\n%s", label, texts(msgs))
	return ""
}

func mustContain(tb testing.TB, what string, msgs []bot.Message, want ...string) {
	tb.Helper()
	got := texts(msgs)
	for _, w := range want {
		if !strings.Contains(got, w) {
			tb.Errorf("%s: lacks %q:\n%s", what, w, got)
		}
	}
}

// link invites client for coach and accepts.
func (r *rig) link(coach, client bot.UserRef) {
	r.tb.Helper()
	msgs := r.cmd(coach, "coach invite <@"+client.User+">")
	r.choose(client, choiceID(r.tb, to(msgs, client), "Accept"))
}

func users(tag string) (coach, client, other bot.UserRef) {
	n := time.Now().UnixNano()
	return bot.UserRef{Platform: "slack", Workspace: "T1", User: fmt.Sprintf("UCOACH%s%d", tag, n)},
		bot.UserRef{Platform: "slack", Workspace: "T1", User: fmt.Sprintf("UCLIENT%s%d", tag, n)},
		bot.UserRef{Platform: "slack", Workspace: "T1", User: fmt.Sprintf("UOTHER%s%d", tag, n)}
}

func TestCoachAuthorization(t *testing.T) {
	url := redistest.Start(t)
	type setup struct {
		name  string
		prep  func(r *rig, coach, client, other bot.UserRef) // returns with coach's practice assigned when linked
		actor func(coach, client, other bot.UserRef) bot.UserRef
		allow bool
	}
	assignOne := func(r *rig, coach, client bot.UserRef) {
		msgs := r.cmd(coach, "coach assign <@"+client.User+"> name-the-story daily 09:00")
		if len(to(msgs, client)) != 1 {
			t.Fatalf("setup assign did not reach the client:\n%s", texts(msgs))
		}
	}
	asCoach := func(coach, _, _ bot.UserRef) bot.UserRef { return coach }
	setups := []setup{
		{"coach without link", func(*rig, bot.UserRef, bot.UserRef, bot.UserRef) {}, asCoach, false},
		{"pending link", func(r *rig, coach, client, _ bot.UserRef) {
			r.cmd(coach, "coach invite <@"+client.User+">")
		}, asCoach, false},
		{"expired invitation", func(r *rig, coach, client, _ bot.UserRef) {
			msgs := r.cmd(coach, "coach invite <@"+client.User+">")
			r.clock.Add(8 * 24 * time.Hour)
			if got := texts(r.choose(client, choiceID(t, to(msgs, client), "Accept"))); !strings.Contains(got, "expired") {
				t.Errorf("accepting an expired invitation said %q", got)
			}
		}, asCoach, false},
		{"accepted link", func(r *rig, coach, client, _ bot.UserRef) {
			r.link(coach, client)
			assignOne(r, coach, client)
		}, asCoach, true},
		{"revoked link", func(r *rig, coach, client, _ bot.UserRef) {
			r.link(coach, client)
			assignOne(r, coach, client)
			mustContain(t, "revoke", r.cmd(client, "coach revoke"), "no longer your coach")
		}, asCoach, false},
		{"declined link", func(r *rig, coach, client, _ bot.UserRef) {
			msgs := r.cmd(coach, "coach invite <@"+client.User+">")
			r.choose(client, choiceID(t, to(msgs, client), "Decline"))
		}, asCoach, false},
		{"another coach", func(r *rig, coach, client, _ bot.UserRef) {
			r.link(coach, client)
			assignOne(r, coach, client)
		}, func(_, _, other bot.UserRef) bot.UserRef { return other }, false},
		{"the client themself", func(r *rig, coach, client, _ bot.UserRef) {
			r.link(coach, client)
			assignOne(r, coach, client)
		}, func(_, client, _ bot.UserRef) bot.UserRef { return client }, false},
		{"another workspace", func(r *rig, coach, client, _ bot.UserRef) {
			r.link(coach, client)
			assignOne(r, coach, client)
		}, func(coach, _, _ bot.UserRef) bot.UserRef {
			return bot.UserRef{Platform: coach.Platform, Workspace: "T2", User: coach.User} // same ID, other team
		}, false},
		{"same ID on another platform", func(r *rig, coach, client, _ bot.UserRef) {
			r.link(coach, client)
			assignOne(r, coach, client)
		}, func(coach, _, _ bot.UserRef) bot.UserRef {
			return bot.UserRef{Platform: "discord", Workspace: "dm", User: coach.User}
		}, false},
	}
	actions := []struct {
		name, cmd string
		allowed   string // in the actor's reply when allowed
	}{
		{"progress", "coach progress <@%s>", "Done 1 · missed 0"},
		{"assign", "coach assign <@%s> facts-vs-story weekdays 17:00", "Assigned"},
		{"unassign", "coach unassign <@%s> name-the-story", "Removed"},
	}
	for i, s := range setups {
		for _, a := range actions {
			t.Run(s.name+"/"+a.name, func(t *testing.T) {
				r := newCoachRig(t, url, nil)
				coach, client, other := users(fmt.Sprint(i))
				s.prep(r, coach, client, other)
				if s.allow {
					r.choose(client, "practice:done:name-the-story")
				}
				before, err := r.store.Coaching().ClientData(context.Background(), client)
				if err != nil {
					t.Fatal(err)
				}
				r.take()
				actor := s.actor(coach, client, other)
				msgs := r.cmd(actor, fmt.Sprintf(a.cmd, client.User))
				if len(to(msgs, actor)) == 0 {
					t.Fatalf("no reply to the actor: %+v", msgs)
				}
				for _, m := range to(msgs, actor) {
					if m.To.Kind != bot.DestEphemeral {
						t.Errorf("reply to the actor goes to %v, want ephemeral", m.To.Kind)
					}
				}
				after, err := r.store.Coaching().ClientData(context.Background(), client)
				if err != nil {
					t.Fatal(err)
				}
				if s.allow {
					mustContain(t, a.name, msgs, a.allowed)
					return
				}
				if got := texts(msgs); strings.Contains(got, "Assigned") || strings.Contains(got, "Removed") || strings.Contains(got, "Done 1") || strings.Contains(got, "Practices of") {
					t.Errorf("refused action answered as allowed:\n%s", got)
				}
				if n := len(to(msgs, client)); n != 0 && actor != client {
					t.Errorf("the client was contacted %d times:\n%s", n, texts(msgs))
				}
				for _, m := range msgs {
					if m.To.User != actor {
						t.Errorf("message to someone other than the actor: %+v", m)
					}
				}
				if len(after.Practices) != len(before.Practices) {
					t.Errorf("practices changed from %d to %d", len(before.Practices), len(after.Practices))
				}
			})
		}
	}
}

func TestCoachInviteRules(t *testing.T) {
	url := redistest.Start(t)
	t.Run("self", func(t *testing.T) {
		r := newCoachRig(t, url, nil)
		coach, _, _ := users("self")
		msgs := r.cmd(coach, "coach invite <@"+coach.User+">")
		mustContain(t, "self invite", msgs, "can't invite yourself")
		if len(msgs) != 1 || msgs[0].To.Kind != bot.DestEphemeral || len(msgs[0].Choices) != 0 {
			t.Errorf("self invite sent %+v", msgs)
		}
	})
	t.Run("not listed in STORYBOT_COACHES", func(t *testing.T) {
		coach, client, other := users("list")
		r := newCoachRig(t, url, []string{other.User})
		msgs := r.cmd(coach, "coach invite <@"+client.User+">")
		mustContain(t, "unlisted invite", msgs, "not on that list")
		if len(to(msgs, client)) != 0 {
			t.Errorf("the client was contacted: %+v", msgs)
		}
		mustContain(t, "unlisted list", r.cmd(coach, "coach list"), "not on that list")
		// A listed coach may invite, by ID or by full reference.
		if got := to(r.cmd(other, "coach invite <@"+client.User+">"), client); len(got) != 1 {
			t.Errorf("listed coach's invitation did not arrive: %+v", got)
		}
		r2 := newCoachRig(t, url, []string{coach.String()})
		if got := to(r2.cmd(coach, "coach invite <@"+client.User+">"), client); len(got) != 1 {
			t.Errorf("coach listed by full reference could not invite: %+v", got)
		}
	})
	t.Run("invitation says what the coach sees, once", func(t *testing.T) {
		r := newCoachRig(t, url, nil)
		coach, client, _ := users("inv")
		msgs := r.cmd(coach, "coach invite <@"+client.User+">")
		inv := to(msgs, client)
		if len(inv) != 1 || inv[0].To.Kind != bot.DestDM {
			t.Fatalf("invitation = %+v, want one DM", inv)
		}
		mustContain(t, "invitation", inv, "how often you mark them done or missed", "your streak", "notes you choose to share", "never see your journal", "/story coach revoke")
		if len(inv[0].Choices) != 2 {
			t.Errorf("invitation choices = %+v", inv[0].Choices)
		}
		for _, m := range to(msgs, coach) {
			if m.To.Kind != bot.DestEphemeral {
				t.Errorf("coach confirmation goes to %v", m.To.Kind)
			}
		}
		again := r.cmd(coach, "coach invite <@"+client.User+">")
		if len(to(again, client)) != 0 {
			t.Errorf("a second invite was sent: %+v", again)
		}
		mustContain(t, "second invite", again, "still waiting")
		// Typing the label works when no dialogue is open.
		mustContain(t, "typed accept", r.say(client, "accept"), "You've accepted")
		mustContain(t, "list", r.cmd(coach, "coach list"), "<@"+client.User+"> — connected since")
	})
}

// TestCoachEndToEnd runs the whole cycle through the engine over real Redis: invite,
// accept, assign, a reminder fired by the scheduler, done with a private and a shared
// note, progress, revoke, and forget of the client; the coach never sees the private note
// or the client's journal.
func TestCoachEndToEnd(t *testing.T) {
	url := redistest.Start(t)
	r := newCoachRig(t, url, nil)
	coach, client, _ := users("e2e")
	ctx := context.Background()
	const (
		privateNote = "PRIVATE-felt-small-in-the-review"
		sharedNote  = "SHARED-noticed-the-story-earlier"
		journalText = "JOURNAL-they-think-i-am-a-fraud"
	)
	r.cmd(client, "tz Europe/Berlin")
	// The client keeps a journal the coach must never see.
	r.cmd(client, "quick")
	r.say(client, journalText)
	r.say(client, "maybe they are busy")
	r.say(client, "ask them")
	r.choose(client, "save")

	// Invite and accept.
	inv := to(r.cmd(coach, "coach invite <@"+client.User+">"), client)
	acc := r.choose(client, choiceID(t, inv, "Accept"))
	mustContain(t, "accept", to(acc, client), "You've accepted")
	mustContain(t, "coach told", to(acc, coach), "accepted your invitation")

	// Assign, with days and no time, as a coach types it: 09:00 in the client's zone, and
	// both are told so. The client's DM has the practice, the reminder time in their zone,
	// and the choices.
	msgs := r.cmd(coach, "coach assign <@"+client.User+"> name-the-story weekdays until 2026-03-31")
	assigned := to(msgs, client)
	if len(assigned) != 1 || assigned[0].To.Kind != bot.DestDM {
		t.Fatalf("assignment DM = %+v", assigned)
	}
	mustContain(t, "assignment", assigned, "Name the story", "The story I'm telling myself is", "Why it helps", "weekdays 09:00", "Europe/Berlin", "Mon 2 Mar at 09:00")
	for _, l := range []string{"Done", "Not today", "Add a note"} {
		choiceID(t, assigned, l)
	}
	mustContain(t, "coach confirmation", to(msgs, coach), "Assigned “Name the story” (id name-the-story)", "No time was given, so reminders come at 09:00 in their time zone")
	mustContain(t, "default time told", assigned, "no time was set, so 09:00")
	job, due, ok, err := r.store.Job(ctx, client, bot.JobPractice)
	if err != nil || !ok {
		t.Fatalf("no reminder job: %v %v", ok, err)
	}
	if want := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC); !due.Equal(want) || job.TZ != "Europe/Berlin" {
		t.Fatalf("reminder job due %v in %q, want %v (09:00 Berlin)", due, job.TZ, want)
	}

	// Done straight from the assignment, with a private note.
	r.choose(client, "practice:done:name-the-story")
	r.choose(client, "practice:note:name-the-story")
	saved := r.say(client, privateNote)
	mustContain(t, "note saved", saved, "private")
	r.choose(client, choiceID(t, saved, "Keep private"))

	// The reminder: fire the scheduler at 09:00 Berlin.
	r.clock.Set(due.Add(10 * time.Second))
	rem := r.fireReminders(t)
	if len(rem) != 1 || rem[0].To.User != client || rem[0].To.Kind != bot.DestDM {
		t.Fatalf("reminder = %+v, want one DM to the client", rem)
	}
	mustContain(t, "reminder", rem, "Time for your practice: Name the story")
	for _, l := range []string{"Done", "Not today", "Add a note"} {
		choiceID(t, rem, l)
	}
	if _, next, ok, _ := r.store.Job(ctx, client, bot.JobPractice); !ok || !next.Equal(due.Add(24*time.Hour)) {
		t.Errorf("after the reminder the job is due %v (exists %v), want %v", next, ok, due.Add(24*time.Hour))
	}
	// Done by typing, then a shared note by typing the labels.
	mustContain(t, "typed done", r.say(client, "done"), "Marked done", "Streak: 2")
	r.say(client, "add a note")
	r.say(client, sharedNote)
	mustContain(t, "typed share", r.say(client, "share with coach"), "Shared")

	// Next day's reminder gets no Done; the one after closes it as missed.
	r.clock.Set(due.Add(24*time.Hour + time.Second))
	r.fireReminders(t)
	r.clock.Set(due.Add(48*time.Hour + time.Second))
	r.fireReminders(t)
	prog := r.cmd(coach, "coach progress <@"+client.User+">")
	if len(prog) != 1 || prog[0].To.Kind != bot.DestEphemeral || prog[0].To.User != coach {
		t.Fatalf("progress = %+v, want one ephemeral reply to the coach", prog)
	}
	mustContain(t, "progress", prog, "name-the-story — Name the story", "Assigned Mon 2 Mar", "weekdays 09:00", "Done 2 · missed 1 · current streak 0", "last done Mon 2 Mar", sharedNote)

	// The client's own list, and pause by typing.
	list := r.cmd(client, "practices")
	mustContain(t, "practices", list, "name-the-story — Name the story (from <@"+coach.User+">)", "Done 2")
	r.say(client, "Pause name-the-story")
	if _, _, ok, _ := r.store.Job(ctx, client, bot.JobPractice); ok {
		t.Errorf("paused practice still has a reminder job")
	}
	r.choose(client, "practice:resume:name-the-story")

	// Export: the client's has notes and completions, the coach's only the link.
	clientExport := exportOf(t, r, client)
	if !strings.Contains(clientExport, privateNote) || !strings.Contains(clientExport, `"kind": "done"`) {
		t.Errorf("client export lacks the note or completions:\n%s", clientExport)
	}
	coachExport := exportOf(t, r, coach)
	if !strings.Contains(coachExport, `"as_coach"`) || !strings.Contains(coachExport, client.User) {
		t.Errorf("coach export lacks the client link:\n%s", coachExport)
	}

	// Notes are encrypted at rest.
	if dump := dumpRedis(t, url); strings.Contains(dump, privateNote) || strings.Contains(dump, sharedNote) {
		t.Errorf("a note is stored in plain text")
	}

	// Revoke: the coach loses access at once, reminders stop.
	mustContain(t, "revoke", r.cmd(client, "coach revoke"), "no longer your coach")
	mustContain(t, "progress after revoke", r.cmd(coach, "coach progress <@"+client.User+">"), "not <@"+client.User+">'s coach")
	if _, _, ok, _ := r.store.Job(ctx, client, bot.JobPractice); ok {
		t.Errorf("reminder job survives revoke")
	}
	mustContain(t, "list after revoke", r.cmd(coach, "coach list"), "ended the link")

	// Nothing the client kept private, nor their journal, ever reached the coach.
	r.mu.Lock()
	all := append([]bot.Message(nil), r.all...)
	r.mu.Unlock()
	for _, m := range all {
		if m.To.User != coach {
			continue
		}
		body := m.Text
		if m.File != nil {
			body += string(m.File.Content)
		}
		for _, secret := range []string{privateNote, journalText, "maybe they are busy"} {
			if strings.Contains(body, secret) {
				t.Errorf("the coach was sent %q in %+v", secret, m)
			}
		}
	}
	if strings.Contains(r.logs.String(), privateNote) || strings.Contains(r.logs.String(), sharedNote) {
		t.Errorf("note text in logs")
	}
}

// fireReminders runs the real scheduler over the store until the due practice job has
// been delivered (with a private Redis), or delivers the job directly (shared REDIS_URL,
// where other tests' jobs must not be taken).
func (r *rig) fireReminders(t *testing.T) []bot.Message {
	t.Helper()
	ctx := context.Background()
	if os.Getenv("REDIS_URL") != "" {
		t.Log("shared REDIS_URL: delivering directly instead of through the scheduler")
		claims, err := r.store.Claim(ctx, r.clock.Now(), 100, r.clock.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range claims {
			if c.Job.Kind == bot.JobPractice {
				if err := r.eng.Deliver(ctx, c.Job); err != nil {
					t.Fatal(err)
				}
			}
		}
		return r.take()
	}
	stop := r.runScheduler(nil)
	deadline := time.Now().Add(5 * time.Second)
	var msgs []bot.Message
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if got := r.take(); len(got) > 0 {
			msgs = append(msgs, got...)
			time.Sleep(50 * time.Millisecond) // let the delivery finish rescheduling
			msgs = append(msgs, r.take()...)
			break
		}
	}
	stop()
	return msgs
}

func exportOf(t *testing.T, r *rig, u bot.UserRef) string {
	t.Helper()
	for _, m := range r.cmd(u, "export") {
		if m.File != nil {
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(m.File.Content, &doc); err != nil {
				t.Fatalf("export is not JSON: %v", err)
			}
			if _, ok := doc["coaching"]; !ok {
				t.Errorf("export has no coaching section")
			}
			return string(m.File.Content)
		}
	}
	t.Fatalf("no export file")
	return ""
}

func TestCoachForgetEitherSide(t *testing.T) {
	url := redistest.Start(t)
	t.Run("client forgets", func(t *testing.T) {
		r := newCoachRig(t, url, nil)
		coach, client, _ := users("fc")
		r.link(coach, client)
		r.cmd(coach, "coach assign <@"+client.User+"> name-the-story daily 09:00")
		r.cmd(coach, `coach assign <@`+client.User+`> "walk-around-the-block" daily 18:00`)
		r.choose(client, "practice:note:name-the-story")
		r.say(client, "client-note-text")
		if !strings.Contains(dumpRedis(t, url), client.User) {
			t.Fatal("before forget Redis lacks the client: the scan proves nothing")
		}
		r.cmd(client, "forget")
		mustContain(t, "forget", r.choose(client, "forget:yes"), "erased")
		if dump := dumpRedis(t, url); strings.Contains(dump, client.User) {
			t.Errorf("after the client's forget, Redis still names them:\n%s", dump)
		}
		mustContain(t, "coach list", r.cmd(coach, "coach list"), "a client who erased their storybot data")
		mustContain(t, "coach progress", r.cmd(coach, "coach progress <@"+client.User+">"), "not <@"+client.User+">'s coach")
	})
	t.Run("coach forgets", func(t *testing.T) {
		r := newCoachRig(t, url, nil)
		coach, client, other := users("fk")
		r.link(coach, client)
		r.link(other, client)
		r.cmd(coach, `coach assign <@`+client.User+`> "coach-typed-practice" daily 09:00`)
		r.cmd(other, "coach assign <@"+client.User+"> facts-vs-story daily 10:00")
		r.cmd(coach, "coach invite <@"+other.User+">") // a pending invitation too
		r.cmd(coach, "forget")
		r.choose(coach, "forget:yes")
		dump := dumpRedis(t, url)
		for _, gone := range []string{coach.User} {
			if strings.Contains(dump, gone) {
				t.Errorf("after the coach's forget, Redis still holds %q:\n%s", gone, dump)
			}
		}
		d, err := r.store.Coaching().ClientData(context.Background(), client)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Links) != 1 || len(d.Practices) != 1 {
			t.Errorf("client keeps %d links, %d practices; want only the other coach's", len(d.Links), len(d.Practices))
		}
		mustContain(t, "other coach still works", r.cmd(other, "coach progress <@"+client.User+">"), "facts-vs-story")
	})
}

func TestCoachPracticesLibrary(t *testing.T) {
	if n := len(bot.Library()); n < 8 {
		t.Fatalf("library has %d practices, want at least 8", n)
	}
	for _, id := range []string{"name-the-story", "facts-vs-story", "three-other-explanations", "pause-before-replying", "where-do-i-feel-it", "one-curious-question", "five-minute-first-draft", "self-compassion-sentence"} {
		p, ok := bot.LibraryPractice(id)
		if !ok || p.Title == "" || p.Instruction == "" || p.Why == "" {
			t.Errorf("library practice %q = %+v, %v", id, p, ok)
		}
		for _, s := range []string{p.Instruction, p.Why} {
			if n := len(strings.Fields(s)); n > 25 {
				t.Errorf("%s: %d words, want a brief line: %q", id, n, s)
			}
		}
	}
	r := newCoachRig(t, "", nil)
	_, client, _ := users("lib")
	msgs := r.cmd(client, "practices library")
	mustContain(t, "library", msgs, "self-compassion-sentence", "Why it helps")
	mustContain(t, "no practices", r.cmd(client, "practices"), "no practices")
}

func TestCoachNoteIsNotADialogueAnswer(t *testing.T) {
	r := newCoachRig(t, "", nil)
	coach, client, _ := users("nd")
	r.link(coach, client)
	r.cmd(coach, "coach assign <@"+client.User+"> name-the-story daily 09:00")
	r.cmd(client, "quick")
	r.say(client, "my-open-story")
	r.choose(client, "practice:note:name-the-story")
	mustContain(t, "note", r.say(client, "a note in the middle"), "Saved")
	// Typing a label while the dialogue is open goes to the dialogue, not to the note.
	r.say(client, "keep private")
	notes, err := r.store.Coaching().Notes(context.Background(), client)
	if err != nil || len(notes) != 1 || notes[0].Shared {
		t.Fatalf("notes = %+v, %v", notes, err)
	}
	st, _, err := r.store.Dialogue(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.Story != "my-open-story" || len(st.Entry.Others) != 1 || st.Entry.Others[0] != "keep private" {
		t.Errorf("dialogue disturbed: %+v", st.Entry)
	}
}
