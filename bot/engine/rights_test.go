package engine_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage/redistest"
)

// savePause runs a quick pause with the given story and saves it.
func (h *harness) savePause(story, other, next string) {
	h.tb.Helper()
	h.command("quick", true)
	h.say(story)
	h.say(other)
	h.say(next)
	h.choose("checkback-none")
	h.choose("save")
}

// dumpRedis returns every key and every value in Redis as one string, whatever the types.
func dumpRedis(tb testing.TB, url string) string {
	tb.Helper()
	ctx := context.Background()
	rdb := redistest.Client(tb, url)
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		b.WriteString(key + " => ")
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			tb.Fatalf("TYPE %s: %v", key, err)
		}
		var val any
		switch typ {
		case "string":
			val, err = rdb.Get(ctx, key).Result()
		case "hash":
			val, err = rdb.HGetAll(ctx, key).Result()
		case "zset":
			val, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "set":
			val, err = rdb.SMembers(ctx, key).Result()
		case "list":
			val, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "stream":
			val, err = rdb.XRange(ctx, key, "-", "+").Result()
		}
		if err != nil && err != redis.Nil {
			tb.Fatalf("read %s: %v", key, err)
		}
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(strings.ReplaceAll(fmtAny(val), "\n", " ")), "\x00", ""))
		b.WriteString("\n")
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("SCAN: %v", err)
	}
	return b.String()
}

func fmtAny(v any) string {
	out, _ := json.Marshal(v)
	return string(out)
}

func TestForgetErasesEverythingAndOnlyThat(t *testing.T) {
	url := redistest.Start(t)
	alice := newHarness(t, url)
	alice.user = bot.UserRef{Platform: "slack", Workspace: "T1", User: "UALICE42"}
	bob := alice.replica()
	bob.user = bot.UserRef{Platform: "slack", Workspace: "T1", User: "UBOB7"}

	typed := []string{"they-think-i-am-a-fraud", "maybe-they-are-busy", "ask-them-at-lunch", "open-story-never-finished"}
	alice.savePause(typed[0], typed[1], typed[2])
	alice.command("tz Europe/Berlin", false)
	alice.command("quick", true)
	alice.say(typed[3]) // an open dialogue
	alice.command("history", true)
	alice.command("export", true)
	bob.savePause("bob-story", "bob-other", "bob-next")

	before := dumpRedis(t, url)
	for _, want := range append([]string{alice.user.User}, typed[:2]...) {
		if !strings.Contains(before, want) {
			t.Fatalf("before forget, Redis lacks %q — the scan would prove nothing:\n%s", want, before)
		}
	}

	ask := alice.command("forget", false)
	if len(ask) != 1 || len(ask[0].Choices) != 2 || ask[0].To.Kind != bot.DestEphemeral {
		t.Fatalf("/story forget = %+v, want one ephemeral confirmation with two choices", ask)
	}
	done := alice.choose("forget:yes")
	if got := texts(done); !strings.Contains(got, "erased") {
		t.Fatalf("confirming forget said %q", got)
	}

	after := dumpRedis(t, url)
	for _, gone := range append([]string{alice.user.User}, typed...) {
		if strings.Contains(after, gone) {
			t.Errorf("after forget, Redis still holds %q:\n%s", gone, after)
		}
	}
	for _, kept := range []string{bob.user.User, "bob-story"} {
		if !strings.Contains(after, kept) {
			t.Errorf("forgetting Alice erased Bob's %q:\n%s", kept, after)
		}
	}
	if got := texts(bob.command("history", true)); !strings.Contains(got, "bob-story") {
		t.Errorf("Bob's history after Alice's forget = %q", got)
	}

	// Idempotent: asking and confirming again works and finds nothing.
	alice.command("forget", true)
	if got := texts(alice.say("Erase everything")); !strings.Contains(got, "erased") {
		t.Errorf("second forget said %q", got)
	}
	if got := texts(alice.command("history", true)); !strings.Contains(got, "empty") {
		t.Errorf("history after forget = %q, want empty", got)
	}
}

