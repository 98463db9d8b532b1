package slack

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/storage/redistest"
)

// noticeAfter waits (up to limit) for a DM to user containing "can't save" among the calls
// after the first n, and reports how long it took from start.
func noticeAfter(t *testing.T, h *harness, user string, n int, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for time.Since(start) < limit+2*time.Second {
		calls := h.fake.snapshot()
		for _, c := range calls[n:] {
			if strings.Contains(c.Text, "can't save") && (c.Channel == "D"+user || c.Method == "response_url") {
				return time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no \"can't save\" notice reached %s within %v", user, limit+2*time.Second)
	return 0
}

// TestRedisFaultsSlack pauses (SIGSTOP) and then kills the real redis-server under a Slack
// dialogue: every request is answered within 3 s, the user is told within 3 s (paused) and
// 1.5 s (dead), and after SIGCONT the same step is asked again with nothing lost.
func TestRedisFaultsSlack(t *testing.T) {
	srv := redistest.StartServer(t)
	h := newReplica(t, newFakeSlack(t), srv.URL, fakeclock.New(time.Now()), "")
	const user = "UFAULT"
	h.slash(user, sharedChannel, "pause")
	h.dm(user, "The meeting ran over")

	srv.Pause()
	for i, req := range []struct {
		path, ctype string
		body        []byte
	}{
		{"/slack/events", "application/json", h.messageBody(user, "They think I'm careless", "EvFault1")},
		{"/slack/commands", "application/x-www-form-urlencoded", slashBody(h.fake, user, sharedChannel, "history")},
	} {
		n := h.ncalls()
		start := time.Now()
		code, _ := h.post(req.path, req.ctype, req.body, nil)
		acked := time.Since(start)
		told := noticeAfter(t, h, user, n, start, 3*time.Second)
		t.Logf("paused Redis, %s: answered %d after %v, user told after %v", req.path, code, acked.Round(time.Millisecond), told.Round(time.Millisecond))
		if acked > 3*time.Second {
			t.Errorf("request %d answered after %v, want within 3 s", i, acked)
		}
		if told > 3*time.Second {
			t.Errorf("request %d: user told after %v, want within 3 s", i, told)
		}
		h.wait()
	}

	srv.Resume()
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); h.store.Ping(ctx) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Redis does not answer after SIGCONT")
		}
	}
	n := h.ncalls()
	h.dm(user, "They think I'm careless") // "send that again"
	st, _, err := h.store.Dialogue(ctx, userRef(testTeam, user))
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.What != "The meeting ran over" || st.Entry.Story != "They think I'm careless" {
		t.Errorf("after resume the dialogue holds what=%q story=%q: something was lost or applied twice", st.Entry.What, st.Entry.Story)
	}
	if got := h.replies(user, n); len(got) == 0 || strings.Contains(strings.Join(got, " "), "can't save") {
		t.Errorf("replies after resume = %q, want the next prompt", got)
	}

	srv.Kill()
	for i := range 3 {
		n := h.ncalls()
		start := time.Now()
		code, _ := h.post("/slack/events", "application/json", h.messageBody(user, "anxious", fmt.Sprintf("EvDead%d", i)), nil)
		acked := time.Since(start)
		told := noticeAfter(t, h, user, n, start, 1500*time.Millisecond)
		t.Logf("dead Redis: answered %d after %v, user told after %v", code, acked.Round(time.Millisecond), told.Round(time.Millisecond))
		if told > 1500*time.Millisecond {
			t.Errorf("dead Redis: user told after %v, want within 1.5 s", told)
		}
		h.wait()
	}
}

// deadAfterClaim is the store as a replica sees it that is killed after it acknowledged an
// event: its claim reaches Redis, its done mark and lease extensions never do.
type deadAfterClaim struct{ bot.EventLeases }

func (deadAfterClaim) ExtendEvent(context.Context, bot.UserRef, string, string, time.Duration) error {
	return nil
}
func (deadAfterClaim) FinishEvent(context.Context, bot.UserRef, string, time.Duration) error {
	return nil
}

// killable is a replica's handler that can be made to drop events, as if the process had
// died before handling them.
type killable struct {
	Handler
	dead atomic.Bool
}

func (k *killable) Handle(ctx context.Context, ev bot.Event) error {
	if k.dead.Load() {
		return nil
	}
	return k.Handler.Handle(ctx, ev)
}

