package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// TestUserLocksOrderAndDeadline: waiters get the lock in arrival order, and a waiter whose
// context ends gives up without blocking the others.
func TestUserLocksOrderAndDeadline(t *testing.T) {
	var l userLocks
	u := bot.UserRef{Platform: "test", Workspace: "T", User: "u"}
	ctx := context.Background()
	unlock, err := l.lock(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			un, err := l.lock(ctx, u)
			if err != nil {
				t.Errorf("lock = %v", err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			un.unlock()
		}()
		// Each waiter queues before the next starts.
		for {
			l.mu.Lock()
			n := len(l.locks[u].waiters)
			l.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := l.lock(short, u); err == nil {
		t.Fatalf("lock with an ended context succeeded while held")
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("a waiter with a 20ms deadline waited %v", took)
	}
	unlock.unlock()
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("lock order = %v, want arrival order", order)
		}
	}
	if len(l.locks) != 0 {
		t.Errorf("locks left after all unlocked: %d", len(l.locks))
	}
}
