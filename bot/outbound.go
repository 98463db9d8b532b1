package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/storybot/storybot/flows"
)

// DestKind is where a message may go. Only the private kinds exist as valid destinations;
// DestChannel exists so the guard can name, refuse and count what must never happen.
type DestKind int

// The kinds of destination.
const (
	DestDM        DestKind = iota + 1 // the user's own DM with the bot
	DestEphemeral                     // visible only to the user who invoked the bot
	DestModal                         // a modal opened for the user who invoked the bot
	DestChannel                       // a shared channel: always refused
	// DestHome is the user's own home (Slack's App Home tab), published for that one user
	// and seen by nobody else; the message carries the view (Message.Home).
	DestHome
)

func (k DestKind) String() string {
	switch k {
	case DestDM:
		return "dm"
	case DestEphemeral:
		return "ephemeral"
	case DestModal:
		return "modal"
	case DestChannel:
		return "channel"
	case DestHome:
		return "home"
	}
	return fmt.Sprintf("DestKind(%d)", int(k))
}

// Destination addresses a message. The engine never names a channel: an adapter resolves
// DestDM to the DM it opens with User, and DestEphemeral/DestModal through Route.
type Destination struct {
	Kind DestKind
	User UserRef
	// Route is the adapter's handle for replying in place to the user's own request (a
	// Slack response_url, a Discord interaction token); opaque to the engine.
	Route string
	// Channel is set only by code that tries to post to a channel; the guard refuses it.
	Channel string
}

// File is an attachment sent to the user's DM (the data export).
type File struct {
	Name    string
	Content []byte
}

// Message is one outbound message.
type Message struct {
	To      Destination
	Kind    flows.ReplyKind
	Text    string
	Choices []flows.Choice
	File    *File
	// Form, for a modal, opens the quick pause form prefilled with these answers.
	Form *flows.QuickForm
	// Problems, for a modal form, say which fields could not be taken and why; the form
	// stays open with the answers as they were.
	Problems []flows.FieldProblem
	// Home, for DestHome, is the view to publish (home.go).
	Home *HomeView
}

// Sender delivers messages. Adapters implement it.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// DeliveryTracker hears what became of DMs an adapter could not deliver at once: kept back
// by the platform's rate limits, then sent, or finally given up. The engine implements it
// to count delivery failures and to remember, in the user's dialogue state, that a reply
// may not have reached them, so their next message gets the open prompt again instead of
// being read as the answer to a question they never saw. Adapters call it outside any
// event's work, with reasons from a fixed vocabulary (never text or IDs).
type DeliveryTracker interface {
	// DMDelayed says DMs to u wait in the adapter's queue and should be out within d.
	DMDelayed(ctx context.Context, u UserRef, d time.Duration)
	// DMDelivered says every DM that waited for u has gone out.
	DMDelivered(ctx context.Context, u UserRef)
	// DMFailed says DMs to u were given up for reason ("timeout", "api_error",
	// "rate_limited", "shutdown", "user_gone", "error").
	DMFailed(ctx context.Context, u UserRef, reason string)
}

// LossNotifier hears that a message the user sent will never reach the bot: the platform's
// last delivery of it was refused because the bot was saturated (a flood). The engine tells
// the user, so they can send it again; repeated notices fold into one in a rate-limited DM.
type LossNotifier interface {
	MessageLost(ctx context.Context, u UserRef)
}

// ErrNoDM is returned by a Sender when the platform will not let the bot open or write to
// the user's DM (Discord's 50007: the user closed DMs from server members). The engine then
// answers the event in place, privately, instead.
var ErrNoDM = errors.New("the user's DM with the bot cannot be opened")

// ErrRefused is returned by the Guard for a message to a destination that is not private.
var ErrRefused = errors.New("outbound guard: destination is not private to the user")

// Guard is the one place every outbound message passes through. It keeps SPEC.md's first
// promise: it lets through only a DM to the user it is for, an ephemeral message or a modal
// for the invoking user, the user's own home, and refuses (and logs, without the text)
// anything else.
type Guard struct {
	next    Sender
	log     *slog.Logger
	refused func(reason string) // metrics hook; may be nil
}

// NewGuard returns a guard in front of next. onRefused, if not nil, is called with a short
// reason for each refusal (for metrics).
func NewGuard(next Sender, log *slog.Logger, onRefused func(reason string)) *Guard {
	return &Guard{next: next, log: log, refused: onRefused}
}

var _ Sender = (*Guard)(nil)

// Send delivers m if its destination is private to its user, else returns ErrRefused.
func (g *Guard) Send(ctx context.Context, m Message) error {
	reason := refusal(m.To)
	if reason == "" && m.To.Kind == DestHome && m.Home == nil {
		reason = "home without a view" // nothing but a view is ever shown there
	}
	if reason != "" {
		g.log.ErrorContext(ctx, "outbound message refused", "reason", reason, "dest", m.To.Kind.String(), "user", m.To.User.String())
		if g.refused != nil {
			g.refused(reason)
		}
		return fmt.Errorf("%w: %s", ErrRefused, reason)
	}
	return g.next.Send(ctx, m)
}

// refusal returns why d is not an allowed destination, or "" if it is allowed.
func refusal(d Destination) string {
	if d.User.Platform == "" || d.User.User == "" {
		return "no user"
	}
	if d.Channel != "" {
		return "names a channel"
	}
	switch d.Kind {
	case DestDM, DestHome:
		return ""
	case DestEphemeral, DestModal:
		if d.Route == "" {
			return "in-place reply without a route"
		}
		return ""
	case DestChannel:
		return "shared channel"
	}
	return "unknown destination"
}

// PlatformSenders routes each message to the sender of its user's platform, so one engine
// serves every adapter. Fill it before the engine handles events; it is read-only after.
type PlatformSenders map[string]Sender

var _ Sender = PlatformSenders(nil)

// Send delivers m through the sender registered for m.To.User.Platform.
func (p PlatformSenders) Send(ctx context.Context, m Message) error {
	s, ok := p[m.To.User.Platform]
	if !ok {
		return fmt.Errorf("bot: no sender for platform %q", m.To.User.Platform)
	}
	return s.Send(ctx, m)
}
