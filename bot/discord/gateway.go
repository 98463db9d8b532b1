package discord

// The gateway connection, supervised by storybot rather than by discordgo.
//
// discordgo v0.29.0's Session.Open and its reconnect loop (wsapi.go) cannot be configured
// to follow Discord's documented lifecycle, so this file replaces them; discordgo stays
// for REST and for the event types. What upstream does, and what is done here instead:
//   - Zombie connections: discordgo waits 5 heartbeat intervals without an ACK
//     (FailedHeartbeatAcks) and then calls Close, which sends close code 1000. Code 1000
//     ends the session, so its RESUME fails and the events sent meanwhile are lost. Here a
//     heartbeat that is still unacknowledged when the next is due closes the connection
//     with closeResume (4900) and resumes at once.
//   - resume_gateway_url: discordgo's Ready has no such field and Open always dials the URL
//     cached from GET /gateway; it never reads resume_gateway_url. Here RESUME goes to
//     READY's resume_gateway_url, and to the looked-up URL only for new sessions.
//   - Op 9: discordgo sends IDENTIFY whatever d says, at once. Here d=true resumes and
//     d=false waits 1–5 s, then identifies a new session.
//   - Close codes: discordgo's loop retries every close for ever (up to 10-minute pauses)
//     and logs through the package-global discordgo.Logger or the standard log package.
//     Here 4004 and 4010–4014 stop the gateway with one error that says what to fix, 4011
//     re-reads the shard count, and every line goes through slog.
//   - Sharding: discordgo identifies as [ShardID, ShardCount] only when told; Session.Gateway
//     reads GET /gateway, which has no shard count. Here GET /gateway/bot gives N and the
//     session identifies as shard [0, N]: Discord sends every DM to shard 0, and nothing
//     else storybot uses travels on other shards.
// Every replica runs this same loop with the same shard, so each receives every DM and the
// adapter's dedupe answers it once: the replica scheme does not change with N.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/backoff"
)

const (
	// gatewayVersion is the gateway API version storybot speaks.
	gatewayVersion = "10"
	// closeResume is the close code sent when storybot means to resume: Discord ends the
	// session on 1000 and 1001, and keeps it on any other code.
	closeResume = 4900
	// maxShards bounds the shard count storybot will identify with after a 4011.
	maxShards = 1 << 14
)

// gatewayTiming holds the supervisor's bounds; zero fields take the defaults. Tests
// shrink them.
type gatewayTiming struct {
	// BackoffMin and BackoffMax bound the pause after consecutive failed connections
	// (default 1 s and 2 min). A connection that was healthy is retried at once.
	BackoffMin, BackoffMax time.Duration
	// InvalidMin and InvalidMax bound the wait before a new IDENTIFY after an invalid
	// session (op 9, d=false): Discord asks for a random 1–5 s.
	InvalidMin, InvalidMax time.Duration
	// Handshake bounds the lookup, the dial and the wait for HELLO (default 15 s).
	Handshake time.Duration
	// Write bounds one write to the socket (default 10 s).
	Write time.Duration
	// Seed makes the jitter deterministic when not 0.
	Seed uint64
}

func (t gatewayTiming) withDefaults() gatewayTiming {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.BackoffMin, time.Second)
	def(&t.BackoffMax, 2*time.Minute)
	def(&t.InvalidMin, time.Second)
	def(&t.InvalidMax, 5*time.Second)
	def(&t.Handshake, 15*time.Second)
	def(&t.Write, 10*time.Second)
	return t
}

// gatewayInfo is what GET /gateway/bot says.
type gatewayInfo struct {
	URL    string
	Shards int
	// Remaining is the number of IDENTIFYs left in the current window, ResetAfter when
	// the window ends; Remaining is -1 when unknown.
	Remaining  int
	ResetAfter time.Duration
}

