package slack

// storybot's Socket Mode connection, supervised here rather than by slack-go.
//
// slack-go v0.35.0's socketmode.Client.RunContext reconnects in a loop of its own: each
// connection that ends (a close frame, a read error, a ping timeout) makes run return nil
// and the loop calls connect again, which builds a fresh backoff, so the first attempt is
// immediate every time. A connection that drops right after "hello" therefore reopens at
// once, for ever (114 apps.connections.open calls in 12 s were seen), and nothing outside
// can put a pause between those attempts. Its authentication errors end RunContext, and
// its logging goes through a log.Logger-like value that only speaks when debugging is on.
// So this file keeps slack-go for apps.connections.open and for the payload types, and
// runs the websocket itself: one backoff across every way a connection can fail, a ping
// of its own to notice a dead link, Slack's "disconnect" honoured, fatal token errors
// reported once, naming SLACK_APP_TOKEN, and every line through slog.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/backoff"
)

// socketTiming holds the Socket Mode supervisor's bounds; zero fields take the defaults.
type socketTiming struct {
	// BackoffMin and BackoffMax bound the pause after consecutive failed connections
	// (default 1 s and 2 min). A connection that was healthy is replaced at once.
	BackoffMin, BackoffMax time.Duration
	// Stable is how long a connection must have lasted after "hello" to count as healthy
	// (default 30 s).
	Stable time.Duration
	// Ping is how often storybot pings Slack; a connection on which nothing arrives for
	// three of them is dead (default 10 s).
	Ping time.Duration
	// Handshake bounds apps.connections.open, the dial and the wait for "hello" (15 s).
	Handshake time.Duration
	// Write bounds one write (default 10 s).
	Write time.Duration
	Seed  uint64 // deterministic jitter when not 0
}

func (t socketTiming) withDefaults() socketTiming {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.BackoffMin, time.Second)
	def(&t.BackoffMax, 2*time.Minute)
	def(&t.Stable, 30*time.Second)
	def(&t.Ping, 10*time.Second)
	def(&t.Handshake, 15*time.Second)
	def(&t.Write, 10*time.Second)
	return t
}

// socketConn receives Socket Mode envelopes and delivers them on Events, as
// socketmode.Events (the same values slack-go's client produces), until its context ends.
type socketConn struct {
	// Events carries the envelopes; socketEvents reads it.
	Events chan socketmode.Event

	open   func(ctx context.Context) (string, error) // apps.connections.open
	dialer *websocket.Dialer
	log    interface {
		InfoContext(ctx context.Context, msg string, args ...any)
		WarnContext(ctx context.Context, msg string, args ...any)
		ErrorContext(ctx context.Context, msg string, args ...any)
		DebugContext(ctx context.Context, msg string, args ...any)
	}
	obs bot.ConnObserver
	t   socketTiming
	rnd *backoff.Policy

	mu sync.Mutex
	ws *websocket.Conn // the connection acks go to
}

// socketFatal is a failure reconnecting cannot mend.
type socketFatal struct{ msg string }

func (e *socketFatal) Error() string { return e.msg }

const fixAppToken = "Create an app-level token with the connections:write scope (your app → Basic Information → App-Level Tokens), set SLACK_APP_TOKEN to it (xapp-…), and restart storybot."

