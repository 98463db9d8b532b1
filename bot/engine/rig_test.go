package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/internal/wiring"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

// rig is one storybot replica as `storybot serve` runs it: the real storage.Store, the engine
// built by internal/wiring (the lines serve itself uses: every store, erasers, exports,
// mergers, safety plans, coaching) with metrics in a registry of its own, and — when a test
// starts it — the scheduler, all on one fake clock. Every engine and feature test starts
// from here, so that what they test is what serve runs; a test that needs a different piece
// (a failing sender, a store that hangs) swaps that one piece with newEngine.
//
// The store is the embedded one (miniredis) unless the test names a Redis to share
// (redistest.Start: real redis-server when installed), or STORYBOT_TEST_REAL_REDIS=1 asks
// for real Redis everywhere, when the rig starts a private redis-server.
type rig struct {
	tb      testing.TB
	url     string // the Redis the store talks to; "" for the embedded store
	clock   *fakeclock.Clock
	store   *storage.Store
	eng     *engine.Engine
	rec     *recorder  // the messages the engine sent, until taken
	logs    *logBuffer // the engine's and the store's logs, at debug level
	reg     *prometheus.Registry
	metrics *engine.Metrics
	opts    wiring.Options
	// flaky is the engine's dialogue store when the rig was made with outages: a test
	// takes it down to see the engine through a Redis outage.
	flaky *flakyStore

	mu    sync.Mutex
	all   []bot.Message // every message taken so far
	typed []string      // what users typed, which the logs must never hold (see audit)
}

// rigOptions choose what differs between tests; the zero value is a private store, no
// encryption, the clock at rigStart.
type rigOptions struct {
	url     string           // a Redis to share with other rigs (replicas) or to dump; "" for a private one
	clock   *fakeclock.Clock // a clock to share with other rigs; default a new one at start
	start   time.Time        // where a new clock starts; default rigStart
	keys    bool             // encrypt at rest, as production does with STORYBOT_ENCRYPTION_KEYS
	coaches []string         // STORYBOT_COACHES
	rec     *recorder        // where the engine sends; replicas may share one; default a new one
	// outages puts a flakyStore between the engine and the dialogue store.
	outages bool
}

// rigStart is a Monday morning.
var rigStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testKey is the rig's encryption key (rigOptions.keys).
var testKey = bytes.Repeat([]byte{7}, storage.KeySize)

// retentionDays is serve's default (STORYBOT_RETENTION_DAYS).
const retentionDays = 180

