package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// socketFake is a Socket Mode endpoint the adapter connects to (through the fake Web API's
// apps.connections.open): the test sends envelopes on it and reads their acks, payloads
// included, as Slack's Socket Mode protocol has them
// (https://docs.slack.dev/apis/events-api/using-socket-mode: {"envelope_id", "type",
// "payload", "accepts_response_payload"}; acked with {"envelope_id", "payload"}).
type socketFake struct {
	tb   testing.TB
	out  chan []byte
	mu   sync.Mutex
	acks map[string]json.RawMessage // envelope id -> ack payload ("null" for none)
	seq  int
}

// startSocket runs h's adapter in Socket Mode against a new socketFake until the test ends.
func startSocket(tb testing.TB, h *harness) *socketFake {
	tb.Helper()
	s := &socketFake{tb: tb, out: make(chan []byte, 16), acks: map[string]json.RawMessage{}}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		hello, _ := json.Marshal(map[string]any{"type": "hello", "num_connections": 1})
		_ = conn.WriteMessage(websocket.TextMessage, hello)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				var ack struct {
					EnvelopeID string          `json:"envelope_id"`
					Payload    json.RawMessage `json:"payload"`
				}
				if json.Unmarshal(msg, &ack) == nil && ack.EnvelopeID != "" {
					s.mu.Lock()
					if ack.Payload == nil {
						ack.Payload = json.RawMessage("null")
					}
					s.acks[ack.EnvelopeID] = ack.Payload
					s.mu.Unlock()
				}
			}
		}()
		for {
			select {
			case b := <-s.out:
				if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
					return
				}
			case <-done:
				return
			}
		}
	}))
	tb.Cleanup(ws.Close)
	h.fake.mu.Lock()
	h.fake.wsURL = "ws" + strings.TrimPrefix(ws.URL, "http")
	h.fake.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.adapter.Run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}

// send sends one envelope of type typ and returns its id.
func (s *socketFake) send(typ string, payload any) string {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("env-%d", s.seq)
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"type": typ, "envelope_id": id, "payload": payload, "accepts_response_payload": typ == "interactive"})
	s.out <- b
	return id
}

// ack waits (up to 10 s) for the ack of envelope id and returns its payload.
func (s *socketFake) ack(id string) json.RawMessage {
	s.tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		p, ok := s.acks[id]
		s.mu.Unlock()
		if ok {
			return p
		}
	}
	s.tb.Fatalf("envelope %s was not acknowledged", id)
	return nil
}

