package discord

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// recObserver records what the gateway reports.
type recObserver struct {
	mu         sync.Mutex
	state      bot.ConnState
	detail     string
	failures   int
	reconnects map[string]int
	resumed    int
	fresh      int
	activity   int
}

func (o *recObserver) ConnState(_ string, s bot.ConnState, detail string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state, o.detail = s, detail
	if s == bot.ConnFailed {
		o.failures++
	}
}

func (o *recObserver) ConnReconnect(_, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.reconnects == nil {
		o.reconnects = map[string]int{}
	}
	o.reconnects[reason]++
}

func (o *recObserver) ConnSession(_ string, resumed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if resumed {
		o.resumed++
	} else {
		o.fresh++
	}
}

func (o *recObserver) ConnActivity(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.activity++
}

func (o *recObserver) get() (bot.ConnState, string, map[string]int, int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := map[string]int{}
	for k, v := range o.reconnects {
		r[k] = v
	}
	return o.state, o.detail, r, o.resumed, o.fresh
}

// logBuf collects log lines from several goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// Test bounds. The fake's heartbeat interval is short so that a zombie shows within a
// second; the backoff is shrunk the same way (the defaults are 1 s to 2 min).
const (
	testInterval   = 500 * time.Millisecond
	testBackoffMin = 50 * time.Millisecond
	testBackoffMax = 400 * time.Millisecond
)

// lifecycle is a running env with one observer and one log per replica.
type lifecycle struct {
	*env
	obs  []*recObserver
	logs []*logBuf
}

func newLifecycle(t *testing.T, replicas int, fake func(*fakeDiscord), wait bool) *lifecycle {
	t.Helper()
	l := &lifecycle{}
	for range replicas {
		l.obs = append(l.obs, &recObserver{})
		l.logs = append(l.logs, &logBuf{})
	}
	l.env = newEnvWith(t, replicas, false, envOptions{
		noWait: !wait,
		fake: func(f *fakeDiscord) {
			f.gw.intervalMS = int(testInterval / time.Millisecond)
			if fake != nil {
				fake(f)
			}
		},
		config: func(i int, c *Config) {
			c.Conn = l.obs[i]
			c.Logger = slog.New(slog.NewTextHandler(l.logs[i], &slog.HandlerOptions{Level: slog.LevelInfo}))
			c.gatewayTiming = gatewayTiming{BackoffMin: testBackoffMin, BackoffMax: testBackoffMax, Seed: uint64(i + 1)}
		},
	})
	if wait {
		// Let each session acknowledge a heartbeat, so it counts as healthy.
		time.Sleep(testInterval + 100*time.Millisecond)
	}
	return l
}

// dmAnswered sends a DM that starts a quick pause and waits for the one prompt it gets,
// failing when it takes longer than within or comes more than once.
func (l *lifecycle) dmAnswered(t *testing.T, user string, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	return l.replied(t, user, 0, start, within)
}

// replied waits for the one reply to user's latest DM, when before replies were already
// there.
func (l *lifecycle) replied(t *testing.T, user string, before int, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	waitFor(t, "the answer to "+user+"'s DM", func() bool { return len(l.fake.dmPosts(user)) > before })
	took := time.Since(start)
	if took > within {
		t.Errorf("%s's DM answered after %v, want within %v", user, took, within)
	}
	time.Sleep(300 * time.Millisecond) // time for a duplicate to show up
	if n := len(l.fake.dmPosts(user)) - before; n != 1 {
		t.Errorf("%s's DM answered %d times, want once", user, n)
	}
	return took
}

func (l *lifecycle) user(t *testing.T, name string) string {
	l.welcomed(t, name)
	return name
}

// checkResumedOnResumeURL checks every RESUME went to READY's resume_gateway_url and
// every close storybot sent kept the session (no 1000 or 1001).
func (l *lifecycle) checkResumedOnResumeURL(t *testing.T, wantResumes int) {
	t.Helper()
	g := l.fake.gw
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.resumes) < wantResumes || g.resumed < wantResumes {
		t.Errorf("RESUMEs sent %d, succeeded %d; want at least %d", len(g.resumes), g.resumed, wantResumes)
	}
	for _, p := range g.resumes {
		if strings.TrimSuffix(p, "/") != "/resume" {
			t.Errorf("RESUME sent to %q, want READY's resume_gateway_url (/resume)", p)
		}
	}
	for _, c := range g.clientCloses {
		if c == 1000 || c == 1001 {
			t.Errorf("storybot closed with %d, which ends the session", c)
		}
	}
}

