package slack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Platform-native pieces (SPEC.md, "Platform-native, for the meeting"): the quick pause
// modal, its submission answered in the HTTP response, its buttons answered in the modal, and
// the two shortcuts. The engine decides that a message goes to a modal (bot.DestModal); the
// Route says which way this adapter reaches it:
//
//	trigger:<trigger_id>  views.open, within the trigger's 3 seconds (the form)
//	submit:<nonce>        the HTTP response to a view_submission waiting in this process
//	view:<view_id>        views.update of an open modal (after a button in it)
//
// Any other route is a response_url, and the message goes there ephemerally.

// Shortcut callback IDs, as the manifest declares them.
const (
	ShortcutQuick   = "storybot_quick_pause"
	ShortcutMessage = "storybot_pause_on_message"
)

const (
	quickCallbackID  = "storybot_quick"        // the quick pause form
	resultCallbackID = "storybot_quick_result" // what the form's submission led to
	routeTrigger     = "trigger:"
	routeSubmit      = "submit:"
	routeView        = "view:"
	// submitWait is how long a view_submission waits for the engine's answer: Slack gives
	// the response 3 seconds in all.
	submitWait = 2500 * time.Millisecond
	// textSubmitSlow is the inline answer when the engine took too long.
	textSubmitSlow = "That took me too long — please press the button again. Nothing you wrote was lost."
	maxQuoteRunes  = 1500 // the quoted message, so "what happened" stays under the limit
	maxQuoteUsers  = 5    // users.info look-ups for one quote's mentions
)

// submitWaiters are the view_submission requests of this process waiting for their answer.
// They live for one request (under 3 seconds): nothing about a user is remembered.
type submitWaiters struct {
	mu sync.Mutex
	m  map[string]chan bot.Message
}

func (s *submitWaiters) add() (string, chan bot.Message) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	ch := make(chan bot.Message, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]chan bot.Message)
	}
	s.m[nonce] = ch
	return nonce, ch
}

func (s *submitWaiters) remove(nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, nonce)
}

// deliver hands m to the request waiting on nonce; false when none waits (it gave up).
func (s *submitWaiters) deliver(nonce string, m bot.Message) bool {
	s.mu.Lock()
	ch := s.m[nonce]
	delete(s.m, nonce)
	s.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- m
	return true
}

// errSubmitGone: the view_submission gave up waiting before the engine answered.
var errSubmitGone = errors.New("slack: the view submission is no longer waiting")

// sendModal delivers a DestModal message whose route is one of this file's; handled is
// false for a response_url route, which the caller sends ephemerally.
func (a *Adapter) sendModal(ctx context.Context, m bot.Message) (handled bool, err error) {
	u := m.To.User
	switch route := m.To.Route; {
	case strings.HasPrefix(route, routeTrigger):
		if m.Form == nil {
			return true, fmt.Errorf("%w: a trigger opens only the form", bot.ErrRefused)
		}
		view := quickView(*m.Form)
		return true, a.retry(ctx, "views.open", u, func(ctx context.Context) error {
			_, err := a.api.OpenViewContext(ctx, strings.TrimPrefix(route, routeTrigger), view)
			return err
		})
	case strings.HasPrefix(route, routeSubmit):
		if !a.submits.deliver(strings.TrimPrefix(route, routeSubmit), m) {
			return true, errSubmitGone
		}
		return true, nil
	case strings.HasPrefix(route, routeView):
		view := resultView(m)
		return true, a.retry(ctx, "views.update", u, func(ctx context.Context) error {
			_, err := a.api.UpdateViewContext(ctx, view, "", "", strings.TrimPrefix(route, routeView))
			return err
		})
	}
	return false, nil
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, false, false)
}

