package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

var _ bot.PlanStore = (*Store)(nil)

// SafetyPlan implements bot.PlanStore. A user with no plan (or one past the retention) has
// the zero plan and false.
func (s *Store) SafetyPlan(ctx context.Context, u bot.UserRef) (flows.SafetyPlan, bool, error) {
	k, err := keysFor(u)
	if err != nil {
		return flows.SafetyPlan{}, false, fmt.Errorf("storage: read safety plan %s: %w", u, err)
	}
	v, err := s.rdb.Get(ctx, k.plan).Result()
	if errors.Is(err, redis.Nil) {
		return flows.SafetyPlan{}, false, nil
	}
	if err != nil {
		return flows.SafetyPlan{}, false, fmt.Errorf("storage: read safety plan %s: %w", u, err)
	}
	var p flows.SafetyPlan
	if err := s.decode([]byte(v), k.plan, &p); err != nil {
		return flows.SafetyPlan{}, false, fmt.Errorf("storage: read safety plan %s: %w", u, err)
	}
	return p, true, nil
}

// SavePlan implements bot.PlanStore: one SET, sealed like a journal entry, expiring with the
// retention period from now.
func (s *Store) SavePlan(ctx context.Context, u bot.UserRef, p flows.SafetyPlan) error {
	k, err := keysFor(u)
	if err != nil {
		return fmt.Errorf("storage: save safety plan %s: %w", u, err)
	}
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("storage: save safety plan %s: %w", u, sanitizeJSONError(err))
	}
	if v, err = s.crypt.seal(v, k.plan); err != nil {
		return fmt.Errorf("storage: save safety plan %s: encrypt: %w", u, err)
	}
	if err := s.rdb.Set(ctx, k.plan, v, s.ret).Err(); err != nil {
		return fmt.Errorf("storage: save safety plan %s: %w", u, err)
	}
	return nil
}
