package discord

import (
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Platform-native pieces (SPEC.md, "Platform-native, for the meeting"): /story quick outside
// the DM opens a modal with the Quick flow's questions at once; its submission is a form
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

// quickModal is the quick pause modal, its story prefilled.
func quickModal(story string) *discordgo.InteractionResponse {
	rows := make([]discordgo.MessageComponent, 0, len(quickInputs))
	for _, in := range quickInputs {
		ti := discordgo.TextInput{CustomID: in.field, Label: in.label, Style: in.style, Placeholder: in.placeholder, Required: in.required, MaxLength: maxModalAnswer}
		if in.field == flows.FieldStory {
			ti.Value = story
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
			return nil, nil, false // the engine reads it first, as every command's text
		}
		return quickModal(story), nil, true
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
