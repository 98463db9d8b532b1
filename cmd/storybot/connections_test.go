package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
)

// TestConnObserver drives the observer as the adapters do and reads /readyz and the
// metrics: a connection that is up is ready; one that stopped for good (a rejected
// token) is reported with its reason, and makes /readyz 503 once the grace period is over;
// the other platform is unaffected.
func TestConnObserver(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	r := newReadiness(reg, clock, time.Minute)
	o := newConnObserver(reg, r, clock)
	o.expect("discord", "discord_gateway")
	o.expect("slack", "slack_socket")
	h := r.handler(func(context.Context) error { return nil }, slog.New(slog.DiscardHandler))
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, string(b)
	}

	o.ConnState("discord", bot.ConnUp, "")
	o.ConnSession("discord", false)
	o.ConnState("slack", bot.ConnUp, "")
	o.ConnActivity("slack")
	if code, body := get(); code != 200 || !strings.Contains(body, "discord_gateway: ok") || !strings.Contains(body, "slack_socket: ok") {
		t.Fatalf("/readyz with both up = %d\n%s", code, body)
	}

	// The gateway resumes after a zombie: counted, and up again.
	o.ConnReconnect("discord", "zombie")
	o.ConnState("discord", bot.ConnConnecting, "no heartbeat ACK within a heartbeat interval: resuming")
	o.ConnSession("discord", true)
	o.ConnState("discord", bot.ConnUp, "")

	// Then the token is revoked.
	const why = "Discord rejected DISCORD_BOT_TOKEN (gateway close 4004, authentication failed)."
	o.ConnState("discord", bot.ConnFailed, why)
	if code, body := get(); code != 200 || !strings.Contains(body, "within the 1m0s grace period") || !strings.Contains(body, why) {
		t.Errorf("/readyz just after the failure = %d, want 200 within the grace period\n%s", code, body)
	}
	now = now.Add(61 * time.Second)
	code, body := get()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "discord_gateway: down for 1m1s: stopped: "+why) || !strings.Contains(body, "slack_socket: ok") {
		t.Errorf("/readyz past the grace period = %d, want 503 naming DISCORD_BOT_TOKEN, Slack ok\n%s", code, body)
	}

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"storybot_connection_state", map[string]string{"platform": "discord", "state": "failed"}, 1},
		{"storybot_connection_state", map[string]string{"platform": "discord", "state": "up"}, 0},
		{"storybot_connection_state", map[string]string{"platform": "slack", "state": "up"}, 1},
		{"storybot_connection_reconnects_total", map[string]string{"platform": "discord", "reason": "zombie"}, 1},
		{"storybot_connection_reconnects_total", map[string]string{"platform": "slack", "reason": "ping_timeout"}, 0},
		{"storybot_connection_sessions_total", map[string]string{"platform": "discord", "kind": "resumed"}, 1},
		{"storybot_connection_sessions_total", map[string]string{"platform": "discord", "kind": "new"}, 1},
		{"storybot_connection_seconds_since_last_event", map[string]string{"platform": "discord"}, 61},
		{"storybot_connection_seconds_since_last_event", map[string]string{"platform": "slack"}, 61},
	} {
		got, ok := gathered(t, reg, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if got := reasonLabel("user U123 said hi"); got != "other" {
		t.Errorf("reasonLabel of free text = %q, want other", got)
	}
}

// gathered reads one series from reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}
