package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/storage/redistest"
)

// toldAfter waits (up to limit and a little more) for a message containing "can't save"
// among the REST calls after the first n (a DM or an interaction follow-up) or in body (the
// interaction's own response), and reports how long it took from start.
func toldAfter(t *testing.T, e *env, n int, body string, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	if strings.Contains(body, "can't save") {
		return time.Since(start)
	}
	for time.Since(start) < limit+2*time.Second {
		e.fake.mu.Lock()
		calls := append([]call(nil), e.fake.calls[n:]...)
		e.fake.mu.Unlock()
		for _, c := range calls {
			if strings.Contains(content(c), "can't save") {
				return time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no \"can't save\" notice within %v", limit+2*time.Second)
	return 0
}

// TestRedisPausedDiscord pauses (SIGSTOP) the real redis-server under a Discord dialogue on
// the fake gateway and REST API: every interaction is answered within 3 s, the user is told
// within 3 s (a DM and slash commands), and after SIGCONT the answer sent again is applied
// once, with nothing lost.
func TestRedisPausedDiscord(t *testing.T) {
	srv := redistest.StartServer(t)
	e := newEnvWith(t, 1, true, envOptions{redis: srv.URL})
	const user = "u-paused"
	e.welcomed(t, user)
	e.post(t, e.command(user, "g1", "pause"))
	waitFor(t, "the first prompt", func() bool { return len(e.fake.dmPosts(user)) == 1 })
	e.dm(user, "The meeting ran over")
	waitFor(t, "the second prompt", func() bool { return len(e.fake.dmPosts(user)) == 2 })

	ctx := context.Background()
	resume := func() {
		t.Helper()
		srv.Resume()
		for deadline := time.Now().Add(10 * time.Second); e.store.Ping(ctx) != nil || e.store.CircuitOpen(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("Redis does not answer after SIGCONT")
			}
		}
	}
	quiet := func() {
		// Let the work of the paused events end before Redis comes back.
		for _, a := range e.adapters {
			_ = a.work.Quiet(ctx)
		}
	}
	dmTold := func() {
		t.Helper()
		n := e.fake.numCalls()
		start := time.Now()
		e.dm(user, "They think I'm careless")
		told := toldAfter(t, e, n, "", start, 3*time.Second)
		t.Logf("paused Redis, gateway DM: user told after %v", told.Round(time.Millisecond))
		if told > 3*time.Second {
			t.Errorf("gateway DM: user told after %v, want within 3 s", told)
		}
	}
	commandsTold := func() {
		t.Helper()
		for _, sub := range []string{"history", "pause"} {
			n := e.fake.numCalls()
			start := time.Now()
			w := e.post(t, e.command(user, "g1", sub))
			answered := time.Since(start)
			told := toldAfter(t, e, n, w.Body.String(), start, 3*time.Second)
			t.Logf("paused Redis, /story %s: answered %d after %v, user told after %v", sub, w.Code, answered.Round(time.Millisecond), told.Round(time.Millisecond))
			if w.Code != 200 || answered > 3*time.Second {
				t.Errorf("/story %s answered %d after %v, want 200 within 3 s", sub, w.Code, answered)
			}
			if told > 3*time.Second {
				t.Errorf("/story %s: user told after %v, want within 3 s", sub, told)
			}
		}
	}
	// Twice, so that each kind of request meets a Redis that has just stopped answering
	// (not only one the circuit breaker already knows is gone).
	srv.Pause()
	commandsTold()
	dmTold()
	quiet()
	resume()
	srv.Pause()
	dmTold()
	commandsTold()
	quiet()
	resume()

	before := len(e.fake.dmPosts(user))
	e.dm(user, "They think I'm careless") // "send that again"
	waitFor(t, "the reply after resume", func() bool { return len(e.fake.dmPosts(user)) > before })
	st, _, err := e.store.Dialogue(ctx, userRef(user))
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.What != "The meeting ran over" || st.Entry.Story != "They think I'm careless" || st.Entry.Feeling != "" {
		t.Errorf("after resume the dialogue holds what=%q story=%q feeling=%q: something was lost or applied twice", st.Entry.What, st.Entry.Story, st.Entry.Feeling)
	}
	for _, c := range e.fake.dmPosts(user)[before:] {
		if strings.Contains(content(c), "can't save") {
			t.Errorf("after resume the user got %q, want the next prompt", content(c))
		}
	}
}
