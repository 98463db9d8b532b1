package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

// appendStep is a turn that records the step it was computed from: a stored Trail shows
// every applied turn and what each started from.
func appendStep(cur flows.State) (flows.State, *flows.Entry, error) {
	cur.Trail = append(cur.Trail, cur.Step)
	cur.Step++
	return cur, nil, nil
}

// openPause is a turn that starts a pause holding story.
func openPause(story string) bot.TurnFunc {
	return func(cur flows.State) (flows.State, *flows.Entry, error) {
		cur.Flow, cur.Step = flows.FlowPause, flows.StepWhat
		cur.Entry.Story = story
		return cur, nil, nil
	}
}

// guessedTurn is one DM answer as the adapter and the engine run it with a store that
// remembers the dialogue: bot.Dedupe.ClaimTurn, then TurnFrom from the lease's snapshot,
// then the lease's end. It returns the lease (settled) and TurnFrom's results.
func guessedTurn(t *testing.T, s *storage.Store, u bot.UserRef, id string, fn bot.TurnFunc) (lease *bot.Lease, guessed bool, applied bool, err error) {
	t.Helper()
	ctx := context.Background()
	lease, v := bot.NewDedupe(s, nil).ClaimTurn(ctx, u, id)
	if v != bot.New {
		t.Fatalf("ClaimTurn = %v, want new", v)
	}
	snap := lease.Snapshot()
	guessed = snap != nil && snap.Dialogue != nil && snap.Dialogue.Guess != nil
	applied, err = s.TurnFrom(ctx, u, id, snap.Dialogue, fn)
	if err == nil && applied {
		snap.SetDone()
	}
	return lease, guessed, applied, err
}