// gatewayFatal is a failure that reconnecting cannot mend: the gateway stops until the
// configuration changes.
type gatewayFatal struct {
	code int // the close code, or the HTTP status of the lookup
	msg  string
}

func (e *gatewayFatal) Error() string { return e.msg }

// gwSession is the session to resume, if any.
type gwSession struct {
	id        string
	resumeURL string
	seq       int64
}

// gatewayClient keeps one gateway session (shard 0 of N) alive.
type gatewayClient struct {
	token    string // without the "Bot " prefix
	intents  int
	lookup   func(ctx context.Context) (gatewayInfo, error)
	dispatch func(t string, d json.RawMessage)
	log      *slog.Logger
	obs      bot.ConnObserver
	t        gatewayTiming
	rnd      *backoff.Policy
	dialer   *websocket.Dialer
	// onNewSession is told when a new session follows an earlier one, with when the
	// earlier one was last heard from: Discord replays nothing to a new session.
	onNewSession func(lastAlive time.Time)
	// alive is when a ready session last received anything; run's goroutine only.
	alive time.Time
}

func newGatewayClient(token string, intents int, lookup func(context.Context) (gatewayInfo, error), dispatch func(string, json.RawMessage), log *slog.Logger, obs bot.ConnObserver, t gatewayTiming) *gatewayClient {
	t = t.withDefaults()
	rnd := &backoff.Policy{Min: t.BackoffMin, Max: t.BackoffMax}
	if t.Seed != 0 {
		rnd = backoff.Seeded(t.BackoffMin, t.BackoffMax, t.Seed)
	}
	if obs == nil {
		obs = bot.NopConnObserver{}
	}
	return &gatewayClient{
		token: strings.TrimPrefix(token, "Bot "), intents: intents, lookup: lookup, dispatch: dispatch,
		log: log, obs: obs, t: t, rnd: rnd,
		dialer: &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: t.Handshake},
	}
}

// outcome is how one connection ended and what to do next.
type outcome struct {
	reason   string // a metric label
	detail   string // for the log and /readyz
	keep     bool   // the session may be resumed
	healthy  bool   // it was up and acknowledged a heartbeat: reconnect without a pause
	wait     time.Duration
	relookup bool // ask GET /gateway/bot again before the next connection
	sharding bool // Discord asked for (more) shards
	fatal    *gatewayFatal
}