// TestKilledAfterAckRetriedOnce: replica A acknowledges a DM event and dies. Slack's retry
// goes to replica B.
//
// Killed before the commit: at first A's lease still holds (503: Slack will come back),
// then B takes the event over and answers it; the answer is applied exactly once, and a
// later retry does nothing.
//
// Killed after the commit, before its reply went out: the commit also marked the event
// done (so that a DM answer costs two round trips, claim and commit), so the retry is
// acknowledged at once and nothing is applied or sent twice; the reply A never sent is not
// sent by B either (before the done mark moved into the commit, B asked the open question
// again).
func TestKilledAfterAckRetriedOnce(t *testing.T) {
	url := redistest.Start(t)
	clock := fakeclock.New(time.Now())
	deadFake, fake := newFakeSlack(t), newFakeSlack(t)
	a := newReplica(t, deadFake, url, clock, "a", func(c *Config) { c.Dedupe = deadAfterClaim{c.Dedupe} })
	b := newReplica(t, fake, url, clock, "b")
	for _, r := range []*harness{a, b} {
		r.adapter.dedupe = r.adapter.dedupe.WithLease(time.Second)
	}
	killA := &killable{Handler: a.adapter.h}
	a.adapter.h = killA // before any request reaches A
	ctx := context.Background()
	retry := func(ev []byte, num int) int {
		code, _ := b.post("/slack/events", "application/json", ev, map[string][]string{"X-Slack-Retry-Num": {strconv.Itoa(num)}})
		b.wait()
		return code
	}
	dms := func(user string, from int) []string {
		var posts []string
		for _, c := range fake.snapshot()[from:] {
			if c.Method == "chat.postMessage" && c.Channel == "D"+user {
				posts = append(posts, c.Text)
			}
		}
		return posts
	}

	t.Run("before the commit", func(t *testing.T) {
		const user = "UKILL1"
		b.slash(user, sharedChannel, "pause")
		b.dm(user, "The meeting ran over")
		before, _, _ := b.store.Dialogue(ctx, userRef(testTeam, user))

		killA.dead.Store(true)
		ev := a.messageBody(user, "They think I'm careless", "EvKilled1")
		code, _ := a.post("/slack/events", "application/json", ev, nil)
		a.wait()
		killA.dead.Store(false)
		if code != 200 {
			t.Fatalf("replica A: status %d", code)
		}
		n := len(fake.snapshot())
		if code := retry(ev, 1); code != 503 {
			t.Errorf("retry while A's lease holds: %d, want 503 (not acknowledged as done)", code)
		}
		time.Sleep(1100 * time.Millisecond)
		if code := retry(ev, 2); code != 200 {
			t.Fatalf("retry after the lease lapsed: %d, want 200", code)
		}
		if code := retry(ev, 3); code != 200 {
			t.Fatalf("a later retry: %d, want 200", code)
		}
		after, _, _ := b.store.Dialogue(ctx, userRef(testTeam, user))
		if after.Entry.Story != "They think I'm careless" || len(after.Trail) != len(before.Trail)+1 {
			t.Errorf("after the retries: story %q, %d steps behind (before: %d); want the answer applied once", after.Entry.Story, len(after.Trail), len(before.Trail))
		}
		if posts := dms(user, n); len(posts) != 1 {
			t.Errorf("replica B sent %d DMs for the retried event, want 1 (the next prompt): %q", len(posts), posts)
		}
	})

	t.Run("after the commit", func(t *testing.T) {
		const user = "UKILL2"
		b.slash(user, sharedChannel, "pause")
		b.dm(user, "The meeting ran over")
		before, _, _ := b.store.Dialogue(ctx, userRef(testTeam, user))

		ev := a.messageBody(user, "They think I'm careless", "EvKilled2")
		if code, _ := a.post("/slack/events", "application/json", ev, nil); code != 200 {
			t.Fatalf("replica A: status %d", code)
		}
		a.wait() // committed; its reply went to a Slack nobody reads
		n := len(fake.snapshot())
		if code := retry(ev, 1); code != 200 {
			t.Errorf("retry after A's commit: %d, want 200 (handled)", code)
		}
		time.Sleep(1100 * time.Millisecond)
		if code := retry(ev, 2); code != 200 {
			t.Errorf("retry after the lease would have lapsed: %d, want 200 (handled)", code)
		}
		after, _, _ := b.store.Dialogue(ctx, userRef(testTeam, user))
		if after.Entry.Story != "They think I'm careless" || len(after.Trail) != len(before.Trail)+1 {
			t.Errorf("after the retries: story %q, %d steps behind (before: %d); want the answer applied once", after.Entry.Story, len(after.Trail), len(before.Trail))
		}
		if posts := dms(user, n); len(posts) != 0 {
			t.Errorf("replica B sent %d DMs for an event A committed, want none: %q", len(posts), posts)
		}
	})
}
