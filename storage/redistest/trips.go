package redistest

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Trips is a go-redis hook that records the round trips a client makes, for tests and
// benchmarks that count them: a command (a script included) is one, a pipeline is one.
// Add it with Client.AddHook.
type Trips struct {
	mu    sync.Mutex
	trips []string
}

var _ redis.Hook = (*Trips)(nil)

// DialHook implements redis.Hook: dialling is not a round trip of a command.
func (t *Trips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (t *Trips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t.add(cmd.Name())
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (t *Trips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		t.add("pipeline[" + strings.Join(names, " ") + "]")
		return next(ctx, cmds)
	}
}

func (t *Trips) add(what string) {
	t.mu.Lock()
	t.trips = append(t.trips, what)
	t.mu.Unlock()
}

// Take returns the round trips recorded since the last Take, by command name (a pipeline
// as "pipeline[names]"), and forgets them.
func (t *Trips) Take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.trips
	t.trips = nil
	return r
}
