package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// RunEventLeases runs the event-lease conformance tests (bot.EventLeases) against any
// implementation: the Redis store (Run calls it) and bot.MemLeases. newLeases returns the
// leases under test and a function that lets d of the leases' time pass: a fake clock's Add
// for an in-process implementation, a real sleep for Redis, whose keys expire on the
// server's clock. Leases in these tests start at 200 ms of that time. Every test
// runs for an event of no one user and for an event of a user (which a store may keep with
// that user's data). The tests that let time pass retry with longer leases when the machine
// was too slow for a window (see leaseWindows).
func RunEventLeases(t *testing.T, newLeases func(t *testing.T) (bot.EventLeases, func(d time.Duration))) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration))
	}{
		{"ClaimReleaseFinish", testLeaseClaimReleaseFinish},
		{"LeaseLapses", withWindows(testLeaseLapses)},
		{"ExtendKeepsIt", withWindows(testLeaseExtend)},
		{"HandledMarkLapses", withWindows(testLeaseHandledLapses)},
		{"EventsAreSeparate", testLeaseEventsSeparate},
	} {
		for _, owner := range []string{"NoUser", "User"} {
			t.Run(tt.name+"/"+owner, func(t *testing.T) {
				l, pass := newLeases(t)
				var u bot.UserRef
				if owner == "User" {
					u = newUser(t)
				}
				tt.fn(t, l, u, pass)
			})
		}
	}
}

func eventID(t *testing.T) string {
	t.Helper()
	return eventIDs()
}

// eventIDs returns an event ID no other test uses (crypto/rand does not fail).
func eventIDs() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test:event:T1:Ev" + hex.EncodeToString(b)
}

func claimAs(t *testing.T, l bot.EventLeases, u bot.UserRef, id, token string, lease time.Duration, want bot.ClaimState) {
	t.Helper()
	if got, _, err := l.ClaimEvent(context.Background(), u, id, token, lease); err != nil || got != want {
		t.Fatalf("ClaimEvent(%v, %s, %s) = %v, %v; want %v", u, id, token, got, err, want)
	}
}

// testLeaseClaimReleaseFinish: one holder at a time; only the holder releases; a released
// event is claimed again (redelivery handled); a finished one is handled, whoever asks.
func testLeaseClaimReleaseFinish(t *testing.T, l bot.EventLeases, u bot.UserRef, _ func(time.Duration)) {
	ctx := context.Background()
	id := eventID(t)
	claimAs(t, l, u, id, "a", time.Minute, bot.Claimed)
	claimAs(t, l, u, id, "b", time.Minute, bot.Held)
	if err := l.ReleaseEvent(ctx, u, id, "b"); err != nil {
		t.Fatalf("ReleaseEvent(not the holder) = %v", err)
	}
	claimAs(t, l, u, id, "b", time.Minute, bot.Held)
	if err := l.ReleaseEvent(ctx, u, id, "a"); err != nil {
		t.Fatalf("ReleaseEvent = %v", err)
	}
	claimAs(t, l, u, id, "c", time.Minute, bot.Claimed)
	if err := l.FinishEvent(ctx, u, id, time.Minute); err != nil {
		t.Fatalf("FinishEvent = %v", err)
	}
	claimAs(t, l, u, id, "d", time.Minute, bot.Handled)
	// A release or an extension by the last holder cannot undo "handled".
	if err := l.ReleaseEvent(ctx, u, id, "c"); err != nil {
		t.Fatal(err)
	}
	if err := l.ExtendEvent(ctx, u, id, "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, u, id, "e", time.Minute, bot.Handled)
	// Finishing without a lease (an undecided claim) marks it handled too.
	other := eventID(t)
	if err := l.FinishEvent(ctx, u, other, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, u, other, "f", time.Minute, bot.Handled)
}

// leaseWindows are the lease lengths the timed tests try, shortest first. Real time passes
// in them (Redis keeps TTLs on its own clock; the embedded store counts them down on a
// ticker), so on a loaded machine the calls of one attempt may be too far apart for its
// window: a lease that must still be held can have lapsed before the test looks, or the
// embedded store's ticker may not have run yet when a lapse is checked. Such an attempt is
// inconclusive, and the next runs with a window four times as long. A store that gets the
// rule wrong fails every attempt, so the check is as strict as with one fixed window; it
// only costs time when it fails (about 13 s).
var leaseWindows = []time.Duration{200 * time.Millisecond, 800 * time.Millisecond, 3200 * time.Millisecond, 12800 * time.Millisecond}

// timedLeaseTest is one attempt of a timed lease test with leases of length lease: nil when
// the store kept the rule, else what it did.
type timedLeaseTest func(l bot.EventLeases, u bot.UserRef, pass func(time.Duration), lease time.Duration) error

// withWindows runs fn with each of leaseWindows until one attempt passes, and fails with
// every attempt's error when none does.
func withWindows(fn timedLeaseTest) func(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration)) {
	return func(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration)) {
		t.Helper()
		var errs []error
		for _, w := range leaseWindows {
			err := fn(l, u, pass, w)
			if err == nil {
				if len(errs) > 0 {
					t.Logf("passed with %v leases after inconclusive attempts: %v", w, errors.Join(errs...))
				}
				return
			}
			errs = append(errs, fmt.Errorf("with %v leases: %w", w, err))
		}
		t.Fatal(errors.Join(errs...))
	}
}

