package storage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

var (
	_ bot.EventLeases    = (*Store)(nil)
	_ bot.SnapshotTurner = (*Store)(nil)
)

// doneMark is the value of a handled event's dedupe key; FirstSeen's "1" counts as done too.
const doneMark = "done"

// eventClaimScript takes an event's lease unless it is held or handled: one round trip, atomic.
//
//	KEYS[1] dedupe key; ARGV[1] token, ARGV[2] lease ms
//	returns 1 claimed, 2 held, 3 handled
var eventClaimScript = newScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == 'done' or v == '1' then return 3 end
return 2
`)

// userClaimScript claims an event of one user and, when it gets it, reads what answering the
// user needs, all in one round trip (the one the acknowledgement waits for anyway): the
// dialogue's version and state and the coaching marker. Every key is in the user's hash slot
// (the lease key's tag is chosen so: see slotTag). An event the user's applied-events set
// names was committed by a turn (perhaps by a build that kept its done mark elsewhere, in a
// rolling deploy): it counts as handled.
//
//	KEYS[1] lease key, KEYS[2] dialogue hash, KEYS[3] applied-events zset,
//	KEYS[4] coaching marker, KEYS[5] profile; ARGV[1] token, ARGV[2] lease ms, ARGV[3] event id
//	returns {1, ver, state, marker, no-followups, welcomed} claimed (absent values nil),
//	{2} held, {3} handled
var userClaimScript = newScript(`
local v = redis.call('GET', KEYS[1])
if v then
  if v == 'done' or v == '1' then return {3} end
  return {2}
