package slack

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// floodRetries are Slack's redeliveries of an event answered with a non-2xx: almost at
// once, then after one and five minutes, then never again. The test compresses the
// schedule (0.5 s, 2 s, 4 s after each failure); what it measures does not depend on the
// scale, only on the events that arrive while the user's work is still queued.
var floodRetries = []time.Duration{500 * time.Millisecond, 2 * time.Second, 4 * time.Second}

// TestFlood: one user sends 500 DMs within about 0.2 s (signed message.im events through
// the HTTP endpoint, the pool sized as serve sizes it, real Redis, Slack's own pace), and
// Slack redelivers what is answered 503 on its schedule. Acknowledged means done: every
// event answered 200 is applied exactly once, every event refused was answered 503 each
// time (so Slack knows), and the replies reach Slack paced — a burst of three, then at
// most one post a second, merged — never more than 50 blocks a post, against a fake Slack
// that enforces one post a second with that burst (no 429 expected). The figures are
// logged for README.
//
//	go test -run TestFlood -v ./bot/slack/
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood measurement takes about ten seconds")
	}
	pool := bot.NewPool(bot.PoolConfig{})
	h := newHarness(t, slackPace, func(c *Config) { c.Work = pool })
	t.Cleanup(func() { _ = pool.Drain(context.Background()) })
	h.fake.mu.Lock()
	// Slack's burst is "generous": one more than the outbox takes, so that network jitter
	// between the two clocks does not count as the outbox going over.
	h.fake.pace, h.fake.paceBurst = time.Second, defaultPostBurst+1
	h.fake.mu.Unlock()
	const (
		user   = "UFLOOD"
		events = 500
	)
	h.slash(user, sharedChannel, "pause")
	postsBefore := len(h.fake.postTimesSnapshot())

	type outcome struct {
		acked    bool // answered 200 on some delivery
		refusals int  // answered 503
		other    int  // anything else
	}
	results := make([]outcome, events)
	bodies := make([][]byte, events)
	for i := range events {
		bodies[i] = h.messageBody(user, fmt.Sprintf("line %03d of what I pasted", i), fmt.Sprintf("EvFlood%03d", i))
	}
	sem := make(chan struct{}, 64) // connections a burst of events arrives on at once
	var wg sync.WaitGroup
	start := time.Now()
	var firstDone sync.WaitGroup
	firstDone.Add(events)
	for i := range events {
		wg.Go(func() {
			// Each goroutine's first delivery marks its arrival; retries come later.
			once := sync.OnceFunc(firstDone.Done)
			defer once()
			sem <- struct{}{}
			code, _ := h.post("/slack/events", "application/json", bodies[i], nil)
			<-sem
			once()
			switch code {
			case http.StatusOK:
				results[i].acked = true
				return
			case http.StatusServiceUnavailable:
				results[i].refusals++
			default:
				results[i].other++
			}
			time.Sleep(floodRetries[0])
			// The retries, as deliver does from the first retry on.
			for attempt := 1; ; attempt++ {
				hdr := http.Header{"X-Slack-Retry-Num": {strconv.Itoa(attempt)}, "X-Slack-Retry-Reason": {"http_error"}}
				sem <- struct{}{}
				code, _ := h.post("/slack/events", "application/json", bodies[i], hdr)
				<-sem
				switch code {
				case http.StatusOK:
					results[i].acked = true
					return
				case http.StatusServiceUnavailable:
					results[i].refusals++
				default:
					results[i].other++
				}
				if attempt >= len(floodRetries) {
					return
				}
				time.Sleep(floodRetries[attempt])
			}
		})
	}
	firstDone.Wait()
	sent := time.Since(start)
	wg.Wait()
	h.wait()
	took := time.Since(start)

	// What was applied, by event ID (each applied event's done mark).
	var acked, refusedForGood, refusals, others, lost, unacknowledgedApplied int
	for i, r := range results {
		applied := h.applied(userRef(testTeam, user), "slack:event:"+testTeam+":"+fmt.Sprintf("EvFlood%03d", i))
		refusals += r.refusals
		others += r.other
		switch {
		case r.acked:
			acked++
			if !applied {
				lost++
			}
		default:
			refusedForGood++
			if applied {
				unacknowledgedApplied++
			}
		}
	}
	handled := h.counter("storybot_events_total", map[string]string{"platform": "slack", "kind": "text"})
	told := h.counter("storybot_inbound_lost_total", map[string]string{"platform": "slack"})

	posts := h.fake.postTimesSnapshot()[postsBefore:]
	peak := 0
	for i := range posts {
		n := 0
		for j := i; j < len(posts) && posts[j].Sub(posts[i]) < time.Second; j++ {
			n++
		}
		peak = max(peak, n)
	}
	var invalid int
	var lastPost string
	for _, c := range h.fake.snapshot() {
		if strings.Contains(c.Method, "invalid_blocks") {
			invalid++
		}
		if c.Method == "chat.postMessage" && c.Channel == "D"+user {
			lastPost = c.Text
		}
	}
	h.fake.mu.Lock()
	limited := h.fake.limited
	h.fake.mu.Unlock()

	t.Logf("500 DMs from one user: first deliveries sent in %v; all done (retries, work, replies) in %v",
		sent.Round(time.Millisecond), took.Round(100*time.Millisecond))
	t.Logf("acknowledged (200) %d, applied %d, acknowledged but lost %d; refused 503 %d times in all; refused on all four deliveries (Slack gives up, told each time) %d, the user told so %v times; other answers %d",
		acked, acked-lost, lost, refusals, refusedForGood, told, others)
	t.Logf("events handled by the engine %v (each applied once); posts to Slack %d, at most %d in any second, 429s %d, posts over 50 blocks %d",
		handled, len(posts), peak, limited, invalid)
	if testing.Verbose() {
		t.Logf("the last post: %q", suffix(lastPost, 400))
	}

	if sent > time.Second {
		t.Logf("note: the machine took %v to send the first deliveries (the aim is 0.2 s)", sent)
	}
	if lost != 0 {
		t.Errorf("%d events acknowledged with 200 were never applied", lost)
	}
	if unacknowledgedApplied != 0 {
		t.Errorf("%d events never acknowledged were applied (Slack would have been told 503 for work that was done)", unacknowledgedApplied)
	}
	if others != 0 {
		t.Errorf("%d answers were neither 200 nor 503", others)
	}
	if int(handled) != acked {
		t.Errorf("the engine handled %v text events for %d acknowledged: something ran twice or not at all", handled, acked)
	}
	if invalid != 0 || limited != 0 {
		t.Errorf("%d posts over 50 blocks, %d answered 429: the replies were not paced to Slack's limits", invalid, limited)
	}
	if peak > defaultPostBurst+1 {
		t.Errorf("%d posts within one second, want at most a burst of %d and then one a second", peak, defaultPostBurst)
	}
	if int(told) != refusedForGood {
		t.Errorf("the user was told of %v lost messages, want %d (every event Slack gave up on)", told, refusedForGood)
	}
	if acked == 0 {
		t.Errorf("nothing was acknowledged")
	}
}

// postTimesSnapshot returns the times of the chat.postMessage calls answered ok.
func (f *fakeSlack) postTimesSnapshot() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.postTimes...)
}
