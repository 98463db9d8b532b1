package discord

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
)

// runScheduler runs a scheduler that delivers through eng on the env's store and clock
// until the test ends.
func runScheduler(t *testing.T, e *env, eng *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := engine.NewScheduler(engine.SchedulerConfig{
		Queue: e.store, Deliver: eng, Now: e.clock.Now, Logger: quiet,
		Tick: 5 * time.Millisecond, Pace: map[string]engine.Pace{Platform: {}},
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// checkins are the check-in DMs posted to user.
func (e *env) checkins(user string) []call {
	var out []call
	for _, c := range e.fake.dmPosts(user) {
		if strings.Contains(content(c), flows.TextCheckinQuestion) {
			out = append(out, c)
		}
	}
	return out
}

// run posts a signed interaction, checks that it was acknowledged, waits until the
// adapter's work for it is done, and returns its token.
func (e *env) run(t *testing.T, payload map[string]any) string {
	t.Helper()
	response(t, e.post(t, payload))
	e.idle()
	return payload["token"].(string)
}

// idle waits for the work the adapters have in flight.
func (e *env) idle() {
	for _, a := range e.adapters {
		_ = a.work.Quiet(context.Background())
	}
}

// inPlace is what the bot said on an interaction token (the deferred response's edits and
// the ephemeral follow-ups), one message a line.
func (e *env) inPlace(token string) string {
	var out []string
	for _, c := range e.fake.callsTo("", "webhooks/app/"+token, "") {
		if s := content(c); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}

// lastDM is the newest DM to user that contains want.
func (e *env) lastDM(t *testing.T, user, want string) call {
	t.Helper()
	var found call
	waitFor(t, "a DM to "+user+" saying "+want, func() bool {
		posts := e.fake.dmPosts(user)
		for i := len(posts) - 1; i >= 0; i-- {
			if strings.Contains(content(posts[i]), want) {
				found = posts[i]
				return true
			}
		}
		return false
	})
	return found
}

// TestCheckinEndToEnd sets a check-in by application command (in UTC, since Discord has no
// profile time zone, and the reply says so), moves it to Europe/Berlin with /story tz,
// receives exactly one DM at 09:00 Berlin from a running scheduler, and starts a pause from
// its button.
func TestCheckinEndToEnd(t *testing.T) {
	e := newEnv(t, 1, false)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(time.Date(2026, 3, 27, 20, 0, 0, 0, berlin)) // a Friday evening
	const user = "u-checkin-e2e"

	tok := e.run(t, e.command(user, "g1", "checkin", strOpt("schedule", "daily 09:00")))
	got := e.inPlace(tok)
	for _, want := range []string{"daily", "09:00", "UTC", "/story tz"} {
		if !strings.Contains(got, want) {
			t.Errorf("/story checkin daily 09:00 answered %q, want it to mention %q", got, want)
		}
	}
	if strings.Contains(got, "Europe/Berlin time") {
		t.Errorf("/story checkin answered %q before any zone was set", got)
	}
	tok = e.run(t, e.command(user, "g1", "tz", strOpt("zone", "Europe/Berlin")))
	if got := e.inPlace(tok); !strings.Contains(got, "Europe/Berlin") {
		t.Errorf("/story tz Europe/Berlin answered %q", got)
	}
	runScheduler(t, e, e.engines[0])

	// Saturday 08:59 Berlin: nothing. 09:00: exactly one check-in, with its buttons.
	e.clock.Set(time.Date(2026, 3, 28, 8, 59, 0, 0, berlin))
	time.Sleep(100 * time.Millisecond)
	if n := len(e.checkins(user)); n != 0 {
		t.Fatalf("%d check-ins before 09:00 Berlin", n)
	}
	e.clock.Set(time.Date(2026, 3, 28, 9, 0, 0, 0, berlin))
	waitFor(t, "the check-in", func() bool { return len(e.checkins(user)) == 1 })
	// 09:00 UTC (the schedule before /story tz) passes without a second one.
	e.clock.Set(time.Date(2026, 3, 28, 9, 1, 0, 0, time.UTC))
	time.Sleep(150 * time.Millisecond)
	cs := e.checkins(user)
	if len(cs) != 1 {
		t.Fatalf("%d check-ins, want exactly 1", len(cs))
	}
	ids := customIDs(cs[0].Body)
	want := []string{"c:checkin-pause", "c:checkin-clear", "c:checkin-snooze", "c:checkin-skip"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("check-in buttons = %v, want %v", ids, want)
	}

	// "Start a pause" begins the pause in the DM.
	n := len(e.fake.dmPosts(user))
	r := response(t, e.post(t, e.click(user, "", "c:checkin-pause", cs[0].Body)))
	if r["type"] != 7.0 || !strings.HasSuffix(r["data"].(map[string]any)["content"].(string), "→ Start a pause") {
		t.Errorf("Start a pause answered %v, want an update noting the choice", r)
	}
	waitFor(t, "the pause's first prompt", func() bool { return len(e.fake.dmPosts(user)) > n })
	if got := content(e.fake.dmPosts(user)[n]); !strings.Contains(got, "What's happening?") {
		t.Errorf("after Start a pause the bot said %q, want the pause's first prompt", got)
	}
}

// TestCheckinTwoReplicas runs two adapters and two schedulers on one Redis: a due check-in
// is still delivered exactly once.
func TestCheckinTwoReplicas(t *testing.T) {
	e := newEnv(t, 2, false)
	const user = "u-checkin-twice"
	e.welcomed(t, user)
	e.clock.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	e.run(t, e.command(user, "g1", "checkin", strOpt("schedule", "daily 09:00")))
	runScheduler(t, e, e.engines[0])
	runScheduler(t, e, e.engines[1])
	e.clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	waitFor(t, "the check-in", func() bool { return len(e.checkins(user)) >= 1 })
	time.Sleep(300 * time.Millisecond) // time for a duplicate to show up
	if n := len(e.checkins(user)); n != 1 {
		t.Errorf("%d check-in DMs from two replicas, want exactly 1", n)
	}
	// The next day's, too.
	e.clock.Set(time.Date(2026, 3, 3, 9, 0, 30, 0, time.UTC))
	waitFor(t, "the second check-in", func() bool { return len(e.checkins(user)) >= 2 })
	time.Sleep(200 * time.Millisecond)
	if n := len(e.checkins(user)); n != 2 {
		t.Errorf("%d check-in DMs after two days, want exactly 2", n)
	}
}

// TestDMsClosedNoFalseNote: when the user's DMs are closed, the engine's "I've sent you a
// DM"-type notes, which come before the DM is tried, are never shown; the explanation of
// closed DMs takes their place and the content follows in place.
func TestDMsClosedNoFalseNote(t *testing.T) {
	e := newEnv(t, 1, false)
	for _, tt := range []struct {
		sub, want string
	}{
		{"pause", "What's happening?"},
		{"history", "journal"},
		{"export", "everything storybot keeps about you"},
	} {
		t.Run(tt.sub, func(t *testing.T) {
			user := "u-closed-" + tt.sub
			e.fake.closeDMs(user)
			tok := e.run(t, e.command(user, "g1", tt.sub))
			got := e.inPlace(tok)
			if strings.Contains(got, "I've sent") {
				t.Errorf("/story %s with closed DMs said %q", tt.sub, got)
			}
			if !strings.Contains(got, "I can't send you direct messages") || !strings.Contains(got, tt.want) {
				t.Errorf("/story %s with closed DMs said %q, want how to open DMs and %q", tt.sub, got, tt.want)
			}
			if len(e.fake.dmPosts(user)) == 0 {
				t.Error("no DM was tried")
			}
			if tt.sub == "export" {
				var files []string
				for _, c := range e.fake.callsTo(http.MethodPost, "webhooks/app/"+tok, "") {
					files = append(files, c.Files...)
				}
				if len(files) != 1 || !strings.HasSuffix(files[0], ".json") {
					t.Errorf("export follow-ups carried files %q, want the JSON file", files)
				}
			}
		})
	}
}
