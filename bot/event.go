package bot

import (
	"errors"

	"github.com/storybot/storybot/flows"
)

// EventKind is what the user did.
type EventKind int

// The kinds of inbound event.
const (
	EventCommand EventKind = iota + 1 // a /story command
	EventText                         // a line typed in the DM with the bot
	EventChoice                       // a button pressed
	EventForm                         // a quick pause submitted as a form (a modal)
	EventHome                         // the user opened their home (Slack's App Home tab)
)

// Event is one thing a user did, translated from a platform by its adapter.
type Event struct {
	Kind EventKind
	User UserRef
	// Command is a command the adapter parsed itself (Discord options); when nil, an
	// EventCommand's Text holds the raw text after "/story" and the engine parses it.
	Command *Command
	// Text is the typed line (EventText) or the raw command text (EventCommand).
	Text string
	// Choice is the pressed button's choice ID (EventChoice).
	Choice string
	// InDM is true when the event came from the user's DM with the bot; otherwise dialogue
	// prompts go to the DM and an ephemeral note says so.
	InDM bool
	// Route is the adapter's handle to answer the user in place (ephemeral or modal).
	Route string
	// Form is the submitted quick pause (EventForm).
	Form *flows.QuickForm
	// Modal is set when the event came from a modal or from a message that answers one in
	// place (a Slack view's buttons, the Discord modal's ephemeral summary): its replies go
	// back there, as DestModal through Route, not to the DM.
	Modal bool
	// Trigger, when set, lets the engine open a modal for this event (a Slack trigger_id,
	// valid for about 3 seconds): /story quick from outside the DM opens the quick pause
	// form there instead of moving the user to the DM.
	Trigger string
	// ID names this delivery for idempotency: the platform's event ID, a slash command's
	// trigger_id, an interaction or message ID, namespaced by the adapter
	// ("slack:event:T1:Ev1"). The turn commit records it so that a redelivery or replay is
	// never applied twice. Empty: no such guarantee (the console).
	ID string
	// Request names a command that starts a dialogue, for its replays: the same Request
	// again while the dialogue it started is open changes nothing (flows.Start.Request).
	// Unlike ID it is never refused as already applied, so a replay that comes after that
	// dialogue ended starts a new one, as a fresh request would. Empty: none.
	Request string
	// Alias is another reference under which earlier versions kept this same person's
	// data: the one this payload would have been keyed by (on Slack, the workspace team id
	// a Grid or Slack Connect user's command or click carried). Zero when there is none.
	// The engine merges it into User once, and erases it with User on /story forget.
	Alias UserRef
	// Place is the shared place a command was given in, for platforms whose user keys name
	// no workspace (Discord's "dm"): the server, set by the adapter only once it checked
	// that the user the command names is a member there. Empty elsewhere (a DM, a typed
	// command): the engine then refuses coach commands that name a client.
	Place string
	// Snapshot is what the adapter's claim of this event read of User's data (the
	// dialogue, the coaching marker; see Lease.Snapshot), so the engine need not read it
	// again. Nil: nothing was read (the engine reads what it needs).
	Snapshot *Snapshot
}

// ErrUserTold marks an error the user has already been told about, kindly, in the same
// private place; an adapter logs it but adds no message of its own.
var ErrUserTold = errors.New("the user was told")