func TestForgetNeedsConfirmation(t *testing.T) {
	h := newHarness(t, "")
	h.savePause("kept-story", "kept-other", "kept-next")

	// Without a question pending, the label is just text for the dialogue.
	h.say("Erase everything")
	if got := texts(h.command("history", true)); !strings.Contains(got, "kept-story") {
		t.Fatalf("typing the label without /story forget erased the journal: %q", got)
	}
	// Cancel keeps everything.
	h.command("forget", true)
	if got := texts(h.choose("forget:no")); !strings.Contains(got, "nothing was erased") {
		t.Errorf("cancel said %q", got)
	}
	if got := texts(h.choose("forget:yes")); !strings.Contains(got, "expired") {
		t.Errorf("confirming after cancel said %q, want expired", got)
	}
	// A confirmation long after the question does nothing.
	h.command("forget", true)
	h.clock.Add(20 * time.Minute)
	if got := texts(h.choose("forget:yes")); !strings.Contains(got, "expired") {
		t.Errorf("late confirmation said %q, want expired", got)
	}
	if got := texts(h.command("history", true)); !strings.Contains(got, "kept-story") {
		t.Errorf("journal gone without a valid confirmation: %q", got)
	}
}

func TestExportHasEveryHistoryEntry(t *testing.T) {
	h := newHarness(t, redistest.Start(t))
	for i, story := range []string{"first-story", "second-story", "third-story: they think I'm lazy"} {
		h.savePause(story, "other", "next")
		h.clock.Add(time.Duration(i+1) * time.Hour)
	}
	h.command("quick", true)
	h.say("unfinished-story")

	msgs := h.command("export", false)
	var file *bot.File
	for _, m := range msgs {
		if m.File != nil {
			if m.To.Kind != bot.DestDM {
				t.Errorf("export file sent to %v, want the DM", m.To.Kind)
			}
			file = m.File
		}
	}
	if file == nil {
		t.Fatalf("no export file in %+v", msgs)
	}
	var doc struct {
		Schema   string        `json:"schema"`
		User     bot.UserRef   `json:"user"`
		Journal  []flows.Entry `json:"journal"`
		Dialogue *flows.State  `json:"open_dialogue"`
	}
	if err := json.Unmarshal(file.Content, &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, file.Content)
	}
	if doc.Schema != engine.ExportSchema || doc.User != h.user {
		t.Errorf("export header = %q %+v", doc.Schema, doc.User)
	}
	history := texts(h.command("history 50", true))
	if len(doc.Journal) != 3 {
		t.Fatalf("export has %d journal entries, want 3", len(doc.Journal))
	}
	for _, en := range doc.Journal {
		if en.ID == "" || !strings.Contains(history, en.Story) {
			t.Errorf("export entry %q (id %q) is not in the history:\n%s", en.Story, en.ID, history)
		}
		// The export keeps what the bot suggested apart from what the user confirmed.
		want := []string(nil)
		if strings.Contains(en.Story, "they think") {
			want = []string{"mind-reading"}
		}
		if !reflect.DeepEqual(en.SuggestedTraps, want) || en.Traps != nil {
			t.Errorf("export entry %q traps = suggested %v, confirmed %v; want suggested %v, confirmed none", en.Story, en.SuggestedTraps, en.Traps, want)
		}
	}
	if !strings.Contains(string(file.Content), `"suggested_traps"`) {
		t.Errorf("export has no suggested_traps:\n%s", file.Content)
	}
	if doc.Dialogue == nil || doc.Dialogue.Entry.Story != "unfinished-story" {
		t.Errorf("export open dialogue = %+v, want the unfinished story", doc.Dialogue)
	}
}

