package slack

import (
	"bytes"
	"encoding/json"
	"net/http"
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
			if got := commandToEvent(cmd, tt.dm); got != tt.want {
				t.Errorf("commandToEvent(%q, %q) = %+v, want %+v", tt.channel, tt.dm, got, tt.want)
			}
		})
	}
	mention := base
	mention.Text = "coach invite <@U123|sam>"
	if got := commandToEvent(mention, ""); got.Text != "coach invite <@U123|sam>" {
		t.Errorf("mention text = %q", got.Text)
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
			got, gotOK := messageToEvent("T1", &m, "UBOT")
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
