package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
)

// api is the handful of Discord REST calls the adapter makes. restAPI implements it over a
// discordgo.Session; tests point that session at a fake server instead of replacing it, so
// the real client code is what gets tested.
type api interface {
	// openDM opens (or returns) the DM channel between the bot and the user.
	openDM(ctx context.Context, userID string) (*discordgo.Channel, error)
	// sendMessage posts a message to a channel; the caller has checked it is a DM.
	sendMessage(ctx context.Context, channelID string, m *discordgo.MessageSend) error
	// followup posts a follow-up message on an interaction token.
	followup(ctx context.Context, token string, p *discordgo.WebhookParams) error
	// editOriginal edits the original (deferred) response of an interaction token.
	editOriginal(ctx context.Context, token string, e *discordgo.WebhookEdit) error
	// deleteOriginal deletes the original (deferred) response of an interaction token.
	deleteOriginal(ctx context.Context, token string) error
	// respond answers an interaction that arrived over the gateway.
	respond(ctx context.Context, i *discordgo.Interaction, r *discordgo.InteractionResponse) error
	// overwriteCommands replaces the application's global commands.
	overwriteCommands(ctx context.Context, cmds []*discordgo.ApplicationCommand) error
}

// maxAttempts bounds how often one REST call is tried when Discord answers 429.
const maxAttempts = 3

// maxRetryAfter is the longest 429 retry_after the adapter waits for; a longer one fails
// the call rather than holding a user's turn.
const maxRetryAfter = 10 * time.Second

// restAPI implements api with discordgo. Every call carries its context, and discordgo's
// own unbounded 429 retry loop is switched off in favour of a bounded one here.
type restAPI struct {
	s     *discordgo.Session
	appID string
}

var _ api = (*restAPI)(nil)

// call runs fn with the request options every call needs, retrying a rate-limited call
// up to maxAttempts times after the retry_after Discord asked for.
func (r *restAPI) call(ctx context.Context, op string, fn func(opts ...discordgo.RequestOption) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(discordgo.WithContext(ctx), discordgo.WithRetryOnRatelimit(false), discordgo.WithRestRetries(1))
		var rl *discordgo.RateLimitError
		if !errors.As(err, &rl) || attempt >= maxAttempts {
			break
		}
		wait := time.Second
		if rl.RateLimit != nil && rl.TooManyRequests != nil && rl.RetryAfter > 0 {
			wait = rl.RetryAfter
		}
		if wait > maxRetryAfter {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("discord: %s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		// Still limited after the bounded retries: say so in the engine's terms, so the
		// scheduler re-queues the delivery instead of dropping it.
		wait := time.Second
		if rl.RateLimit != nil && rl.TooManyRequests != nil && rl.RetryAfter > 0 {
			wait = rl.RetryAfter
		}
		return &bot.RateLimitError{RetryAfter: wait, Err: fmt.Errorf("discord: %s: %w", op, err)}
	}
	if err != nil {
		return fmt.Errorf("discord: %s: %w", op, err)
	}
	return nil
}

func (r *restAPI) openDM(ctx context.Context, userID string) (*discordgo.Channel, error) {
	var ch *discordgo.Channel
	err := r.call(ctx, "open dm", func(opts ...discordgo.RequestOption) error {
		var err error
		ch, err = r.s.UserChannelCreate(userID, opts...)
		return err
	})
	return ch, err
}

func (r *restAPI) sendMessage(ctx context.Context, channelID string, m *discordgo.MessageSend) error {
	return r.call(ctx, "send dm", func(opts ...discordgo.RequestOption) error {
		_, err := r.s.ChannelMessageSendComplex(channelID, m, opts...)
		return err
	})
}

func (r *restAPI) followup(ctx context.Context, token string, p *discordgo.WebhookParams) error {
	return r.call(ctx, "follow-up", func(opts ...discordgo.RequestOption) error {
		_, err := r.s.FollowupMessageCreate(&discordgo.Interaction{AppID: r.appID, Token: token}, false, p, opts...)
		return err
	})
}

func (r *restAPI) editOriginal(ctx context.Context, token string, e *discordgo.WebhookEdit) error {
	return r.call(ctx, "edit response", func(opts ...discordgo.RequestOption) error {
		_, err := r.s.InteractionResponseEdit(&discordgo.Interaction{AppID: r.appID, Token: token}, e, opts...)
		return err
	})
}

func (r *restAPI) deleteOriginal(ctx context.Context, token string) error {
	return r.call(ctx, "delete response", func(opts ...discordgo.RequestOption) error {
		return r.s.InteractionResponseDelete(&discordgo.Interaction{AppID: r.appID, Token: token}, opts...)
	})
}

func (r *restAPI) respond(ctx context.Context, i *discordgo.Interaction, resp *discordgo.InteractionResponse) error {
	return r.call(ctx, "interaction response", func(opts ...discordgo.RequestOption) error {
		return r.s.InteractionRespond(i, resp, opts...)
	})
}

func (r *restAPI) overwriteCommands(ctx context.Context, cmds []*discordgo.ApplicationCommand) error {
	return r.call(ctx, "overwrite commands", func(opts ...discordgo.RequestOption) error {
		_, err := r.s.ApplicationCommandBulkOverwrite(r.appID, "", cmds, opts...)
		return err
	})
}

// restErrorCode returns Discord's JSON error code of a failed REST call, or 0.
func restErrorCode(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Message != nil {
		return re.Message.Code
	}
	return 0
}

// DefaultAPIURL is Discord's REST base.
const DefaultAPIURL = "https://discord.com/api/v10"

// rewriteTransport sends requests that discordgo aims at Discord's REST API (its endpoint
// strings are fixed at package init, with API v9 paths) to base instead: scheme, host and
// path prefix are replaced. The gateway lookup is a REST call too, so a fake or proxy at
// base also decides which websocket URL the session dials.
type rewriteTransport struct {
	base *url.URL
	next http.RoundTripper
}

// apiPrefixes are the path prefixes of Discord's REST API that get rewritten.
var apiPrefixes = []string{"/api/v9/", "/api/v10/", "/api/"}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "discord.com" && req.URL.Host != "discordapp.com" {
		return t.next.RoundTrip(req)
	}
	for _, p := range apiPrefixes {
		rest, ok := strings.CutPrefix(req.URL.Path, p)
		if !ok {
			continue
		}
		r := req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host = t.base.Scheme, t.base.Host
		u.Path = strings.TrimSuffix(t.base.Path, "/") + "/" + rest
		u.RawPath = ""
		r.URL, r.Host = &u, t.base.Host
		return t.next.RoundTrip(r)
	}
	return t.next.RoundTrip(req)
}

