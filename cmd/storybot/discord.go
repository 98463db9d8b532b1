package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/discord"
	"github.com/storybot/storybot/bot/engine"
)

// mountDiscord mounts the Discord interactions endpoint on mux when Discord is configured,
// registers the Discord sender in senders, and returns the long-running part (the gateway,
// and the draining of work in flight) to run until ctx ends, or nil when there is none.
func mountDiscord(_ context.Context, a *app, eng *engine.Engine, senders bot.PlatformSenders, mux *http.ServeMux) (func(context.Context) error, error) {
	if !a.cfg.discordEnabled() {
		return nil, nil
	}
	adapter, err := discord.New(discord.Config{
		AppID:     a.cfg.DiscordAppID,
		PublicKey: a.cfg.DiscordPublicKey,
		BotToken:  a.cfg.DiscordBotToken,
		APIURL:    a.cfg.DiscordAPIURL,
		// Counted, and pooled like the adapter's own default.
		HTTPClient: a.ops.instrumentedClient("discord", a.now),
		Dedupe:     a.store,
		Work:       a.work,
		Logger:     a.log,
		Now:        a.now,
		// Without an interactions URL, Discord sends interactions over the gateway.
		Gateway: a.cfg.DiscordPublicKey == "",
		Conn:    a.conns,
	}, eng)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	senders[discord.Platform] = adapter
	if a.cfg.DiscordBotToken != "" {
		a.conns.expect(discord.Platform, "discord_gateway")
	}
	if a.cfg.DiscordPublicKey != "" {
		adapter.Routes(mux)
	}
	if a.cfg.DiscordBotToken == "" {
		a.log.Warn("DISCORD_BOT_TOKEN is not set: Discord commands work, but no DMs can be sent or received")
	}
	return adapter.Run, nil
}

func discordRegisterCommand() command {
	return command{
		name:    "discord register",
		summary: "create or overwrite the /story Discord command and the message command",
		env:     []string{"DISCORD_APP_ID", "DISCORD_BOT_TOKEN", "DISCORD_API_URL"},
		define: func(_ *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			return func(ctx context.Context, _ []string) error {
				return registerDiscord(ctx, inv.getenv, inv.stdout)
			}
		},
	}
}

// registerDiscord creates or overwrites the global /story application command.
func registerDiscord(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	appID, token := getenv("DISCORD_APP_ID"), getenv("DISCORD_BOT_TOKEN")
	if appID == "" || token == "" {
		return errors.New("discord register needs DISCORD_APP_ID and DISCORD_BOT_TOKEN (Developer Portal → your application → General Information and Bot)")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmds, err := discord.RegisterCommands(ctx, appID, token, orDefault(getenv("DISCORD_API_URL"), discord.DefaultAPIURL), nil)
	if err != nil {
		return fmt.Errorf("discord register: %w", err)
	}
	for _, c := range cmds {
		fmt.Fprintf(stdout, "registered /%s with %d subcommands and groups (global commands can take a few minutes to appear)\n", c.Name, len(c.Options))
	}
	return nil
}
