package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/slack"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/cputime"
	"github.com/storybot/storybot/internal/workctx"
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
			var wc workctx.Renewing
			defer wc.Stop()
			if err := adapter.Send(wc.Get(), c.m); err != nil { // opens the DM channel
				b.Fatal(err)
			}
			b.ReportAllocs()
			c0, ok := cputime.Process()
			for b.Loop() {
				if err := adapter.Send(wc.Get(), c.m); err != nil {
					b.Fatal(err)
				}
			}
			if c1, ok1 := cputime.Process(); ok && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

type benchHandler struct{}

func (benchHandler) Handle(context.Context, bot.Event) error { return nil }

// counterValue reads one series of a counter vector.
func counterValue(t *testing.T, v *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var d dto.Metric
	if err := v.WithLabelValues(labels...).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// TestCountingTransportSniffsAsRead: Slack's answer is watched as its reader reads it, so
// "ok": false counts whether the reader reads it whole, in part or not at all (Close reads
// the rest); an answer cut short is not counted, as before.
func TestCountingTransportSniffsAsRead(t *testing.T) {
	const notOK = `{"ok":false,"error":"channel_not_found","padding":"` + "0123456789abcdef0123456789abcdef" + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch r.URL.Path {
		case "/api/chat.cut":
			w.Header().Set("Content-Length", "200")
			_, _ = io.WriteString(w, `{"ok":false,"error":"x"`)
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "/api/chat.ok":
			_, _ = io.WriteString(w, `{"ok":true,"channel":"D1","false":false}`)
		default:
			_, _ = io.WriteString(w, notOK)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		name, path string
		read       int // bytes read before Close; -1: all
		want       float64
	}{
		{"read whole", "/api/chat.postMessage", -1, 1},
		{"not read", "/api/chat.postMessage", 0, 1},
		{"read in part", "/api/chat.postMessage", 3, 1},
		{"read past the start", "/api/chat.postMessage", 15, 1},
		{"ok", "/api/chat.ok", -1, 0},
		{"ok, not read", "/api/chat.ok", 0, 0},
		{"cut short", "/api/chat.cut", -1, 0},
		{"cut short, not read", "/api/chat.cut", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newOpsMetrics(prometheus.NewRegistry())
			client := m.instrumentedClient("slack", time.Now)
			resp, err := client.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if c.read < 0 {
				got, _ = io.ReadAll(resp.Body)
			} else {
				got = make([]byte, c.read)
				_, _ = io.ReadFull(resp.Body, got)
			}
			resp.Body.Close()
			if c.path == "/api/chat.postMessage" && !strings.HasPrefix(notOK, string(got)) {
				t.Errorf("the client read %q", got)
			}
			if n := counterValue(t, m.apiErrors, "slack", "chat", "api"); n != c.want {
				t.Errorf("api errors = %v, want %v", n, c.want)
			}
		})
	}
}

// TestSlackDirectPostsCounted: the adapter's direct posts (a DM reply with
// chat.postMessage, a response_url post), which go through the client's Transport and not
// Client.Do, are counted as before: calls by class, Slack's "ok": false as an api error,
// a 429 as rate_limited (each try), a 5xx as server; and the errors reach the adapter
// (a 429 with Retry-After stays a rate limit).
func TestSlackDirectPostsCounted(t *testing.T) {
	var mu sync.Mutex
	answer := map[string]struct {
		status      int
		ctype, body string
	}{}
	set := func(path string, status int, ctype, body string) {
		mu.Lock()
		defer mu.Unlock()
		answer[path] = struct {
			status      int
			ctype, body string
		}{status, ctype, body}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		a := answer[r.URL.Path]
		mu.Unlock()
		w.Header().Set("Content-Type", a.ctype)
		if a.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer srv.Close()
	const js = "application/json; charset=utf-8"
	set("/api/conversations.open", 200, js, `{"ok":true,"channel":{"id":"D1"}}`)
	m := newOpsMetrics(prometheus.NewRegistry())
	adapter, err := slack.New(slack.Config{SigningSecret: "s", BotToken: "xoxb-test", APIURL: srv.URL + "/api/",
		HTTPClient: m.instrumentedClient("slack", time.Now)}, benchHandler{})
	if err != nil {
		t.Fatal(err)
	}
	user := bot.UserRef{Platform: slack.Platform, Workspace: "T1", User: "U1"}
	dm := bot.Message{To: bot.Destination{Kind: bot.DestDM, User: user}, Kind: flows.ReplyInfo, Text: "Saved."}
	eph := bot.Message{To: bot.Destination{Kind: bot.DestEphemeral, User: user, Route: srv.URL + "/commands/T1/1/x"}, Kind: flows.ReplyInfo, Text: "I've sent you a DM."}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	set("/api/chat.postMessage", 200, js, `{"ok":true,"channel":"D1","ts":"1.2","message":{"text":"Saved."}}`)
	set("/commands/T1/1/x", 200, "text/html", "ok")
	if err := adapter.Send(ctx, dm); err != nil {
		t.Fatal(err)
	}
	if err := adapter.Send(ctx, eph); err != nil {
		t.Fatal(err)
	}
	set("/api/chat.postMessage", 200, js, `{"ok":false,"error":"channel_not_found"}`)
	if err := adapter.Send(ctx, dm); err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("a DM answered channel_not_found: %v", err)
	}
	set("/api/chat.postMessage", 500, "text/html", "oops")
	if err := adapter.Send(ctx, dm); err == nil {
		t.Error("a DM answered 500: no error")
	}
	set("/commands/T1/1/x", 200, js, `{"ok":false,"error":"expired_url"}`)
	if err := adapter.Send(ctx, eph); err == nil || !strings.Contains(err.Error(), "expired_url") {
		t.Errorf("an ephemeral answered expired_url: %v", err)
	}
	set("/commands/T1/1/x", 429, "text/plain", "")
	var rl *bot.RateLimitError
	if err := adapter.Send(ctx, eph); !errors.As(err, &rl) {
		t.Errorf("an ephemeral answered 429 with Retry-After: %v, want a rate limit", err)
	}

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"slack", "chat"}, 3},
		{[]string{"slack", "response_url"}, 2 + 3}, // the 429 tried 3 times
		{[]string{"slack", "conversations"}, 1},
	} {
		if n := counterValue(t, m.apiCalls, c.labels...); n != c.want {
			t.Errorf("calls %v = %v, want %v", c.labels, n, c.want)
		}
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"slack", "chat", "api"}, 1},
		{[]string{"slack", "chat", "server"}, 1},
		{[]string{"slack", "response_url", "api"}, 1},
		{[]string{"slack", "response_url", "rate_limited"}, 3},
		{[]string{"slack", "conversations", "api"}, 0},
	} {
		if n := counterValue(t, m.apiErrors, c.labels...); n != c.want {
			t.Errorf("errors %v = %v, want %v", c.labels, n, c.want)
		}
	}
}
