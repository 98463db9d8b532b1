package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// testTurnFromRaces: replicas racing with turns started from one read (bot.SnapshotTurner).
// Replays of one event apply once; different events started from the same, soon stale, read
// all apply, none lost; every applied event is handled afterwards.
func testTurnFromRaces(t *testing.T, h *harness) {
	ctx := context.Background()
	key := newKey(t)
	u := newUser(t)
	setup := h.store(key)
	if err := setup.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		cur.Flow, cur.Step = flows.FlowPause, flows.StepWhat
		return cur, nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	snap, err := setup.Snapshot(ctx, u)
	if err != nil || snap.Dialogue == nil {
		t.Fatalf("Snapshot = %+v, %v", snap, err)
	}
	step := func(cur flows.State) (flows.State, *flows.Entry, error) {
		cur.Trail = append(cur.Trail, cur.Step)
		return cur, nil, nil
	}
	const n = 8
	var (
		wg      sync.WaitGroup
		applied atomic.Int32
	)
	replay := "slack:event:T1:Ev" + randHex(t, 6)
	ids := make([]string, n)
	for i := range n {
		ids[i] = "slack:event:T1:Ev" + randHex(t, 6)
		s := h.store(key)
		wg.Go(func() {
			ok, err := s.TurnFrom(ctx, u, replay, snap.Dialogue, step)
			if err != nil {
				t.Errorf("TurnFrom(replay) = %v", err)
			}
			if ok {
				applied.Add(1)
			}
		})
		wg.Go(func() {
			if ok, err := s.TurnFrom(ctx, u, ids[i], snap.Dialogue, step); err != nil || !ok {
				t.Errorf("TurnFrom(%s) = %v, %v; want applied", ids[i], ok, err)
			}
		})
	}
	wg.Wait()
	if applied.Load() != 1 {
		t.Errorf("racing replays of one event applied %d times, want 1", applied.Load())
	}
	st, _, err := setup.Dialogue(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Trail) != n+1 {
		t.Errorf("after %d events and one replayed %d times, %d turns are stored; want %d", n, n, len(st.Trail), n+1)
	}
	for _, id := range append(ids, replay) {
		if got, _, err := setup.ClaimEvent(ctx, u, id, "late", time.Minute); err != nil || got != bot.Handled {
			t.Errorf("ClaimEvent(%s) after its turn = %v, %v; want Handled", id, got, err)
		}
	}
}