// TestSocketModeInteractions: over Socket Mode, the same payloads as over HTTP do the same
// things, through the one interaction router: the global shortcut opens the form, the
// submission is answered in the ack's payload with the summary, Save in the modal updates
// it and keeps the entry (the home, never opened, is not published), the message shortcut
// starts a Pause in the DM quoting the message, app_home_opened publishes the home (once for
// a redelivered envelope), and Show on it sends the words to the DM.
func TestSocketModeInteractions(t *testing.T) {
	// decidedClaims: the redelivered app_home_opened below must find the first one's mark,
	// however slow the machine.
	h := newHarness(t, func(c *Config) { c.AppToken = "xapp-test"; c.SigningSecret = "" }, decidedClaims)
	const u = "USOCKI"
	ref := userRef(testTeam, u)
	if _, err := h.store.MarkWelcomed(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	s := startSocket(t, h)
	settle := func() {
		t.Helper()
		h.wait()
	}

	// The global shortcut opens the quick form.
	s.ack(s.send("interactive", map[string]any{
		"type": "shortcut", "token": "legacy", "action_ts": "1700000002.1", "callback_id": ShortcutQuick,
		"trigger_id": newTriggerID(), "team": map[string]any{"id": testTeam, "domain": "acme"},
		"user": map[string]any{"id": u, "username": "socki", "team_id": testTeam},
	}))
	settle()
	if open, ok := h.lastCall("views.open"); !ok || !strings.Contains(open.Blocks, quickCallbackID) {
		t.Fatalf("global shortcut over Socket Mode: views.open %+v, want the quick form", open)
	}

	// The submission: answered in the ack's payload.
	p := s.ack(s.send("interactive", quickSubmission(u, map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy", flows.FieldNext: "Ask Sam when we can pick it up",
	})))
	var resp map[string]any
	if err := json.Unmarshal(p, &resp); err != nil || resp["response_action"] != "update" {
		t.Fatalf("view_submission ack payload = %s, want response_action update", p)
	}
	text, values := viewText(t, resp["view"])
	if !strings.Contains(text, "they were busy") || strings.Join(values, " ") != "save discard" {
		t.Fatalf("summary in the ack = %q %v, want the summary with Save and Discard", text, values)
	}
	// A bad submission gets the inline errors the same way.
	p = s.ack(s.send("interactive", quickSubmission("USOCKBAD", map[string]string{flows.FieldStory: "x", flows.FieldOther: " ", flows.FieldNext: "y"})))
	if err := json.Unmarshal(p, &resp); err != nil || resp["response_action"] != "errors" {
		t.Fatalf("bad view_submission ack payload = %s, want response_action errors", p)
	}

	// Save in the modal: the modal is updated and the entry kept; the home, never opened,
	// is not published (TestHome and TestHomeRefreshOnlyAfterOpen: once opened, it is).
	n := h.ncalls()
	s.ack(s.send("interactive", modalButton(u, "VSOCKRES", "save", "Save to journal")))
	settle()
	if upd, ok := h.lastCall("views.update"); !ok || upd.TS != "VSOCKRES" || !strings.Contains(upd.Blocks, "Saved to your journal") {
		t.Fatalf("Save over Socket Mode: views.update %+v, want the modal saying it was saved", upd)
	}
	entries, err := h.store.Journal(t.Context(), ref, 5)
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal = %v, %v; want the saved quick pause", entries, err)
	}
	if got := h.publishes(u, n); len(got) != 0 {
		t.Errorf("the save published %d home views before the home was ever opened, want none", len(got))
	}

	// The message shortcut starts a Pause in the DM quoting the message.
	n = h.ncalls()
	s.ack(s.send("interactive", map[string]any{
		"type": "message_action", "token": "legacy", "action_ts": "1700000003.1", "callback_id": ShortcutMessage,
		"trigger_id": newTriggerID(), "response_url": h.fake.responseURL(u),
		"team":    map[string]any{"id": testTeam, "domain": "acme"},
		"user":    map[string]any{"id": u, "name": "socki", "team_id": testTeam},
		"channel": map[string]any{"id": sharedChannel, "name": "general"},
		"message": map[string]any{"type": "message", "user": "ULEE", "ts": "1700000000.000300", "text": "<@USAM> where is it?"},
	}))
	settle()
	if got := strings.Join(h.replies(u, n), "\n"); !strings.Contains(got, "story I'm telling myself") {
		t.Fatalf("message shortcut over Socket Mode said %q, want the story question in the DM", got)
	}
	if st, _, err := h.store.Dialogue(t.Context(), ref); err != nil || st.Entry.What != "@ulee wrote: “@usam where is it?”" {
		t.Fatalf("what happened = %q, %v; want the quoted message", st.Entry.What, err)
	}

	// app_home_opened publishes the home; the same envelope delivered again does not.
	n = h.ncalls()
	s.ack(s.send("events_api", homeOpenedBody(t, u, "EvSOCKHOME", "home")))
	settle()
	s.ack(s.send("events_api", homeOpenedBody(t, u, "EvSOCKHOME", "home")))
	settle()
	pubs := h.publishes(u, n)
	if len(pubs) != 1 {
		t.Fatalf("app_home_opened over Socket Mode (twice, one event id) published %d views, want 1", len(pubs))
	}
	assertNoWords(t, "the home over Socket Mode", pubs[0].Blocks)
	buttons, _ := homeButtons(t, pubs[0].Blocks)
	show := bot.ChoiceHomeShowPrefix + entries[0].ID
	if buttons[show] == "" {
		t.Fatalf("home buttons %v lack Show", buttons)
	}
	n = h.ncalls()
	s.ack(s.send("interactive", homeButton(t, u, buttons[show], show, "Show")))
	settle()
	if got := strings.Join(h.replies(u, n), "\n"); !strings.Contains(got, "they think I'm slow") {
		t.Errorf("Show over Socket Mode sent %q, want the entry's words in the DM", got)
	}
	for _, c := range h.fake.snapshot() {
		if c.Channel == sharedChannel {
			t.Errorf("%s reached the shared channel", c.Method)
		}
	}
}
