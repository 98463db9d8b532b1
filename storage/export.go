package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Dialogue returns the user's open dialogue state without changing it (for /story export).
// A user with no stored dialogue has the zero State and false.
func (s *Store) Dialogue(ctx context.Context, u bot.UserRef) (flows.State, bool, error) {
	k, err := keysFor(u)
	if err != nil {
		return flows.State{}, false, fmt.Errorf("storage: read dialogue %s: %w", u, err)
	}
	v, err := s.rdb.HGet(ctx, k.dialogue, "state").Result()
	if errors.Is(err, redis.Nil) {
		return flows.State{}, false, nil
	}
	if err != nil {
		return flows.State{}, false, fmt.Errorf("storage: read dialogue %s: %w", u, err)
	}
	var st flows.State
	if err := s.decode([]byte(v), k.dialogue+"#state", &st); err != nil {
		return flows.State{}, false, fmt.Errorf("storage: read dialogue %s: %w", u, err)
	}
	return st, true, nil
}
