package discord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Platform-native pieces (SPEC.md, "Platform-native, for the meeting"): /story quick outside
// the DM opens a modal with the Quick flow's questions at once (the engine sends the form,
// through its outbound guard, and the adapter makes it this interaction's response); its submission is a form
// event whose answers (the summary with Save and Discard, or what was wrong) come back
// ephemerally, where the user is; the "Pause on this message" context-menu command starts a
// Pause quoting the message. Modals are built from action rows of text inputs: discordgo
// v0.29 cannot read the newer Label component.

const (
	// quickModalID is the custom_id of the quick pause modal.
	quickModalID = "quick"
	// modalChoicePrefix marks the buttons of an answer to a modal: a press is answered in
	// place, like the modal itself, not in the DM.
	modalChoicePrefix = "m:"
	// MessageCommandName is the message context-menu command.
	MessageCommandName = "Pause on this message"
	// maxQuote bounds the quoted message, so "what happened" stays under the answer limit.
	maxQuote = 1500
)

// The quick modal's text inputs, one per form field (Discord allows five).
var quickInputs = []struct {
	field, label, placeholder string
	style                     discordgo.TextInputStyle
	required                  bool
}{
	{flows.FieldStory, "The story I'm telling myself is…", "", discordgo.TextInputParagraph, true},
	{flows.FieldOther, "What else could be true?", "One other story that fits the same facts", discordgo.TextInputParagraph, true},
	{flows.FieldNext, "One next step", "Something you'll do or say", discordgo.TextInputShort, true},
	{flows.FieldFeeling, "The feeling (optional)", "anxious, angry, hurt, ashamed, sad, frustrated, overwhelmed…", discordgo.TextInputShort, false},
	{flows.FieldCheckBack, "When shall I check back? (optional)", "after this meeting, later today, tomorrow, this week, friday 16:00", discordgo.TextInputShort, false},
}

// quickModal is the quick pause modal for the engine's form f: its story prefilled, and no
// check-back input when the user switched check-backs off.
func quickModal(f flows.QuickForm) *discordgo.InteractionResponse {
	rows := make([]discordgo.MessageComponent, 0, len(quickInputs))
	for _, in := range quickInputs {
		if in.field == flows.FieldCheckBack && f.NoCheckBack {
			continue
		}
		ti := discordgo.TextInput{CustomID: in.field, Label: in.label, Style: in.style, Placeholder: in.placeholder, Required: in.required, MaxLength: maxModalAnswer}
		if in.field == flows.FieldStory {
			ti.Value = f.Story
		}
		rows = append(rows, discordgo.ActionsRow{Components: []discordgo.MessageComponent{ti}})
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseModal, Data: &discordgo.InteractionResponseData{
		CustomID: quickModalID, Title: "Quick pause", Components: rows,
	}}
}

// quickForm reads a submitted quick pause modal.
func quickForm(d discordgo.ModalSubmitInteractionData) flows.QuickForm {
	var f flows.QuickForm
	fields := map[string]*string{flows.FieldStory: &f.Story, flows.FieldOther: &f.Other, flows.FieldNext: &f.Next, flows.FieldFeeling: &f.Feeling, flows.FieldCheckBack: &f.CheckBack}
	for _, row := range d.Components {
		ar, ok := row.(*discordgo.ActionsRow)
		if !ok {
			continue
		}
		for _, c := range ar.Components {
			if ti, ok := c.(*discordgo.TextInput); ok && fields[ti.CustomID] != nil {
				*fields[ti.CustomID] = ti.Value
			}
		}
	}
	return f
}

// nativeEvent translates the interactions of the modal, its buttons and the message
// command; ok is false for every other interaction. base is the event as interactionEvent
// built it (user, route, whether in the DM).
func nativeEvent(i *discordgo.Interaction, base bot.Event) (resp *discordgo.InteractionResponse, ev *bot.Event, ok bool) {
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		d := i.ApplicationCommandData()
		if d.CommandType == discordgo.MessageApplicationCommand {
			base.Kind = bot.EventCommand
			base.Command = &bot.Command{Name: bot.CmdPause, Text: quoteMessage(d)}
			return deferred(), &base, true
		}
		path, o, err := subcommand(d)
		if err != nil || path != "quick" || base.InDM {
			return nil, nil, false
		}
		story := strings.TrimSpace(o.str("story"))
		if flows.ClassifySafety(story).Tier != flows.SafetyNone {
			return nil, nil, false // answered in place, after the engine read it
		}
		// The engine decides: it sends the form (bot.DestModal, through its guard) to the
		// route accept gives the event, and the form is this interaction's response.
		base.Kind, base.Command = bot.EventCommand, &bot.Command{Name: bot.CmdQuick, Text: story}
		return openForm, &base, true
	case discordgo.InteractionModalSubmit:
		d := i.ModalSubmitData()
		if d.CustomID != quickModalID {
			return nil, nil, false
		}
		f := quickForm(d)
		base.Kind, base.Form, base.Modal = bot.EventForm, &f, true
		return deferred(), &base, true
	case discordgo.InteractionMessageComponent:
		id := i.MessageComponentData().CustomID
		choice, found := strings.CutPrefix(id, modalChoicePrefix)
		if !found || choice == "" {
			return nil, nil, false
		}
		label := buttonLabel(i.Message, id)
		if label == "" {
			label = choice
		}
		content := ""
		if i.Message != nil {
			content = i.Message.Content
		}
		base.Kind, base.Choice, base.Modal = bot.EventChoice, choice, true
		return chosen(content, label), &base, true
	}
	return nil, nil, false
}

