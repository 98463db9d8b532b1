package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

// The console's mailbox: `storybot console` processes on one Redis (one terminal per user)
// pass each other the messages their engines send to users at other terminals: a coaching
// invitation, the coach's note on an answer, a scheduled check-in that another terminal's
// scheduler claimed.
//
//	sb:{u:P:W:U}:console  list, TTL ConsoleInboxTTL, refreshed by every post: messages
//	    waiting for U's terminal, each rendered as plain text and sealed like reflection text
//	    with the key as AD (a list has no stable field to add). Forget deletes it. keys
//	    rotate leaves lists alone: these expire within the hour.
const consoleSuffix = ":console"

// ConsoleInboxTTL is how long undelivered console messages wait: a terminal opened later
// than that starts with an empty mailbox.
const ConsoleInboxTTL = time.Hour

// PostConsole leaves text for the console user u.
func (s *Store) PostConsole(ctx context.Context, u bot.UserRef, text string) error {
	k, err := keysFor(u)
	if err != nil {
		return fmt.Errorf("storage: console post: %w", err)
	}
	key := k.tag + consoleSuffix
	v, err := s.crypt.seal([]byte(text), key)
	if err != nil {
		return fmt.Errorf("storage: console post: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.RPush(ctx, key, v)
	pipe.Expire(ctx, key, ConsoleInboxTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("storage: console post: %w", err)
	}
	return nil
}

// TakeConsole removes and returns the messages waiting for u, oldest first.
func (s *Store) TakeConsole(ctx context.Context, u bot.UserRef) ([]string, error) {
	k, err := keysFor(u)
	if err != nil {
		return nil, fmt.Errorf("storage: console take: %w", err)
	}
	key := k.tag + consoleSuffix
	vals, err := s.rdb.LPopCount(ctx, key, 100).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("storage: console take: %w", err)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		plain, err := s.openText([]byte(v), key)
		if err != nil {
			return out, fmt.Errorf("storage: console take: %w", err)
		}
		out = append(out, plain)
	}
	return out, nil
}

// openText opens a sealed text value. Unlike JSON values, a plain text is not recognisable
// by its first byte, so a value without the sealed prefix is taken as plain text.
func (s *Store) openText(v []byte, ad string) (string, error) {
	if sealedKeyID(v) == "" {
		return string(v), nil
	}
	plain, err := s.crypt.open(v, ad)
	return string(plain), err
}
