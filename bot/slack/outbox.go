package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// The outbox keeps DMs in order through Slack's rate limits. chat.postMessage allows about
// one message a second per channel; a fast typist (or a burst of redelivered events) meets
// that limit. A DM that Slack answers with 429 is not an error for the turn that produced
// it — the turn is saved, and saying "I can't save right now" would be false — so it waits
// in its channel's queue until Retry-After has passed, and every DM for that channel that
// comes meanwhile waits behind it. When the wait is over the queue goes out as one message:
// the earlier replies as text, the newest with its buttons (older buttons answer questions
// already passed). So a burst of turns becomes a few posts, paced to the limit, in order.
// While a channel has nothing waiting, a DM is posted at once and its errors are returned.

const (
	// maxQueued bounds the DMs waiting for one channel; beyond it the oldest is dropped
	// (and logged): the user's turns are saved either way, and the newest prompt matters.
	maxQueued = 100
	// maxMergedText bounds the text of one merged post.
	maxMergedText = 12000
)

type outbox struct {
	a *Adapter

	mu     sync.Mutex
	queues map[string]*chanQueue // DM channel ID -> its waiting messages
	wg     sync.WaitGroup        // one goroutine per channel with messages waiting
	stop   chan struct{}         // closed by flush: stop waiting, send what is left once
}

type chanQueue struct {
	user    bot.UserRef
	until   time.Time // do not post before
	pending []bot.Message
}

func newOutbox(a *Adapter) *outbox {
	return &outbox{a: a, queues: map[string]*chanQueue{}, stop: make(chan struct{})}
}

// post sends m to DM channel ch, or queues it behind the channel's rate limit.
func (o *outbox) post(ctx context.Context, ch string, u bot.UserRef, m bot.Message) error {
	o.mu.Lock()
	if q := o.queues[ch]; q != nil {
		o.push(q, m)
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	err := o.send(ctx, ch, m)
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		return err
	}
	o.a.log.WarnContext(ctx, "slack rate limit: DM queued", "user", u.String(), "retry_after", rl.RetryAfter)
	o.mu.Lock()
	q := o.queues[ch]
	if q == nil {
		q = &chanQueue{user: u}
		o.queues[ch] = q
		o.wg.Add(1)
		go o.run(ch, q)
	}
	q.until = later(q.until, time.Now().Add(rl.RetryAfter))
	q.pending = append([]bot.Message{m}, q.pending...) // it came first
	o.mu.Unlock()
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// push adds m to q; the caller holds o.mu.
func (o *outbox) push(q *chanQueue, m bot.Message) {
	if len(q.pending) >= maxQueued {
		o.a.log.Error("slack DM dropped: too many waiting for one channel", "user", q.user.String())
		q.pending = q.pending[1:]
	}
	q.pending = append(q.pending, m)
}

// send posts one message (rendered) to ch.
func (o *outbox) send(ctx context.Context, ch string, m bot.Message) error {
	text, blocks := render(m)
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionDisableMarkdown()}
	if blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	_, _, err := o.a.api.PostMessageContext(ctx, ch, opts...)
	return err
}

// run sends ch's queue, merged, each time its rate limit has passed, until it is empty.
func (o *outbox) run(ch string, q *chanQueue) {
	defer o.wg.Done()
	for {
		o.mu.Lock()
		wait := time.Until(q.until)
		o.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-o.stop:
				t.Stop()
			}
		}
		o.mu.Lock()
		m, n := merge(q.pending)
		o.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := o.send(ctx, ch, m)
		cancel()
		o.mu.Lock()
		var rl *slack.RateLimitedError
		switch {
		case errors.As(err, &rl):
			q.until = time.Now().Add(max(rl.RetryAfter, 100*time.Millisecond))
		case err != nil:
			// Delivery failed for good: the turns stay applied, and the next message the
			// user sends gets the open prompt again.
			o.a.log.Error("slack DM delivery failed", "user", q.user.String(), "messages", n, "err", err)
			q.pending = q.pending[n:]
		default:
			q.pending = q.pending[n:]
		}
		select {
		case <-o.stop:
			if rl != nil {
				q.pending = nil // shutting down: do not wait out another limit
			}
		default:
		}
		if len(q.pending) == 0 {
			delete(o.queues, ch)
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
	}
}

// merge folds the first messages of pending into one: the earlier ones as plain text, the
// last one with its choices. It reports how many it took.
func merge(pending []bot.Message) (bot.Message, int) {
	if len(pending) == 1 {
		return pending[0], 1
	}
	var parts []string
	size, n := 0, 0
	for n < len(pending) {
		t := pending[n].Text
		if n < len(pending)-1 || len(pending[n].Choices) == 0 {
			t = flows.PlainText(flows.Reply{Kind: pending[n].Kind, Text: pending[n].Text, Choices: pending[n].Choices})
		}
		if n > 0 && size+len(t) > maxMergedText {
			break
		}
		parts = append(parts, t)
		size += len(t) + 2
		n++
	}
	last := pending[n-1]
	return bot.Message{To: last.To, Kind: last.Kind, Text: strings.Join(parts, "\n\n"), Choices: last.Choices}, n
}

// flush stops waiting out rate limits and gives the queues until ctx ends to go out once.
func (o *outbox) flush(ctx context.Context) error {
	close(o.stop)
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("slack: DMs still queued at shutdown: %w", ctx.Err())
	}
}
