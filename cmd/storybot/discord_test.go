package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/storybot/storybot/bot"
)

// TestDiscordRegister checks the /story payload that "storybot discord register" sends to
// a fake Discord named by DISCORD_API_URL.
func TestDiscordRegister(t *testing.T) {
	var (
		mu    sync.Mutex
		paths []string
		body  []map[string]any
		auth  string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		auth = r.Header.Get("Authorization")
		json.Unmarshal(raw, &body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	}))
	defer srv.Close()
	env := map[string]string{"DISCORD_APP_ID": "123", "DISCORD_BOT_TOKEN": "secret", "DISCORD_API_URL": srv.URL + "/api/v10"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"discord", "register"}, func(k string) string { return env[k] }, nil, &stdout, &stderr); err != nil {
		t.Fatalf("discord register: %v (stderr %q)", err, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "PUT /api/v10/applications/123/commands" {
		t.Fatalf("requests = %q, want one PUT /api/v10/applications/123/commands", paths)
	}
	if auth != "Bot secret" {
		t.Errorf("Authorization = %q, want the bot token", auth)
	}
	if len(body) != 2 || body[0]["name"] != "story" || body[1]["name"] != "Pause on this message" || body[1]["type"] != 3.0 {
		t.Fatalf("payload = %v, want /story and the message command", body)
	}
	// What went over the wire is the reviewed golden payload.
	golden, err := os.ReadFile("../../bot/discord/testdata/commands.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	if err := json.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("registration payload differs from bot/discord/testdata/commands.golden.json")
	}
	cmd := body[0]
	if got, _ := json.Marshal(cmd["contexts"]); string(got) != "[0,1,2]" {
		t.Errorf("contexts = %s, want [0,1,2] (guild, bot DM, private channel)", got)
	}
	if got, _ := json.Marshal(cmd["integration_types"]); string(got) != "[0,1]" {
		t.Errorf("integration_types = %s, want [0,1] (guild and user install)", got)
	}
	if _, ok := cmd["dm_permission"]; ok {
		t.Error("payload sets the deprecated dm_permission")
	}
	subs := map[string]map[string]any{}
	for _, o := range cmd["options"].([]any) {
		o := o.(map[string]any)
		subs[o["name"].(string)] = o
	}
	for _, name := range []string{"pause", "quick", "reframe", "checkin", "tz", "history", "export", "forget", "digest", "privacy", "help", "practices", "coach"} {
		if subs[name] == nil {
			t.Errorf("subcommand %q missing", name)
		}
	}
	if subs["coach"]["type"] != 2.0 {
		t.Errorf("coach type = %v, want 2 (subcommand group)", subs["coach"]["type"])
	}
	coach := map[string]map[string]any{}
	for _, o := range subs["coach"]["options"].([]any) {
		o := o.(map[string]any)
		coach[o["name"].(string)] = o
	}
	for _, name := range []string{"invite", "assign", "progress", "list", "unassign", "revoke"} {
		if coach[name] == nil {
			t.Errorf("coach %s missing", name)
		}
	}
	user := coach["invite"]["options"].([]any)[0].(map[string]any)
	if user["type"] != 6.0 || user["required"] != true {
		t.Errorf("coach invite option = %v, want a required USER option (6)", user)
	}
	zone := subs["tz"]["options"].([]any)[0].(map[string]any)
	if zone["autocomplete"] != true {
		t.Errorf("tz zone option = %v, want autocomplete", zone)
	}
	if !strings.Contains(stdout.String(), "registered /story") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestDiscordRegisterNeedsCredentials(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"discord", "register"}, func(string) string { return "" }, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "DISCORD_APP_ID") {
		t.Errorf("register without credentials = %v, want an error naming DISCORD_APP_ID", err)
	}
}

// TestMountDiscord wires the adapter as serve does, with an interactions URL and no bot
// token: the endpoint is mounted, the sender registered, and the runner ends with ctx.
func TestMountDiscord(t *testing.T) {
	ctx := context.Background()
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"DISCORD_APP_ID": "123", "DISCORD_PUBLIC_KEY": strings.Repeat("ab", 32), "LOG_LEVEL": "error"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, cfg, cfg.logger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mux := http.NewServeMux()
	senders := bot.PlatformSenders{}
	runner, err := mountDiscord(ctx, a, a.engine(senders), senders, mux)
	if err != nil || runner == nil {
		t.Fatalf("mountDiscord: runner nil = %t, err %v; want a runner", runner == nil, err)
	}
	if senders["discord"] == nil {
		t.Error("no Discord sender registered")
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/discord/interactions", strings.NewReader(`{"type":1}`)))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("unsigned interaction: status %d, want 401", w.Code)
	}
	runCtx, cancel := context.WithCancel(ctx)
	cancel()
	if err := runner(runCtx); err != nil {
		t.Errorf("runner = %v, want nil after ctx ends", err)
	}
}