// openFatal says whether an apps.connections.open failure is one reconnecting cannot mend.
func openFatal(err error) *socketFatal {
	var se slack.SlackErrorResponse
	code := ""
	if errors.As(err, &se) {
		code = se.Err
	} else if s := err.Error(); !strings.ContainsAny(s, " :") {
		code = s // slack-go returns some API errors as bare error codes
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && (sc.Code == http.StatusUnauthorized || sc.Code == http.StatusForbidden || sc.Code == http.StatusNotFound) {
		code = fmt.Sprint("HTTP ", sc.Code)
	}
	switch code {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "HTTP 401", "HTTP 403", "HTTP 404":
		return &socketFatal{msg: "Slack rejected SLACK_APP_TOKEN (apps.connections.open: " + code + "). " + fixAppToken}
	case "not_allowed_token_type":
		return &socketFatal{msg: "SLACK_APP_TOKEN is not an app-level token (apps.connections.open: not_allowed_token_type): it must start with xapp-. " + fixAppToken}
	case "missing_scope":
		return &socketFatal{msg: "SLACK_APP_TOKEN lacks the connections:write scope (apps.connections.open: missing_scope). " + fixAppToken}
	}
	return nil
}

// sockOutcome is how one connection ended.
type sockOutcome struct {
	reason  string // a metric label
	detail  string
	healthy bool
	wait    time.Duration
	fatal   *socketFatal
}

// run connects and reconnects until ctx ends (nil) or a fatal failure (returned, already
// logged and reported).
func (c *socketConn) run(ctx context.Context) error {
	failures := 0
	c.obs.ConnState(Platform, bot.ConnConnecting, "connecting to Slack Socket Mode")
	for ctx.Err() == nil {
		out := c.connect(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if out.fatal != nil {
			c.obs.ConnState(Platform, bot.ConnFailed, out.fatal.msg)
			c.log.ErrorContext(ctx, "Slack Socket Mode stopped: "+out.fatal.msg)
			return out.fatal
		}
		if out.healthy {
			failures = 0
		}
		wait := max(c.rnd.Delay(failures), out.wait)
		failures++
		c.obs.ConnReconnect(Platform, out.reason)
		c.obs.ConnState(Platform, bot.ConnConnecting, out.detail)
		c.log.WarnContext(ctx, "socket mode connection ended; reconnecting", "reason", out.reason, "detail", out.detail, "in", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
	return nil
}

// connect runs one connection from apps.connections.open to its end.
func (c *socketConn) connect(ctx context.Context) sockOutcome {
	octx, cancel := context.WithTimeout(ctx, c.t.Handshake)
	url, err := c.open(octx)
	cancel()
	if err != nil {
		if f := openFatal(err); f != nil {
			return sockOutcome{fatal: f}
		}
		out := sockOutcome{reason: "open_failed", detail: "apps.connections.open failed: " + err.Error()}
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			out.reason, out.wait = "rate_limited", rl.RetryAfter
		}
		return out
	}
	dctx, cancel := context.WithTimeout(ctx, c.t.Handshake)
	// Slack checks the Origin of Socket Mode connections, as slack-go sends it.
	ws, resp, err := c.dialer.DialContext(dctx, url, http.Header{"Origin": {"https://api.slack.com"}})
	cancel()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return sockOutcome{reason: "dial_failed", detail: "could not connect to Socket Mode: " + err.Error()}
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = ws.Close()
	})
	defer stop()

	alive := func() {
		_ = ws.SetReadDeadline(time.Now().Add(3 * c.t.Ping))
		c.obs.ConnActivity(Platform)
	}
	ws.SetReadDeadline(time.Now().Add(c.t.Handshake))
	ws.SetPongHandler(func(string) error { alive(); return nil })
	ws.SetPingHandler(func(data string) error {
		alive()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.t.Write))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})

	var hello time.Time
	done := make(chan struct{})
	var pingers sync.WaitGroup
	pingers.Go(func() {
		t := time.NewTicker(c.t.Ping)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.t.Write)) != nil {
					return
				}
			}
		}
	})
	defer func() { close(done); pingers.Wait() }()
	defer func() {
		c.mu.Lock()
		if c.ws == ws {
			c.ws = nil
		}
		c.mu.Unlock()
	}()

	healthy := func() bool { return !hello.IsZero() && time.Since(hello) >= c.t.Stable }
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return sockOutcome{}
			}
			detail := "the connection dropped"
			if hello.IsZero() {
				detail += " before hello"
			}
			reason := "dropped"
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				reason, detail = "closed", fmt.Sprintf("Slack closed the connection with code %d", ce.Code)
			} else if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				reason, detail = "ping_timeout", "nothing arrived for three pings"
			}
			return sockOutcome{reason: reason, detail: detail + ": " + err.Error(), healthy: healthy()}
		}
		alive()
		var req socketmode.Request
		if err := json.Unmarshal(msg, &req); err != nil {
			c.log.WarnContext(ctx, "socket mode: undecodable message", "err", err)
			continue
		}
		switch req.Type {
		case socketmode.RequestTypeHello:
			hello = time.Now()
			c.mu.Lock()
			c.ws = ws
			c.mu.Unlock()
			c.obs.ConnSession(Platform, false)
			c.obs.ConnState(Platform, bot.ConnUp, "")
			c.log.InfoContext(ctx, "socket mode connected", "connections", req.NumConnections)
		case socketmode.RequestTypeDisconnect:
			switch req.Reason {
			case "warning":
				// Slack will disconnect in about ten seconds; the refresh_requested that
				// follows starts the new connection.
				c.log.DebugContext(ctx, "socket mode: disconnect warning")
				continue
			case "link_disabled":
				return sockOutcome{fatal: &socketFatal{msg: "Slack turned Socket Mode off for this app (disconnect: link_disabled): switch it on under Settings → Socket Mode, or unset SLACK_APP_TOKEN to use the HTTP endpoints, and restart storybot."}}
			}
			// refresh_requested and the like: Slack asks for a new connection; the old
			// one was fine, so no pause.
			return sockOutcome{reason: "disconnect_requested", detail: "Slack asked for a new connection (" + req.Reason + ")", healthy: !hello.IsZero()}
		default:
			evt, err := envelopeEvent(&req)
			if err != nil {
				// Acknowledge it anyway: Slack would only send the same bad payload again.
				c.log.WarnContext(ctx, "socket mode: unusable envelope", "type", req.Type, "err", err)
				if req.EnvelopeID != "" {
					_ = c.AckCtx(ctx, req.EnvelopeID, nil)
				}
				continue
			}
			select {
			case c.Events <- evt:
			case <-ctx.Done():
				return sockOutcome{}
			}
		}
	}
}

