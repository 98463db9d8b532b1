package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Start-up checks: every platform credential is tried once before serving, so that a wrong
// or revoked token stops start-up with the variable named, instead of being discovered by a
// user's first message (and reported to them as something else). A platform that cannot be
// reached is not a configuration mistake: serve starts, warns, keeps trying in the
// background, and /readyz shows the check as down until it passes.

// errRefused marks a credential the platform refused: a configuration mistake.
var errRefused = errors.New("refused")

// credentialCheck checks one credential. check returns nil, an error wrapping errRefused when
// the platform refused the credential, or another error when the platform could not be asked.
type credentialCheck struct {
	component string // readiness component, also in log lines: "slack", "slack_app_token", "discord"
	variable  string // the environment variable to name when it is refused
	check     func(ctx context.Context) error
}

// Check timing: each try is bounded; retries back off up to a minute.
var (
	checkTimeout      = 5 * time.Second
	checkRetryInitial = 500 * time.Millisecond
	checkRetryMax     = time.Minute
)

// credentialChecks returns the checks the configuration calls for, using client for HTTP.
func credentialChecks(cfg config, slackClient, discordClient *http.Client) []credentialCheck {
	var checks []credentialCheck
	if cfg.slackEnabled() {
		checks = append(checks, credentialCheck{
			component: "slack", variable: "SLACK_BOT_TOKEN",
			check: func(ctx context.Context) error {
				c := slackapi.New(cfg.SlackBotToken, slackapi.OptionHTTPClient(slackClient), slackapi.OptionAPIURL(cfg.SlackAPIURL))
				_, err := c.AuthTestContext(ctx)
				return classifySlack("auth.test", err)
			},
		})
		if cfg.SlackAppToken != "" {
			checks = append(checks, credentialCheck{
				component: "slack_app_token", variable: "SLACK_APP_TOKEN",
				check: func(ctx context.Context) error {
					// apps.connections.open is the one method an app-level token may call; the
					// websocket URL it returns is simply not used and expires.
					c := slackapi.New(cfg.SlackBotToken, slackapi.OptionHTTPClient(slackClient), slackapi.OptionAPIURL(cfg.SlackAPIURL),
						slackapi.OptionAppLevelToken(cfg.SlackAppToken))
					_, _, err := c.StartSocketModeContext(ctx)
					return classifySlack("apps.connections.open", err)
				},
			})
		}
	}
	if cfg.discordEnabled() && cfg.DiscordBotToken != "" {
		checks = append(checks, credentialCheck{
			component: "discord", variable: "DISCORD_BOT_TOKEN",
			check: func(ctx context.Context) error {
				return discordWhoAmI(ctx, discordClient, cfg.DiscordAPIURL, cfg.DiscordBotToken)
			},
		})
	}
	return checks
}

// slackTransient are Slack error codes that say "try again", not "this token is wrong".
var slackTransient = map[string]bool{
	"ratelimited": true, "fatal_error": true, "internal_error": true, "service_unavailable": true,
	"request_timeout": true, "team_added_to_org": true,
}

func classifySlack(method string, err error) error {
	if err == nil {
		return nil
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) && !slackTransient[se.Err] {
		return fmt.Errorf("%s: Slack answered %q: %w", method, se.Err, errRefused)
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) && (sc.Code == http.StatusUnauthorized || sc.Code == http.StatusForbidden) {
		return fmt.Errorf("%s: Slack answered %s: %w", method, sc.Status, errRefused)
	}
	return fmt.Errorf("%s: %w", method, err)
}

// discordWhoAmI calls GET /users/@me with the bot token.
func discordWhoAmI(ctx context.Context, client *http.Client, apiURL, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(apiURL, "/")+"/users/@me", nil)
	if err != nil {
		return fmt.Errorf("GET /users/@me: %w", err)
	}
	req.Header.Set("Authorization", "Bot "+strings.TrimPrefix(token, "Bot "))
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/storybot/storybot, "+buildVersion()+")")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET /users/@me: %w", err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("GET /users/@me: Discord answered %s: %w", resp.Status, errRefused)
	}
	return fmt.Errorf("GET /users/@me: Discord answered %s", resp.Status)
}

// runCredentialChecks tries every check once, side by side. A refused credential is an error
// naming its variable (all of them at once); a platform that could not be asked is logged as
// a warning and returned in retry, to be tried again in the background by retryChecks.
func runCredentialChecks(ctx context.Context, checks []credentialCheck, ready *readiness, logger *slog.Logger) (retry []credentialCheck, err error) {
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		comp := ready.component(c.component)
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			errs[i] = c.check(cctx)
			if errs[i] == nil {
				comp.Up()
				logger.Info("start-up check passed", "check", c.component)
			} else {
				comp.Down(errs[i].Error())
			}
		})
	}
	wg.Wait()
	var refused []error
	for i, c := range checks {
		switch {
		case errs[i] == nil:
		case errors.Is(errs[i], errRefused):
			refused = append(refused, fmt.Errorf("%s was refused: %w (check the value; a reinstalled or regenerated app has new tokens)", c.variable, errs[i]))
		default:
			logger.Warn("start-up check: platform not reachable; starting anyway and retrying", "check", c.component, "err", errs[i])
			retry = append(retry, c)
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("start-up checks failed:\n%w", errors.Join(refused...))
	}
	return retry, nil
}

// retryChecks retries checks until each passes or ctx ends, with backoff. A credential
// refused later (the platform came back and said no) is logged as an error and stays down in
// /readyz; serve keeps running for the other platforms.
func retryChecks(ctx context.Context, checks []credentialCheck, ready *readiness, logger *slog.Logger) error {
	var wg sync.WaitGroup
	for _, c := range checks {
		comp := ready.component(c.component)
		wg.Go(func() {
			wait := checkRetryInitial
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				cctx, cancel := context.WithTimeout(ctx, checkTimeout)
				err := c.check(cctx)
				cancel()
				switch {
				case err == nil:
					comp.Up()
					logger.Info("start-up check passed after retrying", "check", c.component)
					return
				case ctx.Err() != nil:
					return
				case errors.Is(err, errRefused):
					comp.Down(c.variable + " refused: " + err.Error())
					logger.Error("platform refused the credential; fix it and restart", "check", c.component, "variable", c.variable, "err", err)
					return
				}
				comp.Down(err.Error())
				logger.Warn("start-up check: platform still not reachable", "check", c.component, "retry_in", min(2*wait, checkRetryMax).String(), "err", err)
				wait = min(2*wait, checkRetryMax)
			}
		})
	}
	wg.Wait()
	return nil
}
