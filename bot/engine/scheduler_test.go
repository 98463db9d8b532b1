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

// countingDeliverer records deliveries per user.
type countingDeliverer struct {
	mu    sync.Mutex
	count map[bot.UserRef]int
	total int
	fail  func(j bot.Job) error // optional
}

func (d *countingDeliverer) Deliver(_ context.Context, j bot.Job) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		if err := d.fail(j); err != nil {
			return err
		}
	}
	if d.count == nil {
		d.count = map[bot.UserRef]int{}
	}
	d.count[j.User]++
	d.total++
	return nil
}

func (d *countingDeliverer) n(u bot.UserRef) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count[u]
}

func (d *countingDeliverer) sum() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// replica is a rig on url and clock: one of several storybot processes on one Redis.
func replica(tb testing.TB, url string, clock *fakeclock.Clock) *rig {
	tb.Helper()
	return newRig(tb, rigOptions{url: url, clock: clock})
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

func testUser(prefix string, i int) bot.UserRef {
	return bot.UserRef{Platform: "slack", Workspace: fmt.Sprintf("T%s%d", prefix, i%100), User: fmt.Sprintf("U%s%06d", prefix, i)}
}

func dailyJob(u bot.UserRef, clock string) bot.Job {
	s, _ := bot.ParseSchedule([]string{"daily", clock})
	return bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: s}}
}

// TestSchedulerExactlyOnce runs four schedulers, each with its own connection, against one
// Redis: every one of 2,000 due check-ins is delivered exactly once, and each job is then
// due again the next day.
func TestSchedulerExactlyOnce(t *testing.T) {
	url := redistest.Start(t)
	clock := fakeclock.New(t0.Add(30 * time.Second))
	const n = 2000
	setup := replica(t, url, clock).store
	ctx := context.Background()
	users := make([]bot.UserRef, n)
	for i := range users {
		users[i] = testUser("x", i)
		if err := setup.PutJob(ctx, dailyJob(users[i], "09:00"), t0); err != nil {
			t.Fatal(err)
		}
	}
	rec := &countingDeliverer{}
	var stops []func()
	for range 4 {
		stops = append(stops, replica(t, url, clock).runScheduler(func(c *engine.SchedulerConfig) { c.Deliver, c.Batch, c.Workers = rec, 50, 8 }))
	}
	waitFor(t, "2,000 deliveries", func() bool { return rec.sum() >= n })
	time.Sleep(50 * time.Millisecond) // room for any duplicate to show up
	for _, stop := range stops {
		stop()
	}
	if got := rec.sum(); got != n {
		t.Errorf("deliveries = %d, want %d", got, n)
	}
	for _, u := range users {
		if c := rec.n(u); c != 1 {
			t.Fatalf("user %s got %d check-ins, want 1", u, c)
		}
	}
	_, due, ok, err := setup.Job(ctx, users[7], bot.JobCheckin)
	if err != nil || !ok || !due.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("Job after delivery = due %v, %v, %v; want %v", due, ok, err, t0.Add(24*time.Hour))
	}
}

