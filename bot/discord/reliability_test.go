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

func (d dyingLeases) ClaimEvent(ctx context.Context, id, token string, lease time.Duration) (bot.ClaimState, error) {
	st, err := d.EventLeases.ClaimEvent(ctx, id, token, lease)
	if err != nil || st != bot.Claimed {
		return st, err
	}
	<-d.killed // frozen until the test ends; it never replies, extends or finishes
	return bot.Held, nil
}

// lateLeases makes a replica claim each ID a moment after the other, so the test knows
// which replica gets the DM first.
type lateLeases struct {
	bot.EventLeases
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lateLeases) ClaimEvent(ctx context.Context, id, token string, lease time.Duration) (bot.ClaimState, error) {
	l.mu.Lock()
	first := !l.seen[id]
	l.seen[id] = true
	l.mu.Unlock()
	if first {
		time.Sleep(200 * time.Millisecond)
	}
	return l.EventLeases.ClaimEvent(ctx, id, token, lease)
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
