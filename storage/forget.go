package storage

import (
	"context"
	"fmt"

	"github.com/storybot/storybot/bot"
)

// Forget erases everything this package keeps about u: dialogue, journal (index and
// entries), safety plan, profile and scheduled jobs, follow-ups included (coaching has its own eraser, Coaching().Forget). It is the storage half of /story forget. It takes two round trips:
// the index, then one DEL of all keys (one hash slot, so a single command even in a cluster).
// A turn racing with Forget may leave its own write behind; the caller serializes them.
func (s *Store) Forget(ctx context.Context, u bot.UserRef) error {
	k, err := keysFor(u)
	if err != nil {
		return fmt.Errorf("storage: forget %s: %w", u, err)
	}
	s.forgetGuess(u)
	ids, err := s.rdb.ZRange(ctx, k.journal, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("storage: forget %s: read index: %w", u, err)
	}
	// Follow-ups exist only for journal entries: cancel them while the index still names
	// them, so a failure here leaves everything for the retry.
	if err := s.DeleteFollowups(ctx, u, ids...); err != nil {
		return fmt.Errorf("storage: forget %s: %w", u, err)
	}
	keys := make([]string, 0, len(ids)+6)
	keys = append(keys, k.dialogue, k.journal, k.profile, k.plan, k.applied, k.tag+consoleSuffix)
	for _, id := range ids {
		keys = append(keys, k.entry(id))
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("storage: forget %s: %w", u, err)
	}
	return s.ForgetSchedules(ctx, u)
}
