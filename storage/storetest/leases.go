package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// RunEventLeases runs the event-lease conformance tests (bot.EventLeases) against any
// implementation: the Redis store (Run calls it) and bot.MemLeases. newLeases returns the
// leases under test and a function that lets d of the leases' time pass: a fake clock's Add
// for an in-process implementation, a real sleep for Redis, whose keys expire on the
// server's clock. Leases in these tests last well under a second of that time. Every test
// runs for an event of no one user and for an event of a user (which a store may keep with
// that user's data).
func RunEventLeases(t *testing.T, newLeases func(t *testing.T) (bot.EventLeases, func(d time.Duration))) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration))
	}{
		{"ClaimReleaseFinish", testLeaseClaimReleaseFinish},
		{"LeaseLapses", testLeaseLapses},
		{"ExtendKeepsIt", testLeaseExtend},
		{"HandledMarkLapses", testLeaseHandledLapses},
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
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
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

// testLeaseLapses: a holder that died stops holding when its lease passes: another process
// takes the event over.
func testLeaseLapses(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration)) {
	id := eventID(t)
	claimAs(t, l, u, id, "dead", 200*time.Millisecond, bot.Claimed)
	pass(400 * time.Millisecond)
	claimAs(t, l, u, id, "next", time.Minute, bot.Claimed)
	claimAs(t, l, u, id, "dead", time.Minute, bot.Held)
}

// testLeaseExtend: the holder's extension outlasts the first lease; another token's does
// nothing.
func testLeaseExtend(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration)) {
	ctx := context.Background()
	id := eventID(t)
	claimAs(t, l, u, id, "a", 200*time.Millisecond, bot.Claimed)
	if err := l.ExtendEvent(ctx, u, id, "a", time.Minute); err != nil {
		t.Fatalf("ExtendEvent = %v", err)
	}
	if err := l.ExtendEvent(ctx, u, id, "b", 10*time.Millisecond); err != nil {
		t.Fatalf("ExtendEvent(not the holder) = %v", err)
	}
	pass(400 * time.Millisecond)
	claimAs(t, l, u, id, "b", time.Minute, bot.Held)
	// Extending an event nobody holds does not create a lease.
	free := eventID(t)
	if err := l.ExtendEvent(ctx, u, free, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, u, free, "b", time.Minute, bot.Claimed)
}

// testLeaseHandledLapses: "handled" is remembered for its ttl, then forgotten.
func testLeaseHandledLapses(t *testing.T, l bot.EventLeases, u bot.UserRef, pass func(time.Duration)) {
	ctx := context.Background()
	id := eventID(t)
	claimAs(t, l, u, id, "a", time.Minute, bot.Claimed)
	if err := l.FinishEvent(ctx, u, id, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, u, id, "b", time.Minute, bot.Handled)
	pass(400 * time.Millisecond)
	claimAs(t, l, u, id, "c", time.Minute, bot.Claimed)
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
