package slack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// The outbox paces DMs to Slack's limits and keeps them in order. chat.postMessage allows
// about one message a second per channel, with short bursts; a fast typist, a burst of
// redelivered events or a flood of 500 messages in a fraction of a second would otherwise
// become hundreds of posts in a second, most of them answered 429.
//
// So each DM channel has a pace (a burst of a few posts, then one a second). The pace binds
// only while the user's messages come faster than they are answered (more of their events
// are waiting in the work pool: a flood, a burst of redeliveries): a person answering one
// prompt at a time gets each reply at once, however quick they are, and Slack's own 429
// (below) still holds them to its limit. A DM that finds the pace spent while its user has
// more waiting, or a channel already waiting, joins the channel's queue; when the pace
// allows, everything queued goes out as one post: the replies in order, repeated
// identical replies once with a count, earlier questions as text (their buttons would
// answer questions already passed) and the newest with its buttons, within Slack's 50
// blocks (crisis replies and the newest always; older replies left out with a note when
// they do not fit). A 429 is not an error for the turn that produced the DM — the turn is
// saved, and "I can't save right now" would be false — it pushes the channel's next post
// past Retry-After. While a channel has nothing waiting and its pace allows, a DM is posted
// at once and its errors are returned to the engine.
//
// A DM that finally cannot be sent (an API error, a timeout, shutdown) is logged without
// its text and reported to the handler when it implements bot.DeliveryTracker, which counts
// it and remembers that the user missed a reply; the tracker also hears when a channel
// starts waiting and when its queue is out, so a replica killed with DMs queued leaves a
// mark the next turn finds.

const (
	// defaultPostInterval and defaultPostBurst are the pace of one DM channel: Slack
	// documents about one chat.postMessage a second per channel and allows short bursts.
	defaultPostInterval = time.Second
	defaultPostBurst    = 3
	// maxQueued bounds the distinct replies waiting for one channel; beyond it the oldest
	// (never a crisis reply) is left out and counted, so memory stays flat in any flood.
	maxQueued = 200
	// maxMergedText bounds the fallback text of one merged post (Slack's is 40,000).
	maxMergedText = 12000
	// postTimeout bounds one queued post.
	postTimeout = 10 * time.Second
	// maxPostTries bounds the attempts of one queued post answered with 429 before the
	// queue is given up; each waits out Retry-After.
	maxPostTries = 10
	// delayMargin is added to a queue's expected wait in what the tracker hears, and
	// delayRenew is how often a queue still waiting tells it again.
	delayMargin = 20 * time.Second
	delayRenew  = 15 * time.Second
)

// outboxPace is one channel's pace; tests shrink it.
type outboxPace struct {
	interval time.Duration
	burst    int
}

type outbox struct {
	a     *Adapter
	pace  outboxPace
	track bot.DeliveryTracker // may be nil
	// bursting reports whether more of u's events wait to be handled; nil means always
	// (every DM is paced: tests that send without the pool).
	bursting func(u bot.UserRef) bool

	mu       sync.Mutex
	chans    map[string]*chanState // DM channel ID -> its pace and waiting replies
	swept    time.Time
	wg       sync.WaitGroup // one goroutine per channel with replies waiting
	stop     chan struct{}  // closed by flush: stop pacing, send what is left once
	stopping bool
	posts    int // posts made (merged or not), for tests and benchmarks
}

type chanState struct {
	user bot.UserRef
	// tat is the pace's theoretical arrival time (GCRA): a post may go at t when
	// tat-burst*interval <= t, and moves tat one interval on.
	tat     time.Time
	until   time.Time // Retry-After: no post before
	pending []queued
	left    int  // replies left out of the queue (maxQueued) since the last post
	running bool // a goroutine sends this channel's queue
	// abandoned: shutdown gave up waiting for this queue and reported it failed; its
	// goroutine, if it fails too, does not report it again.
	abandoned bool
}

