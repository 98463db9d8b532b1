package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/storage/redistest"
)

// fuWorld is one storybot replica for follow-up tests: a rig over a Redis, a clock and a
// recorder that replicas share.
type fuWorld struct{ *rig }

func newFuWorld(tb testing.TB, url string, clock *fakeclock.Clock, rec *recorder) *fuWorld {
	tb.Helper()
	return &fuWorld{newRig(tb, rigOptions{url: url, clock: clock, rec: rec})}
}

// run starts the replica's scheduler; a job waiting for an open dialogue tries again every
// minute unless change says otherwise.
func (w *fuWorld) run(change func(*engine.SchedulerConfig)) func() {
	return w.runScheduler(func(c *engine.SchedulerConfig) {
		c.BusyRetry = time.Minute
		if change != nil {
			change(c)
		}
	})
}

// plan saves a quick pause for u, created at created, with a check-back at checkBack, the
// way a finished dialogue does, and schedules its follow-up as the engine does on save.
func (w *fuWorld) plan(u bot.UserRef, next string, created, checkBack time.Time) string {
	w.tb.Helper()
	ctx := context.Background()
	cb := checkBack
	e := &flows.Entry{Flow: flows.FlowQuick, Created: created, Story: "Sam thinks my draft is weak", Others: []string{"Sam is busy"}, Next: next, CheckBack: &cb}
	if err := w.store.Turn(ctx, u, func(flows.State) (flows.State, *flows.Entry, error) { return flows.State{}, e, nil }); err != nil {
		w.tb.Fatal(err)
	}
	if err := w.store.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: e.ID}, checkBack); err != nil {
		w.tb.Fatal(err)
	}
	return e.ID
}

func (w *fuWorld) handle(u bot.UserRef, ev bot.Event) string {
	w.tb.Helper()
	ev.User, ev.InDM = u, true
	if err := w.eng.Handle(context.Background(), ev); err != nil {
		w.tb.Fatalf("Handle(%+v) = %v", ev, err)
	}
	return joinTexts(w.rec.take())
}

func (w *fuWorld) entry(u bot.UserRef, id string) flows.Entry {
	w.tb.Helper()
	en, ok, err := w.store.Entry(context.Background(), u, id)
	if err != nil || !ok {
		w.tb.Fatalf("Entry(%s) = %v, %v", id, ok, err)
	}
	return en
}

func (w *fuWorld) pending(u bot.UserRef, id string) (time.Time, bool) {
	w.tb.Helper()
	due, err := w.store.FollowupsDue(context.Background(), u, []string{id})
	if err != nil {
		w.tb.Fatal(err)
	}
	t, ok := due[id]
	return t, ok
}

// waitDM waits for the next messages sent to u.
func waitDM(tb testing.TB, rec *recorder, u bot.UserRef) []bot.Message {
	tb.Helper()
	var got []bot.Message
	waitFor(tb, "a DM to "+u.User, func() bool {
		for _, m := range rec.take() {
			if m.To.User == u && m.To.Kind == bot.DestDM {
				got = append(got, m)
			}
		}
		return len(got) > 0
	})
	return got
}

// quiet checks that nothing is sent for a while.
func quiet(tb testing.TB, rec *recorder, what string) {
	tb.Helper()
	time.Sleep(60 * time.Millisecond)
	if msgs := rec.take(); len(msgs) != 0 {
		tb.Errorf("%s: sent %q", what, joinTexts(msgs))
	}
}