// run keeps the session alive until ctx ends (it returns nil) or a fatal failure (it
// returns the *gatewayFatal, already logged and reported).
func (g *gatewayClient) run(ctx context.Context) error {
	var (
		info     gatewayInfo
		sess     gwSession
		shards   int
		failures int // consecutive connections that were not healthy
		lookup   = true
		sharding bool
	)
	g.obs.ConnState(Platform, bot.ConnConnecting, "connecting to the Discord gateway")
	for ctx.Err() == nil {
		if lookup {
			lctx, cancel := context.WithTimeout(ctx, g.t.Handshake)
			i, err := g.lookup(lctx)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				if f := lookupFatal(err); f != nil {
					return g.fail(ctx, f)
				}
				failures++
				wait := g.rnd.Delay(failures)
				g.obs.ConnReconnect(Platform, "lookup_failed")
				g.obs.ConnState(Platform, bot.ConnConnecting, "GET /gateway/bot failed: "+err.Error())
				g.log.WarnContext(ctx, "gateway lookup failed; retrying", "err", err, "in", wait)
				if !backoff.Sleep(ctx, wait) {
					return nil
				}
				continue
			}
			n := max(i.Shards, 1)
			if sharding && n <= shards {
				// Discord closed with 4011 but still recommends no more shards than that
				// session had: take more anyway, or the next IDENTIFY fails the same way.
				n = min(shards*2, maxShards)
			}
			if n != shards && shards != 0 {
				g.log.InfoContext(ctx, "gateway shard count changed", "shards", n, "was", shards)
			}
			info, shards, lookup, sharding = i, n, false, false
		}
		if sess.id == "" && info.Remaining == 0 {
			// The daily IDENTIFY allowance is spent: another IDENTIFY would only be refused.
			wait := max(info.ResetAfter, g.t.BackoffMin)
			g.obs.ConnState(Platform, bot.ConnConnecting, "Discord's daily session start limit is used up")
			g.log.ErrorContext(ctx, "Discord's session start limit for this bot token is used up; waiting for it to reset", "in", wait)
			if !backoff.Sleep(ctx, wait) {
				return nil
			}
			lookup = true
			continue
		}
		target := info.URL
		if sess.id != "" && sess.resumeURL != "" {
			target = sess.resumeURL
		}
		resuming := sess.id != ""
		out := g.connect(ctx, target, &sess, shards)
		if ctx.Err() != nil {
			return nil
		}
		if out.fatal != nil {
			return g.fail(ctx, out.fatal)
		}
		if !resuming && info.Remaining > 0 {
			info.Remaining--
		}
		if !out.keep {
			sess = gwSession{}
		}
		if out.relookup || out.sharding {
			lookup = true
		}
		sharding = sharding || out.sharding
		if out.healthy {
			failures = 0
		}
		wait := max(g.rnd.Delay(failures), out.wait)
		failures++
		g.obs.ConnReconnect(Platform, out.reason)
		g.obs.ConnState(Platform, bot.ConnConnecting, out.detail)
		g.log.WarnContext(ctx, "gateway connection ended; reconnecting", "reason", out.reason, "detail", out.detail,
			"resume", sess.id != "", "in", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
	return nil
}

// fail reports and logs a fatal failure once.
func (g *gatewayClient) fail(ctx context.Context, f *gatewayFatal) error {
	g.obs.ConnState(Platform, bot.ConnFailed, f.msg)
	g.log.ErrorContext(ctx, "Discord gateway stopped: "+f.msg, "code", f.code)
	return f
}

// lookupFatal says whether a failed GET /gateway/bot can be mended by trying again.
func lookupFatal(err error) *gatewayFatal {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
		return &gatewayFatal{code: http.StatusUnauthorized, msg: "Discord rejected DISCORD_BOT_TOKEN (401 on GET /gateway/bot). " + fixToken}
	}
	return nil
}

const fixToken = "Copy the bot token again from the Developer Portal (your application → Bot → Reset Token), set DISCORD_BOT_TOKEN to it, and restart storybot."

// classifyClose turns a close code from Discord into what to do next. Codes 4004 and
// 4010–4014 are documented as not worth reconnecting; 4011 is mended by sharding.
func classifyClose(code int) outcome {
	label := fmt.Sprintf("Discord closed the connection with code %d", code)
	switch code {
	case 4004:
		return outcome{fatal: &gatewayFatal{code: code, msg: "Discord rejected DISCORD_BOT_TOKEN (gateway close 4004, authentication failed). " + fixToken}}
	case 4010:
		return outcome{fatal: &gatewayFatal{code: code, msg: "Discord refused the shard storybot identified as (gateway close 4010, invalid shard); this is a storybot bug, please report it."}}
	case 4011:
		return outcome{reason: "sharding_required", detail: label + " (sharding required): identifying again with more shards", sharding: true}
	case 4012:
		return outcome{fatal: &gatewayFatal{code: code, msg: "Discord refused gateway API version " + gatewayVersion + " (gateway close 4012); upgrade storybot."}}
	case 4013:
		return outcome{fatal: &gatewayFatal{code: code, msg: "Discord refused the gateway intents storybot sent (gateway close 4013, invalid intents); this is a storybot bug, please report it."}}
	case 4014:
		return outcome{fatal: &gatewayFatal{code: code, msg: "Discord refused the gateway intents storybot asks for (gateway close 4014, disallowed intents). storybot needs only Direct Messages, which is not privileged: check that DISCORD_BOT_TOKEN belongs to the application DISCORD_APP_ID and that its Bot settings in the Developer Portal allow it, then restart storybot."}}
	case 4007, 4009:
		return outcome{reason: "session_ended", detail: label + ": starting a new session"}
	}
	return outcome{reason: "closed", detail: label, keep: true}
}

