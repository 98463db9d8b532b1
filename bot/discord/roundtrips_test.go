package discord

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// tripCounter counts Redis round trips: a command, a pipeline or a script is one each.
type tripCounter struct {
	mu    sync.Mutex
	trips []string
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add("pipeline")
		return next(ctx, cmds)
	}
}

func (c *tripCounter) add(what string) {
	c.mu.Lock()
	c.trips = append(c.trips, what)
	c.mu.Unlock()
}

func (c *tripCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trips
	c.trips = nil
	return t
}

// TestGatewayDMRoundTrips: on Discord too, a typed DM answer (through the gateway) and a
// button press (an interaction) in an open dialogue cost at most two Redis round trips each,
// the claim and the commit, from the real adapter through the engine wired like serve.
func TestGatewayDMRoundTrips(t *testing.T) {
	e := newEnv(t, 1, true)
	c := &tripCounter{}
	e.store.Client().AddHook(c)
	answer := func(user, text string) (trips []string, reply call) {
		t.Helper()
		n := len(e.fake.dmPosts(user))
		c.take()
		e.dm(user, text)
		waitFor(t, "the reply to "+text, func() bool { return len(e.fake.dmPosts(user)) > n })
		e.idle()
		posts := e.fake.dmPosts(user)
		return c.take(), posts[len(posts)-1]
	}
	// The first user loads the scripts, as a replica's first minutes do.
	for _, user := range []string{"u-warm", "u-trips"} {
		e.welcomed(t, user)
		answer(user, "/story pause The demo froze.")
		trips, reply := answer(user, "Everyone thinks I'm unprepared.")
		if !strings.Contains(content(reply), "What are you feeling") {
			t.Fatalf("DM answer got %q, want the feeling question", content(reply))
		}
		if user == "u-warm" {
			continue
		}
		t.Logf("gateway DM answer: %d Redis round trips: %s", len(trips), strings.Join(trips, ", "))
		if len(trips) > 2 {
			t.Errorf("gateway DM answer cost %d Redis round trips, want at most 2", len(trips))
		}
		c.take()
		e.press(t, user, reply, "c:anxious")
		trips = c.take()
		if got := content(e.fake.dmPosts(user)[len(e.fake.dmPosts(user))-1]); !strings.Contains(got, "How strong") {
			t.Fatalf("after pressing Anxious the DM reads %q, want the strength question", got)
		}
		t.Logf("button press: %d Redis round trips: %s", len(trips), strings.Join(trips, ", "))
		if len(trips) > 2 {
			t.Errorf("button press cost %d Redis round trips, want at most 2", len(trips))
		}
	}
}
