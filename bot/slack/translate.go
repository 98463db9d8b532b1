package slack

import (
	"strconv"
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

// person is the one stable reference of a Slack user, whichever team id a payload puts
// first (SPEC.md, Real payloads). On Enterprise Grid a user ID is the same in every
// workspace of the org, so an org user is keyed by the enterprise (E…); a Slack Connect
// user from another organization keeps their home team (or, from another Grid, their
// home enterprise); everyone else is keyed by their workspace. userTeam is the user's own
// team as the payload states it (a message's user_team, a click's user.team_id; empty for
// commands), team the workspace the payload is for, enterprise that workspace's Grid org.
func person(user, userTeam, team, enterprise string) bot.UserRef {
	home := userTeam
	if home == "" {
		home = team
	}
	if !strings.HasPrefix(home, "E") && enterprise != "" && (team == "" || home == team) {
		// A member of the workspace the payload is for, which belongs to a Grid org: an org
		// user. (An org-wide install may send no team at all.)
		home = enterprise
	}
	return userRef(home, user)
}

// alias is the reference an earlier storybot keyed this payload's user by, when it differs
// from the stable one; the engine merges data kept under it once (bot.Event.Alias).
func alias(u bot.UserRef, oldTeam string) bot.UserRef {
	if oldTeam == "" || oldTeam == u.Workspace {
		return bot.UserRef{}
	}
	return userRef(oldTeam, u.User)
}

// commandToEvent translates a slash command. dm is the user's DM channel with the bot, if
// known: a command typed there counts as in the DM, a command typed anywhere else
// (channels, other people's DMs) gets its in-place answers ephemerally through
// response_url.
//
// The command is parsed here, on Slack's escaped text, because a mention (<@U123|sam>)
// names its user only there; the parsed command's own text (a pause's "what happened", a
// practice in the coach's words) is then decoded, so the user's words arrive verbatim.
// Text is the whole command decoded, for the engine's checks of everything a user types.
func commandToEvent(cmd slack.SlashCommand, dm string) bot.Event {
	raw := strings.TrimSpace(cmd.Text)
	u := person(cmd.UserID, "", cmd.TeamID, cmd.EnterpriseID)
	ev := bot.Event{
		Kind:  bot.EventCommand,
		User:  u,
		Alias: alias(u, cmd.TeamID),
		Text:  decodeText(raw),
		InDM:  dm != "" && cmd.ChannelID == dm,
		Route: cmd.ResponseURL,
	}
	if parsed, err := bot.ParseCommand(raw); err == nil {
		parsed.Text = decodeText(parsed.Text)
		ev.Command = &parsed
	}
	return ev
}

// answerSubtypes are the message subtypes that are a user's answer when they carry text: a
// message with a file attached, a /me message, a thread reply also sent to the channel.
// Every other subtype (edits, deletions, joins, bot messages…) is ignored.
var answerSubtypes = map[string]bool{"": true, "file_share": true, "me_message": true, "thread_broadcast": true}

// dmMessage is what the adapter reads of a message event. serveEvents decodes it straight
// from the request body, in the same pass as the envelope: slack-go's parser reads a body
// four times (envelope, event type, event, the event again as a message), which was the
// largest share of an event's decoding cost.
type dmMessage struct {
	Type        string     `json:"type"`
	Channel     string     `json:"channel"`
	ChannelType string     `json:"channel_type"`
	SubType     string     `json:"subtype"`
	BotID       string     `json:"bot_id"`
	User        string     `json:"user"`
	UserTeam    string     `json:"user_team"`
	Text        string     `json:"text"`
	Files       []struct{} `json:"files"`
	// Message is set on edits and the like; slack-go reads the files from it then.
	Message *struct {
		Files []struct{} `json:"files"`
	} `json:"message"`
}

// files is how many files the message carries, read as slack-go reads them.
func (m *dmMessage) files() int {
	if m.Message != nil {
		return len(m.Message.Files)
	}
	return len(m.Files)
}

// dmOf is the part of a message event parsed by slack-go (Socket Mode) that the adapter reads.
func dmOf(m *slackevents.MessageEvent) *dmMessage {
	if m == nil {
		return nil
	}
	d := &dmMessage{Type: m.Type, Channel: m.Channel, ChannelType: m.ChannelType, SubType: m.SubType,
		BotID: m.BotID, User: m.User, UserTeam: m.UserTeam, Text: m.Text}
	if m.Message != nil {
		d.Message = &struct {
			Files []struct{} `json:"files"`
		}{Files: make([]struct{}, len(m.Message.Files))}
	}
	return d
}

// messageToEvent translates a message event into a typed answer, or reports false for
// anything the bot must ignore: messages outside its DMs, subtypes that are not answers,
// messages from bots (itself included), and empty ones. A message with files but no text
// becomes an answer with empty Text: the engine says it reads only text. team and
// enterprise are the callback's workspace and Grid org.
func messageToEvent(team, enterprise string, m *slackevents.MessageEvent, botUser string) (bot.Event, bool) {
	return dmToEvent(team, enterprise, dmOf(m), botUser)
}

// dmToEvent is messageToEvent on the fields the adapter reads.
func dmToEvent(team, enterprise string, m *dmMessage, botUser string) (bot.Event, bool) {
	switch {
	case m == nil,
		m.ChannelType != "im",
		!strings.HasPrefix(m.Channel, "D"),
		!answerSubtypes[m.SubType],
		m.BotID != "",
		m.User == "",
		botUser != "" && m.User == botUser:
		return bot.Event{}, false
	}
	text := decodeText(m.Text)
	if strings.TrimSpace(text) == "" {
		if m.files() == 0 {
			return bot.Event{}, false
		}
		text = ""
	}
	u := person(m.User, m.UserTeam, team, enterprise)
	if u.Workspace == "" {
		return bot.Event{}, false
	}
	old := m.UserTeam
	if old == "" {
		old = team
	}
	return bot.Event{Kind: bot.EventText, User: u, Alias: alias(u, old), Text: text, InDM: true}, true
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
	enterprise := ic.Team.EnterpriseID
	if enterprise == "" {
		enterprise = ic.Enterprise.ID
	}
	u := person(ic.User.ID, ic.User.TeamID, ic.Team.ID, enterprise)
	if u.Workspace == "" {
		return bot.Event{}, "", false
	}
	old := ic.Team.ID
	if old == "" {
		old = ic.User.TeamID
	}
	channel := ic.Container.ChannelID
	if channel == "" {
		channel = ic.Channel.ID
	}
	ev := bot.Event{
		Kind:   bot.EventChoice,
		User:   u,
		Alias:  alias(u, old),
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
	actions := (len(m.Choices) + maxActionsItems - 1) / maxActionsItems
	blocks := textBlocksCap(m.Text, maxBlocks-actions, actions)
	// The buttons, their labels and the elements lists, each in one allocation.
	buttons := make([]struct {
		b     slack.ButtonBlockElement
		label slack.TextBlockObject
		emoji bool
	}, len(m.Choices))
	elems := make([]slack.BlockElement, len(m.Choices))
	for n, c := range m.Choices {
		b := &buttons[n]
		b.label = slack.TextBlockObject{Type: slack.PlainTextType, Text: cut(c.Label, maxButtonText), Emoji: &b.emoji}
		b.b = slack.ButtonBlockElement{Type: slack.METButton, ActionID: choiceActionID(n), Value: cut(c.ID, maxButtonValue), Text: &b.label}
		elems[n] = &b.b
	}
	for start := 0; start < len(m.Choices); start += maxActionsItems {
		end := min(start+maxActionsItems, len(m.Choices))
		blocks = append(blocks, slack.NewActionBlock(choicesBlockID(start/maxActionsItems), elems[start:end:end]...))
	}
	return text, blocks
}

// The IDs of the first buttons and actions blocks, made once: a prompt's render wrote them
// every time.
var (
	choiceActionIDs = func() (ids [2 * maxActionsItems]string) {
		for i := range ids {
			ids[i] = choiceAction + "_" + strconv.Itoa(i)
		}
		return ids
	}()
	choicesBlockIDs = [...]string{"choices_0", "choices_1"}
)

// choiceActionID is the action_id of the button of choice n.
func choiceActionID(n int) string {
	if n < len(choiceActionIDs) {
		return choiceActionIDs[n]
	}
	return choiceAction + "_" + strconv.Itoa(n)
}

// choicesBlockID is the block_id of the k-th actions block.
func choicesBlockID(k int) string {
	if k < len(choicesBlockIDs) {
		return choicesBlockIDs[k]
	}
	return "choices_" + strconv.Itoa(k)
}

// textBlocks splits text into plain_text sections of at most maxSectionText characters,
// at most limit of them.
func textBlocks(text string, limit int) []slack.Block {
	return textBlocksCap(text, limit, 0)
}

// textBlocksCap is textBlocks with room for extra blocks after the sections.
func textBlocksCap(text string, limit, extra int) []slack.Block {
	blocks := make([]slack.Block, 0, min(limit, (len(text)+maxSectionText-1)/maxSectionText)+extra)
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
		// slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, part, false,
		// false), nil, nil) in one allocation instead of three.
		sec := &struct {
			s     slack.SectionBlock
			text  slack.TextBlockObject
			emoji bool
		}{text: slack.TextBlockObject{Type: slack.PlainTextType, Text: part}}
		sec.text.Emoji = &sec.emoji
		sec.s = slack.SectionBlock{Type: slack.MBTSection, Text: &sec.text}
		blocks = append(blocks, &sec.s)
	}
	if len(blocks) == 0 && extra == 0 {
		return nil // as before: no sections, no slice
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

// escape escapes the three characters Slack reserves in message text. The renderer calls
// it once, on the way out, on text that holds the user's words as typed.
func escape(s string) string { return escaper.Replace(s) }

func unescape(s string) string { return unescaper.Replace(s) }

// decodeText undoes Slack's formatting of typed text, once, on the way in (SPEC.md, Real
// payloads), so the user's words are stored as they typed them: &amp; &lt; &gt; become the
// characters, and each <…> entity what the user saw. A user mention becomes @name when the
// payload carries the name, else @someone: the bot never looks names up (nor keeps IDs of
// people the user wrote about). A channel becomes #name, a link its label or address, a
// special mention (@here, a user group, a date) its label or name.
func decodeText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(unescape(s[:i]))
		b.WriteString(entity(s[i+1 : i+j]))
		s = s[i+j+1:]
	}
	b.WriteString(unescape(s))
	return b.String()
}

// entity renders the inside of one <…> entity as readable text.
func entity(e string) string {
	target, label, _ := strings.Cut(e, "|")
	label = unescape(label)
	switch {
	case strings.HasPrefix(target, "@"):
		if label != "" {
			return "@" + strings.TrimPrefix(label, "@")
		}
		return "@someone"
	case strings.HasPrefix(target, "#"):
		if label != "" {
			return "#" + strings.TrimPrefix(label, "#")
		}
		return "#channel"
	case strings.HasPrefix(target, "!"):
		if label != "" {
			return label
		}
		name, _, _ := strings.Cut(target[1:], "^")
		if name == "" {
			return "@someone"
		}
		return "@" + name
	case label != "":
		return label
	}
	return unescape(target)
}
