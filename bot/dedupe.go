package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storybot/storybot/flows"
)

// Event dedupe, in one place for every adapter. Platforms deliver at least once: Slack
// retries an event it thinks was not acknowledged, Socket Mode redelivers unacknowledged
// envelopes, and every replica connected to the Discord gateway receives every DM. A plain
// "seen" mark written before the work loses the event when the process dies after writing
// it; so an event is claimed under a short lease while it is handled and marked done after.
// A retry that finds a lapsed lease handles the event again, and the turn commit, which
// records the event's ID, makes sure it is applied once (DialogueStore implementations that
// also implement OnceTurner).
//
// Round trips. A store may keep an event's lease with the data of the user it belongs to
// (the same Redis hash slot), so that the claim, made before the acknowledgement anyway,
// also reads what answering the user needs (a Snapshot: the dialogue and the coaching
// marker), and the turn's commit marks the event done (SnapshotTurner). A DM answer then
// costs two round trips in all: the claim and the commit. A store that remembers the user's
// dialogue in this process (Guesser) lets the claim ride in the commit itself: one round trip
// (ClaimTurn); the acknowledgement then waits for that commit.

// ClaimState is what a claim found.
type ClaimState int

// The claim states.
const (
	Claimed ClaimState = iota + 1 // the caller holds the lease now
	Held                          // another caller holds an unexpired lease
	Handled                       // the event was handled
)

// EventLeases is the store side of dedupe. IDs are platform event IDs namespaced by the
// adapter ("slack:event:T1:Ev1"); they are not user text. u is the user the event belongs to
// (zero for events of no one user, such as an uninstall): a store may keep the lease with
// u's data. Every call about one event passes the same u.
type EventLeases interface {
	// ClaimEvent takes id with token until lease passes, unless it is held or handled (or,
	// with a user, already applied to u's dialogue). With Claimed it may also return what
	// it read of u's data in the same round trip; nil when it read nothing.
	ClaimEvent(ctx context.Context, u UserRef, id, token string, lease time.Duration) (ClaimState, *Snapshot, error)
	// ExtendEvent extends the lease on id if token still holds it.
	ExtendEvent(ctx context.Context, u UserRef, id, token string, lease time.Duration) error
	// FinishEvent marks id handled for ttl, whoever holds it.
	FinishEvent(ctx context.Context, u UserRef, id string, ttl time.Duration) error
	// ReleaseEvent gives id up if token still holds it: the event was not handled.
	ReleaseEvent(ctx context.Context, u UserRef, id, token string) error
}

// Snapshot is a user's data as the store read it in the round trip that claimed one of
// their events (or in one read of its own, SnapshotTurner.Snapshot): what the engine needs to
// answer a DM without asking the store again. It may be stale by the time the work runs
// (another event of the user may have been handled in between): the turn's commit checks the
// dialogue's version and reads again when it changed. A Snapshot is shared by the event's
// lease and the engine, so it is passed by pointer and never copied.
type Snapshot struct {
	// Dialogue is the user's stored dialogue and its version; nil when it was not read
	// (the turn then reads it).
	Dialogue *DialogueRead
	// Coach is the user's coaching marker (CoachStore.Pending), valid when CoachOK.
	Coach   CoachPending
	CoachOK bool
	// Prefs is what starting a dialogue needs of the user's profile, when the claim read it
	// too; nil: not read (the engine reads the profile itself).
	Prefs *StartPrefs

	done atomic.Bool // the turn's commit marked the event done (SetDone)
}

// StartPrefs is the part of a user's Profile a dialogue's start reads: the /story followups
// preference and whether the user was greeted.
type StartPrefs struct {
	NoFollowups bool
	Welcomed    bool
}

// DialogueRead is a user's stored dialogue with the version a commit must find unchanged.
type DialogueRead struct {
	State   flows.State
	Version int64 // 0: nothing stored
	// Stored is the state exactly as the store keeps it (sealed when encrypted; "" for
	// none), when the store filled it: what a Guess's commit compares.
	Stored string
	// Guess, when set, says this is not a read but the store's memory of the dialogue in
	// this process (Guesser), checked by the commit instead of before the work.
	Guess *Guess
}

