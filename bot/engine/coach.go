package engine

import (
	"context"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// coachChoice prefixes mark the engine-level choices of coaching.
const (
	prefixCoach    = "coach:"
	prefixPractice = "practice:"
	prefixNote     = "note:"
)

// coachCommand handles the coach subcommands and /story practices.
func (e *Engine) coachCommand(ctx context.Context, ev bot.Event, cmd *bot.Command) error {
	if e.coaching == nil {
		return e.ephemeral(ctx, ev, "Coaching isn't switched on in this storybot.")
	}
	if refusal := e.coachGate(ev, cmd); refusal != "" {
		return e.ephemeral(ctx, ev, refusal)
	}
	switch cmd.Name {
	case bot.CmdCoachAsk:
		return e.coachAsk(ctx, ev, cmd.Target)
	case bot.CmdCoachInvite:
		return e.coachInvite(ctx, ev, cmd.Target)
	case bot.CmdCoachAssign:
		return e.coachAssign(ctx, ev, cmd)
	case bot.CmdCoachProgress:
		return e.coachProgress(ctx, ev, cmd.Target)
	case bot.CmdCoachList:
		return e.coachList(ctx, ev)
	case bot.CmdCoachUnassign:
		return e.coachUnassign(ctx, ev, cmd.Target, cmd.Practice)
	case bot.CmdCoachRevoke:
		return e.coachRevoke(ctx, ev, "")
	case bot.CmdPractices:
		if cmd.Library {
			return e.ephemeral(ctx, ev, libraryText())
		}
		return e.clientPractices(ctx, ev)
	}
	return e.ephemeral(ctx, ev, "/story help shows what works now.")
}

// namesClient are the coach commands a coach gives about a client.
var namesClient = map[bot.CommandName]bool{bot.CmdCoachInvite: true, bot.CmdCoachAssign: true, bot.CmdCoachProgress: true, bot.CmdCoachUnassign: true}

// textCoachNeedsPlace refuses a coach command naming a client where the platform cannot
// show that the two share a place (a Discord command typed in a DM).
const textCoachNeedsPlace = "Coaching works inside a server you share with your client — run this there, as /story coach there. I haven't contacted anyone."

// coachGate is the one authorization check every coach command passes, however it
// arrives (slash command, typed in a DM, a button), on every platform: coaching allowed for
// this user (STORYBOT_COACHES), not themself, and, where user keys name no workspace
// (Discord), a shared place the adapter checked. It returns the refusal to show, or "".
// The link state (accepted, pending, the re-invite cooldown) is checked by each command
// against the client's side.
func (e *Engine) coachGate(ev bot.Event, cmd *bot.Command) string {
	if !namesClient[cmd.Name] && cmd.Name != bot.CmdCoachList {
		return "" // the client's own commands: revoke, ask, practices
	}
	if !e.mayCoach(ev.User) {
		return "Coaching in this storybot is open to the people its admin listed, and you're not on that list. Nothing was sent."
	}
	if !namesClient[cmd.Name] {
		return ""
	}
	if cmd.Target == ev.User.User {
		if cmd.Name == bot.CmdCoachInvite {
			return "You can't invite yourself — coaching is between two people. For your own practices, type /story practices."
		}
		return "That's you — coaching is between two people. For your own practices, type /story practices."
	}
	if ev.User.Workspace == bot.UnplacedWorkspace && ev.Place == "" {
		return textCoachNeedsPlace
	}
	return ""
}

// coachEvent handles the button presses and typed answers that belong to coaching
// (accepting an invitation, marking a practice done, writing a note) before they reach
// the dialogue. handled is false when ev is not one of them.
func (e *Engine) coachEvent(ctx context.Context, ev bot.Event) (handled bool, err error) {
	if e.coaching == nil {
		return false, nil
	}
	switch ev.Kind {
	case bot.EventChoice:
		if !strings.HasPrefix(ev.Choice, prefixCoach) && !strings.HasPrefix(ev.Choice, prefixPractice) && !strings.HasPrefix(ev.Choice, prefixNote) {
			return false, nil
		}
		return true, e.coachChoice(ctx, ev, ev.Choice)
	case bot.EventText:
		return e.coachText(ctx, ev)
	case bot.EventCommand:
		// A command moves on from "Add a note": the next line belongs to what it starts.
		if p, ok, err := e.pending(ctx, ev); err == nil && ok && p.NoteFor != "" {
			p.NoteFor = ""
			if err := e.coaching.SetPending(ctx, ev.User, p); err != nil {
				e.log.WarnContext(ctx, "coaching pending clear failed", "user", ev.User.String(), "err", err)
			}
		}
	}
	return false, nil
}

// coachChoice dispatches an engine-level coaching choice. The ID only names what the
// user answers; whose data it touches is always the event's user.
func (e *Engine) coachChoice(ctx context.Context, ev bot.Event, id string) error {
	verb, arg, _ := strings.Cut(id, ":")
	action, target, _ := strings.Cut(arg, ":")
	switch verb + ":" {
	case prefixCoach:
		switch action {
		case "accept":
			return e.answerInvite(ctx, ev, target, true)
		case "decline":
			return e.answerInvite(ctx, ev, target, false)
		case "revoke":
			return e.coachRevoke(ctx, ev, target)
		}
	case prefixPractice:
		return e.practiceAction(ctx, ev, action, target)
	case prefixNote:
		switch action {
		case "private":
			return e.shareNote(ctx, ev, target, false)
		case "share":
			return e.shareNote(ctx, ev, target, true)
		}
	}
	return e.ephemeral(ctx, ev, "That button has expired. /story practices shows what you can do now.")
}

// offerTTL bounds how long the labels of a coaching message may be typed instead of
// pressed.
const offerTTL = 24 * time.Hour

// coachText takes a typed line that answers coaching: a pending note, or the label of the
// last coaching message's choices when the user has not moved on to a dialogue since.
func (e *Engine) coachText(ctx context.Context, ev bot.Event) (bool, error) {
	p, ok, err := e.pending(ctx, ev)
	if err != nil {
		// Coaching must not stand in the way of a pause: log and let the dialogue have it.
		e.log.WarnContext(ctx, "coaching pending check failed", "user", ev.User.String(), "err", err)
		return false, nil
	}
	if !ok {
		return false, nil
	}
	if p.NoteFor != "" {
		return true, e.takeNote(ctx, ev, p)
	}
	if len(p.Offer) == 0 || e.now().Sub(p.At) > offerTTL {
		return false, nil
	}
	typed := strings.ToLower(strings.TrimSpace(ev.Text))
	var choice string
	for _, c := range p.Offer {
		if strings.ToLower(c.Label) == typed {
			choice = c.ID
		}
	}
	if choice == "" {
		return false, nil
	}
	// An open dialogue owns the user's typing, unless it is parked and older than the offer.
	st, open, err := e.dialogues.Dialogue(ctx, ev.User)
	if err != nil {
		return true, e.storeTrouble(ctx, ev, "coaching", err)
	}
	if open && st.Open() && (st.Updated.After(p.At) || e.now().Sub(st.Updated) < flows.ParkAfter) {
		return false, nil
	}
	return true, e.coachChoice(ctx, ev, choice)
}

// pending returns the user's coaching marker for ev. The common answer, "none", comes from
// the snapshot read with the event's claim (or with the turn's read, see Handle), so a DM
// answer costs no round trip of its own for it. A snapshot that shows a marker is read again:
// the marker decides what the line is (a note, a typed label) and may have been cleared by
// the user's previous event since the claim read it; that path is rare and may cost a read.
// A marker set after the snapshot was read is missed, as one set by another replica a moment
// after a read always could be.
func (e *Engine) pending(ctx context.Context, ev bot.Event) (bot.CoachPending, bool, error) {
	if s := ev.Snapshot; s != nil && !s.CoachOK {
		return bot.CoachPending{}, false, nil
	}
	return e.coaching.Pending(ctx, ev.User)
}

// offer sends m to u's DM and remembers its choices, so typing a label works too.
func (e *Engine) offer(ctx context.Context, m bot.Message) error {
	u := m.To.User
	p, _, err := e.coaching.Pending(ctx, u)
	if err != nil {
		return err
	}
	p.Offer, p.At = m.Choices, e.now()
	if err := e.coaching.SetPending(ctx, u, p); err != nil {
		return err
	}
	return e.out.Send(ctx, m)
}

// clearOffer forgets u's offered labels (the message was answered).
func (e *Engine) clearOffer(ctx context.Context, u bot.UserRef) {
	p, ok, err := e.coaching.Pending(ctx, u)
	if err != nil || !ok || len(p.Offer) == 0 {
		return
	}
	p.Offer = nil
	if err := e.coaching.SetPending(ctx, u, p); err != nil {
		e.log.WarnContext(ctx, "coaching pending clear failed", "user", u.String(), "err", err)
	}
}

// mayCoach reports whether STORYBOT_COACHES lets u coach: an entry matches the user ID or
// the whole platform:workspace:user reference. No list: anyone may.
func (e *Engine) mayCoach(u bot.UserRef) bool {
	if len(e.coaches) == 0 {
		return true
	}
	for _, c := range e.coaches {
		if c == u.User || c == u.String() {
			return true
		}
	}
	return false
}

// mention names a user in message text: platforms render <@id> as their name.
func mention(u bot.UserRef) string {
	switch u.Platform {
	case "slack", "discord":
		return "<@" + u.User + ">"
	}
	return "@" + u.User
}

func libraryText() string {
	var b strings.Builder
	b.WriteString("The built-in practices (a coach assigns one by its id):")
	for _, p := range bot.Library() {
		b.WriteString("\n\n" + p.ID + " — " + p.Title + "\n" + p.Instruction + "\nWhy it helps: " + p.Why)
	}
	return b.String()
}
