package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"
)

// Event dedupe, in one place for every adapter. Platforms deliver at least once: Slack
// retries an event it thinks was not acknowledged, Socket Mode redelivers unacknowledged
// envelopes, and every replica connected to the Discord gateway receives every DM. A plain
// "seen" mark written before the work loses the event when the process dies after writing
// it; so an event is claimed under a short lease while it is handled and marked done after.
// A retry that finds a lapsed lease handles the event again, and the turn commit, which
// records the event's ID, makes sure it is applied once (DialogueStore implementations that
// also implement OnceTurner).

// ClaimState is what a claim found.
type ClaimState int

// The claim states.
const (
	Claimed ClaimState = iota + 1 // the caller holds the lease now
	Held                          // another caller holds an unexpired lease
	Handled                       // the event was handled
)

// EventLeases is the store side of dedupe. IDs are platform event IDs namespaced by the
// adapter ("slack:event:T1:Ev1"); they are not user text.
type EventLeases interface {
	// ClaimEvent takes id with token until lease passes, unless it is held or handled.
	ClaimEvent(ctx context.Context, id, token string, lease time.Duration) (ClaimState, error)
	// ExtendEvent extends the lease on id if token still holds it.
	ExtendEvent(ctx context.Context, id, token string, lease time.Duration) error
	// FinishEvent marks id handled for ttl, whoever holds it.
	FinishEvent(ctx context.Context, id string, ttl time.Duration) error
	// ReleaseEvent gives id up if token still holds it: the event was not handled.
	ReleaseEvent(ctx context.Context, id, token string) error
}

// OnceTurner is a DialogueStore that records, in the turn's own atomic commit, the ID of the
// event the turn applies, and applies no turn twice for one ID.
type OnceTurner interface {
	// TurnOnce is DialogueStore.Turn for the event id. When a turn for id was already
	// committed it changes nothing, does not call fn, and reports applied false.
	TurnOnce(ctx context.Context, u UserRef, id string, fn TurnFunc) (applied bool, err error)
}

// Verdict is Dedupe.Claim's decision before an acknowledgement.
type Verdict int

// The verdicts.
const (
	New        Verdict = iota + 1 // handle it: the lease is the caller's
	Duplicate                     // handled already: acknowledge, do nothing
	InProgress                    // another process handles it now: do not acknowledge it as done
	Undecided                     // the store did not answer in time: handle it; the turn's idempotency guards
)

func (v Verdict) String() string {
	switch v {
	case New:
		return "new"
	case Duplicate:
		return "duplicate"
	case InProgress:
		return "in_progress"
	case Undecided:
		return "undecided"
	}
	return "verdict?"
}

// Dedupe defaults.
const (
	// DedupeBudget bounds the claim made before an acknowledgement: the platform's 3 s
	// deadline must hold even when Redis hangs, so past it the event is handled undecided.
	DedupeBudget = 300 * time.Millisecond
	// DefaultLease is how long a claim lasts before another process may take the event
	// over; the holder extends it while it works.
	DefaultLease = 10 * time.Second
	// DefaultDoneTTL is how long a handled event is remembered. Slack retries at once,
	// then after one and five minutes.
	DefaultDoneTTL = 15 * time.Minute
)

// Dedupe claims platform events before they are handled. A nil *Dedupe claims everything.
type Dedupe struct {
	leases  EventLeases
	log     *slog.Logger
	budget  time.Duration
	lease   time.Duration
	doneTTL time.Duration
}

