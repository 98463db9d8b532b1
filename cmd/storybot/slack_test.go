package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot/slack"
)

// runSlackManifest runs `storybot slack manifest` with args.
func runSlackManifest(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return run(context.Background(), append([]string{"slack", "manifest"}, args...), getenv, nil, stdout, stderr)
}

func TestSlackManifest(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runSlackManifest([]string{"--url", "https://bot.example.com/"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("runSlackManifest = %v (%s)", err, errOut.String())
	}
	var m manifest
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("manifest is not JSON: %v\n%s", err, out.String())
	}
	cmd := m.Features.SlashCommands[0]
	if cmd.Command != "/story" || cmd.URL != "https://bot.example.com/slack/commands" || !cmd.ShouldEscape {
		t.Errorf("slash command = %+v", cmd)
	}
	if m.Settings.EventSubscriptions.RequestURL != "https://bot.example.com/slack/events" || m.Settings.Interactivity.RequestURL != "https://bot.example.com/slack/interactions" {
		t.Errorf("settings = %+v", m.Settings)
	}
	if !slices.Contains(m.Settings.EventSubscriptions.BotEvents, "message.im") || !slices.Contains(m.Settings.EventSubscriptions.BotEvents, "app_home_opened") ||
		!slices.Contains(m.Settings.EventSubscriptions.BotEvents, "app_uninstalled") || !slices.Contains(m.Settings.EventSubscriptions.BotEvents, "tokens_revoked") {
		t.Errorf("bot events = %v", m.Settings.EventSubscriptions.BotEvents)
	}
	for _, s := range []string{"commands", "chat:write", "im:history", "im:write", "users:read"} {
		if !slices.Contains(m.OAuthConfig.Scopes.Bot, s) {
			t.Errorf("scope %s missing", s)
		}
	}
	if !m.Features.AppHome.MessagesTabEnabled || m.Features.AppHome.MessagesTabReadOnlyEnabled || !m.Features.BotUser.AlwaysOnline || m.Settings.SocketModeEnabled {
		t.Errorf("features = %+v, socket %v", m.Features, m.Settings.SocketModeEnabled)
	}

	out.Reset()
	if err := runSlackManifest([]string{"--url", "https://bot.example.com", "--socket-mode", "--name", "pause"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "https://bot.example.com/") || !strings.Contains(out.String(), `"socket_mode_enabled": true`) || !strings.Contains(out.String(), `"name": "pause"`) {
		t.Errorf("socket-mode manifest:\n%s", out.String())
	}

	for _, args := range [][]string{nil, {"--url", "http://bot.example.com"}, {"--url", "bot.example.com"}, {"--url", "https://"}, {"--url", "https://x", "extra"}} {
		if err := runSlackManifest(args, func(string) string { return "" }, &out, &errOut); err == nil {
			t.Errorf("runSlackManifest(%q) = nil, want an error", args)
		}
	}
}

// TestSlackManifestGolden: the whole manifest for a host, reviewed as a golden file
// (testdata/slack-manifest.golden.json; rewrite with -update-manifest and review the diff).
func TestSlackManifestGolden(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runSlackManifest([]string{"--url", "https://bot.example.com"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "slack-manifest.golden.json")
	if *updateManifest {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/storybot -run ManifestGolden -update-manifest)", err)
	}
	if out.String() != string(want) {
		t.Errorf("manifest differs from %s:\n%s", path, out.String())
	}
	var m manifest
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if !m.Features.AppHome.HomeTabEnabled {
		t.Error("the Home tab is not enabled")
	}
	kinds := map[string]string{}
	for _, s := range m.Features.Shortcuts {
		kinds[s.CallbackID] = s.Type
	}
	if kinds[slack.ShortcutQuick] != "global" || kinds[slack.ShortcutMessage] != "message" {
		t.Errorf("shortcuts = %+v, want the global Quick pause and the message shortcut", m.Features.Shortcuts)
	}
}

var updateManifest = flag.Bool("update-manifest", false, "rewrite testdata/slack-manifest.golden.json")