// TestFollowupChoicesAcrossZones: in several zones, a check-back picked for "tomorrow
// 09:00", "later today 17:00", "this week (Friday 09:00)" and "in 20 minutes" comes back
// once, at that local time, quoting the step with the day it was planned; the answers land
// on the entry; "Not yet" + "Yes, tomorrow" schedules one more at 09:00 local the next day,
// across a daylight-saving change, and the second "Not yet" lets it go.
func TestFollowupChoicesAcrossZones(t *testing.T) {
	url := redistest.Start(t)
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"} {
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			// Saturday 28 March 2026, 10:00 local: Berlin springs forward on the 29th; New
			// York did on the 8th, so its case starts on Saturday 7 March.
			day := time.Date(2026, 3, 28, 10, 0, 0, 0, loc)
			if zone == "America/New_York" {
				day = time.Date(2026, 3, 7, 10, 0, 0, 0, loc)
			}
			clock := fakeclock.New(day)
			rec := &recorder{}
			w := newFuWorld(t, url, clock, rec)
			u := bot.UserRef{Platform: "slack", Workspace: "TZ", User: fmt.Sprintf("U%s%d", strings.ReplaceAll(zone, "/", ""), time.Now().UnixNano())}
			if got := w.handle(u, bot.Event{Kind: bot.EventCommand, Text: "tz " + zone}); !strings.Contains(got, zone) {
				t.Fatalf("/story tz = %q", got)
			}
			rec.take()
			choices := []struct {
				name string
				at   time.Time
			}{
				{"in 20 minutes", day.Add(20 * time.Minute)},
				{"later today", time.Date(day.Year(), day.Month(), day.Day(), 17, 0, 0, 0, loc)},
				{"tomorrow", time.Date(day.Year(), day.Month(), day.Day()+1, 9, 0, 0, 0, loc)},
				{"this week", time.Date(day.Year(), day.Month(), day.Day()+6, 9, 0, 0, 0, loc)}, // Friday
			}
			ids := map[string]string{}
			for _, c := range choices {
				ids[c.name] = w.plan(u, "Ask Sam ("+c.name+")", day, c.at)
			}
			w.run(nil)
			for i, c := range choices {
				clock.Set(c.at.Add(-time.Second))
				quiet(t, rec, c.name+" one second early")
				clock.Set(c.at)
				msgs := waitDM(t, rec, u)
				want := fmt.Sprintf("On %s you planned: “Ask Sam (%s)” Did it happen?", day.Format("Monday 2 Jan"), c.name)
				if len(msgs) != 1 || msgs[0].Text != want || len(msgs[0].Choices) != 3 {
					t.Fatalf("%s: follow-up = %q, want one DM %q with 3 choices", c.name, joinTexts(msgs), want)
				}
				id := ids[c.name]
				switch i {
				case 0: // Done, what they found out, how true.
					w.handle(u, bot.Event{Kind: bot.EventChoice, Choice: "fu-done"})
					w.handle(u, bot.Event{Kind: bot.EventText, Text: "Sam liked it."})
					if got := w.handle(u, bot.Event{Kind: bot.EventText, Text: "2"}); !strings.Contains(got, "Thank you") {
						t.Errorf("after how true: %q", got)
					}
					fu := w.entry(u, id).FollowUp
					if fu == nil || fu.Outcome != flows.OutcomeDone || fu.FoundOut != "Sam liked it." || fu.HowTrue == nil || *fu.HowTrue != 2 || !fu.At.Equal(clock.Now()) {
						t.Errorf("entry follow-up = %+v, want done, found out, 2/10, at %v", fu, clock.Now())
					}
				case 1: // Changed my mind, typed.
					w.handle(u, bot.Event{Kind: bot.EventText, Text: "changed my mind"})
					if fu := w.entry(u, id).FollowUp; fu == nil || fu.Outcome != flows.OutcomeChangedMind {
						t.Errorf("entry follow-up = %+v, want changed_mind", fu)
					}
				case 2: // Not yet, ask again tomorrow: 09:00 local the next day, across DST.
					w.handle(u, bot.Event{Kind: bot.EventText, Text: "2"})
					if got := w.handle(u, bot.Event{Kind: bot.EventChoice, Choice: "fu-again"}); !strings.Contains(got, "tomorrow") {
						t.Errorf("after Yes, tomorrow: %q", got)
					}
					again := time.Date(c.at.Year(), c.at.Month(), c.at.Day()+1, 9, 0, 0, 0, loc)
					if due, ok := w.pending(u, id); !ok || !due.Equal(again) {
						t.Fatalf("one more check-back due %v (%v), want %v", due, ok, again)
					}
					clock.Set(again)
					msgs := waitDM(t, rec, u)
					if len(msgs) != 1 || msgs[0].Text != want {
						t.Fatalf("second follow-up = %q, want %q", joinTexts(msgs), want)
					}
					if got := w.handle(u, bot.Event{Kind: bot.EventText, Text: "not yet"}); !strings.Contains(got, "let this one go") {
						t.Errorf("second not yet = %q, want it to let go", got)
					}
					if _, ok := w.pending(u, id); ok {
						t.Errorf("a third check-back is pending after the second Not yet")
					}
					if fu := w.entry(u, id).FollowUp; fu == nil || fu.Outcome != flows.OutcomeNotYet || fu.Asked != 2 {
						t.Errorf("entry follow-up = %+v, want not_yet, asked 2", fu)
					}
				case 3:
					w.handle(u, bot.Event{Kind: bot.EventText, Text: "skip"})
				}
			}
			quiet(t, rec, "after every check-back came once")
		})
	}
}