// queued is one reply waiting, or several identical ones in a row.
type queued struct {
	m bot.Message
	n int
}

func newOutbox(a *Adapter, pace outboxPace, track bot.DeliveryTracker) *outbox {
	if pace.interval <= 0 {
		pace.interval = defaultPostInterval
	}
	if pace.burst <= 0 {
		pace.burst = defaultPostBurst
	}
	return &outbox{a: a, pace: pace, track: track, chans: map[string]*chanState{}, stop: make(chan struct{})}
}

// allowed reports whether c's pace allows a post at now, and if so spends it.
func (o *outbox) allowed(c *chanState, now time.Time) bool {
	if now.Before(c.until) || c.tat.Add(-time.Duration(o.pace.burst-1)*o.pace.interval).After(now) {
		return false
	}
	c.tat = later(c.tat, now).Add(o.pace.interval)
	return true
}

// burst reports whether a DM for u that found c's pace spent must wait: only while more of
// u's events are waiting. When none are, the DM goes at once and the pace counts as fully
// spent from now (not further: a reply posted past the pace must not push the next burst's
// wait into the future without bound); the caller holds o.mu.
func (o *outbox) burst(u bot.UserRef, c *chanState, now time.Time) bool {
	if now.Before(c.until) || o.bursting == nil || o.bursting(u) {
		return true
	}
	c.tat = now.Add(time.Duration(o.pace.burst) * o.pace.interval)
	return false
}

// nextPost is when c's pace and rate limit next allow a post.
func (o *outbox) nextPost(c *chanState) time.Time {
	return later(c.until, c.tat.Add(-time.Duration(o.pace.burst-1)*o.pace.interval))
}

// post sends m to DM channel ch, or queues it behind the channel's pace.
func (o *outbox) post(ctx context.Context, ch string, u bot.UserRef, m bot.Message) error {
	now := time.Now()
	o.mu.Lock()
	o.sweep(now)
	c := o.chans[ch]
	if c == nil {
		c = &chanState{user: u}
		o.chans[ch] = c
	}
	if o.stopping {
		// Shutting down: no pacing and no queue any more; one try.
		o.mu.Unlock()
		return o.sendNow(ctx, ch, m)
	}
	if c.running || (!o.allowed(c, now) && o.burst(u, c, now)) {
		o.push(c, m)
		start := o.start(ch, c)
		o.mu.Unlock()
		if start {
			o.delayed(ctx, ch, c)
		}
		return nil
	}
	o.mu.Unlock()
	err := o.sendNow(ctx, ch, m)
	if err == nil {
		return nil // before errors.As: its target would be allocated on every post
	}
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		return err
	}
	o.a.log.WarnContext(ctx, "slack rate limit: DM queued", "user", u.String(), "retry_after", rl.RetryAfter)
	o.mu.Lock()
	if o.stopping {
		o.mu.Unlock()
		return err
	}
	switch cur := o.chans[ch]; {
	case cur == nil:
		o.chans[ch] = c // swept during a slow send
	case cur != c:
		c = cur
	}
	c.until = later(c.until, time.Now().Add(rl.RetryAfter))
	c.pending = append([]queued{{m: m, n: 1}}, c.pending...) // it came first
	start := o.start(ch, c)
	o.mu.Unlock()
	if start {
		o.delayed(ctx, ch, c)
	}
	return nil
}

func (o *outbox) sendNow(ctx context.Context, ch string, m bot.Message) error {
	text, blocks := render(m)
	return o.send(ctx, ch, text, blocks)
}

// start marks c as sent by a goroutine of its own, and reports whether the caller must
// start it (go o.run) after telling the tracker; the caller holds o.mu.
func (o *outbox) start(ch string, c *chanState) bool {
	if c.running {
		return false
	}
	c.running = true
	o.wg.Add(1)
	return true
}

