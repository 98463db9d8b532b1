package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/bot/slack"
)

// mountSlack mounts the Slack endpoints on mux when Slack is configured, registers the
// Slack sender in senders and its outbox's flush in a.flushers (runServe calls it after
// draining the work), and returns the long-running part (Socket Mode) to run until ctx
// ends, or nil when there is none.
func mountSlack(_ context.Context, a *app, eng *engine.Engine, senders bot.PlatformSenders, mux *http.ServeMux) (func(context.Context) error, error) {
	if !a.cfg.slackEnabled() {
		return nil, nil
	}
	adapter, err := slack.New(slack.Config{
		SigningSecret: a.cfg.SlackSigningSecret,
		BotToken:      a.cfg.SlackBotToken,
		AppToken:      a.cfg.SlackAppToken,
		APIURL:        a.cfg.SlackAPIURL,
		HTTPClient:    a.ops.instrumentedClient("slack", a.now),
		Dedupe:        a.store,
		Work:          a.work,
		Logger:        a.log,
		Now:           a.now,
		Conn:          a.conns,
		OnRefused:     a.metrics.InboundRefused(slack.Platform),
	}, eng)
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	senders[slack.Platform] = adapter
	a.flushers = append(a.flushers, adapter.Flush)
	if a.cfg.SlackAppToken != "" {
		a.conns.expect(slack.Platform, "slack_socket")
	}
	a.zones[slack.Platform] = adapter
	if a.cfg.SlackSigningSecret != "" {
		adapter.Routes(mux)
	}
	mode := "HTTP (/slack/commands, /slack/interactions, /slack/events)"
	if a.cfg.SlackAppToken != "" {
		mode = "Socket Mode"
		if a.cfg.SlackSigningSecret != "" {
			mode += " and HTTP"
		}
	}
	a.log.Info("Slack is on", "mode", mode)
	return adapter.Run, nil
}

func slackManifestCommand() command {
	return command{
		name:    "slack manifest",
		args:    "(--url https://HOST | --socket-mode) [--name storybot]",
		summary: "print a Slack app manifest for that public URL, or for Socket Mode",
		define: func(fs *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			base := fs.String("url", "", "public https URL where storybot serves (required unless --socket-mode)")
			socket := fs.Bool("socket-mode", false, "use Socket Mode: no request URLs, needs SLACK_APP_TOKEN at run time")
			name := fs.String("name", "storybot", "the app's display name")
			return func(context.Context, []string) error {
				return writeSlackManifest(*base, *socket, *name, inv.stdout)
			}
		},
	}
}

// writeSlackManifest prints the manifest for base, or for Socket Mode, where Slack calls no
// URL at all and base may be empty.
func writeSlackManifest(base string, socket bool, name string, stdout io.Writer) error {
	host := ""
	if !socket || base != "" {
		h, err := manifestBase(base)
		if err != nil {
			return fmt.Errorf("slack manifest: %w", err)
		}
		host = h
	}
	if n := strings.TrimSpace(name); n == "" || len([]rune(n)) > 35 {
		return errors.New("slack manifest: --name must be 1 to 35 characters")
	}
	m := slackManifest(host, strings.TrimSpace(name), socket)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("slack manifest: write: %w", err)
	}
	return nil
}

// manifestBase validates --url: an absolute https URL of a host, returned without a
// trailing slash.
func manifestBase(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("--url is required, e.g. --url https://storybot.example.com (or --socket-mode, which needs none)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--url must be an https URL like https://storybot.example.com, not %q", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// The manifest's shape: https://docs.slack.dev/reference/app-manifest
type manifest struct {
	Metadata    *manifestMeta       `json:"_metadata,omitempty"`
	Display     manifestDisplay     `json:"display_information"`
	Features    manifestFeatures    `json:"features"`
	OAuthConfig manifestOAuthConfig `json:"oauth_config"`
	Settings    manifestSettings    `json:"settings"`
}

type manifestMeta struct {
	MajorVersion int `json:"major_version"`
	MinorVersion int `json:"minor_version"`
}

type manifestDisplay struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	LongDescription string `json:"long_description,omitempty"`
	BackgroundColor string `json:"background_color,omitempty"`
}

type manifestFeatures struct {
	AppHome       manifestAppHome        `json:"app_home"`
	BotUser       manifestBotUser        `json:"bot_user"`
	Shortcuts     []manifestShortcut     `json:"shortcuts"`
	SlashCommands []manifestSlashCommand `json:"slash_commands"`
}

type manifestShortcut struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // global or message
	CallbackID  string `json:"callback_id"`
	Description string `json:"description"`
}

