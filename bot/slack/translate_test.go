package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

func slashCommandFromForm(tb testing.TB, body []byte) slack.SlashCommand {
	tb.Helper()
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cmd, err := slack.SlashCommandParse(r)
	if err != nil {
		tb.Fatal(err)
	}
	return cmd
}

func TestCommandToEvent(t *testing.T) {
	base := slack.SlashCommand{TeamID: "T1", UserID: "U1", Text: "  pause they ignored me ", ResponseURL: "https://hooks.slack.com/x"}
	tests := []struct {
		name    string
		channel string
		dm      string
		want    bot.Event
	}{
		{"channel", "C1", "D1", bot.Event{Kind: bot.EventCommand, User: userRef("T1", "U1"), Text: "pause they ignored me", Route: "https://hooks.slack.com/x"}},
		{"bot DM", "D1", "D1", bot.Event{Kind: bot.EventCommand, User: userRef("T1", "U1"), Text: "pause they ignored me", InDM: true, Route: "https://hooks.slack.com/x"}},
		{"another DM", "D2", "D1", bot.Event{Kind: bot.EventCommand, User: userRef("T1", "U1"), Text: "pause they ignored me", Route: "https://hooks.slack.com/x"}},
		{"DM unknown", "D2", "", bot.Event{Kind: bot.EventCommand, User: userRef("T1", "U1"), Text: "pause they ignored me", Route: "https://hooks.slack.com/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := base
			cmd.ChannelID = tt.channel
			got := commandToEvent(cmd, tt.dm)
			if got.Command == nil || got.Command.Name != bot.CmdPause || got.Command.Text != "they ignored me" {
				t.Errorf("commandToEvent(%q, %q).Command = %+v, want pause they ignored me", tt.channel, tt.dm, got.Command)
			}
			got.Command = nil
			if got != tt.want {
				t.Errorf("commandToEvent(%q, %q) = %+v, want %+v", tt.channel, tt.dm, got, tt.want)
			}
		})
	}
	mention := base
	mention.Text = "coach invite <@U123|sam>"
	if got := commandToEvent(mention, ""); got.Text != "coach invite @sam" || got.Command == nil || got.Command.Target != "U123" {
		t.Errorf("mention: text %q, command %+v; want the readable text and the target U123", got.Text, got.Command)
	}
}

func TestMessageToEvent(t *testing.T) {
	ok := slackevents.MessageEvent{Type: "message", Channel: "D1", ChannelType: "im", User: "U1", Text: "hello"}
	tests := []struct {
		name   string
		mod    func(m *slackevents.MessageEvent)
		wantOK bool
	}{
		{"plain DM", func(*slackevents.MessageEvent) {}, true},
		{"channel", func(m *slackevents.MessageEvent) { m.ChannelType, m.Channel = "channel", "C1" }, false},
		{"group DM", func(m *slackevents.MessageEvent) { m.ChannelType, m.Channel = "mpim", "G1" }, false},
		{"im but not D", func(m *slackevents.MessageEvent) { m.Channel = "C1" }, false},
		{"edit", func(m *slackevents.MessageEvent) { m.SubType = "message_changed" }, false},
		{"deletion", func(m *slackevents.MessageEvent) { m.SubType = "message_deleted" }, false},
		{"bot message", func(m *slackevents.MessageEvent) { m.BotID = "B1" }, false},
		{"own user", func(m *slackevents.MessageEvent) { m.User = "UBOT" }, false},
		{"no user", func(m *slackevents.MessageEvent) { m.User = "" }, false},
		{"blank", func(m *slackevents.MessageEvent) { m.Text = "  " }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.mod(&m)
			got, gotOK := messageToEvent("T1", "", &m, "UBOT")
			if gotOK != tt.wantOK {
				t.Fatalf("messageToEvent(%+v) ok = %v, want %v", m, gotOK, tt.wantOK)
			}
			want := bot.Event{Kind: bot.EventText, User: userRef("T1", "U1"), Text: "hello", InDM: true}
			if gotOK && got != want {
				t.Errorf("messageToEvent = %+v, want %+v", got, want)
			}
		})
	}
}

