package bot

import (
	"context"
	"sync"
	"testing"
	"time"
)

// guessLeases is an EventLeases that remembers every user's dialogue (a Guesser) and counts
// lease extensions.
type guessLeases struct {
	mu      sync.Mutex
	extends int
}

func (g *guessLeases) ClaimEvent(context.Context, UserRef, string, string, time.Duration) (ClaimState, *Snapshot, error) {
	return Claimed, nil, nil
}

func (g *guessLeases) ExtendEvent(context.Context, UserRef, string, string, time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.extends++
	return nil
}

func (g *guessLeases) FinishEvent(context.Context, UserRef, string, time.Duration) error { return nil }
func (g *guessLeases) ReleaseEvent(context.Context, UserRef, string, string) error       { return nil }

func (g *guessLeases) Guess(UserRef) *Snapshot { return &Snapshot{Dialogue: &DialogueRead{}} }

func (g *guessLeases) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.extends
}

var testUser = UserRef{Platform: "test", Workspace: "T1", User: "U1"}

// TestLeaseSettled: an event claimed from the store's memory is acknowledged once its fate
// is settled (not when another process holds it), whether that happened before Settled
// looks or while it waits; one never settled is acknowledged after the wait, every time
// for the whole wait (the reused timers deliver nothing stale), and sooner when the
// request's context ends.
func TestLeaseSettled(t *testing.T) {
	d := NewDedupe(&guessLeases{}, nil)
	ctx := context.Background()
	claim := func(id string) *Lease {
		t.Helper()
		l, v := d.ClaimTurn(ctx, testUser, id)
		if v != New || l == nil || l.Snapshot() == nil || l.Snapshot().Dialogue.Guess == nil {
			t.Fatalf("ClaimTurn = %v, %v; want a lease from memory", l, v)
		}
		return l
	}

	held := claim("held")
	held.Snapshot().Dialogue.Guess.Settle(true)
	if held.Settled(ctx, time.Second) {
		t.Error("Settled = true for an event another process holds")
	}

	committed := claim("committed")
	committed.Snapshot().Dialogue.Guess.Settle(false)
	if !committed.Settled(ctx, time.Second) {
		t.Error("Settled = false for a committed event")
	}

	later := claim("later")
	time.AfterFunc(20*time.Millisecond, func() { later.Snapshot().Dialogue.Guess.Settle(true) })
	if later.Settled(ctx, 10*time.Second) {
		t.Error("Settled = true for an event found held while it waited")
	}

	const wait = 30 * time.Millisecond
	for i := range 5 {
		l := claim("never")
		start := time.Now()
		if !l.Settled(ctx, wait) {
			t.Errorf("Settled = false for an event never settled (try %d)", i)
		}
		if took := time.Since(start); took < wait {
			t.Errorf("Settled returned after %v, before its %v wait (try %d)", took, wait, i)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	if !claim("gone").Settled(cctx, 10*time.Second) {
		t.Error("Settled = false when the request's context ended")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Settled waited %v after the request's context ended", took)
	}

	var none *Lease
	if !none.Settled(ctx, time.Second) {
		t.Error("a nil lease is not settled")
	}
}

// TestLeaseKeep: a kept lease is extended every third of its length until it is done, and
// not after.
func TestLeaseKeep(t *testing.T) {
	g := &guessLeases{}
	d := NewDedupe(g, nil).WithLease(30 * time.Millisecond)
	l, v := d.Claim(context.Background(), testUser, "keep")
	if v != New {
		t.Fatalf("Claim = %v", v)
	}
	l.Keep()
	l.Keep() // a second Keep changes nothing
	deadline := time.Now().Add(10 * time.Second)
	for g.count() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d extensions in 10 s of a 30 ms lease", g.count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Done(context.Background())
	n := g.count()
	time.Sleep(60 * time.Millisecond)
	// One extension may have been under way as Done ran; none may start after.
	if got := g.count(); got > n+1 {
		t.Errorf("%d extensions after Done, want none", got-n)
	}
}