// testGuessedTurns: a turn from the store's memory of the dialogue (bot.Guesser) costs one
// round trip when the memory is right, and never applies a turn to a dialogue other than
// the one remembered: another replica's turn, an erased and rebuilt dialogue with the same
// version, a coaching marker, an event held or handled elsewhere all make the commit claim
// and read instead (or write nothing).
func testGuessedTurns(t *testing.T, h *harness) {
	ctx := context.Background()
	for _, enc := range []bool{true, false} {
		var keys [][]byte
		if enc {
			keys = append(keys, newKey(t))
		}
		var trips redistest.Trips
		h.rdb.AddHook(&trips)
		a, b := h.store(keys...), h.store(keys...) // two replicas
		newEvent := func() string { return "slack:event:T1:Ev" + randHex(t, 6) }
		// stored reads without writing (a write would put every memory out of date).
		stored := func(u bot.UserRef) flows.State {
			st, _, err := b.Dialogue(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}

		t.Run(map[bool]string{true: "encrypted", false: "plain"}[enc], func(t *testing.T) {
			u := newUser(t)
			if a.Guess(u) != nil {
				t.Fatal("Guess of a user never read = a snapshot, want nil")
			}
			if err := a.Turn(ctx, u, openPause("first")); err != nil {
				t.Fatal(err)
			}

			// A replica's first minutes load the script and the dedupe secret: steady state
			// is what counts.
			if _, _, applied, err := guessedTurn(t, a, u, newEvent(), appendStep); err != nil || !applied {
				t.Fatalf("first guessed turn = %v, %v", applied, err)
			}

			// Right memory: one round trip, applied, the event handled.
			trips.Take()
			id := newEvent()
			lease, guessed, applied, err := guessedTurn(t, a, u, id, appendStep)
			if !guessed || err != nil || !applied {
				t.Fatalf("turn from a fresh memory: guessed %v, applied %v, err %v; want a guess applied", guessed, applied, err)
			}
			if n := trips.Take(); len(n) != 1 {
				t.Errorf("turn from a fresh memory took %d round trips (%v), want 1", len(n), n)
			}
			if !lease.Settled(ctx, time.Second) {
				t.Error("a committed guess did not settle as acknowledgeable")
			}
			lease.Done(ctx)
			if n := trips.Take(); len(n) != 0 {
				t.Errorf("the lease's end after a committed guess made %d round trips, want 0 (the commit marked it done)", len(n))
			}
			if st, _, err := b.ClaimEvent(ctx, u, id, "late", time.Minute); err != nil || st != bot.Handled {
				t.Errorf("ClaimEvent after a guessed turn = %v, %v; want handled", st, err)
			}

			// Another replica answered in between: the memory is out of date. Two round
			// trips, and the turn is computed from the other replica's state.
			if _, _, applied, err := guessedTurn(t, b, u, newEvent(), appendStep); err != nil || !applied {
				t.Fatalf("replica b's turn = %v, %v", applied, err)
			}
			trips.Take()
			_, guessed, applied, err = guessedTurn(t, a, u, newEvent(), appendStep)
			if !guessed || err != nil || !applied {
				t.Fatalf("turn from a stale memory: guessed %v, applied %v, err %v", guessed, applied, err)
			}
			if n := trips.Take(); len(n) != 2 {
				t.Errorf("turn from a stale memory took %d round trips (%v), want 2", len(n), n)
			}
			st := stored(u)
			if len(st.Trail) != 4 || st.Trail[3] != st.Trail[2]+1 || st.Trail[2] != st.Trail[1]+1 {
				t.Errorf("after four turns (a, a, b, a) the trail is %v, want four steps, each from the one before", st.Trail)
			}

			// Erased and built again by another replica up to the same version, with
			// other content: the remembered version matches, the dialogue does not.
			if err := b.Forget(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := b.Turn(ctx, u, openPause("second life")); err != nil {
				t.Fatal(err)
			}
			for range 4 { // a remembers version 5: open and four turns
				if err := b.Turn(ctx, u, appendStep); err != nil {
					t.Fatal(err)
				}
			}
			_, guessed, applied, err = guessedTurn(t, a, u, newEvent(), appendStep)
			if !guessed || err != nil || !applied {
				t.Fatalf("turn after an erase and rebuild: guessed %v, applied %v, err %v", guessed, applied, err)
			}
			if st := stored(u); st.Entry.Story != "second life" || len(st.Trail) != 5 {
				t.Errorf("after an erase, a rebuild to the remembered version and a turn from the memory: story %q, trail %v; want the rebuilt dialogue's story and 5 steps", st.Entry.Story, st.Trail)
			}

			// A coaching marker set by another replica: the line may be a note. Nothing is
			// written, the event is claimed, and the error carries the fresh read.
			before := stored(u)
			marker := bot.CoachPending{NoteFor: "name-the-story", At: h.clock.Now()}
			if err := b.Coaching().SetPending(ctx, u, marker); err != nil {
				t.Fatal(err)
			}
			id = newEvent()
			lease, guessed, applied, err = guessedTurn(t, a, u, id, appendStep)
			var stale *bot.StaleSnapshotError
			if !guessed || applied || !errors.As(err, &stale) {
				t.Fatalf("turn from memory with a marker set elsewhere: guessed %v, applied %v, err %v; want a StaleSnapshotError", guessed, applied, err)
			}
			if !stale.Snapshot.CoachOK || stale.Snapshot.Coach.NoteFor != marker.NoteFor || stale.Snapshot.Dialogue.Version == 0 {
				t.Errorf("the stale error's snapshot = %+v, want the marker and the dialogue", stale.Snapshot)
			}
			if got := stored(u); len(got.Trail) != len(before.Trail) {
				t.Errorf("a turn refused for a marker wrote: trail %v, want %v", got.Trail, before.Trail)
			}
			if st, _, err := b.ClaimEvent(ctx, u, id, "other", time.Minute); err != nil || st != bot.Held {
				t.Errorf("ClaimEvent by another process after a stale guess = %v, %v; want held (the guess claimed it)", st, err)
			}
			if !lease.Settled(ctx, time.Second) {
				t.Error("a claimed event did not settle as acknowledgeable")
			}
			lease.Done(ctx)
			if err := b.Coaching().SetPending(ctx, u, bot.CoachPending{}); err != nil {
				t.Fatal(err)
			}

			// Setting a marker in this process forgets the memory outright.
			if err := a.Coaching().SetPending(ctx, u, marker); err != nil {
				t.Fatal(err)
			}
			if a.Guess(u) != nil {
				t.Error("Guess after this process set a coaching marker = a snapshot, want nil")
			}
			if err := a.Coaching().SetPending(ctx, u, bot.CoachPending{}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Snapshot(ctx, u); err != nil { // a read: remembered again
				t.Fatal(err)
			}

			// Held by another process: nothing written, not acknowledged, not marked done.
			before = stored(u)
			id = newEvent()
			if st, _, err := b.ClaimEvent(ctx, u, id, "holder", time.Minute); err != nil || st != bot.Claimed {
				t.Fatalf("ClaimEvent(holder) = %v, %v", st, err)
			}
			lease, guessed, applied, err = guessedTurn(t, a, u, id, appendStep)
			if !guessed || applied || !errors.Is(err, bot.ErrEventHeld) {
				t.Fatalf("turn from memory of an event held elsewhere: guessed %v, applied %v, err %v; want ErrEventHeld", guessed, applied, err)
			}
			if lease.Settled(ctx, time.Second) {
				t.Error("an event held elsewhere settled as acknowledgeable")
			}
			lease.Done(ctx)
			if st, _, err := b.ClaimEvent(ctx, u, id, "third", time.Minute); err != nil || st != bot.Held {
				t.Errorf("ClaimEvent after the guess gave up = %v, %v; want still held by its holder", st, err)
			}
			if got := stored(u); len(got.Trail) != len(before.Trail) {
				t.Errorf("a turn of an event held elsewhere wrote: trail %v, want %v", got.Trail, before.Trail)
			}

			// Handled before (a redelivery): nothing written.
			id = newEvent()
			if _, _, applied, err := guessedTurn(t, a, u, id, appendStep); err != nil || !applied {
				t.Fatalf("first delivery = %v, %v", applied, err)
			}
			before = stored(u)
			_, guessed, applied, err = guessedTurn(t, a, u, id, appendStep)
			if !guessed || applied || !errors.Is(err, bot.ErrEventHandled) {
				t.Errorf("redelivery from memory: guessed %v, applied %v, err %v; want ErrEventHandled", guessed, applied, err)
			}
			if got := stored(u); len(got.Trail) != len(before.Trail) {
				t.Errorf("a redelivered event was applied again: trail %v, want %v", got.Trail, before.Trail)
			}

			// The done mark is the record that the event was applied: kept AppliedTTL.
			if ok, err := b.EventApplied(ctx, u, id); err != nil || !ok {
				t.Errorf("EventApplied after the turn = %v, %v; want true", ok, err)
			}
			if key, err := b.LeaseKey(ctx, u, id); err != nil {
				t.Error(err)
			} else if ttl := h.rdb.PTTL(ctx, key).Val(); ttl <= storage.AppliedTTL-time.Minute || ttl > storage.AppliedTTL {
				t.Errorf("PTTL of the done mark = %v, want about %v", ttl, storage.AppliedTTL)
			}
			// An event an earlier build applied is named by its applied-events set, not
			// by a done mark (here: lapsed, or never written): it is still not applied again.
			if err := b.ReleaseEvent(ctx, u, id, "done"); err != nil { // the mark's value is its "token"
				t.Fatal(err)
			}
			if err := h.rdb.ZAdd(ctx, storage.KeyPrefix(u)+":applied", redis.Z{Score: float64(time.Now().UnixMilli()), Member: id}).Err(); err != nil {
				t.Fatal(err)
			}
			if st, _, err := b.ClaimEvent(ctx, u, id, "probe", time.Minute); err != nil || st != bot.Handled {
				t.Fatalf("ClaimEvent of an event an earlier build applied = %v, %v; want handled (by its record)", st, err)
			}
			_, _, applied, err = guessedTurn(t, a, u, id, appendStep)
			if applied || !errors.Is(err, bot.ErrEventHandled) {
				t.Errorf("redelivery from memory of an event an earlier build applied: applied %v, err %v; want ErrEventHandled", applied, err)
			}
			if got := stored(u); len(got.Trail) != len(before.Trail) {
				t.Errorf("a redelivered event was applied again after its done mark lapsed: trail %v, want %v", got.Trail, before.Trail)
			}

			// Forget in this process forgets the memory.
			if err := a.Forget(ctx, u); err != nil {
				t.Fatal(err)
			}
			if a.Guess(u) != nil {
				t.Error("Guess after Forget = a snapshot, want nil")
			}
		})
	}
}

// testGuessedTurnRaces: replicas that each remember the dialogue answer different events of
// one user at once, and all replay one more event: every event applies exactly once, none is
// lost, each turn computed from the state the one before it left.
func testGuessedTurnRaces(t *testing.T, h *harness) {
	ctx := context.Background()
	key := newKey(t)
	u := newUser(t)
	const n = 6
	replicas := make([]*storage.Store, n)
	for i := range replicas {
		replicas[i] = h.store(key)
		if i == 0 {
			if err := replicas[0].Turn(ctx, u, openPause("race")); err != nil {
				t.Fatal(err)
			}
		}
		load(t, replicas[i], u) // each remembers the dialogue
	}
	var (
		wg      sync.WaitGroup
		applied atomic.Int32
	)
	replay := "slack:event:T1:Ev" + randHex(t, 6)
	for i := range n {
		s := replicas[i]
		id := "slack:event:T1:Ev" + randHex(t, 6)
		wg.Go(func() {
			for {
				_, _, ok, err := guessedTurn(t, s, u, id, appendStep)
				if errors.Is(err, bot.ErrEventHeld) {
					continue // the platform would deliver it again
				}
				if err != nil || !ok {
					t.Errorf("turn %s = %v, %v; want applied", id, ok, err)
				}
				return
			}
		})
		wg.Go(func() {
			_, _, ok, err := guessedTurn(t, s, u, replay, appendStep)
			if err != nil && !errors.Is(err, bot.ErrEventHeld) && !errors.Is(err, bot.ErrEventHandled) {
				t.Errorf("replay = %v", err)
			}
			if ok {
				applied.Add(1)
			}
		})
	}
	wg.Wait()
	if applied.Load() != 1 {
		t.Errorf("a replay raced on %d replicas applied %d times, want 1", n, applied.Load())
	}
	st := load(t, replicas[0], u)
	if len(st.Trail) != n+1 {
		t.Errorf("%d events and one replay stored %d turns, want %d", n, len(st.Trail), n+1)
	}
	for i := 1; i < len(st.Trail); i++ {
		if st.Trail[i] != st.Trail[i-1]+1 {
			t.Errorf("turn %d was computed from step %v after one left step %v: a lost update", i, st.Trail[i], st.Trail[i-1]+1)
		}
	}
}

// testGuessStartsFromStored: a turn from the store's memory starts from exactly the State a
// read of the stored dialogue gives, though the memory was not decoded from the stored
// bytes (the committing replica keeps the State it encoded) and the encoding does not keep
// everything a State holds (a time's zone rules and monotonic reading, bytes that are not
// UTF-8, an empty slice). And a turn's step that changes the State it is handed in place (an
// append into a slice's spare room, a write through a pointer) changes neither the memory
// nor what a later turn starts from.
func testGuessStartsFromStored(t *testing.T, h *harness) {
	ctx := context.Background()
	for _, enc := range []bool{true, false} {
		var keys [][]byte
		if enc {
			keys = append(keys, newKey(t))
		}
		a, b := h.store(keys...), h.store(keys...) // two replicas
		t.Run(map[bool]string{true: "encrypted", false: "plain"}[enc], func(t *testing.T) {
			u := newUser(t)
			three := 3
			lossy := func(cur flows.State) (flows.State, *flows.Entry, error) {
				cur.Flow, cur.Step = flows.FlowPause, flows.StepFacts
				cur.Entry.Story = "they ignored \xffmy point\xc3" // not UTF-8
				// A monotonic reading and a zone with rules, neither of which is stored.
				now := time.Now()
				if ny, err := time.LoadLocation("America/New_York"); err == nil {
					now = now.In(ny)
				}
				cur.Updated = now
				cb := now.Add(time.Hour).In(time.FixedZone("IST", 5*3600+30*60))
				cur.Entry.CheckBack = &cb
				cur.Hints = []string{}                // empty: not stored
				cur.Trail = make([]flows.Step, 1, 16) // spare room
				cur.Entry.StrengthBefore = &three
				return cur, nil, nil
			}
			// scribble changes its input everywhere it can and fails: nothing is committed.
			scribble := func(cur flows.State) (flows.State, *flows.Entry, error) {
				if len(cur.Trail) > 0 {
					cur.Trail[0] = 42
				}
				_ = append(cur.Trail[:len(cur.Trail):len(cur.Trail)], 7)
				cur.Trail = append(cur.Trail, 99)
				if cur.Entry.StrengthBefore != nil {
					*cur.Entry.StrengthBefore = 9
				}
				if cur.Entry.CheckBack != nil {
					*cur.Entry.CheckBack = time.Time{}
				}
				return cur, nil, errors.New("scribbled")
			}
			// appendInPlace commits a turn that appends into its input's spare room.
			appendInPlace := func(cur flows.State) (flows.State, *flows.Entry, error) {
				cur.Trail = append(cur.Trail[:len(cur.Trail):cap(cur.Trail)], cur.Step)
				return cur, nil, nil
			}
			requireSame := func(when string) {
				t.Helper()
				want, _, err := b.Dialogue(ctx, u) // a read of the stored bytes
				if err != nil {
					t.Fatal(err)
				}
				snap := a.Guess(u)
				if snap == nil {
					t.Fatalf("%s: Guess = nil, want the memory", when)
				}
				if !reflect.DeepEqual(snap.Dialogue.State, want) {
					t.Fatalf("%s: the memory differs from a read of what is stored:\n memory %#v\n stored %#v", when, snap.Dialogue.State, want)
				}
			}

			if err := a.Turn(ctx, u, lossy); err != nil {
				t.Fatal(err)
			}
			requireSame("after a commit")
			for i := range 2 {
				if _, _, _, err := guessedTurn(t, a, u, "slack:event:T1:Ev"+randHex(t, 6), scribble); err == nil || err.Error() != "scribbled" {
					t.Fatalf("a failing turn = %v, want its error", err)
				}
				requireSame(fmt.Sprintf("after %d turns that changed their input in place and failed", i+1))
			}
			for range 2 {
				if _, _, applied, err := guessedTurn(t, a, u, "slack:event:T1:Ev"+randHex(t, 6), appendInPlace); err != nil || !applied {
					t.Fatalf("a turn that appends in place = %v, %v", applied, err)
				}
				requireSame("after a turn that appended in place")
			}
			if st := load(t, b, u); len(st.Trail) != 3 {
				t.Errorf("after a start and two turns from the memory the trail is %v, want 3 steps", st.Trail)
			}

			// The same from a read (a claim's snapshot) rather than a commit.
			if err := b.Turn(ctx, u, lossy); err != nil {
				t.Fatal(err)
			}
			snap, err := a.Snapshot(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			requireSame("after a read")
			// The turn the read was for changes what it read in place.
			if _, err := a.TurnFrom(ctx, u, "", snap.Dialogue, scribble); err == nil {
				t.Fatal("a failing turn succeeded")
			}
			requireSame("after a read and a turn from it that changed it in place and failed")
			if _, _, _, err := guessedTurn(t, a, u, "slack:event:T1:Ev"+randHex(t, 6), scribble); err == nil {
				t.Fatal("a failing turn succeeded")
			}
			requireSame("after a read and a turn that changed its input in place and failed")
		})
	}
}