// TestFollowupHeldForDNDAndDialogue: a follow-up due during Do Not Disturb waits for its
// end; one due while the user is mid-pause waits until the pause closes, and is sent once.
func TestFollowupHeldForDNDAndDialogue(t *testing.T) {
	url := redistest.Start(t)
	clock := fakeclock.New(t0)
	rec := &recorder{}
	w := newFuWorld(t, url, clock, rec)
	dnd, busy := testUser("fudnd", 1), testUser("fudnd", 2)
	due := t0.Add(time.Hour)
	dndEnd := due.Add(45 * time.Minute)
	w.plan(dnd, "Call the vendor", t0, due)
	w.plan(busy, "Reply to Kim", t0, due)
	w.run(func(c *engine.SchedulerConfig) {
		c.Availability = availabilityFunc(func(u bot.UserRef) time.Time {
			if u == dnd {
				return dndEnd
			}
			return time.Time{}
		})
	})
	clock.Set(due.Add(-2 * time.Minute))
	w.handle(busy, bot.Event{Kind: bot.EventCommand, Text: "quick"}) // mid-pause at the due time
	rec.take()
	clock.Set(due)
	quiet(t, rec, "during DND and mid-pause")
	// The pause goes on: still nothing.
	clock.Set(due.Add(90 * time.Second))
	w.handle(busy, bot.Event{Kind: bot.EventText, Text: "they ignore my emails"})
	rec.take()
	clock.Set(due.Add(3 * time.Minute))
	quiet(t, rec, "while the pause is still open")
	// The user stops the pause: the follow-up comes at the next try.
	w.handle(busy, bot.Event{Kind: bot.EventText, Text: "stop"})
	clock.Set(due.Add(5 * time.Minute))
	if msgs := waitDM(t, rec, busy); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Reply to Kim") {
		t.Fatalf("after the pause closed: %q", joinTexts(msgs))
	}
	clock.Set(dndEnd.Add(time.Second))
	if msgs := waitDM(t, rec, dnd); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Call the vendor") {
		t.Fatalf("after DND: %q", joinTexts(msgs))
	}
	clock.Set(dndEnd.Add(time.Hour))
	quiet(t, rec, "after both were sent once")
}

// TestFollowupReplicas: two replicas (each its own store, engine and scheduler) deliver each
// of 200 follow-ups with one DM; a replica that claimed and crashed before sending is
// covered by the other after the lease; one that crashed after marking is never repeated;
// one 3 h late is dropped.
func TestFollowupReplicas(t *testing.T) {
	url := redistest.Start(t)
	clock := fakeclock.New(t0)
	rec := &recorder{}
	a := newFuWorld(t, url, clock, rec)
	b := newFuWorld(t, url, clock, rec)
	ctx := context.Background()
	due := t0.Add(10 * time.Minute)

	// The crash cases first: a replica claims two follow-ups and dies, after marking one.
	crashedClaim, crashedMarked := testUser("fucrash", 1), testUser("fucrash", 2)
	a.plan(crashedClaim, "Step A", t0, due)
	a.plan(crashedMarked, "Step B", t0, due)
	clock.Set(due)
	claims, err := a.store.Claim(ctx, clock.Now(), 10, clock.Now().Add(2*time.Minute))
	if err != nil || len(claims) != 2 {
		t.Fatalf("Claim = %d, %v; want 2", len(claims), err)
	}
	for _, c := range claims {
		if c.Job.User == crashedMarked {
			if ok, err := a.store.MarkSent(ctx, c); !ok || err != nil {
				t.Fatalf("MarkSent = %v, %v", ok, err)
			}
		}
	}

	const n = 200
	users := make([]bot.UserRef, n)
	for i := range users {
		users[i] = testUser("furep", i)
		a.plan(users[i], fmt.Sprintf("Step %d", i), t0, due)
	}
	late := testUser("fulate", 1)
	a.plan(late, "Too late", t0, due.Add(-3*time.Hour))

	for _, w := range []*fuWorld{a, b} {
		w.run(func(c *engine.SchedulerConfig) { c.Batch, c.Workers, c.Lease = 20, 8, 2*time.Minute })
	}
	counts := map[bot.UserRef]int{}
	var mu sync.Mutex
	collect := func() int {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range rec.take() {
			counts[m.To.User]++
		}
		return len(counts)
	}
	waitFor(t, "200 follow-ups", func() bool { return collect() >= n })
	if c := counts[crashedClaim]; c != 0 {
		t.Fatalf("a claimed follow-up was sent during its lease (%d)", c)
	}
	clock.Set(due.Add(2*time.Minute + time.Second))
	waitFor(t, "the crashed replica's claim taken over", func() bool { collect(); return counts[crashedClaim] == 1 })
	time.Sleep(80 * time.Millisecond)
	collect()
	for _, u := range users {
		if counts[u] != 1 {
			t.Fatalf("%s got %d follow-up DMs, want 1", u, counts[u])
		}
	}
	if counts[crashedMarked] != 0 || counts[late] != 0 {
		t.Errorf("marked-then-crashed got %d, 3 h late got %d; want 0 and 0", counts[crashedMarked], counts[late])
	}
	if counts[crashedClaim] != 1 {
		t.Errorf("claimed-then-crashed got %d, want 1", counts[crashedClaim])
	}
}