// quickView is the quick pause form: the Quick flow's questions in one view, the story
// prefilled. Block IDs are the flows field names, so errors point at the right input.
func quickView(f flows.QuickForm) slack.ModalViewRequest {
	text := func(field, label, placeholder string, multiline bool, initial string) *slack.InputBlock {
		el := slack.NewPlainTextInputBlockElement(plain(placeholder), field)
		el.Multiline, el.InitialValue = multiline, initial
		return slack.NewInputBlock(field, plain(label), nil, el)
	}
	selectOf := func(field, label string, choices []flows.Choice) *slack.InputBlock {
		var opts []*slack.OptionBlockObject
		for _, c := range choices {
			opts = append(opts, slack.NewOptionBlockObject(c.ID, plain(c.Label), nil))
		}
		el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose…"), field, opts...)
		b := slack.NewInputBlock(field, plain(label), nil, el)
		b.Optional = true
		return b
	}
	var feelings []flows.Choice
	for _, c := range flows.FeelingChoices() {
		if c.ID != "other" {
			feelings = append(feelings, c)
		}
	}
	blocks := []slack.Block{
		slack.NewContextBlock("privacy", plain("Only you can see this. Nothing is saved until you choose Save.")),
		text(flows.FieldStory, "The story I'm telling myself is…", "Write it the way it sounds in your head", true, f.Story),
		text(flows.FieldOther, "What else could be true?", "One other story that fits the same facts", true, f.Other),
		text(flows.FieldNext, "One next step", "Something you'll do or say", false, f.Next),
		selectOf(flows.FieldFeeling, "The feeling (optional)", feelings),
	}
	if !f.NoCheckBack { // the user switched check-backs off: none offered
		blocks = append(blocks, selectOf(flows.FieldCheckBack, "When shall I check back? (optional)", flows.CheckBackChoices()))
	}
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: quickCallbackID,
		Title:      plain("Quick pause"),
		Submit:     plain("See summary"),
		Close:      plain("Cancel"),
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}