func TestActionToEvent(t *testing.T) {
	payload := `{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U1"},"container":{"type":"message","channel_id":"D1","message_ts":"1.2"},"channel":{"id":"D1"},"response_url":"https://hooks.slack.com/a","actions":[{"type":"button","block_id":"choices_0","action_id":"storybot_choice_2","value":"hurt","text":{"type":"plain_text","text":"Hurt"}}]}`
	var ic slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &ic); err != nil {
		t.Fatal(err)
	}
	ev, label, ok := actionToEvent(ic)
	want := bot.Event{Kind: bot.EventChoice, User: userRef("T1", "U1"), Choice: "hurt", InDM: true, Route: "https://hooks.slack.com/a"}
	if !ok || ev != want || label != "Hurt" {
		t.Errorf("actionToEvent = %+v, %q, %v; want %+v, Hurt, true", ev, label, ok, want)
	}
	ic.Container.IsEphemeral = true
	if ev, _, _ := actionToEvent(ic); ev.InDM {
		t.Error("ephemeral message counted as in the DM")
	}
	ic.ActionCallback.BlockActions[0].ActionID = "someone_else"
	if _, _, ok := actionToEvent(ic); ok {
		t.Error("foreign action accepted")
	}
	ic.Type = slack.InteractionTypeViewSubmission
	if _, _, ok := actionToEvent(ic); ok {
		t.Error("view submission accepted")
	}
}

func TestRender(t *testing.T) {
	many := make([]flows.Choice, 30)
	for i := range many {
		many[i] = flows.Choice{ID: strings.Repeat("x", i+1), Label: strings.Repeat("L", 100)}
	}
	tests := []struct {
		name       string
		msg        bot.Message
		wantText   string
		wantBlocks int
	}{
		{"plain", bot.Message{Text: "Tom & <Jerry>"}, "Tom &amp; &lt;Jerry&gt;", 0},
		{"choices", bot.Message{Text: "Feeling?", Choices: []flows.Choice{{ID: "anxious", Label: "Anxious"}, {ID: "sad", Label: "Sad"}}}, "Feeling?\n  1) Anxious\n  2) Sad", 2},
		{"rating", bot.Message{Text: "How strong?", Choices: []flows.Choice{{ID: "0", Label: "0"}, {ID: "1", Label: "1"}}}, "How strong?\n  0 1", 2},
		{"30 choices", bot.Message{Text: "Pick", Choices: many}, "", 3},
		{"long text", bot.Message{Text: strings.Repeat("ö", 7000), Choices: []flows.Choice{{ID: "save", Label: "Save"}}}, "", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, blocks := render(tt.msg)
			if tt.wantText != "" && text != tt.wantText {
				t.Errorf("render text = %q, want %q", text, tt.wantText)
			}
			if len(blocks) != tt.wantBlocks {
				t.Fatalf("render gave %d blocks, want %d", len(blocks), tt.wantBlocks)
			}
			var sectionText strings.Builder
			for _, b := range blocks {
				switch b := b.(type) {
				case *slack.SectionBlock:
					if n := len([]rune(b.Text.Text)); n > maxSectionText || b.Text.Type != slack.PlainTextType {
						t.Errorf("section of %d characters, type %s", n, b.Text.Type)
					}
					sectionText.WriteString(b.Text.Text)
				case *slack.ActionBlock:
					if n := len(b.Elements.ElementSet); n > maxActionsItems {
						t.Errorf("actions block with %d elements", n)
					}
					for _, e := range b.Elements.ElementSet {
						btn := e.(*slack.ButtonBlockElement)
						if n := len([]rune(btn.Text.Text)); n > maxButtonText {
							t.Errorf("button text of %d characters", n)
						}
						if !strings.HasPrefix(btn.ActionID, choiceAction) {
							t.Errorf("button action_id %q", btn.ActionID)
						}
					}
				}
			}
			if len(blocks) > 0 && sectionText.String() != tt.msg.Text {
				t.Errorf("sections do not carry the whole text")
			}
			if _, err := json.Marshal(blocks); err != nil {
				t.Errorf("blocks do not encode: %v", err)
			}
		})
	}
	// Button values carry the choice IDs in order.
	_, blocks := render(bot.Message{Text: "Feeling?", Choices: []flows.Choice{{ID: "anxious", Label: "Anxious"}, {ID: "other", Label: "Other"}}})
	btns := blocks[1].(*slack.ActionBlock).Elements.ElementSet
	if v := btns[1].(*slack.ButtonBlockElement).Value; v != "other" {
		t.Errorf("second button value %q, want other", v)
	}
}