// delayed tells the tracker that c waits, then starts its goroutine: in that order, so
// that the tracker never hears "delivered" before "delayed".
func (o *outbox) delayed(ctx context.Context, ch string, c *chanState) {
	if o.track != nil {
		o.mu.Lock()
		d := o.expected(c)
		o.mu.Unlock()
		o.track.DMDelayed(context.WithoutCancel(ctx), c.user, d)
	}
	go o.run(ch, c)
}

// expected is how soon c's queue should be out, with a margin; the caller holds o.mu.
func (o *outbox) expected(c *chanState) time.Duration {
	return time.Until(o.nextPost(c)) + delayMargin
}

// sweep forgets channels with nothing waiting whose pace has recovered, at most once a
// second, so the map holds only channels posted to in the last few seconds. The caller
// holds o.mu.
func (o *outbox) sweep(now time.Time) {
	if now.Sub(o.swept) < time.Second {
		return
	}
	o.swept = now
	for ch, c := range o.chans {
		if !c.running && len(c.pending) == 0 && !c.tat.After(now) && !c.until.After(now) {
			delete(o.chans, ch)
		}
	}
}

// push queues m on c. A reply identical to one already waiting (a question asked again
// after an answer it could not take, "I didn't catch that", the note that no pause is open)
// is shown once, where it came last, with a count: the earlier copy was superseded by the
// time the post goes out. Crisis replies are never folded. The caller holds o.mu.
func (o *outbox) push(c *chanState, m bot.Message) {
	if m.Kind != flows.ReplyCrisis {
		for i := len(c.pending) - 1; i >= 0; i-- {
			if sameReply(c.pending[i].m, m) {
				q := c.pending[i]
				q.n++
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				c.pending = append(c.pending, q)
				return
			}
		}
	}
	if len(c.pending) >= maxQueued {
		for i, q := range c.pending {
			if q.m.Kind != flows.ReplyCrisis {
				c.left += q.n
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				break
			}
		}
	}
	c.pending = append(c.pending, queued{m: m, n: 1})
}

func sameReply(a, b bot.Message) bool {
	if a.Kind != b.Kind || a.Text != b.Text || len(a.Choices) != len(b.Choices) {
		return false
	}
	for i := range a.Choices {
		if a.Choices[i] != b.Choices[i] {
			return false
		}
	}
	return true
}

// send posts one message to ch (post.go: chat.postMessage without slack-go).
func (o *outbox) send(ctx context.Context, ch, text string, blocks []slack.Block) error {
	o.mu.Lock()
	o.posts++
	o.mu.Unlock()
	err := o.a.postMessage(ctx, ch, text, blocks)
	if userGone(err) {
		// Said in the engine's terms, as the Web API calls through retry say it.
		return fmt.Errorf("%w: %w", bot.ErrUserGone, err)
	}
	return err
}

