package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// slackPace is the production pace, for tests that measure it.
func slackPace(c *Config) { c.outboxPace, c.outboxPaced = outboxPace{}, true }

// TestRenderBatch: a queue far larger than one post folds into at most 50 blocks, in
// order, with every crisis reply, the summary and the newest prompt with its buttons, a
// note where replies were left out, and repeated replies once with a count.
func TestRenderBatch(t *testing.T) {
	var pending []queued
	for i := range 300 {
		m := bot.Message{Kind: flows.ReplyInfo, Text: fmt.Sprintf("reply %03d", i)}
		switch i {
		case 20:
			m = bot.Message{Kind: flows.ReplyCrisis, Text: "crisis 020"}
		case 150:
			m = bot.Message{Kind: flows.ReplySummary, Text: "summary 150"}
		case 299:
			m = bot.Message{Kind: flows.ReplyPrompt, Text: "prompt 299", Choices: []flows.Choice{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}
		}
		pending = append(pending, queued{m: m, n: 1})
	}
	pending[298].n = 7
	text, blocks := renderBatch(pending, 12)
	if len(blocks) > maxBlocks {
		t.Fatalf("%d blocks, want at most %d", len(blocks), maxBlocks)
	}
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	js := string(raw)
	for _, want := range []string{"crisis 020", "summary 150", "prompt 299", `"type":"actions"`, "reply 298", "the same reply to 6 more of your messages", "earlier replies left out"} {
		if !strings.Contains(js, want) {
			t.Errorf("blocks lack %q", want)
		}
	}
	if !strings.HasPrefix(js, `[{"type":"context","elements":[{"type":"plain_text","text":"(32 earlier replies left out`) {
		t.Errorf("blocks do not start saying that 32 replies (12 dropped from the queue, 20 before the crisis reply) were left out: %s", js[:200])
	}
	// In order: every reply shown comes after the one before it.
	last := -1
	for i := range 300 {
		for _, w := range []string{fmt.Sprintf("reply %03d", i), fmt.Sprintf("crisis %03d", i), fmt.Sprintf("summary %03d", i), fmt.Sprintf("prompt %03d", i)} {
			if at := strings.Index(js, w); at >= 0 {
				if at < last {
					t.Errorf("%q out of order", w)
				}
				last = at
			}
		}
	}
	if strings.Count(js, `"type":"actions"`) != 1 {
		t.Errorf("buttons on more than the newest reply")
	}
	if len(text) > maxMergedText+len("…")+100 || !strings.Contains(text, "prompt 299") {
		t.Errorf("fallback text of %d bytes, ending %q", len(text), suffix(text, 60))
	}

	// A short queue: everything, as text, in order; one repeated reply with its count.
	text, blocks = renderBatch([]queued{
		{m: bot.Message{Kind: flows.ReplyInfo, Text: "Saved."}, n: 1},
		{m: bot.Message{Kind: flows.ReplyInfo, Text: "No pause is open right now."}, n: 2},
	}, 0)
	if want := "Saved.\n\nNo pause is open right now.\n(the same reply to your next message)"; text != want || len(blocks) != 3 {
		t.Errorf("short batch = %q with %d blocks, want %q with 3", text, len(blocks), want)
	}
}

// TestOutboxPaces: 20 DMs for one channel in a few milliseconds become a burst of three
// posts and then one merged post a second, every reply in order, with no 429 from a Slack
// that allows one post a second.
func TestOutboxPaces(t *testing.T) {
	h := newHarness(t, slackPace)
	u := userRef(testTeam, "UPACE")
	start := time.Now()
	for i := range 20 {
		if err := h.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyInfo, Text: fmt.Sprintf("reply %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitOutbox()
	took := time.Since(start)
	got := h.replies("UPACE", 0)
	if len(got) > defaultPostBurst+int(took/time.Second)+1 {
		t.Errorf("%d posts in %v, want at most a burst of %d and then one a second", len(got), took, defaultPostBurst)
	}
	if len(got) < 2 {
		t.Errorf("%d posts: nothing was paced", len(got))
	}
	joined := strings.Join(got, "\n\n")
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("reply %02d", i))
	}
	if joined != strings.Join(want, "\n\n") {
		t.Errorf("replies = %q, want all 20 in order", got)
	}
	t.Logf("20 DMs: %d posts in %v", len(got), took.Round(10*time.Millisecond))
}

// TestDeliveryFailureCountedAndAskedAgain: a DM that waited for the pace and then failed
// for good is logged without its text and counted (delivery failures by platform and
// reason); the turn stays applied, and the user's next message gets the prompt they
// missed instead of being taken as its answer.
func TestDeliveryFailureCountedAndAskedAgain(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, func(c *Config) {
		c.outboxPace, c.outboxPaced = outboxPace{interval: 300 * time.Millisecond, burst: 1}, true
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	const user = "UFAIL"
	u := userRef(testTeam, user)
	h.slash(user, sharedChannel, "pause")
	h.dm(user, "The meeting ran over")
	n := h.ncalls()
	h.fake.mu.Lock()
	h.fake.postErr = "fatal_error"
	h.fake.mu.Unlock()
	// Spend the pace, so the answer's reply waits in the queue.
	h.adapter.outbox.spend("D"+user, u)
	h.dm(user, "They think I'm careless")
	h.fake.mu.Lock()
	h.fake.postErr = ""
	h.fake.mu.Unlock()

	if got := h.counter("storybot_delivery_failures_total", map[string]string{"platform": "slack", "reason": "api_error"}); got != 1 {
		t.Errorf("delivery failures (slack, api_error) = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "slack DM delivery failed") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "careless") || strings.Contains(logs.String(), "feeling") {
		t.Errorf("the log holds user or reply text: %s", logs.String())
	}
	st, _, err := h.store.Dialogue(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.Story != "They think I'm careless" || st.Unseen.IsZero() {
		t.Fatalf("after the failure: story %q, unseen %v; want the turn applied and marked unseen", st.Entry.Story, st.Unseen)
	}
	if len(h.replies(user, n)) != 0 {
		t.Fatalf("a reply reached the user: %q", h.replies(user, n))
	}

	h.clock.Add(time.Second)
	n = h.ncalls()
	h.dm(user, "hello?")
	got := strings.Join(h.replies(user, n), "\n")
	if !strings.Contains(got, engine.TextMissedPrompt) || !strings.Contains(got, "What are you feeling?") {
		t.Errorf("the next message got %q, want the missed prompt (the feeling) again", got)
	}
	st, _, _ = h.store.Dialogue(context.Background(), u)
	if st.Entry.Feeling != "" || !st.Unseen.IsZero() {
		t.Errorf("\"hello?\" was applied (feeling %q) or the mark stayed (%v)", st.Entry.Feeling, st.Unseen)
	}
	h.dm(user, "anxious")
	st, _, _ = h.store.Dialogue(context.Background(), u)
	if st.Entry.Feeling != "anxious" {
		t.Errorf("the answer after the prompt came again was not applied: feeling %q", st.Entry.Feeling)
	}
}

// TestKilledWithQueuedDMAskedAgain: a replica queues a DM behind the pace and is killed
// before it goes out. The queue left a mark in the dialogue state; the user's next message,
// on another replica once the queue should have been out, gets the prompt they missed.
func TestKilledWithQueuedDMAskedAgain(t *testing.T) {
	url := redistest.Start(t)
	clock := fakeclock.New(time.Now())
	fake := newFakeSlack(t)
	a := newReplica(t, fake, url, clock, "a", func(c *Config) { c.outboxPace, c.outboxPaced = outboxPace{interval: time.Hour, burst: 1}, true })
	b := newReplica(t, fake, url, clock, "b")
	const user = "UKILLQ"
	u := userRef(testTeam, user)
	b.slash(user, sharedChannel, "pause")
	b.dm(user, "The meeting ran over")

	// A: the first post spends its pace, the second waits an hour (the process dies first).
	if err := a.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyInfo, Text: "spent"}); err != nil {
		t.Fatal(err)
	}
	id := "EvKillQ1"
	if code, _ := a.post("/slack/events", "application/json", a.messageBody(user, "They think I'm careless", id), nil); code != 200 {
		t.Fatalf("replica A: %d", code)
	}
	_ = a.adapter.work.Quiet(context.Background())
	if a.adapter.outbox.pending() == 0 {
		t.Fatal("A's reply was not queued: the test proves nothing")
	}
	st, _, _ := b.store.Dialogue(context.Background(), u)
	if st.Unseen.IsZero() {
		t.Fatal("a queued reply left no mark in the dialogue state")
	}

	// The user, while the queue might still be on its way, is not second-guessed...
	n := b.ncalls()
	clock.Add(time.Minute)
	b.dm(user, "anxious")
	st, _, _ = b.store.Dialogue(context.Background(), u)
	if st.Entry.Feeling != "anxious" {
		t.Fatalf("an answer within the queue's window was not applied: %q", st.Entry.Feeling)
	}
	if got := strings.Join(b.replies(user, n), "\n"); strings.Contains(got, engine.TextMissedPrompt) {
		t.Errorf("an answer within the queue's window got %q", got)
	}
	// ...but once it should long have been out, the next message gets the open prompt.
	clock.Add(2 * time.Hour)
	n = b.ncalls()
	b.dm(user, "hello??")
	got := strings.Join(b.replies(user, n), "\n")
	if !strings.Contains(got, engine.TextMissedPrompt) {
		t.Errorf("after the queue's window the next message got %q, want the open prompt again", got)
	}
	st, _, _ = b.store.Dialogue(context.Background(), u)
	if st.Entry.StrengthBefore != nil {
		t.Errorf("\"hello??\" was taken as an answer")
	}
}

// TestFlushAfterDrain: with a pool its owner drains (as serve does), DMs made by work that
// finishes during the drain still go out: Run leaves the outbox open, the owner drains the
// pool and then calls Flush, which sends what waits for the pace at once.
func TestFlushAfterDrain(t *testing.T) {
	pool := bot.NewPool(bot.PoolConfig{})
	h := newHarness(t, func(c *Config) {
		c.Work = pool
		c.outboxPace, c.outboxPaced = outboxPace{interval: time.Minute, burst: 1}, true
	})
	u := userRef(testTeam, "USHUT")
	send := func(text string) {
		if err := h.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyInfo, Text: text}); err != nil {
			t.Error(err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.adapter.Run(ctx) }()
	send("first") // spends the pace: what follows waits a minute
	release := make(chan struct{})
	if err := pool.Submit("USHUT", "test", func(context.Context) { <-release; send("made during the drain") }); err != nil {
		t.Fatal(err)
	}
	send("queued before shutdown")
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	close(release)
	start := time.Now()
	if err := pool.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.adapter.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(h.replies("USHUT", 0), "\n\n")
	if want := "first\n\nqueued before shutdown\n\nmade during the drain"; got != want {
		t.Errorf("after drain and flush the user got %q, want %q", got, want)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("drain and flush took %v: the flush waited for the pace", took)
	}
}

// TestFlushDeadline: DMs still waiting when shutdown's time is up are given up: Flush says
// so, the failure is counted once (reason shutdown, not again when the post in flight fails
// later) and the user's dialogue is marked.
func TestFlushDeadline(t *testing.T) {
	h := newHarness(t)
	const user = "UDEADLINE"
	u := userRef(testTeam, user)
	h.slash(user, sharedChannel, "pause")
	// From here every DM is paced, a minute apart, and the pace is spent.
	o := h.adapter.outbox
	o.mu.Lock()
	o.pace, o.bursting = outboxPace{interval: time.Minute, burst: 1}, nil
	o.mu.Unlock()
	o.spend("D"+user, u)
	h.fake.mu.Lock()
	h.fake.postDelay, h.fake.postErr = time.Second, "fatal_error" // slow, and failing in the end
	h.fake.mu.Unlock()
	if code, _ := h.post("/slack/events", "application/json", h.messageBody(user, "The meeting ran over", "EvDeadline1"), nil); code != 200 {
		t.Fatalf("event: %d", code)
	}
	_ = h.adapter.work.Quiet(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := h.adapter.Flush(ctx); err == nil {
		t.Fatal("Flush with a post still in flight past its deadline returned nil")
	}
	h.waitOutbox() // the post in flight ends
	want := map[string]string{"platform": "slack", "reason": "shutdown"}
	if got := h.counter("storybot_delivery_failures_total", want); got != 1 {
		t.Errorf("delivery failures (shutdown) = %v, want 1", got)
	}
	if got := h.counter("storybot_delivery_failures_total", map[string]string{"platform": "slack", "reason": "api_error"}); got != 0 {
		t.Errorf("the post that failed after shutdown gave it up was counted again: api_error = %v", got)
	}
	if st, _, _ := h.store.Dialogue(context.Background(), u); st.Unseen.IsZero() {
		t.Errorf("the user's dialogue was not marked: the next message would not get the prompt again")
	}
	st, _, err := h.store.Dialogue(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.What != "The meeting ran over" {
		t.Errorf("the turn was not applied: what %q", st.Entry.What)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (loggers).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// spend uses up the pace of channel ch, as posts just made would.
func (o *outbox) spend(ch string, u bot.UserRef) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.chans[ch]
	if c == nil {
		c = &chanState{user: u}
		o.chans[ch] = c
	}
	for o.allowed(c, time.Now()) {
	}
}

// TestOutboxOnePromptAtATime: with the production pace, a person who answers each prompt
// after its reply — however quickly — gets every reply at once: the pace binds only while
// more of their events wait in the pool (a flood), not for a quick walk through a
// dialogue. (Always pacing turned the peer kit's DM walks into one reply a second.)
func TestOutboxOnePromptAtATime(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.outboxPace = outboxPace{} })
	const user = "UQUICK"
	answers := []string{"The meeting ran over", "They think I'm careless", "anxious 6", "I was late twice", "They were busy", "Ask Sam after lunch", "no"}
	h.slash(user, sharedChannel, "pause")
	before := len(h.replies(user, 0))
	for i, a := range answers {
		id := fmt.Sprintf("EvQuick%03d", i)
		if code, _ := h.post("/slack/events", "application/json", h.messageBody(user, a, id), nil); code != 200 {
			t.Fatalf("message event %d: status %d", i, code)
		}
		_ = h.adapter.work.Quiet(context.Background())
		if n := h.adapter.outbox.pending(); n != 0 {
			t.Fatalf("answer %d: %d DMs held back for the pace, want each reply at once", i+1, n)
		}
	}
	if got := len(h.replies(user, 0)) - before; got < len(answers) {
		t.Errorf("%d replies to %d answers", got, len(answers))
	}
}

// TestOutboxQueueEndsWithTheFlood: DMs queued while a flood lasted go out as soon as it is
// over, not a pace interval later: a queue, once formed, must not keep a person who now
// answers each reply as it comes a second behind.
func TestOutboxQueueEndsWithTheFlood(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.outboxPace = outboxPace{} })
	var calls sync.Mutex
	flooding := true
	h.adapter.outbox.bursting = func(bot.UserRef) bool {
		calls.Lock()
		defer calls.Unlock()
		f := flooding
		flooding = false // the flood is over after the first look
		return f
	}
	u := userRef(testTeam, "UFLOODEND")
	start := time.Now()
	for i := range defaultPostBurst + 1 {
		if err := h.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyInfo, Text: fmt.Sprintf("reply %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitOutbox()
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("the DM queued during the flood went out after %v, want at once when the flood was over", took)
	}
	if got := strings.Join(h.replies("UFLOODEND", 0), "\n\n"); got != "reply 0\n\nreply 1\n\nreply 2\n\nreply 3" {
		t.Errorf("replies = %q", got)
	}
}

// TestImmediatePostUserGone: a DM posted at once (no queue) that Slack answers with a
// "user is gone" error says so in the engine's terms (bot.ErrUserGone), as every other Web
// API call does, so the delivery is counted as user_gone and the user's schedules can end.
func TestImmediatePostUserGone(t *testing.T) {
	for _, slackErr := range []string{"user_not_found", "account_inactive", "fatal_error"} {
		t.Run(slackErr, func(t *testing.T) {
			h := newHarness(t)
			const user = "UGONEPOST"
			h.adapter.dms.Add(userRef(testTeam, user).String(), "D"+user)
			h.fake.mu.Lock()
			h.fake.postErr = slackErr
			h.fake.mu.Unlock()
			err := h.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: userRef(testTeam, user)}, Text: "hello"})
			if err == nil {
				t.Fatal("the post succeeded")
			}
			if want := slackErr != "fatal_error"; errors.Is(err, bot.ErrUserGone) != want {
				t.Errorf("Send: %v; ErrUserGone %v, want %v", err, !want, want)
			}
		})
	}
}
