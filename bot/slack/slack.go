package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/lru"
)

// Platform is the bot.UserRef platform of Slack users.
const Platform = "slack"

// Defaults and limits.
const (
	// DefaultWorkTimeout bounds the work done after a request is acknowledged.
	DefaultWorkTimeout = 10 * time.Second
	// MaxBody is the largest request body accepted; larger ones get 413.
	MaxBody = 1 << 20
	// dmCacheSize bounds the DM channel IDs kept in memory (a fact that never changes, so
	// a cache is allowed; the bound keeps memory flat however many users come).
	dmCacheSize = 20000
	// maxTries bounds the attempts of one Web API call when Slack rate-limits it.
	maxTries = 3
	// floodWaiting is how many of a user's events may wait in the pool, while a DM to them
	// finds the channel's pace spent, before the DM waits for the pace (a flood).
	floodWaiting = 3
	// maxRetryWait caps one wait for a rate limit, whatever Retry-After says.
	maxRetryWait = 30 * time.Second
)

// Config configures an Adapter. BotToken is required; SigningSecret is required for the
// HTTP endpoints; AppToken switches on Socket Mode.
type Config struct {
	SigningSecret string // verifies HTTP requests (HMAC-SHA256, v0)
	BotToken      string // xoxb-…: every Web API call
	AppToken      string // xapp-…: Socket Mode; empty: HTTP only
	APIURL        string // Web API base, ending in "/"; default https://slack.com/api/
	HTTPClient    *http.Client
	// Dedupe keeps event leases across replicas; nil: in this process only (one replica,
	// tests).
	Dedupe bot.EventLeases
	// Work admits the work done after an acknowledgement; nil: the adapter makes its own
	// pool (bot.PoolConfig defaults, WorkTimeout) and drains it when Run ends. A pool given
	// here is its owner's to drain.
	Work        *bot.Pool
	Logger      *slog.Logger
	Now         func() time.Time // the clock for work durations; default time.Now
	WorkTimeout time.Duration    // default DefaultWorkTimeout
	// Conn hears about the Socket Mode connection (metrics, readiness); may be nil.
	Conn bot.ConnObserver

	socketTiming socketTiming // tests shrink Socket Mode's pauses
	outboxPace   outboxPace   // tests shrink the DM pace
	outboxPaced  bool         // tests: pace every DM, as if its user always had more waiting
	// OnRefused counts a refused inbound request by reason (a metric); may be nil.
	OnRefused func(reason string)
}

// Handler receives the translated events: the engine.
type Handler interface {
	Handle(ctx context.Context, ev bot.Event) error
}