// conn is one websocket connection with serialized writes.
type conn struct {
	ws      *websocket.Conn
	timeout time.Duration
	mu      sync.Mutex
	closed  bool
}

func (c *conn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// close sends a close frame with code (best effort) and closes the socket; the reader
// then fails at once.
func (c *conn) close(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// payload is a gateway message.
type payload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

type identifyData struct {
	Token      string            `json:"token"`
	Intents    int               `json:"intents"`
	Properties map[string]string `json:"properties"`
	Shard      [2]int            `json:"shard"`
}

type resumeData struct {
	Token     string `json:"token"`
	SessionID string `json:"session_id"`
	Seq       int64  `json:"seq"`
}

// gatewayURL adds the version and encoding to a gateway URL from Discord.
func gatewayURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return "", fmt.Errorf("not a websocket URL: %q", base)
	}
	q := u.Query()
	q.Set("v", gatewayVersion)
	q.Set("encoding", "json")
	u.RawQuery = q.Encode()
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// connect runs one connection: dial, HELLO, IDENTIFY or RESUME, then events until it
// ends. sess is updated as READY and sequence numbers arrive.
func (g *gatewayClient) connect(ctx context.Context, target string, sess *gwSession, shards int) outcome {
	resuming := sess.id != ""
	u, err := gatewayURL(target)
	if err != nil {
		return outcome{reason: "dial_failed", detail: "bad gateway URL from Discord", keep: false, relookup: true}
	}
	dctx, cancel := context.WithTimeout(ctx, g.t.Handshake)
	ws, resp, err := g.dialer.DialContext(dctx, u, nil)
	cancel()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil && resp != nil {
		err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
	}
	if err != nil {
		// A resume URL that cannot be reached: Discord's docs allow resuming only there,
		// so keep the session for one more try; a failing main URL is looked up again.
		return outcome{reason: "dial_failed", detail: "could not connect to the gateway: " + err.Error(), keep: resuming, relookup: !resuming}
	}
	c := &conn{ws: ws, timeout: g.t.Write}
	defer c.close(websocket.CloseNormalClosure)
	// On shutdown, close with 1000: the session ends and Discord shows the bot offline.
	stopOnCancel := context.AfterFunc(ctx, func() { c.close(websocket.CloseNormalClosure) })
	defer stopOnCancel()

	ws.SetReadDeadline(time.Now().Add(g.t.Handshake))
	var hello struct {
		HeartbeatInterval int64 `json:"heartbeat_interval"`
	}
	p, err := readPayload(ws)
	if err == nil && (p.Op != 10 || json.Unmarshal(p.D, &hello) != nil || hello.HeartbeatInterval <= 0) {
		err = fmt.Errorf("expected HELLO (op 10), got op %d", p.Op)
	}
	if err != nil {
		out := g.readFailure(err, false, false)
		out.keep = out.keep && resuming
		return out
	}
	ws.SetReadDeadline(time.Time{})
	g.obs.ConnActivity(Platform)
	interval := time.Duration(hello.HeartbeatInterval) * time.Millisecond

	var seq atomic.Int64
	seq.Store(sess.seq)
	if resuming {
		err = c.send(map[string]any{"op": 6, "d": resumeData{Token: g.token, SessionID: sess.id, Seq: sess.seq}})
	} else {
		err = c.send(map[string]any{"op": 2, "d": identifyData{
			Token: g.token, Intents: g.intents, Shard: [2]int{0, shards},
			Properties: map[string]string{"os": "linux", "browser": "storybot", "device": "storybot"},
		}})
	}
	if err != nil {
		return outcome{reason: "dropped", detail: "the connection failed while identifying: " + err.Error(), keep: resuming}
	}

	// The heartbeat: the first after interval·jitter, then every interval. A beat still
	// unacknowledged when the next is due means a zombie connection.
	var (
		acked  atomic.Bool
		zombie atomic.Bool
		done   = make(chan struct{})
		hbDone = make(chan struct{})
	)
	acked.Store(true)
	beat := func() error {
		s := seq.Load()
		if s == 0 {
			return c.send(map[string]any{"op": 1, "d": nil})
		}
		return c.send(map[string]any{"op": 1, "d": s})
	}
	go func() {
		defer close(hbDone)
		t := time.NewTimer(time.Duration(g.rnd.Fraction() * float64(interval)))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if !acked.Swap(false) {
				zombie.Store(true)
				c.close(closeResume)
				return
			}
			if beat() != nil {
				return // the reader sees the failure
			}
			t.Reset(interval)
		}
	}()
	defer func() { close(done); <-hbDone }()

	var ready, ackedSinceReady bool
	// prevAlive is when an earlier session was last heard from; a new session catches up
	// from there.
	prevAlive, catchUpFrom := g.alive, time.Time{}
	healthy := func() bool { return ready && ackedSinceReady }
	for {
		p, err := readPayload(ws)
		if err != nil {
			if ctx.Err() != nil {
				return outcome{}
			}
			if zombie.Load() {
				return outcome{reason: "zombie", detail: "no heartbeat ACK within a heartbeat interval: resuming", keep: sess.id != "", healthy: healthy()}
			}
			out := g.readFailure(err, ready, healthy())
			out.keep = out.keep && sess.id != ""
			return out
		}
		g.obs.ConnActivity(Platform)
		if ready || (p.Op == 0 && (p.T == "READY" || p.T == "RESUMED")) {
			g.alive = time.Now()
		}
		switch p.Op {
		case 0:
			if p.S != nil && *p.S > 0 {
				seq.Store(*p.S)
				sess.seq = *p.S
			}
			switch p.T {
			case "READY":
				var r struct {
					SessionID        string `json:"session_id"`
					ResumeGatewayURL string `json:"resume_gateway_url"`
				}
				if err := json.Unmarshal(p.D, &r); err != nil || r.SessionID == "" {
					return outcome{reason: "protocol", detail: "READY without a session"}
				}
				sess.id, sess.resumeURL = r.SessionID, r.ResumeGatewayURL
				catchUpFrom = prevAlive
				ready = true
				g.obs.ConnSession(Platform, false)
				g.obs.ConnState(Platform, bot.ConnUp, "")
				g.log.InfoContext(ctx, "connected to the Discord gateway: new session", "shard", fmt.Sprintf("[0, %d]", shards))
			case "RESUMED":
				ready = true
				g.obs.ConnSession(Platform, true)
				g.obs.ConnState(Platform, bot.ConnUp, "")
				g.log.InfoContext(ctx, "connected to the Discord gateway: session resumed", "seq", sess.seq)
			}
			g.dispatch(p.T, p.D)
			if !catchUpFrom.IsZero() && g.onNewSession != nil {
				g.onNewSession(catchUpFrom) // after READY itself was dispatched
				catchUpFrom = time.Time{}
			}
		case 1:
			if beat() != nil {
				continue // the reader sees the failure
			}
		case 7:
			c.close(closeResume)
			return outcome{reason: "reconnect_requested", detail: "Discord asked for a reconnect (op 7): resuming", keep: sess.id != "", healthy: healthy()}
		case 9:
			var resumable bool
			_ = json.Unmarshal(p.D, &resumable)
			if resumable && sess.id != "" {
				c.close(closeResume)
				return outcome{reason: "invalid_session_resumable", detail: "Discord invalidated the session but allows a resume (op 9, d=true): resuming", keep: true, healthy: healthy()}
			}
			c.close(websocket.CloseNormalClosure)
			return outcome{reason: "invalid_session", detail: "Discord invalidated the session (op 9, d=false): identifying again after 1–5 s",
				wait: g.rnd.Between(g.t.InvalidMin, g.t.InvalidMax), healthy: healthy()}
		case 11:
			acked.Store(true)
			if ready {
				ackedSinceReady = true
			}
		}
	}
}