// newSession returns a discordgo session whose every REST call goes to apiURL through
// client's transport (http.DefaultTransport when client is nil). token may be empty
// (interaction webhooks need none).
func newSession(token, apiURL string, client *http.Client) (*discordgo.Session, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	base, err := url.Parse(apiURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("discord: API URL %q must be an http(s) URL", apiURL)
	}
	auth := ""
	if token != "" {
		auth = "Bot " + strings.TrimPrefix(token, "Bot ")
	}
	s, err := discordgo.New(auth)
	if err != nil {
		return nil, fmt.Errorf("discord: new session: %w", err)
	}
	// The default transport keeps only 2 idle connections per host, so concurrent
	// replies to discord.com would open and close connections all the time.
	pooled := http.DefaultTransport.(*http.Transport).Clone()
	pooled.MaxIdleConnsPerHost = 64
	var next http.RoundTripper = pooled
	timeout := 20 * time.Second
	if client != nil {
		if client.Transport != nil {
			next = client.Transport
		}
		if client.Timeout != 0 {
			timeout = client.Timeout
		}
	}
	s.Client = &http.Client{Transport: &rewriteTransport{base: base, next: next}, Timeout: timeout}
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 1
	s.StateEnabled = false
	// discordgo logs through a package-global hook (discordgo.Logger) or the standard log
	// package. Below its lowest level it logs nothing: every failure of the REST calls
	// storybot makes comes back as an error, logged through slog by the caller, and the
	// gateway is gateway.go's, not discordgo's.
	s.LogLevel = discordgo.LogError - 1
	return s, nil
}

// RegisterCommands bulk-overwrites the application's global /story command. apiURL may be
// empty (Discord itself); client may be nil.
func RegisterCommands(ctx context.Context, appID, botToken, apiURL string, client *http.Client) ([]*discordgo.ApplicationCommand, error) {
	if appID == "" || botToken == "" {
		return nil, errors.New("discord: registering commands needs the application ID and the bot token")
	}
	s, err := newSession(botToken, apiURL, client)
	if err != nil {
		return nil, err
	}
	cmds := Commands()
	r := &restAPI{s: s, appID: appID}
	if err := r.overwriteCommands(ctx, cmds); err != nil {
		return nil, err
	}
	return cmds, nil
}
