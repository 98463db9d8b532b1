package engine

import (
	"context"
	"errors"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Replies that did not reach the user. A turn is saved before its replies go out, so a
// reply can be lost after its turn: the platform refused it for good, it waited out a rate
// limit in an adapter's queue that was given up, or the replica holding that queue was
// killed. The user then sees an older question while the dialogue waits on a newer one, and
// whatever they type next ("hello?") would be taken as the answer to a question they never
// saw. So the dialogue state carries flows.State.Unseen: set when replies wait in a queue
// (with the time they should be out by) or are given up (now), cleared when the queue is
// out. A text answer that arrives after that time while it is still set is not applied: the
// user gets the open prompt again, with a word on why. Nothing of this costs the common turn
// anything: the mark rides in the state the turn reads and writes anyway, and the extra
// writes happen only when a DM waits or fails.

// TextMissedPrompt leads the open prompt asked again because the user may not have seen it.
const TextMissedPrompt = "Sorry — my last message may not have reached you, so I didn't take that as your answer. Here's where we were:"

// unseenTimeout bounds one mark write, which runs outside any event's deadline.
const unseenTimeout = 3 * time.Second

var _ bot.DeliveryTracker = (*Engine)(nil)

// DMDelayed implements bot.DeliveryTracker: an open dialogue is marked as waiting for its
// replies until d from now.
func (e *Engine) DMDelayed(ctx context.Context, u bot.UserRef, d time.Duration) {
	until := e.now().Add(d)
	e.markUnseen(ctx, u, "delayed", func(s *flows.State) bool {
		if !s.Open() || !s.Unseen.Before(until) {
			return false
		}
		s.Unseen = until
		return true
	})
}

// DMDelivered implements bot.DeliveryTracker: the replies that waited went out.
func (e *Engine) DMDelivered(ctx context.Context, u bot.UserRef) {
	e.markUnseen(ctx, u, "delivered", func(s *flows.State) bool {
		if s.Unseen.IsZero() {
			return false
		}
		s.Unseen = time.Time{}
		return true
	})
}

// DMFailed implements bot.DeliveryTracker: replies were given up; the failure is counted
// and an open dialogue is marked so the next answer gets its prompt again.
func (e *Engine) DMFailed(ctx context.Context, u bot.UserRef, reason string) {
	e.metrics.deliveryFailed(u.Platform, reason)
	e.log.WarnContext(ctx, "DM delivery failed: the next message gets the open prompt again", "platform", u.Platform, "user", u.String(), "reason", reason)
	e.missed(ctx, u)
}

// missed marks u's open dialogue as having replies the user did not get, from now.
func (e *Engine) missed(ctx context.Context, u bot.UserRef) {
	now := e.now()
	e.markUnseen(ctx, u, "failed", func(s *flows.State) bool {
		if !s.Open() || (!s.Unseen.IsZero() && !s.Unseen.After(now)) {
			return false
		}
		s.Unseen = now
		return true
	})
}

// errUnchanged ends a mark's turn without a write.
var errUnchanged = errors.New("engine: nothing to mark")

// markUnseen changes the Unseen mark of u's dialogue with change, in a turn of its own,
// writing only when change reports a change. Failures are logged: the mark is a help to the
// user, not something to fail for.
func (e *Engine) markUnseen(ctx context.Context, u bot.UserRef, op string, change func(*flows.State) bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unseenTimeout)
	defer cancel()
	err := e.dialogues.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		if !change(&cur) {
			return cur, nil, errUnchanged
		}
		return cur, nil, nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		e.log.WarnContext(ctx, "could not mark replies as unseen", "op", op, "user", u.String(), "err", err)
	}
}

// askedUnseen reports whether in, stepped from cur, should get the open prompt again instead
// of being applied: a text answer, with a dialogue open whose Unseen time has passed.
func askedUnseen(cur flows.State, in flows.Input) bool {
	return cur.Open() && !cur.Unseen.IsZero() && !in.Now.Before(cur.Unseen) && in.Start == nil && in.Choice == "" && in.Text != ""
}

// safetyReply reports whether rs holds a reply of the safety protocol, which always goes
// out as the machine gave it.
func safetyReply(rs []flows.Reply) bool {
	for _, r := range rs {
		if r.Kind == flows.ReplyCrisis || r.Safety != flows.SafetyEventNone {
			return true
		}
	}
	return false
}

// deliveryFailReason names err with a fixed word for the delivery failure metric.
func deliveryFailReason(err error) string {
	var rl *bot.RateLimitError
	switch {
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.Is(err, bot.ErrUserGone):
		return "user_gone"
	case errors.Is(err, bot.ErrRefused):
		return "refused"
	case errors.Is(err, bot.ErrNoDM):
		return "no_dm"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "error"
}

// TextMessageLost tells the user a message of theirs was never read: the platform gave up
// delivering it while the bot was answering many others.
const TextMessageLost = "One of your messages came while I was still answering many others, and I couldn't read it. If something is missing, please send it again."

var _ bot.LossNotifier = (*Engine)(nil)

// MessageLost implements bot.LossNotifier: the user is told, in their DM, that a message was
// not read. Nothing of it was stored, so nothing else changes.
func (e *Engine) MessageLost(ctx context.Context, u bot.UserRef) {
	e.metrics.messageLost(u.Platform)
	err := e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyInfo, Text: TextMessageLost})
	if err != nil {
		e.log.WarnContext(ctx, "could not tell the user a message was lost", "platform", u.Platform, "user", u.String(), "err", err)
	}
}
