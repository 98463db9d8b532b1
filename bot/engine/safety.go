package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Safety in the engine. The dialogues read every answer for crisis language themselves
// (flows' safety gate: the crisis answer, or the check question). The engine adds what the
// dialogues cannot see: the raw text of every command before it is parsed, practice notes,
// /story sos and the safety plan's store. The crisis answer always goes to the place the
// user is looking at, privately; nothing about it is logged with the user's words, and the
// metrics count it by kind only.

const (
	textPlanUnavailable = "Safety plans aren't available in this installation. /story sos shows the resources any time."
	textNotePrivate     = "Saved — private, for you only. I don't offer to share a note like this one with a coach. If it's more than a figure of speech, /story sos has support any time."
	textNoteNotShared   = "That note stays private: I never share a note like that one with a coach."
)

// commandText is the free text a command carries: its raw text as typed (Slack, the console,
// a Discord command that did not parse) and the inline text of a parsed one (Discord).
func commandText(ev bot.Event) string {
	t := ev.Text
	if ev.Command != nil && ev.Command.Text != "" {
		t += "\n" + ev.Command.Text
	}
	return t
}

// commandCrisis gives the crisis answer when the raw text of a command holds clear crisis
// language, before the command is parsed: "/story I want to kill myself", or crisis words
// after a subcommand that takes none, reach the crisis answer, never the help. Ambiguous
// words in a dialogue command are the dialogue's to ask about; elsewhere they pass.
func (e *Engine) commandCrisis(ctx context.Context, ev bot.Event) (handled bool, err error) {
	text := commandText(ev)
	if flows.ClassifySafety(text).Tier != flows.SafetyCrisis {
		return false, nil
	}
	// The machine gives the answer, so it also closes any open dialogue, as the crisis
	// answer always does.
	return true, e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flows.FlowPause, Text: text}})
}

// crisisDespiteStore gives the crisis answer for input with clear crisis language when the
// turn could not be saved: it must never wait on Redis. The dialogue stays as stored (it could
// not be closed), which the answer's "saved nothing" still truthfully covers. It reports
// whether it answered; the store error is logged and counted as any other.
func (e *Engine) crisisDespiteStore(ctx context.Context, ev bot.Event, in flows.Input) (bool, error) {
	text := in.Text
	if in.Start != nil {
		text = in.Start.Text
	}
	if in.Choice != "" || flows.ClassifySafety(text).Tier != flows.SafetyCrisis {
		return false, nil
	}
	_, rs, err := e.machine.Step(flows.State{}, flows.Input{Now: in.Now, Text: text})
	if err != nil || !hasCrisis(rs) {
		return false, nil
	}
	msgs, sendCtx, cancel := e.crisisAnyway(ctx, ev, "turn", rs)
	defer cancel()
	if ev.Kind == bot.EventCommand {
		return true, e.sendInPlace(sendCtx, ev, msgs)
	}
	return true, e.deliver(sendCtx, ev, "", msgs...)
}

// formCrisisDespiteStore is crisisDespiteStore for a submitted form: when the turn could
// not be saved and a field holds clear crisis language, the crisis answer still comes, in
// the modal.
func (e *Engine) formCrisisDespiteStore(ctx context.Context, ev bot.Event, f flows.QuickForm, now time.Time) (bool, error) {
	_, rs, _, err := e.machine.SubmitQuick(flows.State{}, f, now, nil)
	if err != nil || !hasCrisis(rs) {
		return false, nil
	}
	msgs, sendCtx, cancel := e.crisisAnyway(ctx, ev, "form", rs)
	defer cancel()
	return true, e.sendModal(sendCtx, ev, msgs)
}

// crisisAnyway counts and logs a store failure (op) that the crisis answer rs goes out
// despite, and returns its messages with a context of their own: a hanging Redis may have
// used up ctx's time, and this answer deserves its own.
func (e *Engine) crisisAnyway(ctx context.Context, ev bot.Event, op string, rs []flows.Reply) ([]bot.Message, context.Context, context.CancelFunc) {
	e.metrics.storeError(op)
	e.log.ErrorContext(ctx, "store failed; crisis answer given anyway", "op", op, "user", ev.User.String())
	msgs := make([]bot.Message, 0, len(rs))
	for _, r := range rs {
		e.metrics.reply(r.Kind)
		e.metrics.safety(r.Safety)
		msgs = append(msgs, bot.Message{Kind: r.Kind, Text: r.Text})
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
	return msgs, sendCtx, cancel
}

// hasCrisis reports whether replies hold the crisis answer.
func hasCrisis(rs []flows.Reply) bool {
	for _, r := range rs {
		if r.Kind == flows.ReplyCrisis {
			return true
		}
	}
	return false
}

// sendInPlace sends msgs where the user invoked the command, privately: ephemeral outside
// the DM, the DM itself inside it.
func (e *Engine) sendInPlace(ctx context.Context, ev bot.Event, msgs []bot.Message) error {
	for _, m := range msgs {
		m.To = e.inPlace(ev)
		if err := e.out.Send(ctx, m); err != nil {
			return fmt.Errorf("engine: send in place to %s: %w", ev.User, err)
		}
	}
	return nil
}

// sos answers /story sos, in place: grounding, resources and the user's own plan. When the
// plan cannot be read, the rest still comes: this answer must never fail for want of Redis.
func (e *Engine) sos(ctx context.Context, ev bot.Event) error {
	var plan *flows.SafetyPlan
	if e.plans != nil {
		p, ok, err := e.plans.SafetyPlan(ctx, ev.User)
		switch {
		case err != nil:
			e.metrics.storeError("sos")
			e.log.ErrorContext(ctx, "read safety plan failed", "user", ev.User.String(), "err", err)
		case ok:
			plan = &p
		}
	}
	r := e.machine.SOS(plan)
	e.metrics.safety(r.Safety)
	return e.sendInPlace(ctx, ev, []bot.Message{{Kind: r.Kind, Text: r.Text}})
}

// safetyPlanCommand opens the safety-plan dialogue in the DM.
func (e *Engine) safetyPlanCommand(ctx context.Context, ev bot.Event) error {
	if e.plans == nil {
		return e.ephemeral(ctx, ev, textPlanUnavailable)
	}
	return e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flows.FlowSafetyPlan}})
}

// savePlans stores the safety plans among a turn's replies. It runs inside the turn, before
// the dialogue closes: if storing fails the turn fails and nothing is lost (the user is told
// and answers again); if the turn is retried, the same plan is stored again, harmlessly.
func (e *Engine) savePlans(ctx context.Context, u bot.UserRef, rs []flows.Reply) error {
	for _, r := range rs {
		if r.SavePlan == nil {
			continue
		}
		if e.plans == nil {
			return fmt.Errorf("engine: save safety plan of %s: no plan store", u)
		}
		if err := e.plans.SavePlan(ctx, u, *r.SavePlan); err != nil {
			return err
		}
	}
	return nil
}

// noteSafety reads a practice note for crisis language. A note with clear crisis language is
// not kept: the user gets the crisis answer (which says nothing was saved). A note with
// ambiguous language is kept private and never offered for sharing.
func noteSafety(text string) flows.SafetyTier { return flows.ClassifySafety(text).Tier }

// shareable reports whether a note may ever reach a coach.
func shareable(n bot.Note) bool {
	return noteSafety(n.Text) == flows.SafetyNone && strings.TrimSpace(n.Text) != ""
}