// Guess is the part of an event's lease that a turn started from a remembered dialogue
// (Guesser) carries to the store: the token to claim the event with when the memory proved
// out of date, and the signal that tells the adapter the event's fate is settled, so that it
// can acknowledge it. See Dedupe.ClaimTurn.
type Guess struct {
	Token string
	Lease time.Duration

	once    sync.Once
	settled chan struct{}
	held    atomic.Bool
}

// NewGuess returns the Guess of an event leased with token for lease, not yet settled.
func NewGuess(token string, lease time.Duration) *Guess {
	g := new(Guess)
	g.init(token, lease)
	return g
}

// init makes g, not used yet, the Guess of an event leased with token for lease.
func (g *Guess) init(token string, lease time.Duration) {
	g.Token, g.Lease, g.settled = token, lease, make(chan struct{})
}

// Settle records the event's fate for the waiting adapter, once: heldElsewhere says another
// process holds the event's lease (the adapter then does not acknowledge it, so the platform
// delivers it again; the holder may yet die). Anything else (committed, claimed, handled
// before, an error the user is told of) may be acknowledged. Safe on nil.
func (g *Guess) Settle(heldElsewhere bool) {
	if g == nil {
		return
	}
	g.once.Do(func() {
		g.held.Store(heldElsewhere)
		if g.settled != nil {
			close(g.settled)
		}
	})
}

// ErrEventHeld is what a store's TurnFrom returns for a Guess whose event another process
// holds the lease of: nothing was written, and the platform will deliver the event again.
var ErrEventHeld = errors.New("the event is being handled by another process")

// ErrEventHandled is what a store's TurnFrom returns for a Guess whose event was handled
// before (a redelivery): nothing was written and nothing is to be said.
var ErrEventHandled = errors.New("the event was handled before")

// StaleSnapshotError is what a store's TurnFrom returns for a Guess that was out of date in
// a way that changes what the event means: the user's coaching marker is set, so a typed
// line may be a note rather than an answer. The event's lease is now held (the store
// claimed it in the same round trip), and Snapshot is what the store read: the handler
// answers the event again from it.
type StaleSnapshotError struct {
	Snapshot *Snapshot
}

func (e *StaleSnapshotError) Error() string {
	return "the remembered dialogue was out of date: the coaching marker is set"
}

// Guesser is an EventLeases store that remembers, in this process, the dialogue of users it
// recently read or wrote, so that a turn may start from that memory without a read: the
// turn's commit checks, atomically, that the dialogue is still exactly what was
// remembered, that no coaching marker is set and that the event is neither held nor
// handled, and claims the event and returns what it read when any of that fails. The
// memory is a guess, never the truth: another replica may have moved on.
type Guesser interface {
	// Guess returns what this process remembers of u's dialogue, as a Snapshot with no
	// coaching marker and a Dialogue whose Stored is set; nil when it remembers nothing.
	Guess(u UserRef) *Snapshot
}

// SetDone records that the event's turn commit also marked the event done
// (SnapshotTurner.TurnFrom), so the lease whose claim returned this snapshot has nothing left
// to write. Safe on nil.
func (s *Snapshot) SetDone() {
	if s != nil {
		s.done.Store(true)
	}
}

