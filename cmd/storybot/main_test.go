package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestConsoleRunsPauseAndReframeEndToEnd(t *testing.T) {
	script := strings.Join([]string{
		"/story pause Sam cut me off in standup",
		"they think I'm incompetent",
		"anxious", "7",
		"I was cut off once",
		"Sam is stressed about the deadline",
		"skip",
		"ask Sam for five minutes after",
		"tomorrow",
		"4",
		"go deeper",
		"skip", "not sure", "no", "I go quiet and replay it",
		"yes",
		"to them",
		"I decided they were wrong before they finished",
		"Sam was rushing and I can ask",
		"ask Sam what the rush was",
		"no",
		"save",
		"/story history 2",
		"quit",
	}, "\n") + "\n"
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"console", "--user", "sam"}, env(nil), strings.NewReader(script), &out, &errOut)
	if err != nil {
		t.Fatalf("run console: %v\nstderr:\n%s", err, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"you are \"sam\"",
		"stores it unencrypted, so the people who run its Redis could read it",
		"Here's your pause",
		"they think I'm incompetent",
		"anxious 7 → 4",
		"Sam was rushing and I can ask",
		"Turned around: “I think they're incompetent.”",
		"Your last 2 journal entries",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("console output lacks %q\n---\n%s", want, got)
		}
	}
	if !strings.Contains(errOut.String(), "embedded") {
		t.Errorf("no warning about the embedded store on stderr: %q", errOut.String())
	}
}

// TestConsoleInlineStartsAndDidYouMean: a typo gets "did you mean" with one line of help
// (not the whole help), and inline text starts the dialogues at the right question.
func TestConsoleInlineStartsAndDidYouMean(t *testing.T) {
	script := strings.Join([]string{
		"/story quik",
		"/story quick they think I'm slow",
		"yes",
		"The client is pushing her for the estimate.",
		"Send the estimate now.",
		"in 2 hours",
		"save",
		"/story they ignored my point in standup",
		"stop",
		"quit",
	}, "\n") + "\n"
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"console", "--user", "ana"}, env(nil), strings.NewReader(script), &out, &errOut); err != nil {
		t.Fatalf("run console: %v\nstderr:\n%s", err, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"Did you mean /story quick?\n/story quick [story] — story, other stories, next step: under a minute\n\n",
		"You wrote “they think”",
		"Thanks — noted.",
		"Your story: they think I'm slow\nAnother story: The client is pushing her for the estimate.",
		"I'll check back: ", // in 2 hours from the real clock: today or tomorrow
		"Saved to your journal",
		"Finish this sentence: the story I'm telling myself is…",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("console output lacks %q\n---\n%s", want, got)
		}
	}
	if strings.Contains(got, "/story checkin weekdays") {
		t.Errorf("the typo got the whole help:\n%s", got)
	}
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"REDIS_URL":               "http://nope",
		"STORYBOT_ENCRYPTION_KEY": "c2hvcnQ=",
		"STORYBOT_RETENTION_DAYS": "forever",
		"LOG_LEVEL":               "loud",
		"DISCORD_PUBLIC_KEY":      "xyz",
	}))
	if err == nil {
		t.Fatal("loadConfig accepted a bad environment")
	}
	for _, want := range []string{"REDIS_URL", "STORYBOT_ENCRYPTION_KEY", "STORYBOT_RETENTION_DAYS", "LOG_LEVEL", "DISCORD_PUBLIC_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("config error does not mention %s:\n%v", want, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatalf("loadConfig(empty) = %v", err)
	}
	if c.Listen != ":3000" || c.RetentionDays != 180 || c.SlackAPIURL != "https://slack.com/api/" || c.DiscordAPIURL != "https://discord.com/api/v10" {
		t.Errorf("defaults = %+v", c)
	}
	if c.slackEnabled() || c.discordEnabled() {
		t.Errorf("platforms enabled with no configuration")
	}
}

// TestServeEndpoints runs `storybot serve` against a Redis that then goes away, and checks
// health, readiness, metrics, the body limit and graceful shutdown.
func TestServeEndpoints(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncBuffer{}
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0"}, env(map[string]string{"REDIS_URL": "redis://" + mr.Addr()}), nil, stdout, stderr)
	}()
	base := waitForListen(t, stdout, done)

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz with Redis up = %d", code)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, %.200q", code, body)
	}
	resp, err := http.Post(base+"/slack/events", "application/json", bytes.NewReader(make([]byte, 1<<20+1)))
	if err != nil {
		t.Fatalf("POST big body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB + 1 body = %d, want 413", resp.StatusCode)
	}
	if !strings.Contains(stderr.String(), "Slack is not configured") {
		t.Errorf("serve does not say Slack is not configured:\n%s", stderr.String())
	}

	mr.Close()
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis down = %d, want 503", code)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz with Redis down = %d, want 200 (the process is alive)", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

// waitForListen waits for serve's "listening on" line and returns the base URL.
func waitForListen(tb testing.TB, stdout *syncBuffer, done <-chan error) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "listening on "); ok {
				return "http://" + strings.TrimSpace(addr)
			}
		}
		select {
		case err := <-done:
			tb.Fatalf("serve ended early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Fatal("serve did not start listening")
	return ""
}

// TestPprofLoopbackOnly: the profiler listens only where this machine alone can reach it,
// and serves the profiles there.
func TestPprofLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:6060", "10.0.0.1:6060", "example.com:6060", "127.0.0.1"} {
		if _, err := loadConfig(env(map[string]string{"STORYBOT_PPROF": addr})); err == nil || !strings.Contains(err.Error(), "STORYBOT_PPROF") {
			t.Errorf("STORYBOT_PPROF=%q: loadConfig = %v, want refused", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		if c, err := loadConfig(env(map[string]string{"STORYBOT_PPROF": addr})); err != nil || c.Pprof != addr {
			t.Errorf("STORYBOT_PPROF=%q: loadConfig = %q, %v", addr, c.Pprof, err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	paddr := ln.Addr().String()
	ln.Close()
	mr := miniredis.RunT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0"}, env(map[string]string{"REDIS_URL": "redis://" + mr.Addr(), "STORYBOT_PPROF": paddr}), nil, stdout, stderr)
	}()
	base := waitForListen(t, stdout, done)
	resp, err := http.Get("http://" + paddr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatalf("GET heap profile: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "heap profile") {
		t.Errorf("heap profile = %d, %.100q", resp.StatusCode, body)
	}
	// Not on the platform listener.
	resp, err = http.Get(base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on STORYBOT_LISTEN = %d, want 404", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
}