// TestForgetEveryFeature uses every feature as one user — journal, open dialogue, time
// zone, check-in, digest, snooze, coaching as a client (with private and shared notes) and
// as a coach — on real Redis without encryption (so typed text would show), then forgets
// them: no key or value names them or holds what they typed, and the others keep their data.
func TestForgetEveryFeature(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	// Unencrypted, so that typed text left behind would show in the dump.
	r := newRig(t, rigOptions{url: url, start: time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)})
	eng, logs := r.eng, r.logs
	ref := func(id string) bot.UserRef { return bot.UserRef{Platform: "slack", Workspace: "T9", User: id} }
	zoe, coach, client := ref("UZOE31"), ref("UCOACH5"), ref("UCLIENT8")
	do := func(u bot.UserRef, ev bot.Event) []bot.Message {
		t.Helper()
		ev.InDM, ev.Route = true, "route"
		return r.handle(u, ev)
	}
	cmd := func(u bot.UserRef, text string) []bot.Message {
		return do(u, bot.Event{Kind: bot.EventCommand, Text: text})
	}
	say := func(u bot.UserRef, text string) []bot.Message {
		return do(u, bot.Event{Kind: bot.EventText, Text: text})
	}
	choose := func(u bot.UserRef, id string) []bot.Message {
		return do(u, bot.Event{Kind: bot.EventChoice, Choice: id})
	}
	choiceFor := func(msgs []bot.Message, prefix string) string {
		t.Helper()
		for _, m := range msgs {
			for _, c := range m.Choices {
				if strings.HasPrefix(c.ID, prefix) {
					return c.ID
				}
			}
		}
		t.Fatalf("no choice %s… in %+v", prefix, msgs)
		return ""
	}

	typed := []string{"zoe-story-alpha", "zoe-other-beta", "zoe-next-gamma", "zoe-private-note-delta", "zoe-shared-note-eps", "zoe-open-zeta"}
	cmd(zoe, "quick")
	say(zoe, typed[0])
	say(zoe, typed[1])
	say(zoe, typed[2])
	choose(zoe, "checkback-tomorrow")
	choose(zoe, "save")
	cmd(zoe, "tz Europe/Berlin")
	cmd(zoe, "checkin weekdays 09:00")
	cmd(zoe, "digest weekly")
	if err := eng.Deliver(ctx, bot.Job{Kind: bot.JobCheckin, User: zoe}); err != nil {
		t.Fatal(err)
	}
	say(zoe, "Snooze 1 h")

	// Zoe as a client: invited, accepted, assigned, two notes.
	invite := cmd(coach, "coach invite <@"+zoe.User+">")
	choose(zoe, choiceFor(invite, "coach:accept"))
	assigned := cmd(coach, "coach assign <@"+zoe.User+"> name-the-story daily 09:00")
	note := choiceFor(assigned, "practice:note")
	choose(zoe, note)
	choose(zoe, choiceFor(say(zoe, typed[3]), "note:private"))
	shareAsk := append(choose(zoe, note), say(zoe, typed[4])...)
	choose(zoe, choiceFor(shareAsk, "note:share"))
	choose(zoe, choiceFor(assigned, "practice:done"))

	// Zoe as a coach of someone else, with a practice assigned.
	invite = cmd(zoe, "coach invite <@"+client.User+">")
	choose(client, choiceFor(invite, "coach:accept"))
	cmd(zoe, "coach assign <@"+client.User+"> facts-vs-story daily 10:00")
	cmd(client, "quick")
	say(client, "client-own-story")
	say(client, "client-other")
	say(client, "client-next")
	say(client, "no")
	choose(client, "save")

	cmd(zoe, "quick")
	say(zoe, typed[5]) // left open
	var export string
	for _, m := range cmd(zoe, "export") {
		if m.File != nil {
			export = string(m.File.Content)
		}
	}
	for _, want := range []string{`"schedules"`, `"weekdays 09:00"`, `"kind": "digest"`, `"kind": "practice"`, `"coaching"`, typed[0], typed[3], typed[5]} {
		if !strings.Contains(export, want) {
			t.Errorf("export lacks %s:\n%s", want, export)
		}
	}

	before := dumpRedis(t, url)
	for _, want := range []string{zoe.User, typed[0], typed[3], typed[5]} {
		if !strings.Contains(before, want) {
			t.Fatalf("before forget Redis lacks %q — the scan would prove nothing", want)
		}
	}

	cmd(zoe, "forget")
	if got := texts(choose(zoe, "forget:yes")); !strings.Contains(got, "erased") {
		t.Fatalf("forget said %q", got)
	}
	after := dumpRedis(t, url)
	for _, gone := range append([]string{zoe.User}, typed...) {
		if strings.Contains(after, gone) {
			t.Errorf("after forget Redis still holds %q:\n%s", gone, after)
		}
	}
	for _, kept := range []string{coach.User, client.User, "client-own-story"} {
		if !strings.Contains(after, kept) {
			t.Errorf("Zoe's forget erased %q of another user", kept)
		}
	}
	if got := texts(cmd(client, "history")); !strings.Contains(got, "client-own-story") {
		t.Errorf("the client's history after Zoe's forget = %q", got)
	}
	if logs.String() == "" {
		t.Fatal("no log lines captured: the log check proves nothing")
	}
	for _, secret := range append(typed, "client-own-story") {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs hold typed text %q:\n%s", secret, logs.String())
		}
	}
}

