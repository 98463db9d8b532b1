package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

var _ bot.EventLeases = (*Store)(nil)

// doneMark is the value of a handled event's dedupe key; FirstSeen's "1" counts as done too.
const doneMark = "done"

// eventClaimScript takes an event's lease unless it is held or handled: one round trip, atomic.
//
//	KEYS[1] dedupe key; ARGV[1] token, ARGV[2] lease ms
//	returns 1 claimed, 2 held, 3 handled
var eventClaimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == 'done' or v == '1' then return 3 end
return 2
`)

// eventTokenScript extends (ARGV[2] ms > 0) or deletes (ARGV[2] = 0) the lease if ARGV[1]
// still holds it.
var eventTokenScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// eventKey is the dedupe key of an event id: a keyed hash of it (see dedupeKey).
func (s *Store) eventKey(ctx context.Context, id string) (string, error) {
	secret, err := s.dedupeSecret(ctx)
	if err != nil {
		return "", err
	}
	return dedupeKey(secret, id)
}

// ClaimEvent implements bot.EventLeases.
func (s *Store) ClaimEvent(ctx context.Context, id, token string, lease time.Duration) (bot.ClaimState, error) {
	key, err := s.eventKey(ctx, id)
	if err != nil || token == "" || lease <= 0 {
		return 0, fmt.Errorf("storage: claim event %q: bad arguments", id)
	}
	n, err := eventClaimScript.Run(ctx, s.rdb, []string{key}, token, lease.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("storage: claim event %s: %w", id, err)
	}
	switch n {
	case 1:
		return bot.Claimed, nil
	case 2:
		return bot.Held, nil
	}
	return bot.Handled, nil
}

// ExtendEvent implements bot.EventLeases.
func (s *Store) ExtendEvent(ctx context.Context, id, token string, lease time.Duration) error {
	key, err := s.eventKey(ctx, id)
	if err != nil || lease <= 0 {
		return fmt.Errorf("storage: extend event %q: bad arguments", id)
	}
	if err := eventTokenScript.Run(ctx, s.rdb, []string{key}, token, lease.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("storage: extend event %s: %w", id, err)
	}
	return nil
}

// FinishEvent implements bot.EventLeases.
func (s *Store) FinishEvent(ctx context.Context, id string, ttl time.Duration) error {
	key, err := s.eventKey(ctx, id)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("storage: finish event %q: bad arguments", id)
	}
	if err := s.rdb.Set(ctx, key, doneMark, ttl).Err(); err != nil {
		return fmt.Errorf("storage: finish event %s: %w", id, err)
	}
	return nil
}

// ReleaseEvent implements bot.EventLeases.
func (s *Store) ReleaseEvent(ctx context.Context, id, token string) error {
	key, err := s.eventKey(ctx, id)
	if err != nil {
		return fmt.Errorf("storage: release event %q: %w", id, err)
	}
	if err := eventTokenScript.Run(ctx, s.rdb, []string{key}, token, 0).Err(); err != nil {
		return fmt.Errorf("storage: release event %s: %w", id, err)
	}
	return nil
}
