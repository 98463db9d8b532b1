package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/slack"
	"github.com/storybot/storybot/flows"
)

// TestCountingTransportSlackErrors: Slack's "ok": false answers count as API errors
// wherever "ok" sits, an ordinary {"ok":true…} answer does not, and the body reaches the
// client whole either way.
func TestCountingTransportSlackErrors(t *testing.T) {
	answers := map[string]string{
		"/api/chat.postMessage":      `{"ok":true,"channel":"D1","ts":"1.2"}`,
		"/api/conversations.open":    `{"ok":false,"error":"user_not_found"}`,
		"/api/users.info":            `{"error":"ratelimited","ok":false}`,
		"/api/chat.postEphemeral":    `{ "ok" : true }`,
		"/api/chat.update":           `{"ok": false, "error": "cant_update_message"}`,
		"/api/views.open":            `not json`,
		"/api/conversations.history": `{"ok":true,"messages":[{"ok":false}]}`,
		"/api/dnd.info":              `{"dnd_enabled":false,"ok":true}`,
		"/api/chat.delete":           `{"channel":"D1","ok":false,"error":"message_not_found"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, answers[r.URL.Path])
	}))
	defer srv.Close()
	m := newOpsMetrics(prometheus.NewRegistry())
	client := m.instrumentedClient("slack", time.Now)
	for path, want := range answers {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("%s: the client read %q, want %q", path, body, want)
		}
	}
	for class, want := range map[string]float64{"chat": 2, "conversations": 1, "users": 1, "views": 0, "dnd": 0} {
		var d dto.Metric
		if err := m.apiErrors.WithLabelValues("slack", class, "api").Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetCounter().GetValue(); got != want {
			t.Errorf("api errors for %s = %v, want %v", class, got, want)
		}
	}
}

// BenchmarkSlackReplyCounted: one DM reply with buttons (chat.postMessage, Slack's answer
// echoing the message, ~1.2 kB of JSON) and one response_url post, each through the Slack
// adapter on the client the binary gives it, counted by countingTransport; the server
// answers from memory. The adapter's part of a DM turn's reply, with the metrics.
func BenchmarkSlackReplyCounted(b *testing.B) {
	echo := `{"ok":true,"channel":"DBENCH","ts":"1700000000.000002","message":{"app_id":"A0APP","blocks":[{"type":"section","block_id":"q","text":{"type":"plain_text","text":"` +
		strings.Repeat("What is the story you are telling yourself? ", 6) + `","emoji":true}},{"type":"actions","block_id":"choices","elements":[` +
		`{"type":"button","action_id":"skip","text":{"type":"plain_text","text":"Skip this question","emoji":true},"value":"skip"},` +
		`{"type":"button","action_id":"back","text":{"type":"plain_text","text":"Go back","emoji":true},"value":"back"},` +
		`{"type":"button","action_id":"stop","text":{"type":"plain_text","text":"Stop the pause","emoji":true},"value":"stop"}]}],` +
		`"bot_id":"B0BOT","subtype":"bot_message","team":"T1","text":"What is the story?","ts":"1700000000.000002","type":"message","username":"storybot"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/api/conversations.open":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `{"ok":true,"channel":{"id":"DBENCH"}}`)
		case "/api/chat.postMessage":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, echo)
		default: // a response_url
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	m := newOpsMetrics(prometheus.NewRegistry())
	adapter, err := slack.New(slack.Config{SigningSecret: "s", BotToken: "xoxb-bench", APIURL: srv.URL + "/api/",
		HTTPClient: m.instrumentedClient("slack", time.Now)}, benchHandler{})
	if err != nil {
		b.Fatal(err)
	}
	user := bot.UserRef{Platform: slack.Platform, Workspace: "T1", User: "UBENCH"}
	choices := []flows.Choice{{ID: "skip", Label: "Skip this question"}, {ID: "back", Label: "Go back"}, {ID: "stop", Label: "Stop the pause"}}
	for _, c := range []struct {
		name string
		m    bot.Message
	}{
		{"dm", bot.Message{To: bot.Destination{Kind: bot.DestDM, User: user}, Kind: flows.ReplyPrompt,
			Text: strings.Repeat("What is the story you are telling yourself? ", 6), Choices: choices}},
		{"ephemeral", bot.Message{To: bot.Destination{Kind: bot.DestEphemeral, User: user, Route: srv.URL + "/commands/T1/1/x"}, Kind: flows.ReplyInfo,
			Text: "Let's pause. I've sent you a DM; only you can see it."}},
	} {
		b.Run(c.name, func(b *testing.B) {
			// A deadline, as the work pool gives every turn.
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			if err := adapter.Send(ctx, c.m); err != nil { // opens the DM channel
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := adapter.Send(ctx, c.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchHandler struct{}

func (benchHandler) Handle(context.Context, bot.Event) error { return nil }