// resultView is an answer shown in the modal: its text, and its choices as buttons (Save and
// Discard after the summary; the check question's answers).
func resultView(m bot.Message) slack.ModalViewRequest {
	blocks := textBlocks(m.Text, maxBlocks-1)
	if len(m.Choices) > 0 {
		var elems []slack.BlockElement
		for i, c := range m.Choices[:min(len(m.Choices), maxActionsItems)] {
			elems = append(elems, slack.NewButtonBlockElement(fmt.Sprintf("%s_%d", choiceAction, i), cut(c.ID, maxButtonValue), plain(cut(c.Label, maxButtonText))))
		}
		blocks = append(blocks, slack.NewActionBlock("choices_0", elems...))
	}
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: resultCallbackID,
		Title: plain("Quick pause"), Close: plain("Close"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// formOf reads the submitted form from view.state.values[block_id][action_id].
func formOf(v slack.View) flows.QuickForm {
	get := func(field string) string {
		if v.State == nil {
			return ""
		}
		act, ok := v.State.Values[field][field]
		if !ok {
			return ""
		}
		if act.SelectedOption.Value != "" {
			return act.SelectedOption.Value
		}
		return act.Value
	}
	return flows.QuickForm{
		Story: get(flows.FieldStory), Other: get(flows.FieldOther), Next: get(flows.FieldNext),
		Feeling: get(flows.FieldFeeling), CheckBack: get(flows.FieldCheckBack),
	}
}

// interactionPerson is the one stable reference of the user who acted in an interaction, as
// actionToEvent and every other payload key them (person): an org user on Enterprise Grid
// is the same person in a modal, a shortcut, a button and a slash command.
func interactionPerson(ic slack.InteractionCallback) bot.UserRef {
	enterprise := ic.Team.EnterpriseID
	if enterprise == "" {
		enterprise = ic.Enterprise.ID
	}
	return person(ic.User.ID, ic.User.TeamID, ic.Team.ID, enterprise)
}

// interactionTeam is the team of the user who acted in an interaction.
func interactionTeam(ic slack.InteractionCallback) string {
	if ic.Team.ID != "" {
		return ic.Team.ID
	}
	return ic.User.TeamID
}

// interactionReply is how an interaction is answered, whichever transport brought it: the
// HTTP interactivity endpoint writes it as the response, Socket Mode as the envelope's ack.
type interactionReply struct {
	// busy: the work was refused (saturated). Not acknowledged: HTTP answers 503, Socket
	// Mode leaves the envelope unacked, and Slack tells the user it did not work.
	busy bool
	// body is the response payload (a view_submission's response_action); nil for none.
	body any
}

// wellFormedInteraction reports whether an interaction payload has what every real one
// carries: a type, the user, and a team (or a Grid org).
func wellFormedInteraction(ic slack.InteractionCallback) bool {
	return ic.Type != "" && ic.User.ID != "" && (ic.Team.ID != "" || ic.User.TeamID != "" || ic.Enterprise.ID != "")
}

// routeInteraction is the one interaction router of both transports: the quick pause form's
// submission, the buttons in its modal and on the home, the two shortcuts, and the buttons
// of the bot's messages.
func (a *Adapter) routeInteraction(ctx context.Context, ic slack.InteractionCallback) interactionReply {
	switch {
	case ic.Type == slack.InteractionTypeViewSubmission && ic.View.CallbackID == quickCallbackID:
		return a.viewSubmission(ctx, ic)
	case ic.Type == slack.InteractionTypeBlockActions && ic.View.ID != "" && ic.View.CallbackID == resultCallbackID:
		return a.viewAction(ctx, ic)
	case ic.Type == slack.InteractionTypeBlockActions && ic.View.CallbackID == homeCallbackID:
		ev, ok := homeActionEvent(ic)
		if !ok {
			return interactionReply{}
		}
		return a.admit(ctx, ev, "home_action")
	case ic.Type == slack.InteractionTypeShortcut && ic.CallbackID == ShortcutQuick:
		u := interactionPerson(ic)
		ev := bot.Event{Kind: bot.EventCommand, User: u, Alias: alias(u, interactionTeam(ic)), Command: &bot.Command{Name: bot.CmdQuick},
			Trigger: routeTrigger + ic.TriggerID, ID: "slack:shortcut:" + interactionTeam(ic) + ":" + ic.TriggerID}
		return a.admit(ctx, ev, "shortcut")
	case ic.Type == slack.InteractionTypeMessageAction && ic.CallbackID == ShortcutMessage:
		u := interactionPerson(ic)
		id := "slack:shortcut:" + interactionTeam(ic) + ":" + ic.TriggerID
		lease, v := a.dedupe.Claim(ctx, u, id)
		if v == bot.Duplicate || v == bot.InProgress {
			return interactionReply{}
		}
		msg := ic.Message
		err := a.submit(ctx, u.String(), "shortcut", lease, func(ctx context.Context) {
			ev := bot.Event{Kind: bot.EventCommand, User: u, Alias: alias(u, interactionTeam(ic)), Command: &bot.Command{Name: bot.CmdPause, Text: a.quoteMessage(ctx, u, msg)},
				Route: ic.ResponseURL, ID: id, Snapshot: lease.Snapshot()}
			a.handle(ctx, ev)
		})
		return interactionReply{busy: err != nil}
	}
	return interactionReply{busy: !a.interaction(ctx, ic)}
}

// admit claims ev by its ID and admits it.
func (a *Adapter) admit(ctx context.Context, ev bot.Event, op string) interactionReply {
	lease, v := a.dedupe.Claim(ctx, ev.User, ev.ID)
	if v == bot.Duplicate || v == bot.InProgress {
		return interactionReply{}
	}
	ev.Snapshot = lease.Snapshot()
	err := a.submit(ctx, ev.User.String(), op, lease, func(ctx context.Context) { a.handle(ctx, ev) })
	return interactionReply{busy: err != nil}
}

// viewSubmission runs the submitted form through the engine and answers with the fields'
// errors, or the modal updated with what came of it (within Slack's 3 seconds).
func (a *Adapter) viewSubmission(ctx context.Context, ic slack.InteractionCallback) interactionReply {
	f := formOf(ic.View)
	nonce, ch := a.submits.add()
	defer a.submits.remove(nonce)
	u := interactionPerson(ic)
	ev := bot.Event{Kind: bot.EventForm, User: u, Alias: alias(u, interactionTeam(ic)), Form: &f, Modal: true, Route: routeSubmit + nonce}
	start := time.Now()
	if err := a.submit(ctx, ev.User.String(), "view_submission", nil, func(ctx context.Context) { a.handle(ctx, ev) }); err != nil {
		return interactionReply{body: slack.NewErrorsViewSubmissionResponse(map[string]string{flows.FieldStory: TextBusy})}
	}
	// The wait counts from before admission, which itself may wait for a place.
	t := time.NewTimer(submitWait - time.Since(start))
	defer t.Stop()
	select {
	case m := <-ch:
		return interactionReply{body: submissionResponse(m)}
	case <-t.C:
		return interactionReply{body: slack.NewErrorsViewSubmissionResponse(map[string]string{flows.FieldStory: textSubmitSlow})}
	case <-ctx.Done():
		return interactionReply{} // the request is gone: nobody reads an answer
	}
}

// submissionResponse is the view_submission answer for the engine's message.
func submissionResponse(m bot.Message) *slack.ViewSubmissionResponse {
	if len(m.Problems) > 0 {
		errs := map[string]string{}
		for _, p := range m.Problems {
			errs[p.Field] = cut(p.Text, 150) // Slack shows short inline errors
		}
		return slack.NewErrorsViewSubmissionResponse(errs)
	}
	v := resultView(m)
	return slack.NewUpdateViewSubmissionResponse(&v)
}

// viewAction takes a button pressed in the modal (Save, Discard, the check question's
// answers); the answer updates the modal with views.update.
func (a *Adapter) viewAction(ctx context.Context, ic slack.InteractionCallback) interactionReply {
	if len(ic.ActionCallback.BlockActions) == 0 || ic.ActionCallback.BlockActions[0] == nil || ic.ActionCallback.BlockActions[0].Value == "" {
		return interactionReply{}
	}
	ev := bot.Event{
		Kind: bot.EventChoice, User: interactionPerson(ic), Choice: ic.ActionCallback.BlockActions[0].Value,
		Modal: true, Route: routeView + ic.View.ID,
		// One press per view state: a double click, or a second replica, does nothing twice.
		ID: "slack:viewclick:" + ic.View.ID + ":" + ic.View.Hash,
	}
	return a.admit(ctx, ev, "view_action")
}

var (
	reMention = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|([^>]*))?>`)
	reChannel = regexp.MustCompile(`<#C[A-Z0-9]+(?:\|([^>]*))?>`)
	reSpecial = regexp.MustCompile(`<!(here|channel|everyone)(?:\|[^>]*)?>`)
	reSubteam = regexp.MustCompile(`<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>`)
	reLink    = regexp.MustCompile(`<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>`)
	reDate    = regexp.MustCompile(`<!date\^[^|>]*\|([^>]*)>`)
	reMarks   = regexp.MustCompile(`(^|\s)[*_~]+([^*_~\n]+)[*_~]+`)
)

// quoteMessage is "what happened" for a Pause on a message: who wrote what, with Slack's
// markup made readable (mentions as @name, links as their label, *bold* as plain words).
// Names come from the mention itself or users.info; the quote stays in the user's journal.
func (a *Adapter) quoteMessage(ctx context.Context, u bot.UserRef, m slack.Message) string {
	names := map[string]string{}
	lookups := 0
	name := func(id, given string) string {
		if given != "" {
			return given
		}
		if n, ok := names[id]; ok {
			return n
		}
		n := "someone"
		if lookups < maxQuoteUsers {
			lookups++
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			info, err := a.api.GetUserInfoContext(lctx, id)
			cancel()
			if err == nil && info != nil {
				switch {
				case info.Profile.DisplayName != "":
					n = info.Profile.DisplayName
				case info.RealName != "":
					n = info.RealName
				case info.Name != "":
					n = info.Name
				}
			}
		}
		names[id] = n
		return n
	}
	text := reMention.ReplaceAllStringFunc(m.Text, func(s string) string {
		p := reMention.FindStringSubmatch(s)
		return "@" + name(p[1], p[2])
	})
	text = reChannel.ReplaceAllStringFunc(text, func(s string) string {
		if p := reChannel.FindStringSubmatch(s); p[1] != "" {
			return "#" + p[1]
		}
		return "#a channel"
	})
	text = reSpecial.ReplaceAllString(text, "@$1")
	text = reSubteam.ReplaceAllStringFunc(text, func(s string) string {
		if p := reSubteam.FindStringSubmatch(s); p[1] != "" {
			return p[1]
		}
		return "@a group"
	})
	text = reDate.ReplaceAllString(text, "$1")
	text = reLink.ReplaceAllStringFunc(text, func(s string) string {
		p := reLink.FindStringSubmatch(s)
		if p[2] != "" {
			return p[2]
		}
		return strings.TrimPrefix(p[1], "mailto:")
	})
	text = reMarks.ReplaceAllString(text, "$1$2")
	text = strings.TrimSpace(unescape(text))
	if text == "" {
		return ""
	}
	if r := []rune(text); len(r) > maxQuoteRunes {
		text = string(r[:maxQuoteRunes-1]) + "…"
	}
	who := "Someone"
	if m.User != "" {
		who = "@" + name(m.User, "")
	}
	return who + " wrote: “" + text + "”"
}