// claimIs is claimAs for a timed test: an error instead of a failure.
func claimIs(l bot.EventLeases, u bot.UserRef, id, token string, lease time.Duration, want bot.ClaimState) error {
	if got, _, err := l.ClaimEvent(context.Background(), u, id, token, lease); err != nil || got != want {
		return fmt.Errorf("ClaimEvent(%v, %s, %s) = %v, %v; want %v", u, id, token, got, err, want)
	}
	return nil
}

// testLeaseLapses: a holder that died stops holding when its lease passes: another process
// takes the event over.
func testLeaseLapses(l bot.EventLeases, u bot.UserRef, pass func(time.Duration), lease time.Duration) error {
	id := eventIDs()
	if err := claimIs(l, u, id, "dead", lease, bot.Claimed); err != nil {
		return err
	}
	pass(2 * lease)
	if err := claimIs(l, u, id, "next", time.Minute, bot.Claimed); err != nil {
		return err
	}
	return claimIs(l, u, id, "dead", time.Minute, bot.Held)
}

// testLeaseExtend: the holder's extension outlasts the first lease; another token's does
// nothing.
func testLeaseExtend(l bot.EventLeases, u bot.UserRef, pass func(time.Duration), lease time.Duration) error {
	ctx := context.Background()
	id := eventIDs()
	if err := claimIs(l, u, id, "a", lease, bot.Claimed); err != nil {
		return err
	}
	if err := l.ExtendEvent(ctx, u, id, "a", time.Minute); err != nil {
		return fmt.Errorf("ExtendEvent = %w", err)
	}
	if err := l.ExtendEvent(ctx, u, id, "b", lease/20); err != nil {
		return fmt.Errorf("ExtendEvent(not the holder) = %w", err)
	}
	pass(2 * lease)
	if err := claimIs(l, u, id, "b", time.Minute, bot.Held); err != nil {
		return err
	}
	// Extending an event nobody holds does not create a lease.
	free := eventIDs()
	if err := l.ExtendEvent(ctx, u, free, "a", time.Minute); err != nil {
		return err
	}
	return claimIs(l, u, free, "b", time.Minute, bot.Claimed)
}

// testLeaseHandledLapses: "handled" is remembered for its ttl, then forgotten.
func testLeaseHandledLapses(l bot.EventLeases, u bot.UserRef, pass func(time.Duration), ttl time.Duration) error {
	ctx := context.Background()
	id := eventIDs()
	if err := claimIs(l, u, id, "a", time.Minute, bot.Claimed); err != nil {
		return err
	}
	if err := l.FinishEvent(ctx, u, id, ttl); err != nil {
		return err
	}
	if err := claimIs(l, u, id, "b", time.Minute, bot.Handled); err != nil {
		return err
	}
	pass(2 * ttl)
	return claimIs(l, u, id, "c", time.Minute, bot.Claimed)
}

// testLeaseEventsSeparate: events do not share leases.
func testLeaseEventsSeparate(t *testing.T, l bot.EventLeases, u bot.UserRef, _ func(time.Duration)) {
	a, b := eventID(t), eventID(t)
	claimAs(t, l, u, a, "x", time.Minute, bot.Claimed)
	claimAs(t, l, u, b, "x", time.Minute, bot.Claimed)
	if err := l.FinishEvent(context.Background(), u, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, u, b, "y", time.Minute, bot.Held)
}