// run sends ch's queue, merged, each time its pace allows, until it is empty.
func (o *outbox) run(ch string, c *chanState) {
	defer o.wg.Done()
	tries := 0
	told := time.Now()
	for {
		o.mu.Lock()
		wait := time.Until(o.nextPost(c))
		if o.stopping {
			wait = 0 // shutting down: one last try, now
		} else if wait > 0 && !o.burst(c.user, c, time.Now()) {
			// The flood is over (nothing more of the user's waits): what is queued goes at
			// once, as a DM that finds no queue would; a person answering each reply as it
			// comes must not stay a second behind because a queue once formed.
			wait = 0
		}
		o.mu.Unlock()
		if wait > 0 {
			if o.track != nil && time.Since(told) > delayRenew {
				// Still waiting (a long flood): renew the mark a replica killed now leaves.
				o.mu.Lock()
				d := o.expected(c)
				o.mu.Unlock()
				o.track.DMDelayed(context.Background(), c.user, d)
				told = time.Now()
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-o.stop:
				t.Stop()
			}
		}
		o.mu.Lock()
		n := len(c.pending)
		text, blocks := renderBatch(c.pending, c.left)
		stopping := o.stopping
		o.allowed(c, time.Now()) // spend the pace (it may be spent already at shutdown)
		o.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), postTimeout)
		err := o.send(ctx, ch, text, blocks)
		cancel()

		var rl *slack.RateLimitedError
		failed := ""
		o.mu.Lock()
		switch {
		case errors.As(err, &rl):
			tries++
			c.until = time.Now().Add(max(rl.RetryAfter, 100*time.Millisecond))
			switch {
			case stopping:
				failed = "shutdown"
			case tries >= maxPostTries:
				failed = "rate_limited"
			}
		case err != nil:
			failed = failReason(err)
		}
		if err == nil || failed != "" {
			tries = 0
			c.pending = append(c.pending[:0:0], c.pending[n:]...)
			c.left = 0
		}
		report := failed != "" && !c.abandoned // shutdown may have reported it already
		if len(c.pending) > 0 {
			o.mu.Unlock()
			if report {
				o.failed(c.user, n, failed, err)
			}
			continue
		}
		// The queue is empty. The tracker hears how it ended from this goroutine, which
		// stays the channel's sender meanwhile, so a queue that forms again is reported
		// after this and never undone by it (and tests see the outbox busy until then).
		o.mu.Unlock()
		switch {
		case report:
			o.failed(c.user, n, failed, err)
		case failed != "":
		case o.track != nil:
			o.track.DMDelivered(context.Background(), c.user)
		}
		o.mu.Lock()
		if len(c.pending) == 0 {
			c.running = false
			o.mu.Unlock()
			return
		}
		d := o.expected(c)
		o.mu.Unlock()
		if o.track != nil {
			o.track.DMDelayed(context.Background(), c.user, d)
		}
		told = time.Now()
	}
}

// failed logs replies given up for u (never their text) and tells the tracker: the turns
// stay applied, and the user's next message gets the open prompt again.
func (o *outbox) failed(u bot.UserRef, n int, reason string, err error) {
	o.a.log.Error("slack DM delivery failed", "user", u.String(), "replies", n, "reason", reason, "err", err)
	if o.track != nil {
		ctx, cancel := context.WithTimeout(context.Background(), postTimeout)
		defer cancel()
		o.track.DMFailed(ctx, u, reason)
	}
}

// failReason names a delivery failure with a fixed word, for metrics.
func failReason(err error) string {
	var se slack.SlackErrorResponse
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return "timeout"
	case userGone(err):
		return "user_gone"
	case errors.As(err, &se):
		return "api_error"
	}
	return "error"
}

