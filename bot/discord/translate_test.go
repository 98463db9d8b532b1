package discord

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// commandData decodes an application command's data as Discord sends it.
func commandData(tb testing.TB, raw string) discordgo.ApplicationCommandInteractionData {
	tb.Helper()
	var i discordgo.Interaction
	if err := json.Unmarshal([]byte(`{"type":2,"data":`+raw+`}`), &i); err != nil {
		tb.Fatal(err)
	}
	return i.ApplicationCommandData()
}

func TestToCommand(t *testing.T) {
	weekdays9 := bot.Schedule{Hour: 9}
	for d := time.Monday; d <= time.Friday; d++ {
		weekdays9.Days[d] = true
	}
	until := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	sub := func(name, opts string) string {
		return `{"name":"story","options":[{"name":"` + name + `","type":1,"options":[` + opts + `]}]}`
	}
	coach := func(name, opts string) string {
		return `{"name":"story","options":[{"name":"coach","type":2,"options":[{"name":"` + name + `","type":1,"options":[` + opts + `]}]}]}`
	}
	tests := []struct {
		data    string
		want    bot.Command
		wantErr bool
		text    string // commandText
	}{
		{sub("pause", ""), bot.Command{Name: bot.CmdPause}, false, "pause"},
		{sub("pause", `{"name":"text","type":3,"value":" they ignored me "}`), bot.Command{Name: bot.CmdPause, Text: "they ignored me"}, false, "pause they ignored me"},
		{sub("quick", ""), bot.Command{Name: bot.CmdQuick}, false, "quick"},
		{sub("quick", `{"name":"story","type":3,"value":"they think I'm slow"}`), bot.Command{Name: bot.CmdQuick, Text: "they think I'm slow"}, false, "quick they think I'm slow"},
		{sub("reframe", `{"name":"story","type":3,"value":"I always fail"}`), bot.Command{Name: bot.CmdReframe, Text: "I always fail"}, false, ""},
		{sub("checkin", `{"name":"schedule","type":3,"value":"weekdays 09:00"}`), bot.Command{Name: bot.CmdCheckin, Checkin: bot.CheckinSet, Schedule: weekdays9}, false, ""},
		{sub("checkin", `{"name":"schedule","type":3,"value":"off"}`), bot.Command{Name: bot.CmdCheckin, Checkin: bot.CheckinOff}, false, ""},
		{sub("checkin", `{"name":"schedule","type":3,"value":"someday 9"}`), bot.Command{}, true, "checkin someday 9"},
		{sub("tz", `{"name":"zone","type":3,"value":"Europe/Berlin"}`), bot.Command{Name: bot.CmdTZ, Zone: "Europe/Berlin"}, false, ""},
		{sub("history", `{"name":"n","type":4,"value":10}`), bot.Command{Name: bot.CmdHistory, N: 10}, false, "history 10"},
		{sub("history", `{"name":"n","type":4,"value":99}`), bot.Command{}, true, ""},
		{sub("history", `{"name":"word","type":3,"value":" Sam "}`), bot.Command{Name: bot.CmdHistory, Word: "Sam"}, false, "history Sam"},
		{sub("history", `{"name":"n","type":4,"value":3},{"name":"word","type":3,"value":"Sam"}`), bot.Command{}, true, ""},
		{sub("followups", ""), bot.Command{Name: bot.CmdFollowups}, false, "followups"},
		{sub("followups", `{"name":"set","type":3,"value":"off"}`), bot.Command{Name: bot.CmdFollowups, Followups: "off"}, false, "followups off"},
		{sub("followups", `{"name":"set","type":3,"value":"on"}`), bot.Command{Name: bot.CmdFollowups, Followups: "on"}, false, ""},
		{sub("followups", `{"name":"cancel","type":4,"value":2}`), bot.Command{Name: bot.CmdFollowups, Followups: "cancel", N: 2}, false, ""},
		{sub("followups", `{"name":"set","type":3,"value":"sometimes"}`), bot.Command{}, true, ""},
		{sub("followups", `{"name":"set","type":3,"value":"off"},{"name":"cancel","type":4,"value":2}`), bot.Command{}, true, ""},
		{sub("digest", `{"name":"mode","type":3,"value":"weekly"}`), bot.Command{Name: bot.CmdDigest, Digest: "weekly"}, false, ""},
		{sub("practices", `{"name":"library","type":5,"value":true}`), bot.Command{Name: bot.CmdPractices, Library: true}, false, "practices library"},
		{sub("export", ""), bot.Command{Name: bot.CmdExport}, false, ""},
		{sub("forget", ""), bot.Command{Name: bot.CmdForget}, false, ""},
		{sub("privacy", ""), bot.Command{Name: bot.CmdPrivacy}, false, ""},
		{sub("help", ""), bot.Command{Name: bot.CmdHelp}, false, ""},
		{sub("dance", ""), bot.Command{}, true, "dance"},
		{coach("invite", `{"name":"user","type":6,"value":"42"}`), bot.Command{Name: bot.CmdCoachInvite, Target: "42"}, false, "coach invite <@42>"},
		{coach("progress", `{"name":"user","type":6,"value":"42"}`), bot.Command{Name: bot.CmdCoachProgress, Target: "42"}, false, ""},
		{coach("list", ""), bot.Command{Name: bot.CmdCoachList}, false, ""},
		{coach("revoke", ""), bot.Command{Name: bot.CmdCoachRevoke}, false, ""},
		{coach("unassign", `{"name":"user","type":6,"value":"42"},{"name":"practice","type":3,"value":"p1"}`), bot.Command{Name: bot.CmdCoachUnassign, Target: "42", Practice: "p1"}, false, ""},
		{coach("assign", `{"name":"user","type":6,"value":"42"},{"name":"practice","type":3,"value":"name-the-story"},{"name":"cadence","type":3,"value":"weekdays"}`),
			bot.Command{Name: bot.CmdCoachAssign, Target: "42", Practice: "name-the-story", Schedule: weekdays9, DefaultTime: true}, false, ""},
		{coach("assign", `{"name":"user","type":6,"value":"42"},{"name":"practice","type":3,"value":"Name-The-Story"},{"name":"cadence","type":3,"value":"weekdays 09:00"},{"name":"until","type":3,"value":"2026-12-31"}`),
			bot.Command{Name: bot.CmdCoachAssign, Target: "42", Practice: "name-the-story", Schedule: weekdays9, Until: until}, false,
			"coach assign <@42> Name-The-Story weekdays 09:00 until 2026-12-31"},
		{coach("assign", `{"name":"user","type":6,"value":"42"},{"name":"practice","type":3,"value":"\"breathe before replying\""},{"name":"cadence","type":3,"value":"weekdays 09:00"}`),
			bot.Command{Name: bot.CmdCoachAssign, Target: "42", Text: "breathe before replying", Schedule: weekdays9}, false, ""},
		{coach("assign", `{"name":"user","type":6,"value":"42"},{"name":"practice","type":3,"value":"p"},{"name":"cadence","type":3,"value":"25:00"}`), bot.Command{}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			d := commandData(t, tt.data)
			got, err := toCommand(d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("toCommand(%s) error = %v, want error %t", tt.data, err, tt.wantErr)
			}
			var perr *bot.ParseError
			if err != nil && !errors.As(err, &perr) && !errors.Is(err, errUnknownCommand) {
				t.Errorf("toCommand(%s) error = %T, want a *bot.ParseError or errUnknownCommand", tt.data, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("toCommand(%s) = %+v, want %+v", tt.data, got, tt.want)
			}
			if tt.text != "" {
				if got := commandText(d); got != tt.text {
					t.Errorf("commandText(%s) = %q, want %q", tt.data, got, tt.text)
				}
			}
		})
	}
}

