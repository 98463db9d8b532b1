package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/storage/redistest"
)

// homeSender is the rig's recorder behind a platform that shows homes (like Slack's adapter).
type homeSender struct{ *recorder }

func (homeSender) ShowsHome(bot.UserRef) bool { return true }

// newHomeHarness is a harness whose platform shows homes.
func newHomeHarness(tb testing.TB, url string) *harness {
	tb.Helper()
	h := newHarness(tb, url)
	h.eng = h.newEngine(func(c *engine.Config) { c.Sender = homeSender{h.rec}; c.Dialogues = h.flaky })
	return h
}

// homes returns the home views among msgs, each checked to be a home for u.
func homes(tb testing.TB, u bot.UserRef, msgs []bot.Message) []bot.HomeView {
	tb.Helper()
	var out []bot.HomeView
	for _, m := range msgs {
		if m.To.Kind != bot.DestHome {
			continue
		}
		if m.To.User != u || m.Home == nil || m.To.Route != "" || m.To.Channel != "" {
			tb.Fatalf("home message %+v, want a view for %s alone", m, u)
		}
		out = append(out, *m.Home)
	}
	return out
}

// homeText is everything a home view shows, as one string.
func homeText(v bot.HomeView) string {
	parts := []string{v.Intro, v.Checkin, v.EntriesTitle, v.Privacy}
	parts = append(parts, v.Checkbacks...)
	for _, c := range v.Actions {
		parts = append(parts, c.Label, c.ID)
	}
	for _, en := range v.Entries {
		parts = append(parts, en.Label, en.Show.Label, en.Show.ID)
	}
	return strings.Join(parts, "\n")
}

// TestHomeShowsNoWords: the home lists entries by date and kind, never a word of theirs, with
// encrypted storage said honestly; Show sends the words to the DM; an entry that is gone
// says so and the home is drawn again.
func TestHomeShowsNoWords(t *testing.T) {
	h := newHomeHarness(t, "")
	h.savePause("they-think-i-am-a-fraud", "maybe-they-are-busy", "ask-them-at-lunch")
	msgs, err := h.handle(bot.Event{Kind: bot.EventHome})
	if err != nil {
		t.Fatal(err)
	}
	vs := homes(t, h.user, msgs)
	if len(vs) != 1 || len(msgs) != 1 {
		t.Fatalf("opening the home sent %+v, want one home view", msgs)
	}
	v := vs[0]
	for _, word := range []string{"fraud", "busy", "lunch"} {
		if strings.Contains(homeText(v), word) {
			t.Errorf("the home shows the user's word %q:\n%s", word, homeText(v))
		}
	}
	if len(v.Entries) != 1 || !strings.Contains(v.Entries[0].Label, "Quick pause") || !strings.HasPrefix(v.Entries[0].Show.ID, bot.ChoiceHomeShowPrefix) {
		t.Fatalf("home entries = %+v, want the quick pause with Show", v.Entries)
	}
	got := texts(h.choose(v.Entries[0].Show.ID))
	if !strings.Contains(got, "they-think-i-am-a-fraud") || !strings.Contains(got, "ask-them-at-lunch") {
		t.Errorf("Show sent %q, want the entry's words", got)
	}

	gone, err := h.handle(bot.Event{Kind: bot.EventChoice, Choice: bot.ChoiceHomeShowPrefix + "1767225600000-0000deadbeef"})
	if err != nil {
		t.Fatal(err)
	}
	if len(homes(t, h.user, gone)) != 1 || !strings.Contains(texts(gone), "isn't in your journal any more") {
		t.Errorf("Show of a gone entry sent %+v, want a note and the home again", gone)
	}
}

// TestHomeStoreDown: when Redis does not answer, opening the home still publishes it, saying
// kindly that the journal cannot be read now.
func TestHomeStoreDown(t *testing.T) {
	h := newHomeHarness(t, "")
	h.savePause("story-1", "other-1", "next-1")
	h.flaky.down.Store(true)
	msgs, err := h.handle(bot.Event{Kind: bot.EventHome})
	if err != nil {
		t.Fatal(err)
	}
	vs := homes(t, h.user, msgs)
	if len(vs) != 1 || !strings.Contains(vs[0].EntriesTitle, "can't read your journal right now") || len(vs[0].Entries) != 0 || len(vs[0].Actions) != 2 {
		t.Fatalf("home during an outage = %+v, want the buttons and the kind note", vs)
	}
}

