package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

// turnOnce commits one turn that counts up the dialogue's step, and reports how long it took.
func turnOnce(ctx context.Context, s *storage.Store, u bot.UserRef) (time.Duration, error) {
	start := time.Now()
	err := s.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		cur.Flow = flows.FlowPause
		cur.Trail = append(cur.Trail, cur.Step) // counts the turns
		return cur, nil, nil
	})
	return time.Since(start), err
}

// TestRedisHangs pauses a real redis-server mid-dialogue: every call must come back within
// the platform budget (well under 1.5 s for the first, at once while the breaker is open),
// and after the server resumes the same dialogue goes on with nothing lost.
func TestRedisHangs(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Config{URL: srv.URL})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s.Close()
	u := bot.UserRef{Platform: "slack", Workspace: "T1", User: "UHANG"}
	for range 3 {
		if _, err := turnOnce(ctx, s, u); err != nil {
			t.Fatalf("turn before the pause = %v", err)
		}
	}

	srv.Pause()
	// The event's own deadline is generous (10 s): the store's timeouts must bound it.
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	took, err := turnOnce(ectx, s, u)
	cancel()
	if err == nil {
		t.Fatalf("turn on a paused Redis succeeded")
	}
	t.Logf("first turn on a paused Redis failed after %v: %v", took, err)
	if took > 1200*time.Millisecond {
		t.Errorf("first turn on a paused Redis took %v, want at most 1.2 s", took)
	}
	var worst time.Duration
	for range 5 {
		took, err := turnOnce(ctx, s, u)
		if err == nil {
			t.Fatalf("turn on a paused Redis succeeded")
		}
		worst = max(worst, took)
	}
	t.Logf("worst of the next five failed turns: %v (breaker open: %v)", worst, s.CircuitOpen())
	if worst > 1200*time.Millisecond {
		t.Errorf("later turns on a paused Redis took up to %v, want at most 1.2 s", worst)
	}
	if !s.CircuitOpen() {
		t.Errorf("CircuitOpen() = false after repeated timeouts")
	}

	srv.Resume()
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := turnOnce(ctx, s, u)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("turns still fail 3 s after Redis resumed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, ok, err := s.Dialogue(ctx, u)
	if err != nil || !ok {
		t.Fatalf("Dialogue after resume = %v, %v", ok, err)
	}
	// Three turns before the pause and one after. A failed turn may still have been applied
	// when the server had read its script before the pause (the idempotent commit is what
	// makes a retry of it safe), so this checks only that nothing was lost.
	if len(st.Trail) < 4 {
		t.Errorf("turns in the dialogue after resume = %d, want at least 4 (nothing lost)", len(st.Trail))
	}
}

// TestRedisDies kills a real redis-server: calls fail well within 1.5 s, and at once while
// the breaker is open.
func TestRedisDies(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Config{URL: srv.URL})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s.Close()
	u := bot.UserRef{Platform: "discord", Workspace: "dm", User: "UDEAD"}
	if _, err := turnOnce(ctx, s, u); err != nil {
		t.Fatalf("turn = %v", err)
	}
	srv.Kill()
	var worst time.Duration
	for i := range 6 {
		took, err := turnOnce(ctx, s, u)
		if err == nil {
			t.Fatalf("turn %d on a dead Redis succeeded", i)
		}
		worst = max(worst, took)
	}
	t.Logf("worst failed turn on a dead Redis: %v", worst)
	if worst > 500*time.Millisecond {
		t.Errorf("turns on a dead Redis took up to %v, want at most 0.5 s", worst)
	}
	if _, err := turnOnce(ctx, s, u); !errors.Is(err, storage.ErrUnavailable) && !s.CircuitOpen() {
		t.Logf("breaker not open after failures (err %v): acceptable only if errors were instant", err)
	}
}
