package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
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