end
if redis.call('ZSCORE', KEYS[3], ARGV[3]) then return {3} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local d = redis.call('HMGET', KEYS[2], 'ver', 'state')
local p = redis.call('HMGET', KEYS[5], '` + fieldNoFU + `', '` + fieldWelcomed + `')
return {1, d[1], d[2], redis.call('GET', KEYS[4]), p[1], p[2]}
`)

// eventTokenScript extends (ARGV[2] ms > 0) or deletes (ARGV[2] = 0) the lease if ARGV[1]
// still holds it.
var eventTokenScript = newScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// EventApplied reports whether event id of user u was handled: its lease key says done (a
// turn's commit writes that, for AppliedTTL), or the applied-events set an earlier build
// kept names it. For operators' checks and tests; the scripts read the same two.
func (s *Store) EventApplied(ctx context.Context, u bot.UserRef, id string) (bool, error) {
	key, err := s.eventKey(ctx, u, id)
	if err != nil {
		return false, fmt.Errorf("storage: event applied: %w", err)
	}
	k, err := keysFor(u)
	if err != nil {
		return false, fmt.Errorf("storage: event applied: %w", err)
	}
	var mark *redis.StringCmd
	var applied *redis.FloatCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		mark = p.Get(ctx, key)
		applied = p.ZScore(ctx, k.applied, id)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("storage: event applied: %w", err)
	}
	return mark.Val() == doneMark || mark.Val() == "1" || applied.Err() == nil, nil
}

// LeaseKey is the Redis key of the lease, and then the done mark, of event id of user u
// (the zero UserRef: an event of no one user). For operators' checks and tests.
func (s *Store) LeaseKey(ctx context.Context, u bot.UserRef, id string) (string, error) {
	return s.eventKey(ctx, u, id)
}

// eventKey is the dedupe key of event id of user u: a keyed hash of the id, under a hash tag
// in u's slot when there is a user (see keys.go).
func (s *Store) eventKey(ctx context.Context, u bot.UserRef, id string) (string, error) {
	secret, err := s.dedupeSecret(ctx)
	if err != nil {
		return "", err
	}
	if u == (bot.UserRef{}) {
		return dedupeKey(secret, id)
	}
	k, err := s.turnKeysOf(u)
	if err != nil {
		return "", err
	}
	return s.leaseKey(secret, k, id)
}

// leaseKey is the lease key of event id of the user with keys k: the user's lease prefix
// and the event id's MAC in hex, built in one allocation (every DM answer needs one).
func (s *Store) leaseKey(secret []byte, k *turnKeys, id string) (string, error) {
	if id == "" {
		return "", errors.New("empty event id")
	}
	var sum [sha256.Size]byte
	s.macs.sum(secret, id, &sum)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	var b strings.Builder
	b.Grow(len(k.lease) + len(hx))
	b.WriteString(k.lease)
	b.Write(hx[:])
	return b.String(), nil
}

// macPool keeps keyed HMAC-SHA256 states for event ids: keying one hashes two blocks and
// allocates, and Reset takes it back to just after the keying.
type macPool struct{ p sync.Pool }

type keyedMAC struct {
	key []byte
	h   hash.Hash
	buf []byte
}

// sum sets out to HMAC-SHA256(key, id).
func (m *macPool) sum(key []byte, id string, out *[sha256.Size]byte) {
	km, _ := m.p.Get().(*keyedMAC)
	if km == nil || !bytes.Equal(km.key, key) {
		km = &keyedMAC{key: key, h: hmac.New(sha256.New, key)}
	}
	km.buf = append(km.buf[:0], id...)
	km.h.Write(km.buf)
	km.buf = km.h.Sum(km.buf[:0])
	copy(out[:], km.buf)
	km.h.Reset()
	m.p.Put(km)
}

// ClaimEvent implements bot.EventLeases. With a user, the claim reads the user's dialogue and
// coaching marker in the same script and returns them as a snapshot; a value it cannot
// decode leaves the snapshot out (the turn then reads again and reports the problem).
func (s *Store) ClaimEvent(ctx context.Context, u bot.UserRef, id, token string, lease time.Duration) (bot.ClaimState, *bot.Snapshot, error) {
	key, err := s.eventKey(ctx, u, id)
	if err != nil || token == "" || lease <= 0 {
		return 0, nil, fmt.Errorf("storage: claim event %q: bad arguments", id)
	}
	if u == (bot.UserRef{}) {
		n, err := eventClaimScript.run(ctx, s.rdb, []string{key}, token, leaseMSArg(lease)).Int()
		if err != nil {
			return 0, nil, fmt.Errorf("storage: claim event %s: %w", id, err)
		}
		return claimState(n), nil, nil
	}
	k, _ := s.turnKeysOf(u) // eventKey checked u
	res, err := userClaimScript.run(ctx, s.batch, []string{key, k.dialogue, k.applied, k.pending, k.profile}, token, leaseMSArg(lease), id).Slice()
	if err != nil {
		return 0, nil, fmt.Errorf("storage: claim event %s: %w", id, err)
	}
	n, _ := res[0].(int64)
	if n != 1 || len(res) < 4 {
		return claimState(int(n)), nil, nil
	}
	snap, err := s.snapshot(k, res[1], res[2], res[3])
	if err != nil {
		s.log.Warn("storage: claim read an unusable snapshot; the turn reads again", "user", u.String(), "err", err)
		snap = nil
	}
	if snap != nil && len(res) >= 6 {
		nf, _ := res[4].(string)
		welcomed, _ := res[5].(string)
		snap.Prefs = &bot.StartPrefs{NoFollowups: nf == "1", Welcomed: welcomed == "1"}
	}
	return bot.Claimed, snap, nil
}

func claimState(n int) bot.ClaimState {
	switch n {
	case 1:
		return bot.Claimed
	case 2:
		return bot.Held
	}
	return bot.Handled
}

// snapshot decodes what a claim or Snapshot read: the dialogue's "ver" and "state" fields
// and the coaching marker, each a string or nil.
func (s *Store) snapshot(k *turnKeys, ver, state, marker any) (*bot.Snapshot, error) {
	snap := &bot.Snapshot{Dialogue: &bot.DialogueRead{}}
	if v, ok := ver.(string); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, errors.New("load dialogue: malformed version")
		}
		snap.Dialogue.Version = n
	}
	if v, ok := state.(string); ok {
		if err := s.decode([]byte(v), k.stateAD, &snap.Dialogue.State); err != nil {
			return nil, fmt.Errorf("load dialogue: %w", err)
		}
		snap.Dialogue.Stored = v
	}
	s.remember(k, snap.Dialogue.Version, snap.Dialogue.Stored)
	if v, ok := marker.(string); ok {
		if err := json.Unmarshal([]byte(v), &snap.Coach); err != nil {
			return nil, fmt.Errorf("load coaching marker: %w", sanitizeJSONError(err))
		}
		snap.CoachOK = true
	}
	return snap, nil
}

// Snapshot implements bot.SnapshotTurner: the dialogue and the coaching marker, pipelined in
// one round trip.
func (s *Store) Snapshot(ctx context.Context, u bot.UserRef) (*bot.Snapshot, error) {
	k, err := s.turnKeysOf(u)
	if err != nil {
		return nil, fmt.Errorf("storage: snapshot %s: %w", u, err)
	}
	var (
		hm     *redis.SliceCmd
		marker *redis.StringCmd
	)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		hm = p.HMGet(ctx, k.dialogue, "ver", "state")
		marker = p.Get(ctx, k.pending)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("storage: snapshot %s: %w", u, err)
	}
	var m any
	if v, err := marker.Result(); err == nil {
		m = v
	}
	vals := hm.Val()
	snap, err := s.snapshot(k, vals[0], vals[1], m)
	if err != nil {
		return nil, fmt.Errorf("storage: snapshot %s: %w", u, err)
	}
	return snap, nil
}

// ExtendEvent implements bot.EventLeases.
func (s *Store) ExtendEvent(ctx context.Context, u bot.UserRef, id, token string, lease time.Duration) error {
	key, err := s.eventKey(ctx, u, id)
	if err != nil || lease <= 0 {
		return fmt.Errorf("storage: extend event %q: bad arguments", id)
	}
	if err := eventTokenScript.run(ctx, s.rdb, []string{key}, token, leaseMSArg(lease)).Err(); err != nil {
		return fmt.Errorf("storage: extend event %s: %w", id, err)
	}
	return nil
}

// FinishEvent implements bot.EventLeases.
func (s *Store) FinishEvent(ctx context.Context, u bot.UserRef, id string, ttl time.Duration) error {
	key, err := s.eventKey(ctx, u, id)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("storage: finish event %q: bad arguments", id)
	}
	if err := s.rdb.Set(ctx, key, doneMark, ttl).Err(); err != nil {
		return fmt.Errorf("storage: finish event %s: %w", id, err)
	}
	return nil
}

// ReleaseEvent implements bot.EventLeases.
func (s *Store) ReleaseEvent(ctx context.Context, u bot.UserRef, id, token string) error {
	key, err := s.eventKey(ctx, u, id)
	if err != nil {
		return fmt.Errorf("storage: release event %q: %w", id, err)
	}
	if err := eventTokenScript.run(ctx, s.rdb, []string{key}, token, 0).Err(); err != nil {
		return fmt.Errorf("storage: release event %s: %w", id, err)
	}
	return nil
}
