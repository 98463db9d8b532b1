package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/storybot/storybot/bot"
)

// mountDiscord mounts the Discord interactions endpoint on mux when Slack is configured, registers the
// Discord sender in senders, and returns the long-running part (the gateway) to run until
// ctx ends, or nil when there is none.
func mountDiscord(_ context.Context, a *app, _ *bot.Engine, _ bot.PlatformSenders, _ *http.ServeMux) (func(context.Context) error, error) {
	if !a.cfg.discordEnabled() {
		return nil, nil
	}
	return nil, errors.New("discord: not built yet")
}

func runDiscordRegister(_ context.Context, _ []string, _ func(string) string, _, _ io.Writer) error {
	return errors.New("discord register: not built yet")
}