type manifestAppHome struct {
	HomeTabEnabled             bool `json:"home_tab_enabled"`
	MessagesTabEnabled         bool `json:"messages_tab_enabled"`
	MessagesTabReadOnlyEnabled bool `json:"messages_tab_read_only_enabled"`
}

type manifestBotUser struct {
	DisplayName  string `json:"display_name"`
	AlwaysOnline bool   `json:"always_online"`
}

type manifestSlashCommand struct {
	Command      string `json:"command"`
	URL          string `json:"url,omitempty"`
	Description  string `json:"description"`
	UsageHint    string `json:"usage_hint"`
	ShouldEscape bool   `json:"should_escape"`
}

type manifestOAuthConfig struct {
	Scopes struct {
		Bot []string `json:"bot"`
	} `json:"scopes"`
}

type manifestSettings struct {
	EventSubscriptions   manifestEvents        `json:"event_subscriptions"`
	Interactivity        manifestInteractivity `json:"interactivity"`
	OrgDeployEnabled     bool                  `json:"org_deploy_enabled"`
	SocketModeEnabled    bool                  `json:"socket_mode_enabled"`
	TokenRotationEnabled bool                  `json:"token_rotation_enabled"`
	IsHosted             bool                  `json:"is_hosted"`
}

type manifestEvents struct {
	RequestURL string   `json:"request_url,omitempty"`
	BotEvents  []string `json:"bot_events"`
}

type manifestInteractivity struct {
	IsEnabled  bool   `json:"is_enabled"`
	RequestURL string `json:"request_url,omitempty"`
}

// slackManifest builds the manifest. The bot scopes are the ones the features use:
//   - commands: the /story slash command;
//   - chat:write: chat.postMessage and chat.update in the user's DM;
//   - im:history: message.im events (the typed answers in the DM);
//   - im:write: conversations.open to start the DM;
//   - users:read: users.info for the profile's time zone;
//   - files:write: the /story export file in the DM;
//   - dnd:read: dnd.info, so a check-in due during Do Not Disturb waits until it ends.
//
// The Home tab, the quick pause modal and the shortcuts need no scope of their own:
// views.open, views.update and views.publish work with the bot token, and app_home_opened
// comes with the Home tab.
func slackManifest(base, name string, socketMode bool) manifest {
	url := func(path string) string {
		if socketMode {
			return "" // Socket Mode delivers everything over the websocket
		}
		return base + path
	}
	var m manifest
	m.Metadata = &manifestMeta{MajorVersion: 1, MinorVersion: 1}
	m.Display = manifestDisplay{
		Name:            name,
		Description:     "A private two-minute pause: what story am I telling myself?",
		LongDescription: "Type /story in any channel, mid-meeting, and the bot walks you through a short, private pause in your DM: what happened, the story you are telling yourself about it, the feeling, what else could be true, and one next step. Nothing is ever posted to a channel. A coaching tool, not therapy.",
		BackgroundColor: "#2d4a5a",
	}
	m.Features.AppHome = manifestAppHome{HomeTabEnabled: true, MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: false}
	m.Features.Shortcuts = []manifestShortcut{
		{Name: "Quick pause", Type: "global", CallbackID: slack.ShortcutQuick, Description: "Story, other stories, next step — privately, in a minute"},
		{Name: "Pause on this message", Type: "message", CallbackID: slack.ShortcutMessage, Description: "A private pause about what this message set off"},
	}
	m.Features.BotUser = manifestBotUser{DisplayName: name, AlwaysOnline: true}
	m.Features.SlashCommands = []manifestSlashCommand{{
		Command:      "/story",
		URL:          url("/slack/commands"),
		Description:  "A private pause: what story am I telling myself?",
		UsageHint:    "[pause | quick | reframe | history | tz | privacy | help]",
		ShouldEscape: true,
	}}
	m.OAuthConfig.Scopes.Bot = []string{"commands", "chat:write", "im:history", "im:write", "users:read", "files:write", "dnd:read"}
	m.Settings.EventSubscriptions = manifestEvents{RequestURL: url("/slack/events"), BotEvents: []string{"app_home_opened", "message.im", "app_uninstalled", "tokens_revoked"}}
	m.Settings.Interactivity = manifestInteractivity{IsEnabled: true, RequestURL: url("/slack/interactions")}
	m.Settings.SocketModeEnabled = socketMode
	return m
}
