package console

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

func TestEvent(t *testing.T) {
	c := New(nil, nil, "sam")
	tests := []struct {
		line     string
		wantKind bot.EventKind
		wantText string
	}{
		{"/story", bot.EventCommand, ""},
		{"/story quick", bot.EventCommand, "quick"},
		{"  /story pause they left  ", bot.EventCommand, "pause they left"},
		{"/story they ignored me", bot.EventCommand, "they ignored me"},
		{"/story quick they think I'm slow", bot.EventCommand, "quick they think I'm slow"},
		{"/storyteller", bot.EventText, "/storyteller"},
		{"they think I'm slow", bot.EventText, "they think I'm slow"},
	}
	for _, tt := range tests {
		ev := c.Event(tt.line)
		if ev.Kind != tt.wantKind || ev.Text != tt.wantText || ev.User != User("sam") || !ev.InDM || ev.Route == "" {
			t.Errorf("Event(%q) = %+v, want kind %v text %q for sam in the DM", tt.line, ev, tt.wantKind, tt.wantText)
		}
	}
}

func TestSendShowsOnlyThisUsersMessages(t *testing.T) {
	var out bytes.Buffer
	c := New(nil, &out, "sam")
	mine := bot.Message{To: bot.Destination{Kind: bot.DestDM, User: User("sam")}, Text: "How strong is it?",
		Choices: []flows.Choice{{ID: "a", Label: "Anxious"}}}
	if err := c.Send(context.Background(), mine); err != nil {
		t.Fatalf("Send(own DM) = %v", err)
	}
	theirs := bot.Message{To: bot.Destination{Kind: bot.DestDM, User: User("ana")}, Text: "an invitation for ana"}
	if err := c.Send(context.Background(), theirs); err == nil {
		t.Error("Send(another user's DM) succeeded")
	}
	got := out.String()
	if !strings.Contains(got, "How strong is it?") || !strings.Contains(got, "1) Anxious") {
		t.Errorf("own message rendered as %q", got)
	}
	if strings.Contains(got, "ana") {
		t.Errorf("another user's message reached this terminal: %q", got)
	}
	file := bot.Message{To: mine.To, Text: "Here's your data.", File: &bot.File{Name: "x.json", Content: []byte(`{"a":1}`)}}
	if r := Render(file); !strings.Contains(r, "--- x.json ---") || !strings.Contains(r, `{"a":1}`) {
		t.Errorf("Render(file) = %q", r)
	}
}
