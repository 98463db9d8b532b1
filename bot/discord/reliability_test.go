package discord

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// dyingLeases is the store as seen by a replica that dies right after it claimed a DM:
// the claim reaches Redis, and then nothing more ever comes from that process.
type dyingLeases struct {
	bot.EventLeases
	killed <-chan struct{}
}

func (d dyingLeases) ClaimEvent(ctx context.Context, u bot.UserRef, id, token string, lease time.Duration) (bot.ClaimState, *bot.Snapshot, error) {
	st, snap, err := d.EventLeases.ClaimEvent(ctx, u, id, token, lease)
	if err != nil || st != bot.Claimed {
		return st, snap, err
	}
	<-d.killed // frozen until the test ends; it never replies, extends or finishes
	return bot.Held, nil, nil
}

// lateLeases makes a replica claim each ID a moment after the other, so the test knows
// which replica gets the DM first.
type lateLeases struct {
	bot.EventLeases
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lateLeases) ClaimEvent(ctx context.Context, u bot.UserRef, id, token string, lease time.Duration) (bot.ClaimState, *bot.Snapshot, error) {
	l.mu.Lock()
	first := !l.seen[id]
	l.seen[id] = true
	l.mu.Unlock()
	if first {
		time.Sleep(200 * time.Millisecond)
	}
	return l.EventLeases.ClaimEvent(ctx, u, id, token, lease)
}

// TestGatewayTakeover: two replicas on the fake gateway; the one that claims a DM dies
// before answering. The other takes the DM over once the lease lapses and answers it once.
func TestGatewayTakeover(t *testing.T) {
	killed := make(chan struct{})
	e := newEnvWith(t, 2, false, envOptions{config: func(i int, c *Config) {
		switch i {
		case 0:
			c.Dedupe = dyingLeases{EventLeases: c.Dedupe, killed: killed}
		case 1:
			c.Dedupe = &lateLeases{EventLeases: c.Dedupe, seen: map[string]bool{}}
		}
	}})
	t.Cleanup(func() { close(killed) }) // runs before the env's own cleanups
	const user = "u-takeover"
	e.welcomed(t, user)
	start := time.Now()
	e.dm(user, "hello")
	deadline := start.Add(15 * time.Second)
	for len(e.fake.dmPosts(user)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // time for a duplicate to show up
	if n := len(e.fake.dmPosts(user)); n != 1 {
		t.Fatalf("%d DM replies after the claiming replica died, want exactly 1", n)
	}
	t.Logf("answered by the other replica after %v (lease %v)", took.Round(10*time.Millisecond), messageLease)
	if took > messageLease+3*time.Second {
		t.Errorf("takeover took %v, want within a few seconds of the %v lease", took, messageLease)
	}
	if n0, n1 := e.handlers[0].n.Load(), e.handlers[1].n.Load(); n0 != 0 || n1 != 1 {
		t.Errorf("handled by replica 0: %d, replica 1: %d; want 0 and 1", n0, n1)
	}
}

// TestInteractionBusy: with the work pool full, an interaction is answered at once with an
// ephemeral busy message, and nothing of it runs.
func TestInteractionBusy(t *testing.T) {
	pool := bot.NewPool(bot.PoolConfig{Workers: 1, Queue: 1})
	e := newEnvWith(t, 1, false, envOptions{config: func(_ int, c *Config) { c.Work = pool }})
	release := make(chan struct{})
	t.Cleanup(func() { close(release); _ = pool.Drain(context.Background()) })
	block := func(context.Context) { <-release }
	if err := pool.Submit("x", "test", block); err != nil {
		t.Fatal(err)
	}
	for pool.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := pool.Submit("y", "test", block); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp := response(t, e.post(t, e.command("u-busy", "g1", "pause")))
	took := time.Since(start)
	data, _ := resp["data"].(map[string]any)
	if resp["type"] != 4.0 || data["flags"] != 64.0 || data["content"] != TextBusy {
		t.Errorf("saturated /story answered %v, want an immediate ephemeral busy message", resp)
	}
	if took > time.Second {
		t.Errorf("busy answer took %v", took)
	}
	time.Sleep(100 * time.Millisecond)
	if n := e.handlers[0].n.Load(); n != 0 {
		t.Errorf("refused interaction handled %d times, want 0", n)
	}
}
