package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/storybot/storybot/bot"
)

// mountSlack mounts the Slack endpoints on mux when Slack is configured, registers the
// Slack sender in senders, and returns the long-running part (Socket Mode) to run until
// ctx ends, or nil when there is none.
func mountSlack(_ context.Context, a *app, _ *bot.Engine, _ bot.PlatformSenders, _ *http.ServeMux) (func(context.Context) error, error) {
	if !a.cfg.slackEnabled() {
		return nil, nil
	}
	return nil, errors.New("slack: not built yet")
}

func runSlackManifest(_ []string, _ func(string) string, _, _ io.Writer) error {
	return errors.New("slack manifest: not built yet")
}
