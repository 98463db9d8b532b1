package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/storage/redistest"
)

// fakeSocket is a Socket Mode endpoint that follows Slack's documentation
// (https://docs.slack.dev/apis/events-api/using-socket-mode): each connection gets
// "hello"; each envelope goes to one of the app's connections and stays pending until it
// is acknowledged with its envelope_id, and an envelope not acknowledged is sent again on
// a later connection; "disconnect" asks for a new connection.
type fakeSocket struct {
	tb  testing.TB
	srv *httptest.Server

	mu             sync.Mutex
	conns          map[*sockConn]bool // connections past hello
	pending        []map[string]any   // envelopes not yet acknowledged
	acked          map[string]int     // envelope_id → acknowledgements
	connects       []time.Time
	dropAfterHello int  // the next n connections are cut right after hello
	silent         bool // connections stop reading (no pongs) and get nothing more
}

type sockConn struct {
	mu     sync.Mutex
	c      *websocket.Conn
	silent atomic.Bool // answers no pings
}

func (s *sockConn) send(v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.WriteJSON(v)
}

func newFakeSocket(tb testing.TB) *fakeSocket {
	f := &fakeSocket{tb: tb, conns: map[*sockConn]bool{}, acked: map[string]int{}}
	up := websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s := &sockConn{c: c}
		c.SetPingHandler(func(data string) error {
			if s.silent.Load() {
				return nil
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		f.serve(s)
	}))
	tb.Cleanup(func() {
		f.mu.Lock()
		for s := range f.conns {
			s.c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeSocket) url() string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/link/?ticket=t"
}

func (f *fakeSocket) serve(s *sockConn) {
	defer s.c.Close()
	f.mu.Lock()
	f.connects = append(f.connects, time.Now())
	drop := f.dropAfterHello > 0
	if drop {
		f.dropAfterHello--
	}
	f.mu.Unlock()
	if s.send(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A1"},
		"debug_info": map[string]any{"host": "applink-fake"}}) != nil {
		return
	}
	if drop {
		s.c.UnderlyingConn().Close()
		return
	}
	f.mu.Lock()
	f.conns[s] = true
	backlog := append([]map[string]any(nil), f.pending...)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, s)
		f.mu.Unlock()
	}()
	for _, env := range backlog {
		s.send(env)
	}
	for {
		_, msg, err := s.c.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(msg, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		f.mu.Lock()
		f.acked[ack.EnvelopeID]++
		for i, env := range f.pending {
			if env["envelope_id"] == ack.EnvelopeID {
				f.pending = append(f.pending[:i], f.pending[i+1:]...)
				break
			}
		}
		f.mu.Unlock()
	}
}

// envelope queues an envelope and sends it on one live connection, if there is one.
func (f *fakeSocket) envelope(env map[string]any) {
	f.mu.Lock()
	f.pending = append(f.pending, env)
	var to *sockConn
	if !f.silent {
		for s := range f.conns {
			to = s
			break
		}
	}
	f.mu.Unlock()
	if to != nil {
		to.send(env)
	}
}

// dm queues an events_api envelope carrying user's DM (a user who has seen the welcome).
func (f *fakeSocket) dm(h *harness, user, text, id string) {
	if _, err := h.store.MarkWelcomed(context.Background(), userRef(testTeam, user)); err != nil {
		f.tb.Fatal(err)
	}
	var payload map[string]any
	json.Unmarshal(h.messageBody(user, text, "Ev"+id), &payload)
	f.envelope(map[string]any{"type": "events_api", "envelope_id": "env-" + id, "payload": payload, "accepts_response_payload": false, "retry_attempt": 0})
}

// broadcast sends v on every live connection.
func (f *fakeSocket) broadcast(v any) {
	f.mu.Lock()
	var all []*sockConn
	for s := range f.conns {
		all = append(all, s)
	}
	f.mu.Unlock()
	for _, s := range all {
		s.send(v)
	}
}

// silence stops every live connection from reading (so no pongs) and from receiving.
func (f *fakeSocket) silence() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.silent = true
	for s := range f.conns {
		delete(f.conns, s) // it gets nothing more
		s.silent.Store(true)
	}
}

func (f *fakeSocket) counts() (connects int, live int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.connects), len(f.conns)
}

// sockObserver records what the Socket Mode supervisor reports.
type sockObserver struct {
	mu         sync.Mutex
	state      bot.ConnState
	detail     string
	reconnects map[string]int
}