// readFailure classifies a failed read: a close frame by its code, anything else as a
// dropped connection (resumable).
func (g *gatewayClient) readFailure(err error, ready, healthy bool) outcome {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure { // 1006: no close frame came
		out := classifyClose(ce.Code)
		out.healthy = healthy && out.fatal == nil
		return out
	}
	detail := "the connection dropped"
	if !ready {
		detail += " before the session was ready"
	}
	return outcome{reason: "dropped", detail: detail + ": " + err.Error(), keep: true, healthy: healthy}
}

// readPayload reads one JSON text message.
func readPayload(ws *websocket.Conn) (payload, error) {
	_, b, err := ws.ReadMessage()
	if err != nil {
		return payload{}, err
	}
	return decodePayload(b)
}

// decodePayload decodes one gateway message.
func decodePayload(b []byte) (payload, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("undecodable gateway message: %w", err)
	}
	return p, nil
}

// lookupGateway is GET /gateway/bot through the adapter's REST client (bounded, 429s
// retried a few times).
func (a *Adapter) lookupGateway(ctx context.Context) (gatewayInfo, error) {
	var resp *discordgo.GatewayBotResponse
	r := &restAPI{s: a.session, appID: a.cfg.AppID}
	err := r.call(ctx, "gateway lookup", func(opts ...discordgo.RequestOption) error {
		var err error
		resp, err = a.session.GatewayBot(opts...)
		return err
	})
	if err != nil {
		return gatewayInfo{}, err
	}
	info := gatewayInfo{URL: resp.URL, Shards: resp.Shards, Remaining: -1}
	if l := resp.SessionStartLimit; l.Total > 0 {
		info.Remaining, info.ResetAfter = l.Remaining, time.Duration(l.ResetAfter)*time.Millisecond
	}
	return info, nil
}