func TestChosenBlocks(t *testing.T) {
	text, blocks := chosenBlocks("What are you feeling?", "Hurt")
	if text != "What are you feeling?\nYou chose: Hurt" {
		t.Errorf("text %q", text)
	}
	b, _ := json.Marshal(blocks)
	if strings.Contains(string(b), `"actions"`) || !strings.Contains(string(b), "You chose: Hurt") {
		t.Errorf("blocks %s", b)
	}
}

func TestPerson(t *testing.T) {
	tests := []struct {
		name                               string
		userTeam, team, enterprise, wantWS string
	}{
		{"plain workspace, command", "", "T1", "", "T1"},
		{"plain workspace, message", "T1", "T1", "", "T1"},
		{"grid org user, command", "", "T1", "E1", "E1"},
		{"grid org user, message", "E1", "T1", "E1", "E1"},
		{"grid org user, click (user.team_id is the workspace)", "T1", "T1", "E1", "E1"},
		{"grid org-wide install, click without team", "T1", "", "E1", "E1"},
		{"slack connect partner DM", "T9", "T1", "", "T9"},
		{"slack connect partner from a grid", "E9", "T1", "E1", "E9"},
		{"slack connect partner DM into a grid", "T9", "T1", "E1", "T9"},
		{"nothing", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := person("U1", tt.userTeam, tt.team, tt.enterprise)
			if got.Workspace != tt.wantWS || got.User != "U1" || got.Platform != Platform {
				t.Errorf("person(U1, %q, %q, %q) = %s, want workspace %q", tt.userTeam, tt.team, tt.enterprise, got, tt.wantWS)
			}
		})
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"Tom &amp; Jerry &lt;3 &gt;", "Tom & Jerry <3 >"},
		{"&amp;lt;", "&lt;"}, // the user typed "&lt;": decoded once, not twice
		{"hi <@U0SAM0001|sam>", "hi @sam"},
		{"hi <@U0SAM0001>", "hi @someone"},
		{"<#C123|general> and <#C123>", "#general and #channel"},
		{"<https://example.com/a?b=1&amp;c=2|the doc>", "the doc"},
		{"<https://example.com/a?b=1&amp;c=2>", "https://example.com/a?b=1&c=2"},
		{"<mailto:bob@example.com|bob@example.com>", "bob@example.com"},
		{"<!here> <!channel> <!subteam^S123|@devs> <!date^1392734382^{date}|Feb 18>", "@here @channel @devs Feb 18"},
		{"unclosed <@U1 here", "unclosed <@U1 here"},
	}
	for _, tt := range tests {
		if got := decodeText(tt.in); got != tt.want {
			t.Errorf("decodeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Round trip: what a user types, escaped as Slack sends it, comes back as typed, and the
	// renderer escapes it exactly once.
	for _, typed := range []string{"a & b", "<too risky>", "&lt;literal&gt;", "x -> y && z"} {
		if got := decodeText(escape(typed)); got != typed {
			t.Errorf("decodeText(escape(%q)) = %q", typed, got)
		}
		if text, _ := render(bot.Message{Text: typed}); unescape(text) != typed {
			t.Errorf("render(%q) sends %q, which reads back as %q", typed, text, unescape(text))
		}
	}
}

// FuzzSlackPayloads feeds arbitrary bodies through the parsing the adapter does on a
// verified request: slash command forms, Events API JSON and interaction payloads. Nothing
// may panic, and every event produced has a user with a workspace.
func FuzzSlackPayloads(f *testing.F) {
	for _, name := range []string{"grid_command", "connect_command"} {
		f.Add(0, fixtureRaw(f, name))
	}
	for _, name := range []string{"grid_message", "connect_message", "file_share", "me_message", "thread_broadcast", "message_changed", "app_uninstalled", "tokens_revoked"} {
		f.Add(1, fixtureRaw(f, name))
	}
	f.Add(2, "payload="+fixtureRaw(f, "grid_click"))
	f.Add(0, fixtureRaw(f, "ssl_check"))
	f.Fuzz(func(t *testing.T, kind int, body string) {
		switch kind % 3 {
		case 0:
			r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_ = sslCheck(r)
			cmd, err := slack.SlashCommandParse(r)
			if err != nil || !wellFormed(cmd) {
				return
			}
			if ev := commandToEvent(cmd, ""); ev.User.Workspace == "" || ev.User.User == "" {
				t.Errorf("command event without a user: %+v", ev)
			}
		case 1:
			evt, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
			if err != nil {
				return
			}
			if m, ok := evt.InnerEvent.Data.(*slackevents.MessageEvent); ok {
				if ev, ok := messageToEvent(evt.TeamID, evt.EnterpriseID, m, "UBOT"); ok && (ev.User.Workspace == "" || ev.User.User == "") {
					t.Errorf("message event without a user: %+v", ev)
				}
			}
			checkFastDecode(t, []byte(body), evt)
		case 2:
			r, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			ic, err := slack.InteractionCallbackParse(r)
			if err != nil {
				return
			}
			if ev, _, ok := actionToEvent(ic); ok && (ev.User.Workspace == "" || ev.User.User == "") {
				t.Errorf("click event without a user: %+v", ev)
			}
		}
	})
}

// fixtureRaw is a fixture's body with its placeholders filled with plausible values.
func fixtureRaw(tb testing.TB, name string) string {
	return fixture(tb, name, "body", map[string]string{
		"USER": "U1", "TEXT": `"hi &amp; <@U2|sam>"`, "EVENT_ID": "Ev1", "RESPONSE_URL": "https://hooks.slack.com/x",
		"CHANNEL": "D1", "TS": "1.2", "ACTION_ID": choiceAction + "_0", "VALUE": "save", "LABEL": "Save",
		"EPHEMERAL": "false", "TEAM": "T1", "ENTERPRISE": "E1", "TRIGGER": "1.2.3",
	})
}

// checkFastDecode checks that serveEvents' one-pass reading of a message event gives the
// adapter what slack-go's parser (evt, parsed from body) gives it.
func checkFastDecode(t *testing.T, body []byte, evt slackevents.EventsAPIEvent) {
	t.Helper()
	env, onePass := decodeEnvelope(body)
	if !onePass || env.Type != slackevents.CallbackEvent || env.Event == nil || env.Event.Type != string(slackevents.Message) {
		return // serveEvents takes slack-go's path for these (or refuses them)
	}
	m, ok := evt.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("one pass reads a message; slack-go reads %T", evt.InnerEvent.Data)
	}
	var botUser string
	if cb, ok := evt.Data.(*slackevents.EventsAPICallbackEvent); ok {
		for _, au := range cb.Authorizations {
			if au.IsBot {
				botUser = au.UserID
			}
		}
	}
	if env.EventID != evt.Data.(*slackevents.EventsAPICallbackEvent).EventID || env.TeamID != evt.TeamID || env.EnterpriseID != evt.EnterpriseID || env.botUser() != botUser {
		t.Errorf("one pass read envelope %+v bot %q; slack-go %+v bot %q", env.eventHead, env.botUser(), evt.Data, botUser)
	}
	fast, fastOK := dmToEvent(env.TeamID, env.EnterpriseID, env.Event, env.botUser())
	slow, slowOK := messageToEvent(evt.TeamID, evt.EnterpriseID, m, botUser)
	if fast != slow || fastOK != slowOK {
		t.Errorf("one pass: %+v, %v; slack-go: %+v, %v", fast, fastOK, slow, slowOK)
	}
}

// TestFastDecodeMatchesSlackGo: on every Events API fixture, serveEvents' one-pass reading
// gives the same event as slack-go's parser.
func TestFastDecodeMatchesSlackGo(t *testing.T) {
	n := 0
	for _, name := range []string{"grid_message", "connect_message", "file_share", "me_message", "thread_broadcast", "message_changed", "app_uninstalled", "tokens_revoked"} {
		t.Run(name, func(t *testing.T) {
			body := []byte(fixtureRaw(t, name))
			evt, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if _, ok := evt.InnerEvent.Data.(*slackevents.MessageEvent); ok {
				n++
			}
			checkFastDecode(t, body, evt)
		})
	}
	if n < 5 {
		t.Errorf("%d message fixtures compared, want the 6 message ones", n)
	}
}

// renderWithSlackGo is render as it was written with slack-go's constructors, before it
// built its blocks itself to allocate less: the reference for TestRenderSameBlocks.
func renderWithSlackGo(m bot.Message) (string, []slack.Block) {
	text := escape(flows.PlainText(flows.Reply{Kind: m.Kind, Text: m.Text, Choices: m.Choices}))
	if len(m.Choices) == 0 {
		return text, nil
	}
	var blocks []slack.Block
	rest, limit := m.Text, maxBlocks-(len(m.Choices)+maxActionsItems-1)/maxActionsItems
	for rest != "" && len(blocks) < limit {
		part := prefix(rest, maxSectionText)
		if len(part) < len(rest) {
			if i := strings.LastIndexAny(part, "\n "); i > len(part)/2 {
				part = part[:i+1]
			}
		}
		rest = rest[len(part):]
		if strings.TrimSpace(part) == "" {
			continue
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, part, false, false), nil, nil))
	}
	for start := 0; start < len(m.Choices); start += maxActionsItems {
		end := min(start+maxActionsItems, len(m.Choices))
		var elems []slack.BlockElement
		for i, c := range m.Choices[start:end] {
			elems = append(elems, slack.NewButtonBlockElement(choiceAction+"_"+strconv.Itoa(start+i), cut(c.ID, maxButtonValue),
				slack.NewTextBlockObject(slack.PlainTextType, cut(c.Label, maxButtonText), false, false)))
		}
		blocks = append(blocks, slack.NewActionBlock(fmt.Sprintf("choices_%d", start/maxActionsItems), elems...))
	}
	return text, blocks
}