// TestSchedulerLeaseExpiry: a replica claims a job and dies. Nobody delivers it while the
// lease holds; after the lease another replica does, once. A replica that died after
// marking the occurrence sent (it may have sent it) is never followed by a second send.
func TestSchedulerLeaseExpiry(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	clock := fakeclock.New(t0.Add(10 * time.Second))
	crashed := replica(t, url, clock).store
	a, b := testUser("lease", 1), testUser("lease", 2)
	for _, u := range []bot.UserRef{a, b} {
		if err := crashed.PutJob(ctx, dailyJob(u, "09:00"), t0); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := crashed.Claim(ctx, clock.Now(), 10, clock.Now().Add(2*time.Minute))
	if err != nil || len(claims) != 2 {
		t.Fatalf("Claim = %d claims, %v; want 2", len(claims), err)
	}
	for _, c := range claims {
		if c.Job.User == b {
			if ok, err := crashed.MarkSent(ctx, c); !ok || err != nil {
				t.Fatalf("MarkSent = %v, %v", ok, err)
			}
		}
	}
	// The replica is gone. Another one runs.
	rec := &countingDeliverer{}
	replica(t, url, clock).runScheduler(func(c *engine.SchedulerConfig) { c.Deliver, c.Lease = rec, 2*time.Minute })
	time.Sleep(50 * time.Millisecond)
	if got := rec.sum(); got != 0 {
		t.Fatalf("deliveries during the lease = %d, want 0", got)
	}
	clock.Set(t0.Add(10*time.Second + 2*time.Minute + time.Second))
	waitFor(t, "the reaped check-in", func() bool { return rec.n(a) == 1 })
	// b was marked sent by the crashed replica: it is rescheduled, not sent again.
	waitFor(t, "b rescheduled", func() bool {
		_, due, ok, _ := crashed.Job(ctx, b, bot.JobCheckin)
		return ok && due.Equal(t0.Add(24*time.Hour))
	})
	if got := rec.n(b); got != 0 {
		t.Errorf("b delivered %d times after a crash after marking, want 0", got)
	}
	// The old claim's owner comes back: its finish does nothing.
	if err := crashed.Finish(ctx, claims[0], t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, due, _, _ := crashed.Job(ctx, claims[0].Job.User, bot.JobCheckin); !due.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("a lapsed claim's Finish moved the job to %v", due)
	}
}

// TestSchedulerMissedWhileDown: 1 h late is sent once; 3 h late is dropped and the job moves
// to its next occurrence. Never a burst of stale ones.
func TestSchedulerMissedWhileDown(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	clock := fakeclock.New(t0.Add(3*time.Hour + 30*time.Minute)) // 12:30
	r := replica(t, url, clock)
	st := r.store
	late1, late3 := testUser("down", 1), testUser("down", 2)
	if err := st.PutJob(ctx, dailyJob(late1, "11:30"), t0.Add(150*time.Minute)); err != nil { // 11:30, 1 h late
		t.Fatal(err)
	}
	if err := st.PutJob(ctx, dailyJob(late3, "09:00"), t0.Add(-30*time.Minute)); err != nil { // 08:30, 4 h late
		t.Fatal(err)
	}
	rec := &countingDeliverer{}
	r.runScheduler(func(c *engine.SchedulerConfig) { c.Deliver = rec })
	waitFor(t, "the 1 h late check-in", func() bool { return rec.n(late1) == 1 })
	waitFor(t, "the stale check-in rescheduled", func() bool {
		_, due, ok, _ := st.Job(ctx, late3, bot.JobCheckin)
		return ok && due.Equal(t0.Add(24*time.Hour))
	})
	time.Sleep(30 * time.Millisecond)
	if got := rec.n(late3); got != 0 {
		t.Errorf("3 h late check-in delivered %d times, want 0", got)
	}
	if got := rec.n(late1); got != 1 {
		t.Errorf("1 h late check-in delivered %d times, want 1", got)
	}
}

// TestSchedulerRateLimitAndAvailability: a rate-limited send is retried later and delivered
// once; a user in Do Not Disturb gets the check-in when it ends.
func TestSchedulerRateLimitAndAvailability(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	clock := fakeclock.New(t0.Add(5 * time.Second))
	r := replica(t, url, clock)
	st := r.store
	limited, dnd := testUser("rl", 1), testUser("rl", 2)
	for _, u := range []bot.UserRef{limited, dnd} {
		if err := st.PutJob(ctx, dailyJob(u, "09:00"), t0); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	refused := 0
	rec := &countingDeliverer{fail: func(j bot.Job) error {
		mu.Lock()
		defer mu.Unlock()
		if j.User == limited && refused == 0 {
			refused++
			return &bot.RateLimitError{RetryAfter: 20 * time.Second}
		}
		return nil
	}}
	dndEnd := t0.Add(30 * time.Minute)
	avail := availabilityFunc(func(u bot.UserRef) time.Time {
		if u == dnd {
			return dndEnd
		}
		return time.Time{}
	})
	r.runScheduler(func(c *engine.SchedulerConfig) { c.Deliver, c.Availability = rec, avail })
	time.Sleep(50 * time.Millisecond)
	if rec.n(limited) != 0 || rec.n(dnd) != 0 {
		t.Fatalf("delivered before retry/DND end: %d, %d", rec.n(limited), rec.n(dnd))
	}
	clock.Set(t0.Add(30 * time.Second))
	waitFor(t, "the retried check-in", func() bool { return rec.n(limited) == 1 })
	clock.Set(dndEnd.Add(time.Second))
	waitFor(t, "the check-in after DND", func() bool { return rec.n(dnd) == 1 })
	time.Sleep(30 * time.Millisecond)
	if rec.n(limited) != 1 || rec.n(dnd) != 1 {
		t.Errorf("deliveries = %d, %d; want 1, 1", rec.n(limited), rec.n(dnd))
	}
}

type availabilityFunc func(u bot.UserRef) time.Time

func (f availabilityFunc) AvailableAt(_ context.Context, u bot.UserRef) (time.Time, error) {
	return f(u), nil
}

// TestCheckinEndToEnd sets a check-in by command, lets a scheduler deliver it through the
// engine, and answers it by button and by typing: snooze and skip leave the schedule as
// it was, and a check-in never interrupts an open dialogue.
func TestCheckinEndToEnd(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clock := fakeclock.New(time.Date(2026, 3, 2, 7, 0, 0, 0, berlin))
	r := replica(t, url, clock)
	st, rec, eng := r.store, r.rec, r.eng
	u := bot.UserRef{Platform: "console", Workspace: "local", User: "e2e-checkin"}
	cmd := func(text string) string {
		t.Helper()
		if err := eng.Handle(ctx, bot.Event{Kind: bot.EventCommand, User: u, Text: text, InDM: true}); err != nil {
			t.Fatalf("Handle(/story %s) = %v", text, err)
		}
		return joinTexts(rec.take())
	}
	say := func(ev bot.Event) []bot.Message {
		t.Helper()
		ev.User, ev.InDM = u, true
		if err := eng.Handle(ctx, ev); err != nil {
			t.Fatalf("Handle(%+v) = %v", ev, err)
		}
		return rec.take()
	}

	if got := cmd("checkin"); !strings.Contains(got, "no check-ins") {
		t.Errorf("/story checkin before any = %q", got)
	}
	if got := cmd("checkin weekdays 09:00"); !strings.Contains(got, "UTC") || !strings.Contains(got, "/story tz") {
		t.Errorf("/story checkin weekdays 09:00 without a zone = %q, want it to say UTC and /story tz", got)
	}
	if got := cmd("tz Europe/Berlin"); !strings.Contains(got, "Europe/Berlin") {
		t.Fatalf("/story tz = %q", got)
	}
	got := cmd("checkin")
	if !strings.Contains(got, "weekdays 09:00, Europe/Berlin time") || !strings.Contains(got, "Mon 2 Mar at 09:00") {
		t.Fatalf("/story checkin after tz = %q, want weekdays 09:00 Berlin, next Mon 2 Mar at 09:00", got)
	}
	if got := cmd("checkin mon,xyz 09:00"); !strings.Contains(got, "xyz") {
		t.Errorf("bad day = %q", got)
	}
	if got := cmd("checkin daily 25:00"); !strings.Contains(got, "25:00") {
		t.Errorf("bad time = %q", got)
	}

	r.runScheduler(nil)
	time.Sleep(30 * time.Millisecond)
	if msgs := rec.take(); len(msgs) != 0 {
		t.Fatalf("sent before 09:00: %q", joinTexts(msgs))
	}
	deliveredAt := time.Date(2026, 3, 2, 9, 0, 20, 0, berlin)
	clock.Set(deliveredAt)
	var msgs []bot.Message
	waitFor(t, "the check-in DM", func() bool { msgs = append(msgs, rec.take()...); return len(msgs) > 0 })
	m := msgs[0]
	if m.To.Kind != bot.DestDM || m.Text != flows.TextCheckinQuestion || len(m.Choices) != 4 {
		t.Fatalf("check-in = %+v, want a DM asking %q with 4 choices", m, flows.TextCheckinQuestion)
	}
	checkDue := func(want time.Time) {
		t.Helper()
		_, due, ok, err := st.Job(ctx, u, bot.JobCheckin)
		if err != nil || !ok || !due.Equal(want) {
			t.Errorf("check-in due %v (%v, %v), want %v", due, ok, err, want)
		}
	}
	tomorrow := time.Date(2026, 3, 3, 9, 0, 0, 0, berlin)
	waitFor(t, "rescheduled", func() bool { _, due, _, _ := st.Job(ctx, u, bot.JobCheckin); return due.Equal(tomorrow) })

	// Snooze by button: one extra check-in an hour later; the schedule is unchanged.
	if r := joinTexts(say(bot.Event{Kind: bot.EventChoice, Choice: "checkin-snooze"})); !strings.Contains(r, "hour") {
		t.Errorf("snooze reply = %q", r)
	}
	checkDue(tomorrow)
	clock.Set(deliveredAt.Add(time.Hour + time.Second))
	msgs = nil
	waitFor(t, "the snoozed check-in", func() bool { msgs = append(msgs, rec.take()...); return len(msgs) > 0 })
	if msgs[0].Text != flows.TextCheckinQuestion {
		t.Errorf("snoozed check-in = %q", msgs[0].Text)
	}
	if _, _, ok, _ := st.Job(ctx, u, bot.JobSnooze); ok {
		waitFor(t, "the snooze job gone", func() bool { _, _, ok, _ := st.Job(ctx, u, bot.JobSnooze); return !ok })
	}
	// Skip today, typed.
	if r := joinTexts(say(bot.Event{Kind: bot.EventText, Text: "Skip today"})); !strings.Contains(r, "Skipping today") {
		t.Errorf("skip reply = %q", r)
	}
	checkDue(tomorrow)

	// Next morning the user is mid-pause: the check-in does not interrupt; it waits, and
	// comes once (not more) when the pause closes.
	clock.Set(tomorrow.Add(-5 * time.Minute))
	say(bot.Event{Kind: bot.EventCommand, Text: "pause"})
	clock.Set(tomorrow.Add(10 * time.Second))
	time.Sleep(200 * time.Millisecond)
	if msgs := rec.take(); len(msgs) != 0 {
		t.Errorf("check-in interrupted a dialogue: %q", joinTexts(msgs))
	}
	say(bot.Event{Kind: bot.EventText, Text: "stop"})
	clock.Set(tomorrow.Add(3 * time.Minute))
	msgs = nil
	waitFor(t, "the check-in that waited", func() bool { msgs = append(msgs, rec.take()...); return len(msgs) > 0 })
	if len(msgs) != 1 || msgs[0].Text != flows.TextCheckinQuestion {
		t.Errorf("after the pause closed: %q, want the check-in once", joinTexts(msgs))
	}
	if r := joinTexts(say(bot.Event{Kind: bot.EventText, Text: "All clear"})); r == "" {
		t.Error("no answer to All clear")
	}

	// Wednesday: typed number 2 is All clear; 1 starts a pause.
	wed := tomorrow.Add(24 * time.Hour)
	clock.Set(wed.Add(5 * time.Second))
	msgs = nil
	waitFor(t, "Wednesday's check-in", func() bool { msgs = append(msgs, rec.take()...); return len(msgs) > 0 })
	if r := joinTexts(say(bot.Event{Kind: bot.EventText, Text: "1"})); !strings.Contains(r, "What's happening") {
		t.Errorf("Start a pause by number = %q, want the first pause question", r)
	}

	// Off: nothing more is sent.
	if got := cmd("checkin off"); !strings.Contains(got, "off") {
		t.Errorf("/story checkin off = %q", got)
	}
	clock.Set(wed.Add(48 * time.Hour))
	time.Sleep(30 * time.Millisecond)
	if msgs := rec.take(); len(msgs) != 0 {
		t.Errorf("sent after off: %q", joinTexts(msgs))
	}
	if err := st.ForgetSchedules(ctx, u); err != nil {
		t.Fatal(err)
	}
}

func joinTexts(ms []bot.Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Text + "\n")
	}
	return b.String()
}