func (o *sockObserver) ConnState(_ string, s bot.ConnState, d string) {
	o.mu.Lock()
	o.state, o.detail = s, d
	o.mu.Unlock()
}
func (o *sockObserver) ConnReconnect(_, r string) {
	o.mu.Lock()
	if o.reconnects == nil {
		o.reconnects = map[string]int{}
	}
	o.reconnects[r]++
	o.mu.Unlock()
}
func (o *sockObserver) ConnSession(string, bool) {}
func (o *sockObserver) ConnActivity(string)      {}
func (o *sockObserver) get() (bot.ConnState, string, map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := map[string]int{}
	for k, v := range o.reconnects {
		r[k] = v
	}
	return o.state, o.detail, r
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns what was written, line by line.
func (l *syncBuf) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(l.b.String(), "\n")
}

// count is the number of lines that hold substr.
func (l *syncBuf) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

const (
	sockBackoffMin = 50 * time.Millisecond
	sockBackoffMax = 400 * time.Millisecond
	// sockPing is the ping of the test about pings (silent): three of them without a frame
	// end a connection, so a replica or fake stalled that long on a loaded machine (-race,
	// other builds) would see a dead link that is not. The other tests are not about pings
	// and ping at sockPingIdle, production's default, which no stall reaches.
	sockPing     = 500 * time.Millisecond
	sockPingIdle = 10 * time.Second
	sockStable   = 300 * time.Millisecond
)

// socketRig is replicas storybot processes in Socket Mode on one fake Slack, one Redis.
type socketRig struct {
	fake *fakeSlack
	sock *fakeSocket
	hs   []*harness
	obs  []*sockObserver
	logs []*syncBuf
}