// TestRenderSameBlocks: render makes the blocks slack-go's constructors make, for short and
// long texts, few and many choices (more than one actions block, more than the IDs made
// once), and no text at all.
func TestRenderSameBlocks(t *testing.T) {
	choices := func(n int) []flows.Choice {
		var cs []flows.Choice
		for i := range n {
			cs = append(cs, flows.Choice{ID: "c" + strconv.Itoa(i), Label: "Choice " + strconv.Itoa(i)})
		}
		return cs
	}
	long := strings.Repeat("A sentence about the story, with é and 🙂 in it.\n", 200)
	var msgs []bot.Message
	for _, text := range []string{"", "   ", "What happened?", long, strings.Repeat("x", 3*maxSectionText+7)} {
		for _, n := range []int{0, 1, 3, 11, 25, 26, 50, 51, 80} {
			msgs = append(msgs, bot.Message{Kind: flows.ReplyPrompt, Text: text, Choices: choices(n)})
		}
	}
	for _, m := range msgs {
		gotText, got := render(m)
		wantText, want := renderWithSlackGo(m)
		if gotText != wantText || !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("render(%d bytes, %d choices) =\n%s\nslack-go's constructors make\n%s", len(m.Text), len(m.Choices), g, w)
		}
	}
	if b := textBlocks("  \n ", 10); b != nil {
		t.Errorf("textBlocks of blank text = %#v, want nil", b)
	}
}
