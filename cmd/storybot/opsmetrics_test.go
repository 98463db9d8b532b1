package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