// renderBatch renders the replies waiting for one channel as one post: each reply's text
// in order, a reply repeated n times once with a note, earlier questions as text and the
// last reply with its buttons; within maxBlocks, crisis replies and the last reply always,
// then summaries, then the newest others, with a note where replies were left out (left
// counts those dropped from the queue already).
func renderBatch(pending []queued, left int) (string, []slack.Block) {
	if len(pending) == 1 && pending[0].n == 1 && left == 0 {
		return render(pending[0].m)
	}
	type part struct {
		blocks []slack.Block
		text   string
		keep   bool
	}
	parts := make([]part, len(pending))
	last := len(pending) - 1
	for i, q := range pending {
		var p part
		if i == last && len(q.m.Choices) > 0 {
			p.text, p.blocks = render(q.m)
			p.text = unescape(p.text) // escaped once below, with the rest
		} else {
			p.text = flows.PlainText(flows.Reply{Kind: q.m.Kind, Text: q.m.Text, Choices: q.m.Choices})
			p.blocks = textBlocks(p.text, maxBlocks-2)
		}
		if q.n > 1 {
			note := "(the same reply to " + strconv.Itoa(q.n-1) + " more of your messages)"
			if q.n == 2 {
				note = "(the same reply to your next message)"
			}
			p.text += "\n" + note
			p.blocks = append(p.blocks, contextBlock(note))
		}
		parts[i] = p
	}
	// Choose what fits: the newest reply, crisis replies, summaries, then the newest others.
	budget := maxBlocks
	take := func(i int) {
		if !parts[i].keep && len(parts[i].blocks) <= budget {
			parts[i].keep = true
			budget -= len(parts[i].blocks)
		}
	}
	take(last)
	for i, q := range pending {
		if q.m.Kind == flows.ReplyCrisis {
			take(i)
		}
	}
	for i := last; i >= 0; i-- {
		if pending[i].m.Kind == flows.ReplySummary {
			take(i)
		}
	}
	for i := last; i >= 0; i-- {
		take(i)
	}
	// Each run of replies left out costs a note block: give up the oldest kept replies
	// (crisis replies last, the newest never) until the notes fit too.
	for {
		total, gap := 0, left > 0
		for _, p := range parts {
			if !p.keep {
				gap = true
				continue
			}
			if gap {
				total++
				gap = false
			}
			total += len(p.blocks)
		}
		if gap {
			total++
		}
		if total <= maxBlocks {
			break
		}
		drop := -1
		for _, spare := range []func(flows.ReplyKind) bool{
			func(k flows.ReplyKind) bool { return k != flows.ReplyCrisis && k != flows.ReplySummary },
			func(k flows.ReplyKind) bool { return k != flows.ReplyCrisis },
			func(flows.ReplyKind) bool { return true },
		} {
			for i := range last {
				if parts[i].keep && spare(pending[i].m.Kind) {
					drop = i
					break
				}
			}
			if drop >= 0 {
				break
			}
		}
		if drop < 0 {
			break
		}
		parts[drop].keep = false
	}
	var (
		blocks []slack.Block
		texts  []string
		out    = left
	)
	flushOut := func() {
		if out == 0 {
			return
		}
		note := "(" + strconv.Itoa(out) + " earlier replies left out to keep this short.)"
		if out == 1 {
			note = "(1 earlier reply left out to keep this short.)"
		}
		blocks = append(blocks, contextBlock(note))
		texts = append(texts, note)
		out = 0
	}
	for i, p := range parts {
		if !p.keep {
			out += pending[i].n
			continue
		}
		flushOut()
		blocks = append(blocks, p.blocks...)
		texts = append(texts, p.text)
	}
	flushOut()
	text := strings.Join(texts, "\n\n")
	if len(text) > maxMergedText {
		// The fallback (notifications, old clients) keeps its end: the newest replies.
		text = "…" + suffix(text, maxMergedText)
	}
	return escape(text), blocks
}

func contextBlock(text string) slack.Block {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.PlainTextType, cut(text, maxSectionText), false, false))
}

// suffix returns the last at most n bytes of s, starting on a rune boundary.
func suffix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && s[i]&0xC0 == 0x80 {
		i++
	}
	return s[i:]
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// pending reports how many replies wait in the outbox, over all channels (tests).
func (o *outbox) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.chans {
		n += len(c.pending)
		if c.running && len(c.pending) == 0 {
			n++ // being posted
		}
	}
	return n
}

// flush stops pacing and gives the queues until ctx ends to go out once; what is still
// waiting then is given up, logged and reported as failed ("shutdown").
func (o *outbox) flush(ctx context.Context) error {
	o.mu.Lock()
	if !o.stopping {
		o.stopping = true
		close(o.stop)
	}
	o.mu.Unlock()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	type loss struct {
		u bot.UserRef
		n int
	}
	var lost []loss
	o.mu.Lock()
	for _, c := range o.chans {
		if len(c.pending) > 0 {
			lost = append(lost, loss{c.user, len(c.pending)})
			c.abandoned = true
		}
	}
	o.mu.Unlock()
	for _, l := range lost {
		o.failed(l.u, l.n, "shutdown", ctx.Err())
	}
	return fmt.Errorf("slack: DMs still queued at shutdown for %d users: %w", len(lost), ctx.Err())
}