// SnapshotTurner is a DialogueStore that is also the EventLeases store and keeps an event's
// lease with the user's data: a turn can start from the dialogue read in the claim, and its
// commit marks the event done. The engine uses it when the store implements it, and the plain
// Turn or OnceTurner otherwise.
type SnapshotTurner interface {
	// Snapshot reads u's dialogue and coaching marker in one round trip, for an event whose
	// claim read nothing.
	Snapshot(ctx context.Context, u UserRef) (*Snapshot, error)
	// TurnFrom is OnceTurner.TurnOnce for event id, whose first attempt starts from from (the
	// claim's or Snapshot's read) instead of reading again; nil from reads first. When
	// another turn committed since from was read, it reads again and calls fn again, as Turn
	// does (the only case that costs more round trips). Its commit also marks id done for u
	// (as EventLeases.FinishEvent would, for DefaultDoneTTL), atomically with the state.
	TurnFrom(ctx context.Context, u UserRef, id string, from *DialogueRead, fn TurnFunc) (applied bool, err error)
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
	// DefaultDoneTTL is how long a handled event is remembered: past Slack's retries (at
	// once, then after one and five minutes), a signed request's five minutes and a Discord
	// catch-up. A turn's commit writes the same mark for as long (storage.AppliedTTL), as
	// the record that the event was applied, so Lease.Done, which may follow it, never
	// shortens that record.
	DefaultDoneTTL = 30 * time.Minute
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
	u     UserRef
	id    string
	token string    // "": not held (undecided)
	snap  *Snapshot // what the claim read; nil: nothing

	guess *Guess // non-nil: the lease was not claimed; the turn's commit decides (ClaimTurn)
	g     Guess  // what guess points to: allocated with the lease, not apart

	mu    sync.Mutex
	timer *time.Timer
	ended bool
}

// ClaimTurn is Claim for an event that is one turn of u's dialogue (a typed DM answer). When
// the store remembers u's dialogue in this process (Guesser), it makes no round trip: the
// event gets a lease that is not claimed yet, whose snapshot is that memory, and the turn's
// commit checks the memory, the event's lease and its dedupe in one atomic step (when the
// memory is out of date it claims the event and reads instead, so the turn then costs the
// two round trips a claimed event does). Such an event must not be acknowledged as soon as
// it is admitted, since nothing durable has happened yet: the caller waits for Settled. With
// no memory of u it is Claim.
func (d *Dedupe) ClaimTurn(ctx context.Context, u UserRef, id string) (*Lease, Verdict) {
	if d != nil && id != "" && u != (UserRef{}) {
		if g, ok := d.leases.(Guesser); ok {
			if snap := g.Guess(u); snap != nil && snap.Dialogue != nil {
				l := &Lease{d: d, u: u, id: id, snap: snap}
				l.g.init(newToken(), d.lease)
				l.token, l.guess = l.g.Token, &l.g
				snap.Dialogue.Guess = l.guess
				return l, New
			}
		}
	}
	return d.Claim(ctx, u, id)
}

