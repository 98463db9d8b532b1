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

// maxUpdateTries bounds the compare-and-set retries of one UpdateEntry; updates of one entry
// are rare (a follow-up's few answers), so losing this often means something is wrong.
const maxUpdateTries = 20

// entryKey returns the key of entry id of u, refusing IDs that could not have come from
// newEntryID's alphabet (an ID is never user text, but it does come back in button-less
// commands, so it must not be able to reach another key).
func entryKey(u bot.UserRef, id string) (string, error) {
	k, err := keysFor(u)
	if err != nil {
		return "", err
	}
	if id == "" || escapeComponent(id) != id {
		return "", fmt.Errorf("malformed entry id %q", id)
	}
	return k.entry(id), nil
}

// Entry implements bot.DialogueStore: one GET.
func (s *Store) Entry(ctx context.Context, u bot.UserRef, id string) (flows.Entry, bool, error) {
	key, err := entryKey(u, id)
	if err != nil {
		return flows.Entry{}, false, fmt.Errorf("storage: load entry %s: %w", u, err)
	}
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return flows.Entry{}, false, nil
	}
	if err != nil {
		return flows.Entry{}, false, fmt.Errorf("storage: load entry %s %s: %w", u, id, err)
	}
	var e flows.Entry
	if err := s.decode([]byte(v), key, &e); err != nil {
		return flows.Entry{}, false, fmt.Errorf("storage: load entry %s %s: %w", u, id, err)
	}
	e.ID = id
	return e, true, nil
}

// updateEntryScript replaces an entry only if it still holds the value read (compare and
// set), keeping its remaining time to live: the entry still expires at its retention.
//
//	KEYS[1] entry key; ARGV[1] value read, ARGV[2] new value
//
// It returns 1 when replaced, 0 when the value changed since it was read, -1 when the entry
// is gone.
var updateEntryScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cur ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// UpdateEntry implements bot.DialogueStore with an optimistic compare-and-set: read,
// apply fn, and commit in one script that checks nothing changed meanwhile. The new value is
// sealed like every journal entry. Two round trips when uncontended.
func (s *Store) UpdateEntry(ctx context.Context, u bot.UserRef, id string, fn func(*flows.Entry) error) (bool, error) {
	key, err := entryKey(u, id)
	if err != nil {
		return false, fmt.Errorf("storage: update entry %s: %w", u, err)
	}
	for try := 1; ; try++ {
		cur, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("storage: update entry %s %s: %w", u, id, err)
		}
		var e flows.Entry
		if err := s.decode([]byte(cur), key, &e); err != nil {
			return false, fmt.Errorf("storage: update entry %s %s: %w", u, id, err)
		}
		e.ID = id
		created := e.Created
		if err := fn(&e); err != nil {
			return false, err
		}
		e.ID, e.Created = id, created
		plain, err := json.Marshal(e)
		if err != nil {
			return false, fmt.Errorf("storage: update entry %s %s: %w", u, id, sanitizeJSONError(err))
		}
		sealed, err := s.crypt.seal(plain, key)
		if err != nil {
			return false, fmt.Errorf("storage: update entry %s %s: encrypt: %w", u, id, err)
		}
		n, err := updateEntryScript.Run(ctx, s.rdb, []string{key}, cur, sealed).Int()
		if err != nil {
			return false, fmt.Errorf("storage: update entry %s %s: %w", u, id, err)
		}
		switch n {
		case 1:
			return true, nil
		case -1:
			return false, nil
		}
		if try >= maxUpdateTries {
			return false, fmt.Errorf("storage: update entry %s %s: %w", u, id, bot.ErrConflict)
		}
		if err := sleep(ctx, backoff(try)); err != nil {
			return false, fmt.Errorf("storage: update entry %s %s: %w", u, id, err)
		}
	}
}
