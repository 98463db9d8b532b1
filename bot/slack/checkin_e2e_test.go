package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot/engine"
)

const checkinPrompt = "What story are you carrying today?"

// runScheduler runs a scheduler on the harness's engine, store and clock until the test ends.
func runScheduler(h *harness) {
	h.tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := engine.NewScheduler(engine.SchedulerConfig{
		Queue: h.store, Deliver: h.eng, Availability: h.adapter, Now: h.clock.Now,
		Tick: 5 * time.Millisecond, Pace: map[string]engine.Pace{Platform: {}},
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	h.tb.Cleanup(func() { cancel(); <-done })
}

// countCheckins counts check-in DMs posted to user.
func countCheckins(h *harness, user string) int {
	n := 0
	for _, c := range h.fake.snapshot() {
		if c.Method == "chat.postMessage" && c.Channel == "D"+user && strings.Contains(unescape(c.Text), checkinPrompt) {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to 5 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCheckinEndToEnd sets a check-in by slash command, in the time zone Slack's profile
// gives, receives exactly one DM at the local minute, holds the next one during Do Not
// Disturb, and starts a pause from the check-in's button.
func TestCheckinEndToEnd(t *testing.T) {
	h := newHarness(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Set(time.Date(2026, 3, 27, 20, 0, 0, 0, berlin)) // the Friday before DST starts
	const user = "UCHK"
	h.slash(user, "C0GENERAL", "checkin daily 09:00")
	if got := strings.Join(h.replies(user, 0), "\n"); !strings.Contains(got, "09:00") {
		t.Fatalf("/story checkin reply = %q", got)
	}
	runScheduler(h)

	// Saturday 08:59 Berlin: nothing yet. 09:00: exactly one check-in.
	h.clock.Add(12*time.Hour + 59*time.Minute)
	time.Sleep(100 * time.Millisecond)
	if n := countCheckins(h, user); n != 0 {
		t.Fatalf("%d check-ins before 09:00", n)
	}
	h.clock.Add(time.Minute)
	waitFor(t, "the first check-in", func() bool { return countCheckins(h, user) == 1 })

	// Sunday is the DST change; the user is in Do Not Disturb until 09:30 local.
	h.click(user, "checkin-clear")
	sunday := time.Date(2026, 3, 29, 9, 0, 0, 0, berlin)
	h.fake.mu.Lock()
	h.fake.dnd[user] = slack.DNDStatus{SnoozeInfo: slack.SnoozeInfo{SnoozeEnabled: true, SnoozeEndTime: int(sunday.Add(30 * time.Minute).Unix())}}
	h.fake.mu.Unlock()
	h.clock.Set(sunday)
	time.Sleep(150 * time.Millisecond)
	if n := countCheckins(h, user); n != 1 {
		t.Fatalf("%d check-ins during Do Not Disturb, want still 1", n)
	}
	h.clock.Add(31 * time.Minute)
	waitFor(t, "the check-in after Do Not Disturb", func() bool { return countCheckins(h, user) == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := countCheckins(h, user); n != 2 {
		t.Errorf("%d check-ins after Do Not Disturb, want exactly 2", n)
	}

	// The check-in's first button starts a pause.
	from := h.ncalls()
	h.click(user, "checkin-pause")
	if got := strings.Join(h.replies(user, from), "\n"); !strings.Contains(got, "What's happening?") {
		t.Errorf("Start a pause answered %q", got)
	}
}

func TestDNDEnd(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) int { return int(now.Add(d).Unix()) }
	tests := []struct {
		name string
		st   slack.DNDStatus
		want time.Time
	}{
		{"not in DND", slack.DNDStatus{}, time.Time{}},
		{"snoozed", slack.DNDStatus{SnoozeInfo: slack.SnoozeInfo{SnoozeEnabled: true, SnoozeEndTime: at(time.Hour)}}, now.Add(time.Hour)},
		{"snooze over", slack.DNDStatus{SnoozeInfo: slack.SnoozeInfo{SnoozeEnabled: true, SnoozeEndTime: at(-time.Minute)}}, time.Time{}},
		{"inside DND hours", slack.DNDStatus{Enabled: true, NextStartTimestamp: at(-time.Hour), NextEndTimestamp: at(2 * time.Hour)}, now.Add(2 * time.Hour)},
		{"DND hours later today", slack.DNDStatus{Enabled: true, NextStartTimestamp: at(time.Hour), NextEndTimestamp: at(9 * time.Hour)}, time.Time{}},
		{"DND hours off", slack.DNDStatus{Enabled: false, NextStartTimestamp: at(-time.Hour), NextEndTimestamp: at(2 * time.Hour)}, time.Time{}},
		{"both: the later end", slack.DNDStatus{Enabled: true, NextStartTimestamp: at(-time.Hour), NextEndTimestamp: at(time.Hour),
			SnoozeInfo: slack.SnoozeInfo{SnoozeEnabled: true, SnoozeEndTime: at(3 * time.Hour)}}, now.Add(3 * time.Hour)},
	}
	for _, tt := range tests {
		if got := dndEnd(tt.st, now); !got.Equal(tt.want) {
			t.Errorf("%s: dndEnd = %v, want %v", tt.name, got, tt.want)
		}
	}
}