// slackAPI is the part of the slack-go client the adapter uses, so tests may put a fake in
// its place; the package's own tests use the real client against a fake server.
type slackAPI interface {
	OpenConversationContext(ctx context.Context, params *slack.OpenConversationParameters) (*slack.Channel, bool, bool, error)
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
	GetDNDInfoContext(ctx context.Context, user *string, options ...slack.ParamOption) (*slack.DNDStatus, error)
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	UpdateViewContext(ctx context.Context, view slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
	PublishViewContext(ctx context.Context, req slack.PublishViewContextRequest) (*slack.ViewResponse, error)
}

// Adapter connects Slack to a Handler and implements bot.Sender for Slack users.
type Adapter struct {
	cfg    Config
	h      Handler
	client *slack.Client // for Socket Mode
	api    slackAPI
	log    *slog.Logger
	refs   *bot.Refusals
	sig    *verifier // checks the HTTP requests' signatures with cfg.SigningSecret

	dms *lru.Cache[string, string] // UserRef.String() -> DM channel ID: never changes

	dedupe  *bot.Dedupe
	work    *bot.Pool
	ownWork bool // work is the adapter's own: Run drains it
	outbox  *outbox
	direct  direct // how the direct posts reach Slack (direct.go)

	submits submitWaiters // view_submission requests waiting for their answer (modal.go)
}

var _ bot.Sender = (*Adapter)(nil)

// New returns an adapter that feeds h. It does no I/O.
func New(cfg Config, h Handler) (*Adapter, error) {
	if h == nil {
		return nil, errors.New("slack: New needs a handler")
	}
	if cfg.BotToken == "" {
		return nil, errors.New("slack: a bot token (xoxb-…) is required")
	}
	if cfg.SigningSecret == "" && cfg.AppToken == "" {
		return nil, errors.New("slack: a signing secret (HTTP) or an app token (Socket Mode) is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = slack.APIURL
	}
	if cfg.APIURL[len(cfg.APIURL)-1] != '/' {
		cfg.APIURL += "/" // slack-go appends method names straight to the base
	}
	if cfg.HTTPClient == nil {
		// The default transport keeps only 2 idle connections per host, so concurrent
		// replies to slack.com would open and close connections all the time.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second, Transport: t}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WorkTimeout <= 0 {
		cfg.WorkTimeout = DefaultWorkTimeout
	}
	// slack-go logs only when debugging, through this logger: slog, like everything else.
	opts := []slack.Option{slack.OptionHTTPClient(cfg.HTTPClient), slack.OptionAPIURL(cfg.APIURL),
		slack.OptionLog(slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug))}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	client := slack.New(cfg.BotToken, opts...)
	d, err := newDirect(cfg.HTTPClient, cfg.APIURL)
	if err != nil {
		return nil, err
	}
	a := &Adapter{cfg: cfg, direct: d, h: h, client: client, api: client, log: cfg.Logger.With("platform", Platform), dms: lru.New[string, string](dmCacheSize), work: cfg.Work}
	a.refs = bot.NewRefusals(a.log, cfg.Now, cfg.OnRefused)
	a.sig = newVerifier(cfg.SigningSecret)
	a.dedupe = bot.NewDedupe(cfg.Dedupe, a.log)
	track, _ := h.(bot.DeliveryTracker)
	a.outbox = newOutbox(a, cfg.outboxPace, track)
	if a.work == nil {
		a.work, a.ownWork = bot.NewPool(bot.PoolConfig{WorkTimeout: cfg.WorkTimeout, Logger: a.log}), true
	}
	if !cfg.outboxPaced {
		// A few waiting are a person keeping up, not a flood: a turn that sends two DMs
		// (the welcome and the first question, "I didn't catch that" and the question
		// again) is often answered after its first, and then the answer to the second
		// comes too. A flood keeps the user's place in the pool full (PerUser, 16).
		a.outbox.bursting = func(u bot.UserRef) bool { return a.work.Waiting(u.String()) > floodWaiting }
	}
	return a, nil
}

// Routes mounts the three HTTP endpoints on mux.
func (a *Adapter) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /slack/commands", a.serveCommand)
	mux.HandleFunc("POST /slack/interactions", a.serveInteraction)
	mux.HandleFunc("POST /slack/events", a.serveEvents)
}

// Run runs Socket Mode when an app token is configured, reconnecting until ctx ends;
// otherwise it waits for ctx. When the pool is its own, it then drains the work already
// acknowledged (each piece is bounded by WorkTimeout) and flushes the DMs that work
// produced; a pool given in Config is its owner's to drain, and the owner calls Flush
// after draining it (the order matters: replies of work that drains later would otherwise
// find the outbox closed).
func (a *Adapter) Run(ctx context.Context) error {
	var err error
	if a.cfg.AppToken != "" {
		err = a.runSocketMode(ctx)
	} else {
		<-ctx.Done()
	}
	if a.ownWork {
		dctx, cancel := context.WithTimeout(context.Background(), a.cfg.WorkTimeout+flushTimeout)
		defer cancel()
		wctx, wcancel := context.WithTimeout(dctx, a.cfg.WorkTimeout)
		defer wcancel()
		if derr := a.work.Drain(wctx); derr != nil {
			a.log.Warn("shutdown: Slack work cut short", "err", derr)
		}
		if ferr := a.Flush(dctx); ferr != nil {
			a.log.Warn("shutdown", "err", ferr)
		}
	}
	return err
}