// Settled waits, at most wait, until the fate of an event claimed by ClaimTurn from the
// store's memory is settled (Guess.Settle: the turn's commit, or the end of the work), and
// reports whether the event may be acknowledged: false only when another process holds
// it. An event whose lease was claimed the usual way is settled already. Past wait it
// reports true: the work is admitted and will run, as a claimed event's would.
func (l *Lease) Settled(ctx context.Context, wait time.Duration) bool {
	if l == nil || l.guess == nil {
		return true
	}
	select {
	case <-l.guess.settled:
		// Settled already (the worker was quick): no timer, and ctx's Done channel, made
		// on first use, is not made.
		return !l.guess.held.Load()
	default:
	}
	// A timer per acknowledgement was three allocations of every DM answer: they are
	// reused. Since Go 1.23 a stopped timer delivers nothing stale after Reset.
	t, _ := settleTimers.Get().(*time.Timer)
	if t == nil {
		t = time.NewTimer(wait)
	} else {
		t.Reset(wait)
	}
	defer func() {
		t.Stop()
		settleTimers.Put(t)
	}()
	select {
	case <-l.guess.settled:
		return !l.guess.held.Load()
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// settleTimers are Lease.Settled's timers, stopped, for reuse.
var settleTimers sync.Pool

// Claim claims id, an event of user u (zero when it is no one user's), within DedupeBudget,
// whatever ctx's own deadline. With New and Undecided the caller handles the event and then
// calls Done (or Release when it did not handle it after all); the returned lease is nil
// otherwise. A New lease may carry what the claim read of u's data (Lease.Snapshot), for the
// event's handler.
func (d *Dedupe) Claim(ctx context.Context, u UserRef, id string) (*Lease, Verdict) {
	if d == nil || id == "" {
		return nil, Undecided
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.budget)
	defer cancel()
	token := newToken()
	st, snap, err := d.leases.ClaimEvent(ctx, u, id, token, d.lease)
	if err != nil {
		d.log.WarnContext(ctx, "dedupe undecided; handling the event", "id", id, "err", err)
		return &Lease{d: d, u: u, id: id}, Undecided
	}
	switch st {
	case Handled:
		d.log.InfoContext(ctx, "duplicate dropped", "id", id)
		return nil, Duplicate
	case Held:
		return nil, InProgress
	}
	return &Lease{d: d, u: u, id: id, token: token, snap: snap}, New
}

// Snapshot returns what the claim read of the user's data, nil when it read nothing. The
// adapter hands it to the handler with the event (Event.Snapshot).
func (l *Lease) Snapshot() *Snapshot {
	if l == nil {
		return nil
	}
	return l.snap
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
	// A method, not a closure over itself: one allocation fewer for every event.
	l.timer = time.AfterFunc(l.d.lease/3, l.extend)
}

// extend extends the lease, and again a third of a lease later until the lease ends.
func (l *Lease) extend() {
	every := l.d.lease / 3
	ctx, cancel := context.WithTimeout(context.Background(), every)
	err := l.d.leases.ExtendEvent(ctx, l.u, l.id, l.token, l.d.lease)
	cancel()
	if err != nil {
		l.d.log.Warn("dedupe: extending a lease failed", "id", l.id, "err", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ended {
		l.timer.Reset(every) // the timer has fired: Reset starts it again
	}
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
	// The work is over: whatever it did, an adapter still waiting may answer now.
	l.guess.Settle(false)
	return true
}

// Done marks the event handled. It makes no call when the event's turn commit already did
// (Snapshot.SetDone on this lease's snapshot: only a claim that read the user's data, whose
// store keeps the lease with it, returns one). A failure is logged: the lease then lapses,
// and a retry is guarded by the idempotent turn.
func (l *Lease) Done(ctx context.Context) {
	if l == nil || !l.end() {
		return
	}
	if l.snap != nil && l.snap.done.Load() {
		return
	}
	if l.guess != nil && l.guess.held.Load() {
		return // another process holds the event: it is theirs to mark
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := l.d.leases.FinishEvent(ctx, l.u, l.id, l.d.doneTTL); err != nil {
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
	if err := l.d.leases.ReleaseEvent(ctx, l.u, l.id, l.token); err != nil {
		l.d.log.WarnContext(ctx, "dedupe: releasing an event failed", "id", l.id, "err", err)
	}
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var h [16]byte // hex.EncodeToString would allocate this too
	hex.Encode(h[:], b[:])
	return string(h[:])
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

// ClaimEvent implements EventLeases. It reads no user data: the snapshot is always nil.
func (m *MemLeases) ClaimEvent(_ context.Context, _ UserRef, id, token string, lease time.Duration) (ClaimState, *Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	if v, ok := m.m[id]; ok && now.Before(v.until) {
		if v.token == "" {
			return Handled, nil, nil
		}
		return Held, nil, nil
	}
	m.m[id] = memLease{token: token, until: now.Add(lease)}
	return Claimed, nil, nil
}

// ExtendEvent implements EventLeases.
func (m *MemLeases) ExtendEvent(_ context.Context, _ UserRef, id, token string, lease time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[id]; ok && v.token == token {
		m.m[id] = memLease{token: token, until: m.now().Add(lease)}
	}
	return nil
}

// FinishEvent implements EventLeases.
func (m *MemLeases) FinishEvent(_ context.Context, _ UserRef, id string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[id] = memLease{until: m.now().Add(ttl)}
	return nil
}

// ReleaseEvent implements EventLeases.
func (m *MemLeases) ReleaseEvent(_ context.Context, _ UserRef, id, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[id]; ok && v.token == token {
		delete(m.m, id)
	}
	return nil
}