// NewDedupe returns a Dedupe over leases; nil leases keeps them in this process only (one
// replica, tests).
func NewDedupe(leases EventLeases, log *slog.Logger) *Dedupe {
	if leases == nil {
		leases = NewMemLeases(time.Now)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dedupe{leases: leases, log: log, budget: DedupeBudget, lease: DefaultLease, doneTTL: DefaultDoneTTL}
}

// WithLease returns a copy of d whose leases last lease (a gateway message is taken over
// sooner than an HTTP event).
func (d *Dedupe) WithLease(lease time.Duration) *Dedupe {
	c := *d
	c.lease = lease
	return &c
}

// Lease is a claim on one event. Its methods are safe on a nil *Lease.
type Lease struct {
	d     *Dedupe
	id    string
	token string // "": not held (undecided)

	mu    sync.Mutex
	timer *time.Timer
	ended bool
}

// Claim claims id within DedupeBudget, whatever ctx's own deadline. With New and
// Undecided the caller handles the event and then calls Done (or Release when it did not
// handle it after all); the returned lease is nil otherwise.
func (d *Dedupe) Claim(ctx context.Context, id string) (*Lease, Verdict) {
	if d == nil || id == "" {
		return nil, Undecided
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.budget)
	defer cancel()
	token := newToken()
	st, err := d.leases.ClaimEvent(ctx, id, token, d.lease)
	if err != nil {
		d.log.WarnContext(ctx, "dedupe undecided; handling the event", "id", id, "err", err)
		return &Lease{d: d, id: id}, Undecided
	}
	switch st {
	case Handled:
		d.log.InfoContext(ctx, "duplicate dropped", "id", id)
		return nil, Duplicate
	case Held:
		return nil, InProgress
	}
	return &Lease{d: d, id: id, token: token}, New
}

// Keep extends the lease while the work runs, until Done or Release, so that a slow event
// is not taken over by another process while its holder is alive.
func (l *Lease) Keep() {
	if l == nil || l.token == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended || l.timer != nil {
		return
	}
	every := l.d.lease / 3
	var tick func()
	tick = func() {
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := l.d.leases.ExtendEvent(ctx, l.id, l.token, l.d.lease)
		cancel()
		if err != nil {
			l.d.log.Warn("dedupe: extending a lease failed", "id", l.id, "err", err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.ended {
			l.timer = time.AfterFunc(every, tick)
		}
	}
	l.timer = time.AfterFunc(every, tick)
}

func (l *Lease) end() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.ended = true
	if l.timer != nil {
		l.timer.Stop()
	}
	return true
}

// Done marks the event handled. A failure is logged: the lease then lapses, and a retry is
// guarded by the idempotent turn.
func (l *Lease) Done(ctx context.Context) {
	if l == nil || !l.end() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := l.d.leases.FinishEvent(ctx, l.id, l.d.doneTTL); err != nil {
		l.d.log.WarnContext(ctx, "dedupe: marking an event done failed", "id", l.id, "err", err)
	}
}

// Release gives the event up unhandled (the work was refused), so a redelivery is handled.
func (l *Lease) Release(ctx context.Context) {
	if l == nil || !l.end() || l.token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := l.d.leases.ReleaseEvent(ctx, l.id, l.token); err != nil {
		l.d.log.WarnContext(ctx, "dedupe: releasing an event failed", "id", l.id, "err", err)
	}
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// MemLeases keeps event leases in this process: right for one replica and for tests.
type MemLeases struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]memLease
}

type memLease struct {
	token string // "" when handled
	until time.Time
}

// NewMemLeases returns in-process leases on the clock now.
func NewMemLeases(now func() time.Time) *MemLeases {
	return &MemLeases{now: now, m: map[string]memLease{}}
}

var _ EventLeases = (*MemLeases)(nil)

func (m *MemLeases) sweep(now time.Time) {
	if len(m.m) < 1024 {
		return
	}
	for k, v := range m.m {
		if !now.Before(v.until) {
			delete(m.m, k)
		}
	}
}

// ClaimEvent implements EventLeases.
func (m *MemLeases) ClaimEvent(_ context.Context, id, token string, lease time.Duration) (ClaimState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if v, ok := m.m[id]; ok && now.Before(v.until) {
		if v.token == "" {
			return Handled, nil
		}
		return Held, nil
	}
	m.m[id] = memLease{token: token, until: now.Add(lease)}
	return Claimed, nil
}

// ExtendEvent implements EventLeases.
func (m *MemLeases) ExtendEvent(_ context.Context, id, token string, lease time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[id]; ok && v.token == token {
		m.m[id] = memLease{token: token, until: m.now().Add(lease)}
	}
	return nil
}

// FinishEvent implements EventLeases.
func (m *MemLeases) FinishEvent(_ context.Context, id string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[id] = memLease{until: m.now().Add(ttl)}
	return nil
}

// ReleaseEvent implements EventLeases.
func (m *MemLeases) ReleaseEvent(_ context.Context, id, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[id]; ok && v.token == token {
		delete(m.m, id)
	}
	return nil
}
