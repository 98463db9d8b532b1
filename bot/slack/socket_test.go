package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSocketMode runs the adapter against a fake Socket Mode endpoint: apps.connections.open
// returns its ws:// URL; it sends hello, an events_api envelope (a DM) and a slash_commands
// envelope, and expects both envelopes acked and the DM answered.
func TestSocketMode(t *testing.T) {
	acks := make(chan string, 10)
	var once sync.Once
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }} // slack-go sends Origin: https://api.slack.com
	var respondURL string
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		send := func(v any) {
			b, _ := json.Marshal(v)
			_ = conn.WriteMessage(websocket.TextMessage, b)
		}
		once.Do(func() {
			send(map[string]any{"type": "hello", "num_connections": 1})
			event := map[string]any{
				"type": "event_callback", "team_id": testTeam, "event_id": "EvSOCK1",
				"authorizations": []map[string]any{{"user_id": "UBOT", "is_bot": true}},
				"event":          map[string]any{"type": "message", "channel": "DUSOCK", "channel_type": "im", "user": "USOCK", "text": "hello", "ts": "1.1"},
			}
			send(map[string]any{"type": "events_api", "envelope_id": "env-events", "payload": event, "accepts_response_payload": false})
			send(map[string]any{"type": "slash_commands", "envelope_id": "env-slash", "payload": map[string]any{
				"team_id": testTeam, "user_id": "USOCK", "channel_id": sharedChannel, "command": "/story", "text": "quick",
				"response_url": respondURL, "trigger_id": "1.2.3",
			}})
		})
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var ack struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(msg, &ack) == nil && ack.EnvelopeID != "" {
				acks <- ack.EnvelopeID
			}
		}
	}))
	defer ws.Close()

	h := newHarness(t, func(c *Config) { c.AppToken = "xapp-test"; c.SigningSecret = "" })
	h.fake.mu.Lock()
	h.fake.wsURL = "ws" + strings.TrimPrefix(ws.URL, "http")
	h.fake.mu.Unlock()
	respondURL = h.fake.responseURL("USOCK")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.adapter.Run(ctx) }()

	got := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case id := <-acks:
			got[id] = true
		case <-timeout:
			t.Fatalf("acks received: %v; want env-events and env-slash", got)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dmPosts int
		for _, c := range h.fake.snapshot() {
			if c.Method == "chat.postMessage" && c.Channel == "DUSOCK" {
				dmPosts++
			}
		}
		if dmPosts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DM replies over Socket Mode: %d, calls %+v", dmPosts, h.fake.snapshot())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