// runGateway keeps the gateway session until ctx ends. After a fatal failure the gateway
// stays down (the observer says why) while the rest of storybot keeps running.
func (a *Adapter) runGateway(ctx context.Context) {
	g := newGatewayClient(a.cfg.BotToken, int(discordgo.IntentsDirectMessages), a.lookupGateway, a.onDispatch, a.log, a.cfg.Conn, a.cfg.gatewayTiming)
	g.onNewSession = a.catchUp
	if err := g.run(ctx); err != nil {
		<-ctx.Done()
	}
}

// onDispatch hands a gateway event to the adapter's handlers, decoded with discordgo's
// types.
func (a *Adapter) onDispatch(t string, d json.RawMessage) {
	switch t {
	case "READY":
		var r discordgo.Ready
		if err := json.Unmarshal(d, &r); err != nil {
			a.log.Warn("undecodable READY", "err", err)
			return
		}
		a.onReady(a.session, &r)
	case "MESSAGE_CREATE":
		var m discordgo.MessageCreate
		if err := json.Unmarshal(d, &m); err != nil {
			a.log.Warn("undecodable MESSAGE_CREATE", "err", err)
			return
		}
		if m.Message != nil && m.GuildID == "" && m.ChannelID != "" {
			a.seen.note(m.ChannelID, a.now())
		}
		a.onMessageCreate(a.session, &m)
	case "INTERACTION_CREATE":
		var ic discordgo.InteractionCreate
		if err := json.Unmarshal(d, &ic); err != nil {
			a.log.Warn("undecodable INTERACTION_CREATE", "err", err)
			return
		}
		a.onInteractionCreate(a.session, &ic)
	}
}