// envelopeEvent decodes an envelope's payload the way slack-go's client does.
func envelopeEvent(req *socketmode.Request) (socketmode.Event, error) {
	evt := socketmode.Event{Request: req}
	switch req.Type {
	case socketmode.RequestTypeEventsAPI:
		e, err := slackevents.ParseEvent(req.Payload, slackevents.OptionNoVerifyToken())
		if err != nil {
			return evt, fmt.Errorf("events_api payload: %w", err)
		}
		evt.Type, evt.Data = socketmode.EventTypeEventsAPI, e
	case socketmode.RequestTypeSlashCommands:
		var cmd slack.SlashCommand
		if err := json.Unmarshal(req.Payload, &cmd); err != nil {
			return evt, fmt.Errorf("slash_commands payload: %w", err)
		}
		evt.Type, evt.Data = socketmode.EventTypeSlashCommand, cmd
	case socketmode.RequestTypeInteractive:
		var ic slack.InteractionCallback
		if err := json.Unmarshal(req.Payload, &ic); err != nil {
			return evt, fmt.Errorf("interactive payload: %w", err)
		}
		evt.Type, evt.Data = socketmode.EventTypeInteractive, ic
	default:
		return evt, fmt.Errorf("unknown envelope type %q", req.Type)
	}
	return evt, nil
}

// AckCtx acknowledges an envelope on the current connection. An envelope whose
// connection is gone cannot be acknowledged: Slack delivers it again on another.
func (c *socketConn) AckCtx(ctx context.Context, envelopeID string, payload any) error {
	resp := map[string]any{"envelope_id": envelopeID}
	if payload != nil {
		resp["payload"] = payload
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("socket mode ack: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws == nil {
		return errors.New("socket mode ack: not connected")
	}
	deadline := time.Now().Add(c.t.Write)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("socket mode ack: %w", err)
	}
	return nil
}
