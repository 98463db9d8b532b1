package bot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// recordingSender keeps every message it is asked to deliver.
type recordingSender struct {
	mu   sync.Mutex
	sent []Message
}

func (r *recordingSender) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func TestGuard(t *testing.T) {
	alice := UserRef{Platform: "slack", Workspace: "T1", User: "U1"}
	tests := []struct {
		name    string
		to      Destination
		allowed bool
	}{
		{"dm", Destination{Kind: DestDM, User: alice}, true},
		{"ephemeral with route", Destination{Kind: DestEphemeral, User: alice, Route: "https://hooks.slack.test/r"}, true},
		{"modal with route", Destination{Kind: DestModal, User: alice, Route: "trigger-1"}, true},
		{"ephemeral without route", Destination{Kind: DestEphemeral, User: alice}, false},
		{"modal without route", Destination{Kind: DestModal, User: alice}, false},
		{"shared channel", Destination{Kind: DestChannel, User: alice, Channel: "C0GENERAL"}, false},
		{"dm naming a channel", Destination{Kind: DestDM, User: alice, Channel: "C0GENERAL"}, false},
		{"ephemeral naming a channel", Destination{Kind: DestEphemeral, User: alice, Route: "r", Channel: "C0GENERAL"}, false},
		{"dm without user", Destination{Kind: DestDM}, false},
		{"dm without platform", Destination{Kind: DestDM, User: UserRef{User: "U1"}}, false},
		{"zero kind", Destination{User: alice}, false},
		{"unknown kind", Destination{Kind: DestKind(99), User: alice}, false},
		// A home is the user's own page (Slack's App Home), published for them alone.
		{"home", Destination{Kind: DestHome, User: alice}, true},
		{"home without its view", Destination{Kind: DestHome, User: alice}, false},
		{"home naming a channel", Destination{Kind: DestHome, User: alice, Channel: "C0GENERAL"}, false},
		{"home without user", Destination{Kind: DestHome}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			rec := &recordingSender{}
			var refusals []string
			g := NewGuard(rec, slog.New(slog.NewTextHandler(&logs, nil)), func(r string) { refusals = append(refusals, r) })
			const secret = "they think I am a fraud"
			m := Message{To: tt.to, Text: secret}
			if tt.to.Kind == DestHome && tt.name != "home without its view" {
				m.Home = &HomeView{Intro: "storybot"}
			}
			err := g.Send(context.Background(), m)
			if tt.allowed {
				if err != nil || len(rec.sent) != 1 {
					t.Fatalf("Send(%+v) = %v with %d delivered, want delivered", tt.to, err, len(rec.sent))
				}
				return
			}
			if !errors.Is(err, ErrRefused) {
				t.Errorf("Send(%+v) = %v, want ErrRefused", tt.to, err)
			}
			if len(rec.sent) != 0 {
				t.Errorf("Send(%+v) delivered %d messages, want none", tt.to, len(rec.sent))
			}
			if len(refusals) != 1 {
				t.Errorf("refusal hook called %d times, want 1", len(refusals))
			}
			if !strings.Contains(logs.String(), "refused") {
				t.Errorf("refusal not logged: %q", logs.String())
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("refusal log contains the message text: %q", logs.String())
			}
		})
	}
}