var (
	reUserMention    = regexp.MustCompile(`<@!?(\d+)>`)
	reRoleMention    = regexp.MustCompile(`<@&\d+>`)
	reChannelMention = regexp.MustCompile(`<#\d+>`)
	reCustomEmoji    = regexp.MustCompile(`<a?(:\w+:)\d+>`)
	reTimestamp      = regexp.MustCompile(`<t:\d+(?::\w)?>`)
)

// quoteMessage is "what happened" for a Pause on a message: who wrote what, with mentions
// and custom emoji made readable (the raw <@123> forms mean nothing to a reader).
func quoteMessage(d discordgo.ApplicationCommandInteractionData) string {
	if d.Resolved == nil || d.Resolved.Messages[d.TargetID] == nil {
		return ""
	}
	m := d.Resolved.Messages[d.TargetID]
	names := map[string]string{}
	for _, u := range m.Mentions {
		if u != nil {
			names[u.ID] = displayName(u)
		}
	}
	text := reUserMention.ReplaceAllStringFunc(m.Content, func(s string) string {
		id := reUserMention.FindStringSubmatch(s)[1]
		if n := names[id]; n != "" {
			return "@" + n
		}
		return "@someone"
	})
	text = reRoleMention.ReplaceAllString(text, "@a role")
	text = reChannelMention.ReplaceAllString(text, "#a channel")
	text = reCustomEmoji.ReplaceAllString(text, "$1")
	text = reTimestamp.ReplaceAllString(text, "(a time)")
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	if r := []rune(text); len(r) > maxQuote {
		text = string(r[:maxQuote-1]) + "…"
	}
	who := "Someone"
	if m.Author != nil {
		who = "@" + displayName(m.Author)
	}
	return who + " wrote: “" + text + "”"
}

func displayName(u *discordgo.User) string {
	if u.GlobalName != "" {
		return u.GlobalName
	}
	return u.Username
}

// choicePrefixFor is the custom_id prefix of m's buttons: a message answering a modal keeps
// its presses in place.
func choicePrefixFor(m bot.Message) string {
	if m.To.Kind == bot.DestModal {
		return modalChoicePrefix
	}
	return choicePrefix
}

// Modals go out like every other message: through a bot.Guard, as bot.DestModal for the user
// who acted. A modal can only be the response to the interaction that asked for it, within
// its 3 seconds, so its route names a response waiting in this process:
//
//	respond:<nonce>  the response (HTTP or gateway) to an interaction waiting in accept
//
// The quick pause form comes from the engine (its guard); the one-answer box behind an
// "Answer" button from the adapter's own guard, as the engine has no part in it.

const (
	routeRespond = "respond:"
	// modalWait is how long an interaction waits for the engine to send its form: the
	// response is due within 3 seconds of the interaction.
	modalWait = 2 * time.Second
)

// Sentinels interactionEvent returns when the response is a modal that goes through a guard.
var (
	openForm   = &discordgo.InteractionResponse{Type: discordgo.InteractionResponseModal} // the engine's quick pause form
	openAnswer = &discordgo.InteractionResponse{Type: discordgo.InteractionResponseModal} // the one-answer box
)

// errModalGone: the interaction stopped waiting for its modal and was answered otherwise.
var errModalGone = errors.New("discord: the interaction is no longer waiting for a modal")

// modalWaiter is one interaction waiting for the modal it responds with.
type modalWaiter struct {
	ch      chan *discordgo.InteractionResponse // buffered: delivery never blocks
	gone    bool                                // answered otherwise (it waited too long)
	written chan struct{}                       // closed once that other answer is out
}

// modalWaiters are the interactions of this process waiting for their modal. Each lives for
// one request (under 3 seconds): nothing about a user is remembered.
type modalWaiters struct {
	mu sync.Mutex
	m  map[string]*modalWaiter
}

func (s *modalWaiters) add() (string, *modalWaiter) {
	nonce := randomNonce()
	w := &modalWaiter{ch: make(chan *discordgo.InteractionResponse, 1), written: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]*modalWaiter)
	}
	s.m[nonce] = w
	return nonce, w
}

