package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestReadinessComponents(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	r := newReadiness(reg, clock, time.Minute)
	logger := slog.New(slog.DiscardHandler)
	storeErr := error(nil)
	h := r.handler(func(context.Context) error { return storeErr }, logger)
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		body, _ := io.ReadAll(w.Result().Body)
		return w.Code, string(body)
	}
	check := func(wantCode int, wantBody ...string) {
		t.Helper()
		code, body := get()
		if code != wantCode {
			t.Errorf("/readyz = %d, want %d\n%s", code, wantCode, body)
		}
		for _, s := range wantBody {
			if !strings.Contains(body, s) {
				t.Errorf("/readyz body lacks %q:\n%s", s, body)
			}
		}
	}

	check(200, "ready", "store: ok")
	slack := r.component("slack_socket")
	check(200, "slack_socket: down (within the 1m0s grace period) for 0s: starting")
	now = now.Add(61 * time.Second)
	check(503, "not ready", "slack_socket: down for 1m1s: starting")
	slack.Up()
	check(200, "slack_socket: ok")
	if got := metricValue(t, reg, "storybot_component_up", "slack_socket"); got != 1 {
		t.Errorf("storybot_component_up{slack_socket} = %v, want 1", got)
	}
	slack.Down("auth.test: invalid_auth")
	now = now.Add(30 * time.Second)
	check(200, "within the 1m0s grace period", "invalid_auth")
	now = now.Add(31 * time.Second)
	check(503, "slack_socket: down for 1m1s: auth.test: invalid_auth")
	if got := metricValue(t, reg, "storybot_component_up", "slack_socket"); got != 0 {
		t.Errorf("storybot_component_up{slack_socket} = %v, want 0", got)
	}
	slack.Set(true, "")
	storeErr = errors.New("connection refused")
	check(503, "store: down: connection refused", "slack_socket: ok")
	if r.component("slack_socket") != slack {
		t.Error("component registered twice under one name")
	}
}

func TestLogFormatJSON(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{"LOG_FORMAT": "json"}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	cfg.logger(&b).Info("hello", "k", "v")
	if got := b.String(); !strings.HasPrefix(got, "{") || !strings.Contains(got, `"msg":"hello"`) {
		t.Errorf("json log line = %q", got)
	}
}

// metricValue is the value of the gauge or counter name whose one label has value label.
func metricValue(tb testing.TB, g prometheus.Gatherer, name, label string) float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					if m.Gauge != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	tb.Fatalf("no %s{%s}", name, label)
	return 0
}

func TestHealthcheckCommand(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, r.URL.Path+" answered\n")
	}))
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	healthcheck := func(args ...string) (string, error) {
		var out strings.Builder
		err := run(context.Background(), append([]string{"healthcheck"}, args...), env(nil), nil, &out, io.Discard)
		return out.String(), err
	}
	if out, err := healthcheck("--url", srv.URL); err != nil || out != "/healthz answered\n" {
		t.Errorf("healthcheck against a live server = %q, %v", out, err)
	}
	if out, err := healthcheck("--url", srv.URL, "--ready"); err != nil || out != "/readyz answered\n" {
		t.Errorf("healthcheck --ready against a live server = %q, %v", out, err)
	}
	status = http.StatusServiceUnavailable
	if _, err := healthcheck("--url", srv.URL, "--ready"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck --ready against an unready server = %v, want 503 named", err)
	}
	if _, err := healthcheck("--url", deadURL, "--timeout", "2s"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("healthcheck against a dead server = %v", err)
	}
	// Without --url it derives the address from the listen variables.
	var out strings.Builder
	addr := strings.TrimPrefix(srv.URL, "http://127.0.0.1")
	status = http.StatusOK
	if err := run(context.Background(), []string{"healthcheck"}, env(map[string]string{"STORYBOT_LISTEN": addr}), nil, &out, io.Discard); err != nil {
		t.Errorf("healthcheck with STORYBOT_LISTEN=%s: %v", addr, err)
	}
	srv.Close()
}
