package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// The engine decides where every message goes (DESIGN.md): an event's replies go to the
// user's DM first, and only once they are there does a command from a channel get the
// pointer "I've sent you a DM". When the platform cannot open the DM (bot.ErrNoDM), the
// replies go to the event's private route instead (an ephemeral answer only the user sees);
// for a command, led by a note on how to open DMs, where the pointer would have been. Nothing here is remembered between events, so every
// replica decides the same way.

// Pointers: what a command from a channel says in place once its DM went out.
const (
	pointerDialogue = "I've sent you a DM — it's just you and me there."
	pointerHistory  = "I've sent your history to our DM."
	pointerExport   = "I've sent your data to our DM."
)

// textDMsClosed leads the replies that could not go to a closed DM.
const textDMsClosed = "I can't send you direct messages, so we'll continue here — only you can see this. " +
	"To talk in DMs instead, allow direct messages from server members (Server settings → Privacy), " +
	"or in User Settings → Privacy & Safety."

// deliver sends msgs, addressed to the event's user, to their DM; then, for an event from
// outside the DM, the pointer (when not empty). When the DM cannot be opened and the event
// has a route, every message goes there instead, after textDMsClosed.
func (e *Engine) deliver(ctx context.Context, ev bot.Event, pointer string, msgs ...bot.Message) error {
	for i, m := range msgs {
		m.To = bot.Destination{Kind: bot.DestDM, User: ev.User}
		err := e.out.Send(ctx, m)
		if err == nil {
			continue
		}
		if !errors.Is(err, bot.ErrNoDM) || ev.Route == "" || ev.InDM {
			return e.platformTrouble(ctx, ev, err)
		}
		// The first message failed or a later one did (the user closed DMs mid-event):
		// what is left goes in place. A command, where the pointer would have stood, gets
		// the note first; answers given in place already know where they are.
		e.metrics.dmFallback()
		rest := msgs[i:]
		if ev.Kind == bot.EventCommand {
			rest = append([]bot.Message{{Kind: flows.ReplyInfo, Text: textDMsClosed}}, rest...)
		}
		for _, r := range rest {
			r.To = e.inPlace(ev)
			if err := e.out.Send(ctx, r); err != nil {
				return fmt.Errorf("engine: send in place to %s: %w", ev.User, err)
			}
		}
		return nil
	}
	if pointer != "" && !ev.InDM && ev.Route != "" && len(msgs) > 0 {
		return e.ephemeral(ctx, ev, pointer)
	}
	return nil
}

// welcomeMessage returns the three-line welcome when the user has not met the bot before
// (and records that they now have), else nil. The record is in the store, so whichever
// replica meets a user first greets them, once; after /story forget they are new again.
func (e *Engine) welcomeMessage(ctx context.Context, u bot.UserRef) (*bot.Message, error) {
	first, err := e.profiles.MarkWelcomed(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("engine: mark welcomed: %w", err)
	}
	if !first {
		return nil, nil
	}
	return &bot.Message{Kind: flows.ReplyInfo, Text: e.texts.welcome()}, nil
}

// withWelcome puts the welcome, when due, before msgs.
func (e *Engine) withWelcome(ctx context.Context, u bot.UserRef, msgs []bot.Message) ([]bot.Message, error) {
	w, err := e.welcomeMessage(ctx, u)
	if err != nil || w == nil {
		return msgs, err
	}
	return append([]bot.Message{*w}, msgs...), nil
}

// platformTrouble handles a message the platform did not take (a refused token, an API error,
// a timeout): it is counted and logged as platform trouble, never as store trouble, and when
// the event came with a private route of its own (a command or click from a channel, answered
// through the platform's response URL rather than the bot token) the user is told what is
// true: the platform did not take the message, and nothing they wrote was lost.
func (e *Engine) platformTrouble(ctx context.Context, ev bot.Event, err error) error {
	e.metrics.sendError(ev.User.Platform)
	e.metrics.deliveryFailed(ev.User.Platform, deliveryFailReason(err))
	e.log.ErrorContext(ctx, "platform did not take a message", "platform", ev.User.Platform, "user", ev.User.String(), "err", err)
	if errors.Is(err, bot.ErrRefused) || ev.Route == "" || ev.InDM || ctx.Err() != nil {
		return fmt.Errorf("engine: send to %s: %w", ev.User, err)
	}
	notice := bot.Message{To: e.inPlace(ev), Kind: flows.ReplyProblem, Text: TextPlatformDown}
	if sendErr := e.out.Send(ctx, notice); sendErr != nil {
		return fmt.Errorf("engine: send to %s: %w", ev.User, err)
	}
	return fmt.Errorf("engine: send to %s: %w: %w", ev.User, bot.ErrUserTold, err)
}