// deliver hands the modal r to the interaction waiting on nonce. When that interaction
// gave up, it waits until the interaction's other answer is out (so that what the sender
// does instead comes after it) and returns errModalGone.
func (s *modalWaiters) deliver(ctx context.Context, nonce string, r *discordgo.InteractionResponse) error {
	s.mu.Lock()
	w := s.m[nonce]
	if w == nil {
		s.mu.Unlock()
		return errModalGone
	}
	if w.gone {
		s.mu.Unlock()
		select {
		case <-w.written:
		case <-ctx.Done():
		}
		return errModalGone
	}
	delete(s.m, nonce)
	s.mu.Unlock()
	w.ch <- r
	return nil
}

// wait waits up to d for the modal of nonce. Without one in time, the interaction gives up:
// it is answered otherwise, and answered must be called once that answer is written.
func (s *modalWaiters) wait(nonce string, w *modalWaiter, d time.Duration) (r *discordgo.InteractionResponse, answered func()) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-w.ch:
		return r, nil
	case <-t.C:
	}
	s.mu.Lock()
	select {
	case r := <-w.ch: // delivered just as the time ran out
		s.mu.Unlock()
		return r, nil
	default:
	}
	w.gone = true
	s.mu.Unlock()
	return nil, func() {
		close(w.written)
		s.mu.Lock()
		delete(s.m, nonce)
		s.mu.Unlock()
	}
}

// drop removes the waiter of nonce: its interaction is answered without a modal.
func (s *modalWaiters) drop(nonce string, w *modalWaiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.gone {
		w.gone = true
		close(w.written)
	}
	delete(s.m, nonce)
}

// isGone reports whether the interaction waiting on w gave up.
func (s *modalWaiters) isGone(w *modalWaiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return w.gone
}

// modalFor renders a modal message: the quick pause form when it carries one, else the
// one-answer box.
func modalFor(m bot.Message) *discordgo.InteractionResponse {
	if m.Form != nil {
		return quickModal(*m.Form)
	}
	return answerModal()
}

// openQuickForm hands ev (/story quick outside the DM) to the engine, which sends the form
// through its guard to a route that is this interaction's response, and waits for it. When
// the engine takes too long, the interaction is answered deferred instead and the engine,
// told the form is gone, goes on with the quick pause in the DM (engine.openForm); answered
// must then be called once that response is written.
func (a *Adapter) openQuickForm(i *discordgo.Interaction, ev bot.Event) (resp *discordgo.InteractionResponse, answered func()) {
	nonce, w := a.modals.add()
	ev.Trigger = routeRespond + nonce
	// Its own ID, not the interaction's: the interaction's claim is marked done as soon as
	// its response is written, which can be before this work's turn (a slow engine: the
	// quick pause then goes on in the DM), and a done mark is the record of an applied
	// turn, so that turn would be refused as applied already.
	ev.ID = "discord:interaction:" + i.ID + ":form"
	a.rememberToken(ev.User.User, i.Token, false) // a fallback answers on the token
	start := time.Now()
	err := a.work.Submit(ev.User.User, "interaction", func(ctx context.Context) {
		defer a.forgetToken(i.Token)
		a.handle(ctx, ev)
		if a.modals.isGone(w) && a.claimOriginal(i.Token) {
			// Nothing was said in place (everything went to the DM): remove "thinking…".
			if err := a.api.deleteOriginal(ctx, i.Token); err != nil {
				a.log.WarnContext(ctx, "removing a deferred response", "err", err)
			}
		}
	})
	if err != nil {
		a.forgetToken(i.Token)
		a.modals.drop(nonce, w)
		return refuse(TextBusy), nil
	}
	// The wait counts from before admission, which itself may wait for a place.
	r, answered := a.modals.wait(nonce, w, modalWait-time.Since(start))
	if r != nil {
		return r, nil
	}
	a.log.Warn("the quick pause form took too long; answering deferred, the pause goes on in the DM", "interaction", i.ID)
	return deferred(), answered
}

// openAnswerBox is the response to an "Answer" button: the one-answer box, sent through the
// adapter's guard as a modal for the user who pressed it.
func (a *Adapter) openAnswerBox(ctx context.Context, i *discordgo.Interaction) *discordgo.InteractionResponse {
	nonce, w := a.modals.add()
	m := bot.Message{To: bot.Destination{Kind: bot.DestModal, User: userRef(interactionUser(i)), Route: routeRespond + nonce}, Kind: flows.ReplyPrompt}
	err := a.guard.Send(ctx, m)
	select {
	case r := <-w.ch: // delivered already: Send hands it over at once
		return r
	default:
	}
	a.modals.drop(nonce, w)
	a.log.ErrorContext(ctx, "the answer box was not sent", "err", err)
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}
}

func randomNonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
