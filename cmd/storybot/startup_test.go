package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// fakeSlack answers auth.test and apps.connections.open: with ok, with a refusal, or with
// 503 for the first failFirst calls.
func fakeSlack(t *testing.T, authError, appError string, failFirst int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n <= failFirst {
			http.Error(w, "upstream trouble", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/auth.test"):
			if r.Header.Get("Authorization") != "Bearer xoxb-good" && r.FormValue("token") != "xoxb-good" {
				io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			if authError != "" {
				io.WriteString(w, `{"ok":false,"error":"`+authError+`"}`)
				return
			}
			io.WriteString(w, `{"ok":true,"url":"https://x.slack.com/","team":"T","user":"storybot","team_id":"T1","user_id":"U1","bot_id":"B1"}`)
		case strings.HasSuffix(r.URL.Path, "/apps.connections.open"):
			if appError != "" {
				io.WriteString(w, `{"ok":false,"error":"`+appError+`"}`)
				return
			}
			io.WriteString(w, `{"ok":true,"url":"wss://127.0.0.1:1/link"}`)
		default:
			io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestServeRefusedSlackTokenStopsStartup(t *testing.T) {
	mr := miniredis.RunT(t)
	srv, _ := fakeSlack(t, "", "", 0)
	var out, errOut syncBuffer
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0"}, env(map[string]string{
		"REDIS_URL": "redis://" + mr.Addr(), "SLACK_API_URL": srv.URL + "/api/",
		"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_SIGNING_SECRET": "s",
	}), nil, &out, &errOut)
	if err == nil {
		t.Fatal("serve started with a refused Slack token")
	}
	for _, want := range []string{"SLACK_BOT_TOKEN was refused", "auth.test", "invalid_auth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "xoxb-revoked") || strings.Contains(errOut.String(), "xoxb-revoked") {
		t.Error("the token itself appears in the error or log")
	}
	if strings.Contains(out.String(), "listening on") {
		t.Error("serve listened before failing")
	}
}

func TestServeRefusedAppTokenAndDiscordTokenNamedTogether(t *testing.T) {
	mr := miniredis.RunT(t)
	slackSrv, _ := fakeSlack(t, "", "invalid_auth", 0)
	discordSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v10/users/@me" || r.Header.Get("Authorization") != "Bot good" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message": "401: Unauthorized", "code": 0}`)
			return
		}
		io.WriteString(w, `{"id":"1","username":"storybot"}`)
	}))
	defer discordSrv.Close()
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0"}, env(map[string]string{
		"REDIS_URL": "redis://" + mr.Addr(), "SLACK_API_URL": slackSrv.URL + "/api/",
		"SLACK_BOT_TOKEN": "xoxb-good", "SLACK_APP_TOKEN": "xapp-bad",
		"DISCORD_APP_ID": "1", "DISCORD_BOT_TOKEN": "wrong", "DISCORD_API_URL": discordSrv.URL + "/api/v10",
	}), nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve started with refused tokens")
	}
	for _, want := range []string{"SLACK_APP_TOKEN was refused", "apps.connections.open", "DISCORD_BOT_TOKEN was refused", "401"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "SLACK_BOT_TOKEN was refused") {
		t.Errorf("the good bot token was reported: %v", err)
	}
}

// TestServeUnreachableSlackWarnsRetriesAndReadyzReflectsIt: Slack answers 503 at first. serve
// starts anyway, warns, /readyz says why it is not ready, and once Slack answers the retry
// makes it ready.
func TestServeUnreachableSlackWarnsRetriesAndReadyzReflectsIt(t *testing.T) {
	mr := miniredis.RunT(t)
	srv, calls := fakeSlack(t, "", "", 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, env(map[string]string{
			"REDIS_URL": "redis://" + mr.Addr(), "SLACK_API_URL": srv.URL + "/api/",
			"SLACK_BOT_TOKEN": "xoxb-good", "SLACK_SIGNING_SECRET": "s", "STORYBOT_READY_GRACE": "1ms",
		}), nil, stdout, stderr)
	}()
	base := waitForListen(t, stdout, done)
	if !strings.Contains(stderr.String(), "platform not reachable; starting anyway and retrying") {
		t.Errorf("no warning about the unreachable platform:\n%s", stderr.String())
	}
	code, body := httpGet(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "slack: down") || !strings.Contains(body, "503") {
		t.Errorf("/readyz while Slack is unreachable = %d\n%s", code, body)
	}
	_, metrics := httpGet(t, base+"/metrics")
	if !strings.Contains(metrics, `storybot_platform_api_errors_total{class="auth",kind="server",platform="slack"} 1`) {
		t.Errorf("the failed auth.test is not counted as a server error:\n%s", grepLines(metrics, "storybot_platform_api_errors_total{class=\"auth\""))
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body = httpGet(t, base+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never became ready after Slack came back (calls %d):\n%s", calls.Load(), body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(body, "slack: ok") || calls.Load() < 4 {
		t.Errorf("/readyz = %q after %d calls", body, calls.Load())
	}
	if !strings.Contains(stderr.String(), "still not reachable") || !strings.Contains(stderr.String(), "passed after retrying") {
		t.Errorf("the retries are not logged:\n%s", stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve = %v after shutdown", err)
	}
}

// TestMetricsPresentBeforeAnyEvent: a fresh serve exposes every series dashboards and alerts
// use, at zero.
func TestMetricsPresentBeforeAnyEvent(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0"}, env(map[string]string{"REDIS_URL": "redis://" + mr.Addr()}), nil, stdout, io.Discard)
	}()
	base := waitForListen(t, stdout, done)
	_, body := httpGet(t, base+"/metrics")
	for _, want := range []string{
		`storybot_events_total{kind="command",platform="slack"} 0`,
		`storybot_events_total{kind="text",platform="discord"} 0`,
		`storybot_event_duration_seconds_count{kind="text",platform="slack"} 0`,
		`storybot_replies_total{kind="prompt"} 0`,
		`storybot_store_errors_total{op="turn"} 0`,
		`storybot_scheduled_total{outcome="sent"} 0`,
		`storybot_scheduled_lateness_seconds_count{kind="checkin"} 0`,
		`storybot_platform_api_calls_total{class="chat",platform="slack"} 0`,
		`storybot_platform_api_errors_total{class="messages",kind="rate_limited",platform="discord"} 0`,
		`storybot_platform_api_duration_seconds_count{platform="slack"} 0`,
		`storybot_redis_errors_total{kind="unreachable"} 0`,
		`storybot_build_info{goversion="go`,
		`storybot_store_circuit_open 0`,
		`storybot_component_up{component="store"} 1`,
		`storybot_scheduler_due_jobs 0`,
		`storybot_scheduler_inflight_jobs 0`,
		`storybot_send_errors_total{platform="slack"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	<-done
}

func httpGet(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