// TestHomeRepublished: a save publishes the home again with the new entry; forget publishes
// it empty and leaves nothing of the user in Redis; a platform without homes gets none.
func TestHomeRepublished(t *testing.T) {
	url := redistest.Start(t)
	h := newHomeHarness(t, url)
	// A user who has opened their home (saves of one who never did publish nothing:
	// TestHomeRefreshOnlyAfterOpen).
	if _, err := h.store.MarkWelcomed(context.Background(), h.user); err != nil {
		t.Fatal(err)
	}
	if msgs, err := h.handle(bot.Event{Kind: bot.EventHome}); err != nil || len(homes(t, h.user, msgs)) != 1 {
		t.Fatalf("opening the home sent %+v, %v; want one home view", msgs, err)
	}
	h.command("quick", true)
	h.say("story-words")
	h.say("other-words")
	h.say("next-words")
	h.choose("checkback-none")
	msgs := h.choose("save")
	vs := homes(t, h.user, msgs)
	if len(vs) != 1 || len(vs[0].Entries) != 1 {
		t.Fatalf("saving published %+v, want one home with the entry", vs)
	}
	if last := msgs[len(msgs)-1]; last.To.Kind != bot.DestHome {
		t.Errorf("the home came before the replies: %+v", msgs)
	}

	h.command("forget", true)
	msgs = h.choose("forget:yes")
	vs = homes(t, h.user, msgs)
	if len(vs) != 1 || len(vs[0].Entries) != 0 || vs[0].Checkin != "" || len(vs[0].Checkbacks) != 0 {
		t.Fatalf("forget published %+v, want one empty home", vs)
	}
	if dump := dumpRedis(t, url); strings.Contains(dump, h.user.User) {
		t.Errorf("after forget and its home, Redis holds the user:\n%s", dump)
	}
	// Opening the home of someone the bot never met writes nothing about them.
	stranger := bot.UserRef{Platform: "slack", Workspace: "T1", User: "USTRANGER9"}
	if err := h.eng.Handle(context.Background(), bot.Event{Kind: bot.EventHome, User: stranger}); err != nil {
		t.Fatal(err)
	}
	if len(homes(t, stranger, h.take())) != 1 {
		t.Errorf("the stranger's home was not published")
	}
	if dump := dumpRedis(t, url); strings.Contains(dump, stranger.User) {
		t.Errorf("opening a home stored something about the user:\n%s", dump)
	}

	plain := newHarness(t, "") // the rig's recorder shows no homes (Discord, the console)
	plain.savePause("s", "o", "n")
	if msgs, _ := plain.handle(bot.Event{Kind: bot.EventHome}); len(msgs) != 0 {
		t.Errorf("a platform without homes got %+v on open", msgs)
	}
	for _, m := range plain.all {
		if m.To.Kind == bot.DestHome {
			t.Errorf("a platform without homes was sent a home: %+v", m)
		}
	}
}

// quickSave runs a quick pause to its summary as h's user, then, with trips cleared, presses
// Save, and returns what was sent.
func quickSave(h *harness, trips *redistest.Trips) []bot.Message {
	h.tb.Helper()
	h.command("quick", true)
	h.say("story-words")
	h.say("other-words")
	h.say("next-words")
	h.choose("checkback-none")
	trips.Take()
	return h.choose("save")
}

// homeReads counts the round trips among trips that only building a home makes: the journal
// index and entries, and the check-in job (a turn's commit is one script).
func homeReads(trips []string) int {
	n := 0
	for _, c := range trips {
		if c == "zrange" || c == "mget" || c == "hget" || strings.Contains(c, "zrange") {
			n++
		}
	}
	return n
}

// TestHomeRefreshOnlyAfterOpen: a save republishes the home only for a user who has opened
// it, which every replica knows from the user's profile in Redis. A save by a user who never
// opened it publishes nothing and reads nothing of the home; once they opened it on replica
// A, a save handled by replica B republishes it. A user the bot did not know when they first
// opened it counts from their first press on it.
func TestHomeRefreshOnlyAfterOpen(t *testing.T) {
	url := redistest.Start(t)
	a := newHomeHarness(t, url)
	b := a.replica()
	b.eng = b.newEngine(func(c *engine.Config) { c.Sender = homeSender{b.rec}; c.Dialogues = b.flaky })
	tripsA, tripsB := &redistest.Trips{}, &redistest.Trips{}
	a.store.Client().AddHook(tripsA)
	b.store.Client().AddHook(tripsB)

	msgs := quickSave(a, tripsA)
	if !strings.Contains(texts(msgs), "Saved") {
		t.Fatalf("save sent %q, want it saved", texts(msgs))
	}
	if vs := homes(t, a.user, msgs); len(vs) != 0 {
		t.Errorf("a save of a user who never opened the home published %+v", vs)
	}
	if trips := tripsA.Take(); homeReads(trips) != 0 {
		t.Errorf("a save of a user who never opened the home read for it: %q", trips)
	}
	if p, _, err := a.store.Profile(context.Background(), a.user); err != nil || p.HomeOpened {
		t.Fatalf("profile before any open = %+v, %v; want HomeOpened false", p, err)
	}

	// Opened on replica A; saved through replica B.
	if msgs, err := a.handle(bot.Event{Kind: bot.EventHome}); err != nil || len(homes(t, a.user, msgs)) != 1 {
		t.Fatalf("opening the home sent %+v, %v; want one home view", msgs, err)
	}
	msgs = quickSave(b, tripsB)
	vs := homes(t, b.user, msgs)
	if len(vs) != 1 || len(vs[0].Entries) != 2 {
		t.Fatalf("a save on replica B after an open on A published %+v, want one home with both entries", vs)
	}
	if trips := tripsB.Take(); homeReads(trips) == 0 {
		t.Errorf("the republished home read nothing: %q", trips)
	}

	// A stranger opens the home: nothing is stored about them, so nothing is marked. Their
	// press on its Quick pause marks it: the pause they save there republishes it.
	s := &harness{rig: a.rig, user: bot.UserRef{Platform: "slack", Workspace: "T1", User: "USTRANGER7"}}
	if msgs, err := s.handle(bot.Event{Kind: bot.EventHome}); err != nil || len(homes(t, s.user, msgs)) != 1 {
		t.Fatalf("the stranger's open sent %+v, %v; want one home view", msgs, err)
	}
	if _, known, err := s.store.Profile(context.Background(), s.user); err != nil || known {
		t.Fatalf("opening a home stored a profile (%v, %v)", known, err)
	}
	if _, err := s.handle(bot.Event{Kind: bot.EventChoice, Choice: bot.ChoiceHomeQuick, InDM: true}); err != nil {
		t.Fatal(err)
	}
	s.say("story-words")
	s.say("other-words")
	s.say("next-words")
	s.choose("checkback-none")
	if vs := homes(t, s.user, s.choose("save")); len(vs) != 1 || len(vs[0].Entries) != 1 {
		t.Errorf("a save after a press on the home published %+v, want one home with the entry", vs)
	}
}