// flushTimeout is what shutdown keeps for the outbox after draining the work.
const flushTimeout = 5 * time.Second

// Flush sends the DMs still waiting for a channel's pace or rate limit, once each, without
// waiting for the pace, until ctx ends; what is left then is given up (logged, counted and
// reported to the bot.DeliveryTracker). Call it after the work that produces DMs has
// drained; a DM sent after Flush is posted at once, unpaced.
func (a *Adapter) Flush(ctx context.Context) error { return a.outbox.flush(ctx) }

// submit admits fn, the work after an acknowledgement, under the user's key (their events
// run one at a time, in order), holding lease while it runs and marking the event done
// after. A full queue makes it wait a moment for a place (bot.Pool.Admit), which slows the
// sender down to what the bot gets through. When the pool refuses it, the lease is released
// (a redelivery is handled) and the error says so: the caller answers busy instead of
// acknowledging.
func (a *Adapter) submit(ctx context.Context, key, op string, lease *bot.Lease, fn func(ctx context.Context)) error {
	err := a.work.Admit(ctx, key, op, func(ctx context.Context) {
		lease.Keep()
		fn(ctx)
		lease.Done(ctx)
	})
	if err != nil {
		lease.Release(ctx)
		a.log.WarnContext(ctx, "busy: work refused", "op", op, "err", err)
	}
	return err
}

// handle passes ev to the handler, first filling the user's time zone from Slack the
// first time this process meets them.
func (a *Adapter) handle(ctx context.Context, ev bot.Event) {
	if err := a.h.Handle(ctx, ev); err != nil {
		a.log.ErrorContext(ctx, "handling event failed", "kind", int(ev.Kind), "user", ev.User.String(), "err", err)
	}
}

var _ bot.ZoneFinder = (*Adapter)(nil)

// PlatformZone returns the time zone of u's Slack profile (users.info), "" when it has none.
// The engine asks only for users with no zone saved, so the adapter remembers nothing.
func (a *Adapter) PlatformZone(ctx context.Context, u bot.UserRef) (string, error) {
	var info *slack.User
	err := a.retry(ctx, "users.info", u, func(ctx context.Context) error {
		var err error
		info, err = a.api.GetUserInfoContext(ctx, u.User)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("slack: users.info: %w", err)
	}
	return info.TZ, nil
}

// goneErrors are the Web API errors that say the user is no longer there: not found, or
// deactivated (conversations.open says user_disabled, chat.postMessage account_inactive).
var goneErrors = map[string]bool{"user_not_found": true, "account_inactive": true, "user_disabled": true}

// userGone reports whether err is Slack saying the user is gone.
func userGone(err error) bool {
	if err == nil {
		return false // before errors.As: its target would be allocated on every post
	}
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && goneErrors[se.Err]
}

// retry calls fn, waiting and trying again (at most maxTries times in all) when Slack
// answers with a rate limit. Failures are logged with the method and user, never text.
func (a *Adapter) retry(ctx context.Context, method string, u bot.UserRef, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || attempt >= maxTries {
			a.log.ErrorContext(ctx, "slack call failed", "method", method, "user", u.String(), "attempt", attempt, "err", err)
			if userGone(err) {
				return fmt.Errorf("slack: %s: %w: %w", method, bot.ErrUserGone, err)
			}
			err = fmt.Errorf("slack: %s: %w", method, err)
			if rl != nil {
				// Still limited: say so in the engine's terms, so the scheduler re-queues
				// the delivery instead of dropping it.
				return &bot.RateLimitError{RetryAfter: rl.RetryAfter, Err: err}
			}
			return err
		}
		wait := min(max(rl.RetryAfter, 100*time.Millisecond), maxRetryWait)
		a.log.WarnContext(ctx, "slack rate limit", "method", method, "user", u.String(), "retry_after", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("slack: %s: waiting out a rate limit: %w", method, ctx.Err())
		case <-t.C:
		}
	}
}