func TestGatewayLifecycle(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			t.Run("zombie", func(t *testing.T) { testZombie(t, replicas) })
			t.Run("op7", func(t *testing.T) { testReconnectOp(t, replicas) })
			t.Run("op9-resumable", func(t *testing.T) { testInvalidResumable(t, replicas) })
			t.Run("op9-new-session", func(t *testing.T) { testInvalidNew(t, replicas) })
			t.Run("close4004", func(t *testing.T) { testAuthFailed(t, replicas) })
			t.Run("close4014", func(t *testing.T) { testDisallowedIntents(t, replicas) })
			t.Run("close4011", func(t *testing.T) { testShardingRequired(t, replicas, 3, 3) })
			t.Run("close4011-stale-recommendation", func(t *testing.T) { testShardingRequired(t, replicas, 2, 1) })
			t.Run("drop-after-hello", func(t *testing.T) { testDropAfterHello(t, replicas) })
		})
	}
}

// testZombie: the gateway stops answering (no ACKs, no events). The next heartbeat finds
// the last unacknowledged, closes with a code that keeps the session, and resumes on the
// resume URL; the DM sent meanwhile is replayed and answered once, within two heartbeat
// intervals and a little.
func testZombie(t *testing.T, replicas int) {
	l := newLifecycle(t, replicas, nil, true)
	user := l.user(t, "u-zombie")
	start := time.Now()
	l.fake.gw.silence()
	l.dm(user, "/story quick")
	l.dmAnswered(t, user, start, 2*testInterval+2*time.Second)
	for _, o := range l.obs {
		waitFor(t, "every replica to resume", func() bool { _, _, _, resumed, _ := o.get(); return resumed > 0 })
	}
	l.checkResumedOnResumeURL(t, replicas)
	_, idents, _, _ := l.fake.gw.counts()
	if idents != replicas {
		t.Errorf("IDENTIFYs = %d, want %d: a zombie is resumed, not replaced", idents, replicas)
	}
	for i, o := range l.obs {
		state, _, rec, resumed, _ := o.get()
		if rec["zombie"] < 1 || resumed < 1 || state != bot.ConnUp {
			t.Errorf("replica %d observed reconnects %v, resumed %d, state %v; want a zombie reconnect, a resume, up", i, rec, resumed, state)
		}
	}
	g := l.fake.gw
	g.mu.Lock()
	defer g.mu.Unlock()
	if !containsInt(g.clientCloses, closeResume) {
		t.Errorf("client close codes %v, want %d for the zombie", g.clientCloses, closeResume)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// testReconnectOp: op 7 is answered by a resume on the resume URL, at once; the DM sent
// right after it is replayed.
func testReconnectOp(t *testing.T, replicas int) {
	l := newLifecycle(t, replicas, nil, true)
	user := l.user(t, "u-op7")
	start := time.Now()
	l.fake.gw.sendOp(7, nil, false, 0)
	l.dm(user, "/story quick")
	l.dmAnswered(t, user, start, 2*time.Second)
	l.checkResumedOnResumeURL(t, replicas)
	if _, idents, _, _ := l.fake.gw.counts(); idents != replicas {
		t.Errorf("IDENTIFYs = %d, want %d: op 7 resumes", idents, replicas)
	}
}

// testInvalidResumable: op 9 with d=true is answered with RESUME, not IDENTIFY.
func testInvalidResumable(t *testing.T, replicas int) {
	l := newLifecycle(t, replicas, nil, true)
	user := l.user(t, "u-op9-true")
	start := time.Now()
	l.fake.gw.sendOp(9, true, false, 0)
	l.dm(user, "/story quick")
	l.dmAnswered(t, user, start, 2*time.Second)
	l.checkResumedOnResumeURL(t, replicas)
	if _, idents, _, _ := l.fake.gw.counts(); idents != replicas {
		t.Errorf("IDENTIFYs = %d, want %d: op 9 d=true resumes", idents, replicas)
	}
}

// testInvalidNew: op 9 with d=false ends the session; the replica waits 1–5 s and
// identifies again, without trying to resume. Discord replays nothing to a new session,
// so the replica catches up through GET /channels/{id}/messages: the answer the user
// typed meanwhile is answered once — at once by the other replica when there are two,
// else after the new session.
func testInvalidNew(t *testing.T, replicas int) {
	l := newLifecycle(t, replicas, nil, true)
	user := l.user(t, "u-op9-false")
	l.dm(user, "/story quick")
	l.dmAnswered(t, user, time.Now(), 2*time.Second)
	start := time.Now()
	l.fake.gw.sendOp(9, false, true, 1) // the first replica's session only
	l.dm(user, "They forgot to invite me on purpose.")
	within := 2 * time.Second
	if replicas == 1 {
		within = 5*time.Second + 2*time.Second // the 1–5 s wait, then the catch-up
	}
	l.replied(t, user, 1, start, within)
	waitFor(t, "a new IDENTIFY", func() bool { _, idents, _, _ := l.fake.gw.counts(); return idents == replicas+1 })
	g := l.fake.gw
	g.mu.Lock()
	waited := g.identifyTimes[len(g.identifyTimes)-1].Sub(start)
	resumes := len(g.resumes)
	g.mu.Unlock()
	if waited < time.Second || waited > 5*time.Second+500*time.Millisecond {
		t.Errorf("IDENTIFY %v after op 9 d=false, want after 1–5 s", waited)
	}
	if resumes != 0 {
		t.Errorf("%d RESUMEs after op 9 d=false, want none", resumes)
	}
	waitFor(t, "every session up", func() bool { return l.fake.connected() == replicas })
	time.Sleep(500 * time.Millisecond) // the catch-up of a second replica, if any, is done
	if n := len(l.fake.dmPosts(user)); n != 2 {
		t.Errorf("%d replies in all, want 2: one per DM", n)
	}
	later := l.user(t, "u-op9-false-later")
	l.dm(later, "/story quick")
	l.dmAnswered(t, later, time.Now(), 2*time.Second)
	invalid, fresh := 0, 0
	for _, o := range l.obs {
		_, _, rec, _, f := o.get()
		invalid += rec["invalid_session"]
		fresh += f
	}
	if invalid != 1 || fresh != replicas+1 {
		t.Errorf("observed %d invalid_session reconnects and %d new sessions; want 1 and %d", invalid, fresh, replicas+1)
	}
}

// testAuthFailed: a token Discord rejects (4004) stops the gateway with one error that
// names DISCORD_BOT_TOKEN; nothing more is tried, and the interactions endpoint still
// answers.
func testAuthFailed(t *testing.T, replicas int) {
	l := newLifecycle(t, replicas, func(f *fakeDiscord) { f.gw.token = "a-revoked-token" }, false)
	for i, o := range l.obs {
		waitFor(t, "the gateway to fail", func() bool { s, _, _, _, _ := o.get(); return s == bot.ConnFailed })
		_, detail, _, _, _ := o.get()
		if !strings.Contains(detail, "DISCORD_BOT_TOKEN") || !strings.Contains(detail, "4004") {
			t.Errorf("replica %d failure detail %q, want it to name DISCORD_BOT_TOKEN and 4004", i, detail)
		}
	}
	connects, _, _, _ := l.fake.gw.counts()
	time.Sleep(3 * testBackoffMax)
	if again, _, _, _ := l.fake.gw.counts(); again != connects || connects != replicas {
		t.Errorf("gateway connections %d, then %d: want %d and no retries after 4004", connects, again, replicas)
	}
	for i, lb := range l.logs {
		if errs := lb.lines("level=ERROR"); len(errs) != 1 || !strings.Contains(errs[0], "DISCORD_BOT_TOKEN") {
			t.Errorf("replica %d logged errors %q, want one naming DISCORD_BOT_TOKEN", i, errs)
		}
	}
	// The interactions endpoint keeps working.
	user := l.user(t, "u-http")
	response(t, l.post(t, l.command(user, "", "quick")))
	waitFor(t, "the prompt over HTTP", func() bool { return len(l.fake.dmPosts(user)) == 1 })
}

// testDisallowedIntents: 4014 while running stops the gateway with a message that says
// what to check.
func testDisallowedIntents(t *testing.T, replicas int) {
	l := newLifecycle(t, replicas, nil, true)
	l.fake.gw.closeSessions(4014)
	for i, o := range l.obs {
		waitFor(t, "the gateway to fail", func() bool { s, _, _, _, _ := o.get(); return s == bot.ConnFailed })
		if _, detail, _, _, _ := o.get(); !strings.Contains(detail, "4014") || !strings.Contains(detail, "DISCORD_BOT_TOKEN") {
			t.Errorf("replica %d failure detail %q", i, detail)
		}
	}
}

// testShardingRequired: the bot outgrew one shard. A session that has to start again is
// closed with 4011; storybot reads GET /gateway/bot again and identifies as [0, N] — N as
// recommended, or twice the refused count when the recommendation lags — and DMs flow.
func testShardingRequired(t *testing.T, replicas, need, recommended int) {
	l := newLifecycle(t, replicas, nil, true)
	early := l.user(t, "u-before-sharding")
	l.dm(early, "/story quick")
	l.dmAnswered(t, early, time.Now(), 2*time.Second)
	g := l.fake.gw
	g.mu.Lock()
	g.needShards, g.recommended = need, recommended
	g.mu.Unlock()
	start := time.Now()
	g.closeSessions(4009)                               // the sessions time out: new ones must identify
	l.dm(early, "They forgot to invite me on purpose.") // no session is alive: caught up later
	waitFor(t, "sharded sessions", func() bool { return l.fake.connected() == replicas })
	l.replied(t, early, 1, start, 3*time.Second)
	g.mu.Lock()
	var shards []string
	refused := 0
	for _, id := range g.identifies[replicas:] {
		s := fmt.Sprint(id["shard"])
		shards = append(shards, s)
		if s == "[0 1]" {
			refused++
		}
	}
	last := fmt.Sprint(g.identifies[len(g.identifies)-1]["shard"])
	g.mu.Unlock()
	want := fmt.Sprintf("[0 %d]", need)
	if last != want || refused != replicas || len(shards) != 2*replicas {
		t.Errorf("IDENTIFY shards after the time-out %v, want [0 1] refused once per replica, then %s", shards, want)
	}
	user := l.user(t, "u-sharded")
	l.dm(user, "/story quick")
	l.dmAnswered(t, user, time.Now(), 2*time.Second)
	if _, _, rec, _, _ := l.obs[0].get(); rec["sharding_required"] != 1 {
		t.Errorf("reconnect reasons %v, want one sharding_required", rec)
	}
}

// testDropAfterHello: every connection is cut right after HELLO, eight times over. The
// first retry is at once (the session was healthy); then the pauses double from 25–50 ms
// to the 400 ms cap, so the fake sees exactly one connection per attempt; then the session
// resumes and the DM sent during the trouble is answered once.
func testDropAfterHello(t *testing.T, replicas int) {
	const drops = 8
	l := newLifecycle(t, replicas, nil, true)
	user := l.user(t, "u-flaky")
	g := l.fake.gw
	before, _, _, _ := g.counts()
	g.mu.Lock()
	g.dropAfterHello = drops * replicas
	g.mu.Unlock()
	start := time.Now()
	g.drop()
	l.dm(user, "/story quick")
	// The pauses: at most 50+100+200+400·5 ms = 2.35 s, plus the handshakes.
	took := l.dmAnswered(t, user, start, 2350*time.Millisecond+2*time.Second)
	connects, _, _, _ := g.counts()
	if got := connects - before; got != (drops+1)*replicas {
		t.Errorf("connections during the trouble %d, want %d: one per attempt", got, (drops+1)*replicas)
	}
	// The least the pauses add up to: 25+50+100+200·5 ms.
	if min := 1175 * time.Millisecond; took < min {
		t.Errorf("answered after %v: the backoff did not hold (at least %v)", took, min)
	}
	if replicas == 1 {
		g.mu.Lock()
		times := g.connects[before:]
		g.mu.Unlock()
		for i := 2; i < len(times); i++ {
			gap := times[i].Sub(times[i-1])
			floor := min(testBackoffMin<<(i-2), testBackoffMax) / 2
			if gap < floor {
				t.Errorf("attempt %d came %v after the one before, want at least %v", i+1, gap, floor)
			}
		}
	}
	l.checkResumedOnResumeURL(t, replicas)
}