func newRig(tb testing.TB, o rigOptions) *rig {
	tb.Helper()
	url := o.url
	if url == "" && os.Getenv("STORYBOT_TEST_REAL_REDIS") == "1" {
		url = redistest.Start(tb)
	}
	clock := o.clock
	if clock == nil {
		start := o.start
		if start.IsZero() {
			start = rigStart
		}
		clock = fakeclock.New(start)
	}
	rec := o.rec
	if rec == nil {
		rec = &recorder{}
	}
	r := &rig{tb: tb, url: url, clock: clock, rec: rec, logs: &logBuffer{}, reg: prometheus.NewRegistry()}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := storage.Config{URL: url, Retention: retentionDays * 24 * time.Hour, Now: clock.Now, Logger: logger}
	if o.keys {
		cfg.EncryptionKeys = [][]byte{testKey}
	}
	st, err := storage.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("storage.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	r.store = st
	tb.Cleanup(r.audit)
	r.metrics = engine.NewMetrics(r.reg)
	r.opts = wiring.Options{
		Sender:        r.rec,
		Now:           clock.Now,
		Logger:        logger,
		Metrics:       r.metrics,
		RetentionDays: retentionDays,
		Encrypted:     o.keys,
		Coaches:       o.coaches,
	}
	if o.outages {
		r.flaky = &flakyStore{Store: st}
		r.eng = r.newEngine(func(c *engine.Config) { c.Dialogues = r.flaky })
	} else {
		r.eng = r.newEngine(nil)
	}
	return r
}

// newEngine builds another engine over the rig's store, wired as serve wires it, with
// change applied to the configuration (nil: none) — the one piece a test swaps.
func (r *rig) newEngine(change func(*engine.Config)) *engine.Engine {
	cfg := wiring.Engine(r.store, r.opts)
	if change != nil {
		change(&cfg)
	}
	return engine.NewEngine(cfg)
}

// runScheduler runs the scheduler serve runs over the rig's store and engine until the test
// ends, and checks that it stops cleanly when stop is called. It polls every 5 ms and does
// not pace (tests run in milliseconds); change sets anything else (a Deliverer that counts,
// Availability, Lease, …).
func (r *rig) runScheduler(change func(*engine.SchedulerConfig)) (stop func()) {
	r.tb.Helper()
	cfg := wiring.Scheduler(r.store, r.eng, nil, r.opts)
	cfg.Tick = 5 * time.Millisecond
	cfg.Pace = map[string]engine.Pace{}
	if change != nil {
		change(&cfg)
	}
	return startScheduler(r.tb, cfg)
}

// typedText remembers what the user typed in ev, for the audit: answers and form fields
// long enough not to occur in a log line by chance.
func (r *rig) typedText(ev bot.Event) {
	texts := []string{}
	if ev.Kind == bot.EventText {
		texts = append(texts, ev.Text)
	}
	if f := ev.Form; f != nil {
		texts = append(texts, f.Story, f.Other, f.Next)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range texts {
		if t = strings.TrimSpace(t); len(t) >= 8 {
			r.typed = append(r.typed, t)
		}
	}
}

// audit fails the test when the engine's or the store's logs hold anything a user typed
// (SPEC.md: no user text in logs), whatever the test itself checked.
func (r *rig) audit() {
	logs := r.logs.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.typed {
		if strings.Contains(logs, t) {
			r.tb.Errorf("the logs hold typed text %q", t)
		}
	}
}

// take returns the messages sent since the last take.
func (r *rig) take() []bot.Message {
	msgs := r.rec.take()
	r.mu.Lock()
	r.all = append(r.all, msgs...)
	r.mu.Unlock()
	return msgs
}

// handle moves the clock a minute on, as between two real events, and handles ev as u;
// any error fails the test.
func (r *rig) handle(u bot.UserRef, ev bot.Event) []bot.Message {
	r.tb.Helper()
	r.clock.Add(time.Minute)
	ev.User = u
	r.typedText(ev)
	if err := r.eng.Handle(context.Background(), ev); err != nil {
		r.tb.Fatalf("Handle(%s %+v): %v", u, ev, err)
	}
	return r.take()
}

// cmd is /story text from a channel (answered on the route "route-<user>").
func (r *rig) cmd(u bot.UserRef, text string) []bot.Message {
	r.tb.Helper()
	return r.handle(u, bot.Event{Kind: bot.EventCommand, Text: text, Route: "route-" + u.User})
}

// say is a message typed in the DM.
func (r *rig) say(u bot.UserRef, text string) []bot.Message {
	r.tb.Helper()
	return r.handle(u, bot.Event{Kind: bot.EventText, Text: text, InDM: true})
}

// choose is a button pressed in the DM.
func (r *rig) choose(u bot.UserRef, id string) []bot.Message {
	r.tb.Helper()
	return r.handle(u, bot.Event{Kind: bot.EventChoice, Choice: id, InDM: true})
}

// recorder is a bot.Sender that keeps every delivered message.
type recorder struct {
	mu   sync.Mutex
	sent []bot.Message
}

func (r *recorder) Send(_ context.Context, m bot.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) take() []bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// logBuffer keeps log lines written from several goroutines (the scheduler's and the
// test's).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// flakyStore wraps the real store and fails every turn (whichever way the engine asks for
// one), snapshot read and journal read while down is set, like a Redis outage.
type flakyStore struct {
	*storage.Store
	down atomic.Bool
}

var errOutage = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (f *flakyStore) Turn(ctx context.Context, u bot.UserRef, fn bot.TurnFunc) error {
	if f.down.Load() {
		return errOutage
	}
	return f.Store.Turn(ctx, u, fn)
}

func (f *flakyStore) TurnOnce(ctx context.Context, u bot.UserRef, id string, fn bot.TurnFunc) (bool, error) {
	return f.TurnFrom(ctx, u, id, nil, fn)
}

func (f *flakyStore) TurnFrom(ctx context.Context, u bot.UserRef, id string, from *bot.DialogueRead, fn bot.TurnFunc) (bool, error) {
	if f.down.Load() {
		return false, errOutage
	}
	return f.Store.TurnFrom(ctx, u, id, from, fn)
}

func (f *flakyStore) Snapshot(ctx context.Context, u bot.UserRef) (*bot.Snapshot, error) {
	if f.down.Load() {
		return nil, errOutage
	}
	return f.Store.Snapshot(ctx, u)
}

func (f *flakyStore) Journal(ctx context.Context, u bot.UserRef, n int) ([]flows.Entry, error) {
	if f.down.Load() {
		return nil, errOutage
	}
	return f.Store.Journal(ctx, u, n)
}

// startScheduler runs a scheduler until the test ends and checks that it stops cleanly.
func startScheduler(tb testing.TB, cfg engine.SchedulerConfig) (stop func()) {
	tb.Helper()
	s := engine.NewScheduler(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Scheduler.Run = %v", err)
				}
			case <-time.After(10 * time.Second):
				tb.Errorf("Scheduler.Run did not return after cancel")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// harness is a rig with one user, for the tests that follow one person.
type harness struct {
	*rig
	user bot.UserRef
}

// newHarness is a rig (a private store unless url names one) with a fresh user, whose
// dialogue store a test may take down (h.flaky.down).
func newHarness(tb testing.TB, url string) *harness {
	tb.Helper()
	return &harness{
		rig:  newRig(tb, rigOptions{url: url, outages: true}),
		user: bot.UserRef{Platform: "slack", Workspace: "T1", User: fmt.Sprintf("U%d", time.Now().UnixNano())},
	}
}

// replica is another storybot process for the same user: its own store connection and
// engine, on the same Redis and the same clock (it needs a shared Redis: newHarness with a
// URL). The test may give it another user.
func (h *harness) replica() *harness {
	h.tb.Helper()
	if h.url == "" {
		h.tb.Fatal("replica: the harness has a private embedded store; give newHarness a Redis URL")
	}
	return &harness{rig: newRig(h.tb, rigOptions{url: h.url, clock: h.clock, outages: true}), user: h.user}
}

// handle handles ev as the harness's user a minute after the last event, and returns what
// was sent and the engine's error.
func (h *harness) handle(ev bot.Event) ([]bot.Message, error) {
	h.tb.Helper()
	h.clock.Add(time.Minute)
	ev.User = h.user
	h.typedText(ev)
	err := h.eng.Handle(context.Background(), ev)
	return h.take(), err
}

func (h *harness) say(text string) []bot.Message {
	h.tb.Helper()
	msgs, err := h.handle(bot.Event{Kind: bot.EventText, Text: text, InDM: true})
	if err != nil {
		h.tb.Fatalf("Handle(text %q): %v", text, err)
	}
	return msgs
}

func (h *harness) command(text string, inDM bool) []bot.Message {
	h.tb.Helper()
	msgs, err := h.handle(bot.Event{Kind: bot.EventCommand, Text: text, InDM: inDM, Route: "route-1"})
	if err != nil {
		h.tb.Fatalf("Handle(command %q): %v", text, err)
	}
	return msgs
}

// choose presses a button.
func (h *harness) choose(id string) []bot.Message {
	h.tb.Helper()
	msgs, err := h.handle(bot.Event{Kind: bot.EventChoice, Choice: id, InDM: true})
	if err != nil {
		h.tb.Fatalf("Handle(choice %q): %v", id, err)
	}
	return msgs
}