// TestFollowupCancelled: /story followups lists pending check-backs; a Cancel button and
// "followups cancel n" cancel one; "followups off" cancels the rest and no new one is
// scheduled; forget erases them; none of them is ever sent.
func TestFollowupCancelled(t *testing.T) {
	url := redistest.Start(t)
	clock := fakeclock.New(t0)
	rec := &recorder{}
	w := newFuWorld(t, url, clock, rec)
	u := testUser("fucancel", 1)
	cmd := func(text string) []bot.Message {
		t.Helper()
		if err := w.eng.Handle(context.Background(), bot.Event{Kind: bot.EventCommand, User: u, Text: text, InDM: true}); err != nil {
			t.Fatal(err)
		}
		return rec.take()
	}
	if got := joinTexts(cmd("followups")); !strings.Contains(got, "no check-backs") {
		t.Errorf("/story followups with none = %q", got)
	}
	a := w.plan(u, "Ask Sam", t0, t0.Add(time.Hour))
	b := w.plan(u, "Email Priya", t0, t0.Add(2*time.Hour))
	c := w.plan(u, "Talk to Lee", t0, t0.Add(3*time.Hour))
	msgs := cmd("followups")
	got := joinTexts(msgs)
	for _, want := range []string{"1. Mon 2 Mar at 10:00 — “Ask Sam”", "2. Mon 2 Mar at 11:00 — “Email Priya”", "3. Mon 2 Mar at 12:00 — “Talk to Lee”"} {
		if !strings.Contains(got, want) {
			t.Errorf("/story followups = %q, want %q", got, want)
		}
	}
	if len(msgs) != 1 || len(msgs[0].Choices) != 3 {
		t.Fatalf("/story followups = %+v, want one message with 3 Cancel buttons", msgs)
	}
	// Cancel by button.
	if r := w.handle(u, bot.Event{Kind: bot.EventChoice, Choice: msgs[0].Choices[0].ID}); !strings.Contains(r, "Ask Sam") {
		t.Errorf("Cancel 1 = %q", r)
	}
	if _, ok := w.pending(u, a); ok {
		t.Errorf("Ask Sam still pending after Cancel")
	}
	// Cancel by number: "2" is now the third.
	if r := joinTexts(cmd("followups cancel 2")); !strings.Contains(r, "Talk to Lee") {
		t.Errorf("followups cancel 2 = %q", r)
	}
	if r := joinTexts(cmd("followups cancel 5")); !strings.Contains(r, "no check-back number 5") {
		t.Errorf("followups cancel 5 = %q", r)
	}
	// Off cancels the rest.
	if r := joinTexts(cmd("followups off")); !strings.Contains(r, "cancelled 1 pending check-back") {
		t.Errorf("followups off = %q", r)
	}
	for _, id := range []string{a, b, c} {
		if _, ok := w.pending(u, id); ok {
			t.Errorf("%s pending after followups off", id)
		}
	}
	w.run(nil)
	clock.Set(t0.Add(4 * time.Hour))
	quiet(t, rec, "cancelled follow-ups")
	// A job that slips through (scheduled just before "off" took effect) is not sent.
	d := w.plan(u, "Slipped through", t0, t0.Add(5*time.Hour))
	clock.Set(t0.Add(5 * time.Hour))
	waitFor(t, "the slipped job consumed", func() bool { _, ok := w.pending(u, d); return !ok })
	quiet(t, rec, "a follow-up after followups off")
	if r := joinTexts(cmd("followups on")); !strings.Contains(r, "on") {
		t.Errorf("followups on = %q", r)
	}
	// Forget erases a pending one.
	e := w.plan(u, "After forget", t0, t0.Add(7*time.Hour))
	cmd("forget")
	if r := w.handle(u, bot.Event{Kind: bot.EventChoice, Choice: "forget:yes"}); !strings.Contains(r, "erased") {
		t.Fatalf("forget = %q", r)
	}
	if _, ok := w.pending(u, e); ok {
		t.Errorf("follow-up pending after forget")
	}
	clock.Set(t0.Add(7 * time.Hour))
	quiet(t, rec, "a follow-up after forget")
}
