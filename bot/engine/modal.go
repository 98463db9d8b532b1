package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// The quick pause in a modal (SPEC.md, "Platform-native, for the meeting"): /story quick from
// outside the DM opens a form where the user is, its submission runs the Quick flow's steps
// over the answers (flows.SubmitQuick) in one atomic turn, and every answer to it — field
// problems, the check question, the crisis answer, the summary with Save and Discard, and
// what the buttons there lead to — goes back to the modal (bot.DestModal), never to a channel.

// openForm opens the quick pause form for a command that came with a trigger, prefilled with
// the command's inline story. The command's raw text has passed the safety check already.
func (e *Engine) openForm(ctx context.Context, ev bot.Event, story string) error {
	m := bot.Message{
		To:   bot.Destination{Kind: bot.DestModal, User: ev.User, Route: ev.Trigger},
		Kind: flows.ReplyPrompt,
		Form: &flows.QuickForm{Story: story, NoCheckBack: e.noCheckBacks(ctx, ev.User)},
	}
	if err := e.out.Send(ctx, m); err != nil {
		// The trigger lasts about 3 seconds: when it has gone, the quick pause still happens,
		// in the DM, as it always could.
		e.log.WarnContext(ctx, "could not open the quick pause form; going on in the DM", "user", ev.User.String(), "err", err)
		return e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flows.FlowQuick, Text: story}})
	}
	return nil
}

// form takes a submitted quick pause form.
func (e *Engine) form(ctx context.Context, ev bot.Event) error {
	if ev.Form == nil {
		return fmt.Errorf("engine: form event without a form")
	}
	now := e.now()
	f := *ev.Form
	var (
		replies  []flows.Reply
		problems []flows.FieldProblem
	)
	// One profile read: the check-back preference, and the zone when a check-back was picked.
	var loc *time.Location
	if cb := strings.TrimSpace(f.CheckBack); cb != "" && cb != "checkback-none" {
		p, err := e.profileWithZone(ctx, ev.User)
		if err != nil {
			return e.storeTrouble(ctx, ev, "profile", err)
		}
		f.NoCheckBack, loc = p.NoFollowups, time.UTC
		if l, err := time.LoadLocation(p.TZ); p.TZ != "" && err == nil {
			loc = l
		}
	} else {
		f.NoCheckBack = e.noCheckBacks(ctx, ev.User)
	}
	step := func(cur flows.State) (flows.State, *flows.Entry, error) {
		next, rs, ps, err := e.machine.SubmitQuick(cur, f, now, loc)
		if err != nil {
			return cur, nil, err
		}
		replies, problems = rs, ps
		return next, nil, nil
	}
	var err error
	if once, ok := e.dialogues.(bot.OnceTurner); ok && ev.ID != "" {
		var applied bool
		applied, err = once.TurnOnce(ctx, ev.User, ev.ID, step)
		if err == nil && !applied {
			e.log.InfoContext(ctx, "event already applied", "user", ev.User.String(), "event", ev.ID)
			return nil
		}
	} else {
		err = e.dialogues.Turn(ctx, ev.User, step)
	}
	if err != nil {
		if sent, cerr := e.formCrisisDespiteStore(ctx, ev, f, now); sent {
			return cerr
		}
		return e.storeTrouble(ctx, ev, "form", err)
	}
	to := bot.Destination{Kind: bot.DestModal, User: ev.User, Route: ev.Route}
	if len(problems) > 0 {
		e.metrics.reply(flows.ReplyProblem)
		return e.out.Send(ctx, bot.Message{To: to, Kind: flows.ReplyProblem, Problems: problems, Text: problemsText(problems)})
	}
	msgs := make([]bot.Message, 0, len(replies)+1)
	for _, r := range replies {
		e.metrics.reply(r.Kind)
		e.metrics.safety(r.Safety)
		msgs = append(msgs, bot.Message{Kind: r.Kind, Text: r.Text, Choices: r.Choices})
	}
	if !hasCrisis(replies) {
		if msgs, err = e.withWelcome(ctx, ev.User, msgs); err != nil {
			e.log.WarnContext(ctx, "welcome check failed", "user", ev.User.String(), "err", err)
		}
	}
	return e.sendModal(ctx, ev, msgs)
}

// sendModal answers an event from a modal in that modal, with one message: a modal shows one
// view at a time, so the replies are joined, and the last one's choices are its buttons.
func (e *Engine) sendModal(ctx context.Context, ev bot.Event, msgs []bot.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	out := bot.Message{To: bot.Destination{Kind: bot.DestModal, User: ev.User, Route: ev.Route}}
	texts := make([]string, 0, len(msgs))
	for _, m := range msgs {
		texts = append(texts, m.Text)
		if out.Kind != flows.ReplyCrisis {
			out.Kind = m.Kind
		}
	}
	out.Text = strings.Join(texts, "\n\n")
	for _, c := range msgs[len(msgs)-1].Choices {
		// No "Go deeper" here: the Reframe asks for typed answers, which a modal's answer
		// cannot take; /story reframe in the DM is the way there.
		if c.ID != choiceDeeper {
			out.Choices = append(out.Choices, c)
		}
	}
	if err := e.out.Send(ctx, out); err != nil {
		return e.platformTrouble(ctx, ev, err)
	}
	return nil
}

// choiceDeeper is the summary's "Go deeper" choice (flows).
const choiceDeeper = "deeper"

// problemsText is the fields' problems as plain text, for platforms that show them as a message.
func problemsText(ps []flows.FieldProblem) string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, fieldLabel(p.Field)+": "+p.Text)
	}
	return strings.Join(lines, "\n")
}

// fieldLabel names a form field as the form shows it.
func fieldLabel(field string) string {
	switch field {
	case flows.FieldStory:
		return "Your story"
	case flows.FieldOther:
		return "What else could be true"
	case flows.FieldNext:
		return "One next step"
	case flows.FieldFeeling:
		return "Feeling"
	case flows.FieldCheckBack:
		return "Check back"
	}
	return field
}
