package discord

import (
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Discord's limits on what one message may carry.
const (
	maxContent      = 2000 // characters of content
	maxButtons      = 25   // buttons per message (5 rows of 5)
	buttonsPerRow   = 5
	maxButtonLabel  = 80
	maxCustomID     = 100
	maxModalAnswer  = 4000 // over flows.MaxAnswerRunes, so the engine's "too long" reply can show
	choicePrefix    = "c:"
	answerCustomID  = "answer"      // the "Answer" button and the modal it opens
	answerInputID   = "answer_text" // the modal's text input
	answerLabel     = "Answer"
	chosenSeparator = "\n\n→ "
)

// rendered is a message as Discord takes it: one or more contents (long texts are split at
// line breaks to fit) and the components that go with the last one.
type rendered struct {
	Contents   []string
	Components []discordgo.MessageComponent
}

// render turns a bot message into Discord content and buttons. The content is always the
// plain text (flows.PlainText), so it reads without buttons; each choice becomes a button
// whose custom_id carries the choice ID. withAnswer adds an "Answer" button to prompts,
// which opens a modal for a typed answer where the user cannot type in a DM.
func render(m bot.Message, withAnswer bool) rendered {
	text := flows.PlainText(flows.Reply{Kind: m.Kind, Text: m.Text, Choices: m.Choices})
	if strings.TrimSpace(text) == "" && m.File != nil {
		text = m.File.Name
	}
	r := rendered{Contents: split(text, maxContent)}
	var buttons []discordgo.MessageComponent
	for _, c := range m.Choices {
		id := choicePrefixFor(m) + c.ID
		if len(id) > maxCustomID || len(buttons) == maxButtons {
			continue // still offered in the text: typing the label or number works
		}
		buttons = append(buttons, discordgo.Button{Label: clip(c.Label, maxButtonLabel), Style: discordgo.SecondaryButton, CustomID: id})
	}
	if withAnswer && m.Kind == flows.ReplyPrompt && len(buttons) < maxButtons {
		buttons = append(buttons, discordgo.Button{Label: answerLabel, Style: discordgo.PrimaryButton, CustomID: answerCustomID})
	}
	for len(buttons) > 0 {
		n := min(buttonsPerRow, len(buttons))
		r.Components = append(r.Components, discordgo.ActionsRow{Components: buttons[:n]})
		buttons = buttons[n:]
	}
	return r
}

// answerModal is the modal an "Answer" button opens: one paragraph for a typed answer.
func answerModal() *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseModal,
		Data: &discordgo.InteractionResponseData{
			CustomID: answerCustomID,
			Title:    "Your answer",
			Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
				discordgo.TextInput{CustomID: answerInputID, Label: "Your answer", Style: discordgo.TextInputParagraph, Required: true, MaxLength: maxModalAnswer},
			}}},
		},
	}
}

// chosen is the content of a message whose button was pressed: its text, plus what was
// chosen, with the buttons gone so they cannot be pressed twice.
func chosen(content, label string) *discordgo.InteractionResponse {
	note := chosenSeparator + clip(label, maxButtonLabel)
	if utf8.RuneCountInString(content)+utf8.RuneCountInString(note) > maxContent {
		content = clip(content, maxContent-utf8.RuneCountInString(note)-1)
	}
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseUpdateMessage,
		Data: &discordgo.InteractionResponseData{Content: content + note, Components: []discordgo.MessageComponent{}},
	}
}

// buttonLabel finds the label of the button with customID on a message.
func buttonLabel(m *discordgo.Message, customID string) string {
	if m == nil {
		return ""
	}
	for _, row := range m.Components {
		ar, ok := row.(*discordgo.ActionsRow)
		if !ok {
			continue
		}
		for _, c := range ar.Components {
			if b, ok := c.(*discordgo.Button); ok && b.CustomID == customID {
				return b.Label
			}
		}
	}
	return ""
}

// modalAnswer returns the text typed into the answer modal.
func modalAnswer(d discordgo.ModalSubmitInteractionData) (string, bool) {
	for _, row := range d.Components {
		ar, ok := row.(*discordgo.ActionsRow)
		if !ok {
			continue
		}
		for _, c := range ar.Components {
			if ti, ok := c.(*discordgo.TextInput); ok && ti.CustomID == answerInputID {
				return ti.Value, true
			}
		}
	}
	return "", false
}

// split cuts text into pieces of at most limit characters, at line breaks where it can.
func split(text string, limit int) []string {
	var out []string
	for utf8.RuneCountInString(text) > limit {
		cut := byteIndexOfRune(text, limit)
		if nl := strings.LastIndex(text[:cut], "\n"); nl > 0 {
			cut = nl
		}
		out = append(out, strings.TrimRight(text[:cut], "\n"))
		text = strings.TrimLeft(text[cut:], "\n")
	}
	return append(out, text)
}

// byteIndexOfRune is the byte offset of the n-th rune of s.
func byteIndexOfRune(s string, n int) int {
	i := 0
	for j := range s {
		if i == n {
			return j
		}
		i++
	}
	return len(s)
}

// clip shortens s to at most n characters, ending in "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