// TestForgetConfirmationEveryForm answers /story forget by every form — the buttons, the
// labels, their numbers and yes/no — with and without an open dialogue. A "keep" answer
// keeps everything and leaves the open dialogue exactly where it was (a "2" is never taken
// as the dialogue's second choice); an "erase" answer erases everything, and afterwards no
// key or value holds the user's id.
func TestForgetConfirmationEveryForm(t *testing.T) {
	forms := []struct {
		name string
		yes  bool
		ev   bot.Event
	}{
		{"button erase", true, bot.Event{Kind: bot.EventChoice, Choice: "forget:yes"}},
		{"button keep", false, bot.Event{Kind: bot.EventChoice, Choice: "forget:no"}},
		{"label erase", true, bot.Event{Kind: bot.EventText, Text: "Erase everything"}},
		{"label keep", false, bot.Event{Kind: bot.EventText, Text: "keep my data"}},
		{"number 1", true, bot.Event{Kind: bot.EventText, Text: "1"}},
		{"number 2", false, bot.Event{Kind: bot.EventText, Text: "2"}},
		{"yes", true, bot.Event{Kind: bot.EventText, Text: "Yes"}},
		{"no", false, bot.Event{Kind: bot.EventText, Text: "no"}},
	}
	for _, f := range forms {
		for _, withDialogue := range []bool{false, true} {
			name := f.name
			if withDialogue {
				name += ", dialogue open"
			}
			t.Run(name, func(t *testing.T) {
				url := redistest.Start(t)
				h := newHarness(t, url)
				h.user = bot.UserRef{Platform: "slack", Workspace: "T1", User: "UFORMS" + strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(name, " ", ""), ",", ""))}
				h.savePause("form-story", "form-other", "form-next")
				var step flows.Step
				if withDialogue {
					h.command("pause", true)
					h.say("Sam closed the laptop.")
					h.say("He thinks my idea is stupid.")
					step = currentStep(t, h)
					if step != flows.StepFeeling {
						t.Fatalf("dialogue at %v, want the feeling (whose second choice a stray 2 would pick)", step)
					}
				}
				h.command("forget", true)
				ev := f.ev
				ev.InDM = true
				got, err := h.handle(ev)
				if err != nil {
					t.Fatal(err)
				}
				if f.yes {
					if !strings.Contains(texts(got), "erased") {
						t.Fatalf("answer said %q, want erased", texts(got))
					}
					if dump := dumpRedis(t, url); strings.Contains(dump, h.user.User) || strings.Contains(dump, "form-story") {
						t.Errorf("after forget Redis still holds the user:\n%s", dump)
					}
					return
				}
				if !strings.Contains(texts(got), "nothing was erased") {
					t.Fatalf("answer said %q, want nothing erased", texts(got))
				}
				if withDialogue {
					if now := currentStep(t, h); now != step {
						t.Errorf("the keep answer moved the dialogue from %v to %v", step, now)
					}
				}
				if got := texts(h.command("history", true)); !strings.Contains(got, "form-story") {
					t.Errorf("journal after keeping = %q", got)
				}
			})
		}
	}
	// Without a question pending, "2" is the dialogue's: the second feeling.
	h := newHarness(t, "")
	h.command("pause", true)
	h.say("Sam closed the laptop.")
	h.say("He thinks my idea is stupid.")
	h.say("2")
	if step := currentStep(t, h); step == flows.StepFeeling {
		t.Error(`without a forget question, "2" did not answer the dialogue`)
	}
}
