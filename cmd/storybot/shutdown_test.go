package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// TestShutdownDrainsBeforeFlushing: the outboxes are flushed only after the acknowledged
// work has drained, since that work's replies go to them; the old order (flush, then
// drain) dropped the replies of work that finished during the drain.
func TestShutdownDrainsBeforeFlushing(t *testing.T) {
	var (
		mu    sync.Mutex
		order []string
	)
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	a := &app{work: bot.NewPool(bot.PoolConfig{})}
	a.flushers = append(a.flushers, func(ctx context.Context) error {
		note("flush")
		if _, ok := ctx.Deadline(); !ok {
			t.Error("flush has no deadline")
		}
		return nil
	})
	for range 3 {
		if err := a.work.Submit("", "test", func(context.Context) {
			time.Sleep(100 * time.Millisecond)
			note("work done")
		}); err != nil {
			t.Fatal(err)
		}
	}
	a.shutdown(slog.New(slog.NewTextHandler(io.Discard, nil)))
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 4 || order[3] != "flush" {
		t.Errorf("shutdown order %q, want the three pieces of work done, then the flush", order)
	}
}
