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
// server's clock. Leases in these tests last well under a second of that time.
func RunEventLeases(t *testing.T, newLeases func(t *testing.T) (bot.EventLeases, func(d time.Duration))) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, l bot.EventLeases, pass func(time.Duration))
	}{
		{"ClaimReleaseFinish", testLeaseClaimReleaseFinish},
		{"LeaseLapses", testLeaseLapses},
		{"ExtendKeepsIt", testLeaseExtend},
		{"HandledMarkLapses", testLeaseHandledLapses},
		{"EventsAreSeparate", testLeaseEventsSeparate},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, pass := newLeases(t)
			tt.fn(t, l, pass)
		})
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

func claimAs(t *testing.T, l bot.EventLeases, id, token string, lease time.Duration, want bot.ClaimState) {
	t.Helper()
	if got, err := l.ClaimEvent(context.Background(), id, token, lease); err != nil || got != want {
		t.Fatalf("ClaimEvent(%s, %s) = %v, %v; want %v", id, token, got, err, want)
	}
}

// testLeaseClaimReleaseFinish: one holder at a time; only the holder releases; a released
// event is claimed again (redelivery handled); a finished one is handled, whoever asks.
func testLeaseClaimReleaseFinish(t *testing.T, l bot.EventLeases, _ func(time.Duration)) {
	ctx := context.Background()
	id := eventID(t)
	claimAs(t, l, id, "a", time.Minute, bot.Claimed)
	claimAs(t, l, id, "b", time.Minute, bot.Held)
	if err := l.ReleaseEvent(ctx, id, "b"); err != nil {
		t.Fatalf("ReleaseEvent(not the holder) = %v", err)
	}
	claimAs(t, l, id, "b", time.Minute, bot.Held)
	if err := l.ReleaseEvent(ctx, id, "a"); err != nil {
		t.Fatalf("ReleaseEvent = %v", err)
	}
	claimAs(t, l, id, "c", time.Minute, bot.Claimed)
	if err := l.FinishEvent(ctx, id, time.Minute); err != nil {
		t.Fatalf("FinishEvent = %v", err)
	}
	claimAs(t, l, id, "d", time.Minute, bot.Handled)
	// A release or an extension by the last holder cannot undo "handled".
	if err := l.ReleaseEvent(ctx, id, "c"); err != nil {
		t.Fatal(err)
	}
	if err := l.ExtendEvent(ctx, id, "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, id, "e", time.Minute, bot.Handled)
	// Finishing without a lease (an undecided claim) marks it handled too.
	other := eventID(t)
	if err := l.FinishEvent(ctx, other, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, other, "f", time.Minute, bot.Handled)
}

// testLeaseLapses: a holder that died stops holding when its lease passes: another process
// takes the event over.
func testLeaseLapses(t *testing.T, l bot.EventLeases, pass func(time.Duration)) {
	id := eventID(t)
	claimAs(t, l, id, "dead", 200*time.Millisecond, bot.Claimed)
	pass(400 * time.Millisecond)
	claimAs(t, l, id, "next", time.Minute, bot.Claimed)
	claimAs(t, l, id, "dead", time.Minute, bot.Held)
}

// testLeaseExtend: the holder's extension outlasts the first lease; another token's does
// nothing.
func testLeaseExtend(t *testing.T, l bot.EventLeases, pass func(time.Duration)) {
	ctx := context.Background()
	id := eventID(t)
	claimAs(t, l, id, "a", 200*time.Millisecond, bot.Claimed)
	if err := l.ExtendEvent(ctx, id, "a", time.Minute); err != nil {
		t.Fatalf("ExtendEvent = %v", err)
	}
	if err := l.ExtendEvent(ctx, id, "b", 10*time.Millisecond); err != nil {
		t.Fatalf("ExtendEvent(not the holder) = %v", err)
	}
	pass(400 * time.Millisecond)
	claimAs(t, l, id, "b", time.Minute, bot.Held)
	// Extending an event nobody holds does not create a lease.
	free := eventID(t)
	if err := l.ExtendEvent(ctx, free, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, free, "b", time.Minute, bot.Claimed)
}

// testLeaseHandledLapses: "handled" is remembered for its ttl, then forgotten.
func testLeaseHandledLapses(t *testing.T, l bot.EventLeases, pass func(time.Duration)) {
	ctx := context.Background()
	id := eventID(t)
	claimAs(t, l, id, "a", time.Minute, bot.Claimed)
	if err := l.FinishEvent(ctx, id, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, id, "b", time.Minute, bot.Handled)
	pass(400 * time.Millisecond)
	claimAs(t, l, id, "c", time.Minute, bot.Claimed)
}

// testLeaseEventsSeparate: events do not share leases.
func testLeaseEventsSeparate(t *testing.T, l bot.EventLeases, _ func(time.Duration)) {
	a, b := eventID(t), eventID(t)
	claimAs(t, l, a, "x", time.Minute, bot.Claimed)
	claimAs(t, l, b, "x", time.Minute, bot.Claimed)
	if err := l.FinishEvent(context.Background(), a, time.Minute); err != nil {
		t.Fatal(err)
	}
	claimAs(t, l, b, "y", time.Minute, bot.Held)
}