func TestMessageEvent(t *testing.T) {
	user := &discordgo.User{ID: "7"}
	tests := []struct {
		name string
		m    discordgo.Message
		want bot.Event
		ok   bool
	}{
		{"dm", discordgo.Message{Content: " hi ", Author: user}, bot.Event{Kind: bot.EventText, User: userRef("7"), Text: "hi", InDM: true}, true},
		{"typed command", discordgo.Message{Content: "/story quick", Author: user}, bot.Event{Kind: bot.EventCommand, User: userRef("7"), Text: "quick", InDM: true}, true},
		{"guild", discordgo.Message{Content: "hi", Author: user, GuildID: "g"}, bot.Event{}, false},
		{"bot", discordgo.Message{Content: "hi", Author: &discordgo.User{ID: "8", Bot: true}}, bot.Event{}, false},
		{"self", discordgo.Message{Content: "hi", Author: &discordgo.User{ID: "me"}}, bot.Event{}, false},
		{"empty", discordgo.Message{Content: "  ", Author: user}, bot.Event{}, false},
		{"no author", discordgo.Message{Content: "hi"}, bot.Event{}, false},
		{"system message", discordgo.Message{Content: "hi", Author: user, Type: discordgo.MessageTypeChannelPinnedMessage}, bot.Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := messageEvent(&tt.m, "me")
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messageEvent(%s) = %+v, %t; want %+v, %t", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRender(t *testing.T) {
	choices := func(n int) []flows.Choice {
		var cs []flows.Choice
		for i := range n {
			cs = append(cs, flows.Choice{ID: string(rune('a' + i)), Label: strings.Repeat("L", 90)})
		}
		return cs
	}
	buttons := func(r rendered) (ids []string) {
		for _, row := range r.Components {
			ar := row.(discordgo.ActionsRow)
			if len(ar.Components) > buttonsPerRow {
				t.Errorf("row of %d buttons", len(ar.Components))
			}
			for _, c := range ar.Components {
				b := c.(discordgo.Button)
				if len([]rune(b.Label)) > maxButtonLabel {
					t.Errorf("label of %d characters", len([]rune(b.Label)))
				}
				ids = append(ids, b.CustomID)
			}
		}
		return ids
	}
	prompt := bot.Message{Kind: flows.ReplyPrompt, Text: "How do you feel?", Choices: []flows.Choice{{ID: "anxious", Label: "Anxious"}, {ID: "sad", Label: "Sad"}}}
	r := render(prompt, false)
	if want := "How do you feel?\n  1) Anxious\n  2) Sad"; len(r.Contents) != 1 || r.Contents[0] != want {
		t.Errorf("render content = %q, want %q", r.Contents, want)
	}
	if got := buttons(r); !reflect.DeepEqual(got, []string{"c:anxious", "c:sad"}) {
		t.Errorf("buttons = %v", got)
	}
	if got := buttons(render(prompt, true)); !reflect.DeepEqual(got, []string{"c:anxious", "c:sad", answerCustomID}) {
		t.Errorf("buttons with answer = %v", got)
	}
	if got := buttons(render(bot.Message{Kind: flows.ReplyInfo, Text: "Saved."}, true)); got != nil {
		t.Errorf("info message got buttons %v", got)
	}
	if got := buttons(render(bot.Message{Kind: flows.ReplyPrompt, Text: "?", Choices: choices(30)}, true)); len(got) != maxButtons {
		t.Errorf("30 choices gave %d buttons, want %d", len(got), maxButtons)
	}
	long := render(bot.Message{Kind: flows.ReplyInfo, Text: strings.Repeat("line of text\n", 400)}, false)
	for _, c := range long.Contents {
		if n := len([]rune(c)); n > maxContent {
			t.Errorf("content of %d characters", n)
		}
	}
	if len(long.Contents) < 3 {
		t.Errorf("5,200 characters split into %d messages", len(long.Contents))
	}
}

func TestCompleteZone(t *testing.T) {
	tests := []struct {
		typed string
		first string
		n     int
	}{
		{"berl", "Europe/Berlin", 1},
		{"new y", "America/New_York", 1},
		{"EUROPE/", "Europe/Amsterdam", 25},
		{"", "UTC", 25},
		{"nowhere", "", 0},
	}
	for _, tt := range tests {
		got := completeZone(tt.typed)
		if len(got) != tt.n || (tt.n > 0 && got[0] != tt.first) {
			t.Errorf("completeZone(%q) = %v, want %d starting %q", tt.typed, got, tt.n, tt.first)
		}
	}
}

type recordTransport struct{ got []string }

func (r *recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = append(r.got, req.URL.String())
	return &http.Response{StatusCode: 204, Body: http.NoBody, Request: req}, nil
}

func TestRewriteTransport(t *testing.T) {
	tests := []struct{ base, in, want string }{
		{"http://127.0.0.1:9/api/v10", "https://discord.com/api/v9/gateway", "http://127.0.0.1:9/api/v10/gateway"},
		{"http://proxy:8080/", "https://discord.com/api/v9/users/@me/channels", "http://proxy:8080/users/@me/channels"},
		{"https://discord.com/api/v10", "https://discord.com/api/v9/webhooks/1/t?wait=true", "https://discord.com/api/v10/webhooks/1/t?wait=true"},
		{"http://x/api", "https://cdn.discordapp.com/a.png", "https://cdn.discordapp.com/a.png"},
	}
	for _, tt := range tests {
		rec := &recordTransport{}
		s, err := newSession("", tt.base, &http.Client{Transport: rec})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, tt.in, nil)
		if _, err := s.Client.Do(req); err != nil {
			t.Fatal(err)
		}
		if len(rec.got) != 1 || rec.got[0] != tt.want {
			t.Errorf("base %s: %s went to %v, want %s", tt.base, tt.in, rec.got, tt.want)
		}
	}
	if _, err := newSession("", "ftp://x", nil); err == nil {
		t.Error("newSession with an ftp URL = nil error")
	}
}
