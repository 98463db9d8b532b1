package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Block Kit limits (https://docs.slack.dev/reference/block-kit).
const (
	maxSectionText  = 3000 // characters in one text object
	maxButtonText   = 75   // characters in a button's text
	maxButtonValue  = 2000 // characters in a button's value
	maxActionsItems = 25   // elements in one actions block
	maxBlocks       = 50   // blocks in one message
)

// choiceAction is the action_id prefix of choice buttons; the choice ID is in the value.
const choiceAction = "storybot_choice"

func userRef(team, user string) bot.UserRef {
	return bot.UserRef{Platform: Platform, Workspace: team, User: user}
}

// commandToEvent translates a slash command. dm is the user's DM channel with the bot, if
// known: a command typed there counts as in the DM, a command typed anywhere else
// (channels, other people's DMs) gets its in-place answers ephemerally through
// response_url.
func commandToEvent(cmd slack.SlashCommand, dm string) bot.Event {
	return bot.Event{
		Kind:  bot.EventCommand,
		User:  userRef(cmd.TeamID, cmd.UserID),
		Text:  strings.TrimSpace(cmd.Text),
		InDM:  dm != "" && cmd.ChannelID == dm,
		Route: cmd.ResponseURL,
	}
}

// messageToEvent translates a message event into a typed answer, or reports false for
// anything the bot must ignore: messages outside its DMs, any subtype (edits, deletions,
// joins, bot messages, file shares…), and messages from bots, itself included.
func messageToEvent(team string, m *slackevents.MessageEvent, botUser string) (bot.Event, bool) {
	switch {
	case m == nil,
		m.ChannelType != "im",
		!strings.HasPrefix(m.Channel, "D"),
		m.SubType != "",
		m.BotID != "",
		m.User == "",
		botUser != "" && m.User == botUser,
		strings.TrimSpace(m.Text) == "":
		return bot.Event{}, false
	}
	if m.UserTeam != "" {
		team = m.UserTeam
	}
	return bot.Event{Kind: bot.EventText, User: userRef(team, m.User), Text: m.Text, InDM: true}, true
}

// actionToEvent translates a block_actions interaction on one of the bot's choice buttons
// into a choice event; it also returns the pressed button's label.
func actionToEvent(ic slack.InteractionCallback) (bot.Event, string, bool) {
	if ic.Type != slack.InteractionTypeBlockActions || ic.User.ID == "" || len(ic.ActionCallback.BlockActions) == 0 {
		return bot.Event{}, "", false
	}
	act := ic.ActionCallback.BlockActions[0]
	if act == nil || !strings.HasPrefix(act.ActionID, choiceAction) || act.Value == "" {
		return bot.Event{}, "", false
	}
	team := ic.Team.ID
	if team == "" {
		team = ic.User.TeamID
	}
	channel := ic.Container.ChannelID
	if channel == "" {
		channel = ic.Channel.ID
	}
	ev := bot.Event{
		Kind:   bot.EventChoice,
		User:   userRef(team, ic.User.ID),
		Choice: act.Value,
		InDM:   strings.HasPrefix(channel, "D") && !ic.Container.IsEphemeral,
		Route:  ic.ResponseURL,
	}
	return ev, act.Text.Text, true
}

// render turns a message into Slack's fallback text and, when there are choices, Block
// Kit blocks: the text in plain_text sections and the choices as buttons whose value is
// the choice ID. The fallback is the plain-text rendering (choices as a numbered list), so
// notifications, screen readers and clients without blocks read it well; it is escaped as
// Slack asks, and sent with markdown off.
func render(m bot.Message) (string, []slack.Block) {
	text := escape(flows.PlainText(flows.Reply{Kind: m.Kind, Text: m.Text, Choices: m.Choices}))
	if len(m.Choices) == 0 {
		return text, nil
	}
	blocks := textBlocks(m.Text, maxBlocks-(len(m.Choices)+maxActionsItems-1)/maxActionsItems)
	for start := 0; start < len(m.Choices); start += maxActionsItems {
		end := min(start+maxActionsItems, len(m.Choices))
		var elems []slack.BlockElement
		for i, c := range m.Choices[start:end] {
			n := start + i
			b := slack.NewButtonBlockElement(
				fmt.Sprintf("%s_%d", choiceAction, n),
				cut(c.ID, maxButtonValue),
				slack.NewTextBlockObject(slack.PlainTextType, cut(c.Label, maxButtonText), false, false),
			)
			elems = append(elems, b)
		}
		blocks = append(blocks, slack.NewActionBlock(fmt.Sprintf("choices_%d", start/maxActionsItems), elems...))
	}
	return text, blocks
}

// textBlocks splits text into plain_text sections of at most maxSectionText characters,
// at most limit of them.
func textBlocks(text string, limit int) []slack.Block {
	var blocks []slack.Block
	for text != "" && len(blocks) < limit {
		part := prefix(text, maxSectionText)
		if len(part) < len(text) {
			// Prefer to break at a line end or a space in the last part of the chunk.
			if i := strings.LastIndexAny(part, "\n "); i > len(part)/2 {
				part = part[:i+1]
			}
		}
		text = text[len(part):]
		if strings.TrimSpace(part) == "" {
			continue
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, part, false, false), nil, nil))
	}
	return blocks
}

// chosenBlocks is a clicked message after the click: its text without buttons, and what
// was chosen.
func chosenBlocks(prompt, label string) (string, []slack.Block) {
	chosen := "You chose: " + label
	blocks := textBlocks(prompt, maxBlocks-1)
	blocks = append(blocks, slack.NewContextBlock("chosen", slack.NewTextBlockObject(slack.PlainTextType, cut(chosen, maxSectionText), false, false)))
	return escape(strings.TrimSpace(prompt + "\n" + chosen)), blocks
}

// promptOf recovers the text of a message the bot rendered: its plain_text sections.
func promptOf(msg slack.Message) string {
	var b strings.Builder
	for _, blk := range msg.Blocks.BlockSet {
		if s, ok := blk.(*slack.SectionBlock); ok && s.Text != nil {
			b.WriteString(s.Text.Text)
		}
	}
	if b.Len() == 0 {
		return unescape(msg.Text)
	}
	return b.String()
}

// cut returns s shortened to at most n characters, with an ellipsis when shortened.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// prefix returns the first n characters of s (all of s when shorter).
func prefix(s string, n int) string {
	i := 0
	for range n {
		if i >= len(s) {
			return s
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

var (
	escaper   = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	unescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
)

// escape escapes the three characters Slack reserves in message text.
func escape(s string) string { return escaper.Replace(s) }

func unescape(s string) string { return unescaper.Replace(s) }