func newSocketRig(t *testing.T, replicas int, ping time.Duration, prepare func(*fakeSlack, *fakeSocket)) *socketRig {
	t.Helper()
	r := &socketRig{fake: newFakeSlack(t), sock: newFakeSocket(t)}
	r.fake.wsURL = r.sock.url()
	if prepare != nil {
		prepare(r.fake, r.sock)
	}
	redisURL, clock := redistest.Start(t), fakeclock.New(time.Now())
	for i := range replicas {
		obs, logs := &sockObserver{}, &syncBuf{}
		h := newReplica(t, r.fake, redisURL, clock, fmt.Sprint("r", i), func(c *Config) {
			c.AppToken = "xapp-test"
			c.Conn = obs
			c.Logger = slog.New(slog.NewTextHandler(logs, nil))
			c.socketTiming = socketTiming{BackoffMin: sockBackoffMin, BackoffMax: sockBackoffMax, Ping: ping, Stable: sockStable, Seed: uint64(i + 1)}
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.adapter.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
		r.hs, r.obs, r.logs = append(r.hs, h), append(r.obs, obs), append(r.logs, logs)
	}
	return r
}

func (r *socketRig) opens() int { return r.hs[0].countCalls("apps.connections.open") }

// answered waits for the DM reply to user, whose envelope is envID, and returns how long
// after start it came. Then it waits until Slack has the envelope acknowledged (so every
// delivery of it, redeliveries on later connections included, has been handed to a
// replica) and every replica's work is done, and checks that the DM was answered exactly
// once. Wall-clock time is not judged here: on a loaded machine the handshakes take what
// they take; the tests check the supervisor's own decisions (its pauses, in its log).
func (r *socketRig) answered(t *testing.T, user, envID string, start time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(sockDeadline)
	for len(r.hs[0].replies(user, 0)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s's DM over Socket Mode was never answered", user)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	for !r.sock.settled(envID) {
		if time.Now().After(deadline) {
			t.Fatalf("envelope %s never acknowledged", envID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, h := range r.hs {
		h.wait()
	}
	if n := len(r.hs[0].replies(user, 0)); n != 1 {
		t.Errorf("%s's DM answered %d times, want once", user, n)
	}
	return took
}

// sockDeadline bounds every wait for something the tests expect to happen: generous, since
// it only ends a test that has already failed.
const sockDeadline = 30 * time.Second

// settled reports whether envelope id was acknowledged and nothing is pending any more.
func (f *fakeSocket) settled(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acked[id] > 0 && len(f.pending) == 0
}

// sockPause is one reconnection as a replica logged it: why, and the pause it chose.
type sockPause struct {
	reason string
	in     time.Duration
}

var reconnectLine = regexp.MustCompile(`msg="socket mode connection ended; reconnecting" .*\breason=(\S+) .* in=(\S+)$`)

// pauses returns the reconnections replica i logged, in order.
func (r *socketRig) pauses(t *testing.T, i int) []sockPause {
	t.Helper()
	var out []sockPause
	for _, line := range r.logs[i].lines() {
		m := reconnectLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2])
		if err != nil {
			t.Fatalf("replica %d logged pause %q: %v", i, m[2], err)
		}
		out = append(out, sockPause{reason: m[1], in: d})
	}
	return out
}

// waitReconnected waits until every replica has reported a reconnection for reason (want
// of them in all) and is up again.
func (r *socketRig) waitReconnected(t *testing.T, reason string, want int) {
	t.Helper()
	deadline := time.Now().Add(sockDeadline)
	for i, o := range r.obs {
		for {
			state, _, rec := o.get()
			if state == bot.ConnUp && rec[reason] >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d: state %v, reconnects %v; want up after %d %s", i, state, rec, want, reason)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestSocketModeLifecycle(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			t.Run("drop-after-hello", func(t *testing.T) { testSocketDrops(t, replicas) })
			t.Run("disconnect", func(t *testing.T) { testSocketDisconnect(t, replicas) })
			t.Run("silent", func(t *testing.T) { testSocketSilent(t, replicas) })
			t.Run("invalid_auth", func(t *testing.T) { testSocketInvalidAuth(t, replicas) })
		})
	}
}

// testSocketDrops: every connection is cut right after hello, eight times per replica.
// Each attempt is one apps.connections.open, the pauses double from 25–50 ms up to the
// 400 ms cap (each pause as the replica chose it: in [d/2, d) for the n-th failure's d),
// and the DM sent during the trouble is delivered on the first connection that lasts and
// answered once.
func testSocketDrops(t *testing.T, replicas int) {
	const drops = 8
	start := time.Now()
	r := newSocketRig(t, replicas, sockPingIdle, func(_ *fakeSlack, s *fakeSocket) { s.dropAfterHello = drops * replicas })
	user := "USOCKDROP"
	r.sock.dm(r.hs[0], user, "/story quick", "drop1")
	took := r.answered(t, user, "env-drop1", start)
	waitLive(t, r.sock, replicas)
	// The fake counts a connection live before the replica has read its hello and reported
	// it up (and the drops are shared: one replica may still be in its last pause), so wait
	// for the reports rather than read them once.
	r.waitReconnected(t, "dropped", 1)
	if got := r.opens(); got != (drops+1)*replicas {
		t.Errorf("apps.connections.open called %d times, want %d: one per attempt", got, (drops+1)*replicas)
	}
	if min := 25*time.Millisecond + 50*time.Millisecond + 100*time.Millisecond + 4*200*time.Millisecond; replicas == 1 && took < min {
		t.Errorf("answered after %v: the backoff did not hold (at least %v)", took, min)
	}
	total := 0
	for i := range r.hs {
		ps := r.pauses(t, i)
		total += len(ps)
		for n, p := range ps {
			// The n-th drop in a row (none healthy) waits Delay(n): none after the first.
			hi := time.Duration(0)
			if n > 0 {
				hi = min(sockBackoffMin<<(n-1), sockBackoffMax)
			}
			if p.reason != "dropped" || p.in < hi/2 || p.in > hi || (hi > 0 && p.in == hi) {
				t.Errorf("replica %d, reconnection %d: %s after %v, want dropped after [%v, %v)", i, n+1, p.reason, p.in, hi/2, hi)
			}
		}
	}
	if total != drops*replicas {
		t.Errorf("%d reconnections logged, want %d", total, drops*replicas)
	}
	if replicas == 1 {
		r.sock.mu.Lock()
		times := r.sock.connects
		r.sock.mu.Unlock()
		for i := 2; i < len(times); i++ {
			floor := min(sockBackoffMin<<(i-2), sockBackoffMax) / 2
			if gap := times[i].Sub(times[i-1]); gap < floor {
				t.Errorf("attempt %d came %v after the one before, want at least %v", i+1, gap, floor)
			}
		}
	}
}

// testSocketDisconnect: Slack's "disconnect" (refresh_requested) is followed at once (no
// pause) by one new connection per replica; the DM sent meanwhile is answered once.
func testSocketDisconnect(t *testing.T, replicas int) {
	r := newSocketRig(t, replicas, sockPingIdle, nil)
	waitLive(t, r.sock, replicas)
	r.waitUp(t)
	before := r.opens()
	start := time.Now()
	r.sock.broadcast(map[string]any{"type": "disconnect", "reason": "refresh_requested", "debug_info": map[string]any{"host": "applink-fake"}})
	r.sock.dm(r.hs[0], "USOCKREFRESH", "/story quick", "refresh1")
	r.answered(t, "USOCKREFRESH", "env-refresh1", start)
	// Every replica has read the disconnect and connected again (answering the DM needed
	// only one of them).
	r.waitReconnected(t, "disconnect_requested", 1)
	waitLive(t, r.sock, replicas)
	if got := r.opens() - before; got != replicas {
		t.Errorf("apps.connections.open after disconnect: %d, want %d", got, replicas)
	}
	for i := range r.hs {
		if ps := r.pauses(t, i); len(ps) != 1 || ps[0].reason != "disconnect_requested" || ps[0].in != 0 {
			t.Errorf("replica %d reconnected %+v, want once for disconnect_requested, at once", i, ps)
		}
	}
}

// testSocketSilent: the connection goes quiet (no pongs, nothing sent). Within three pings
// (the read deadline it sets) storybot gives it up and connects again; the DM queued
// meanwhile is answered once.
func testSocketSilent(t *testing.T, replicas int) {
	r := newSocketRig(t, replicas, sockPing, nil)
	waitLive(t, r.sock, replicas)
	r.waitUp(t)
	start := time.Now()
	r.sock.silence()
	r.sock.dm(r.hs[0], "USOCKQUIET", "/story quick", "quiet1")
	r.sock.mu.Lock()
	r.sock.silent = false // new connections work
	r.sock.mu.Unlock()
	r.answered(t, "USOCKQUIET", "env-quiet1", start)
	// Each replica notices on its own ping schedule: wait for every one to report it.
	r.waitReconnected(t, "ping_timeout", 1)
	for i, o := range r.obs {
		if _, _, rec := o.get(); rec["ping_timeout"] != 1 {
			t.Errorf("replica %d reconnect reasons %v, want one ping_timeout", i, rec)
		}
	}
}

// testSocketInvalidAuth: an app token Slack rejects stops Socket Mode with one error that
// names SLACK_APP_TOKEN, without retrying; the HTTP endpoints keep working.
func testSocketInvalidAuth(t *testing.T, replicas int) {
	r := newSocketRig(t, replicas, sockPingIdle, func(f *fakeSlack, _ *fakeSocket) { f.openErr = "invalid_auth" })
	for i, o := range r.obs {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if s, _, _ := o.get(); s == bot.ConnFailed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d never reported Socket Mode failed", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, detail, _ := o.get(); !strings.Contains(detail, "SLACK_APP_TOKEN") || !strings.Contains(detail, "invalid_auth") {
			t.Errorf("replica %d failure %q, want it to name SLACK_APP_TOKEN and invalid_auth", i, detail)
		}
	}
	time.Sleep(3 * sockBackoffMax)
	if got := r.opens(); got != replicas {
		t.Errorf("apps.connections.open called %d times, want %d: no retries after invalid_auth", got, replicas)
	}
	for i, l := range r.logs {
		if n, named := l.count("level=ERROR"), l.count("SLACK_APP_TOKEN"); n != 1 || named != 1 {
			t.Errorf("replica %d: %d error lines, %d naming SLACK_APP_TOKEN; want one", i, n, named)
		}
	}
	r.hs[0].slash("USOCKHTTP", sharedChannel, "help")
	if got := r.hs[0].replies("USOCKHTTP", 0); len(got) == 0 {
		t.Error("the HTTP slash command got no answer while Socket Mode was down")
	}
}

// waitUp waits until every replica has read its hello and reported Socket Mode up.
func (r *socketRig) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(sockDeadline)
	for i, o := range r.obs {
		for {
			if s, _, _ := o.get(); s == bot.ConnUp {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d never reported Socket Mode up", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func waitLive(t *testing.T, s *fakeSocket, n int) {
	t.Helper()
	deadline := time.Now().Add(sockDeadline)
	for {
		if _, live := s.counts(); live == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Socket Mode connections: want %d live", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
