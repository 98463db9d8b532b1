package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

// Profile fields (see keys.go).
const (
	fieldExists   = "v"
	fieldWelcomed = "welcomed"
	fieldTZ       = "tz"
	fieldTZPlat   = "tzp"
	fieldForget   = "fa" // unix seconds of an unconfirmed /story forget
	fieldNoFU     = "nf" // "1": /story followups off
	fieldHome     = "ho" // "1": the user has opened their home (kept by SaveProfile)
)

// savedFields are the profile fields SaveProfile owns: it removes those its profile lacks.
// fieldHome is not among them (bot.Profile.HomeOpened: only MarkHomeOpened sets it, and a
// save that read the profile before another replica set it must not undo that).
var savedFields = []string{fieldWelcomed, fieldTZ, fieldTZPlat, fieldForget, fieldNoFU}

// Profile implements bot.ProfileStore.
func (s *Store) Profile(ctx context.Context, u bot.UserRef) (bot.Profile, bool, error) {
	k, err := keysFor(u)
	if err != nil {
		return bot.Profile{}, false, fmt.Errorf("storage: load profile %s: %w", u, err)
	}
	m, err := s.rdb.HGetAll(ctx, k.profile).Result()
	if err != nil {
		return bot.Profile{}, false, fmt.Errorf("storage: load profile %s: %w", u, err)
	}
	if len(m) == 0 {
		return bot.Profile{}, false, nil
	}
	return bot.Profile{
		Welcomed:       m[fieldWelcomed] == "1",
		TZ:             m[fieldTZ],
		TZFromPlatform: m[fieldTZPlat] == "1",
		ForgetAsked:    unixField(m[fieldForget]),
		NoFollowups:    m[fieldNoFU] == "1",
		HomeOpened:     m[fieldHome] == "1",
	}, true, nil
}

// SaveProfile implements bot.ProfileStore. The fields it owns (savedFields) are replaced in
// one MULTI/EXEC, so a reader never sees half of the profile, and its TTL starts again; the
// home-opened mark stays, and so would a field this build does not know (a newer replica's,
// during a rolling deploy).
func (s *Store) SaveProfile(ctx context.Context, u bot.UserRef, p bot.Profile) error {
	k, err := keysFor(u)
	if err != nil {
		return fmt.Errorf("storage: save profile %s: %w", u, err)
	}
	fields := []any{fieldExists, "1"}
	if p.Welcomed {
		fields = append(fields, fieldWelcomed, "1")
	}
	if p.TZ != "" {
		fields = append(fields, fieldTZ, p.TZ)
	}
	if p.TZFromPlatform {
		fields = append(fields, fieldTZPlat, "1")
	}
	if !p.ForgetAsked.IsZero() {
		fields = append(fields, fieldForget, strconv.FormatInt(p.ForgetAsked.Unix(), 10))
	}
	if p.NoFollowups {
		fields = append(fields, fieldNoFU, "1")
	}
	if p.HomeOpened {
		fields = append(fields, fieldHome, "1")
	}
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HDel(ctx, k.profile, savedFields...)
		pipe.HSet(ctx, k.profile, fields...)
		pipe.PExpire(ctx, k.profile, ProfileTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save profile %s: %w", u, err)
	}
	return nil
}

// MarkWelcomed implements bot.ProfileStore with HSETNX: Redis runs commands one at a time,
// so exactly one of several racing callers sets the field and gets true.
func (s *Store) MarkWelcomed(ctx context.Context, u bot.UserRef) (bool, error) {
	k, err := keysFor(u)
	if err != nil {
		return false, fmt.Errorf("storage: mark welcomed %s: %w", u, err)
	}
	var first *redis.BoolCmd
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		first = pipe.HSetNX(ctx, k.profile, fieldWelcomed, "1")
		pipe.HSet(ctx, k.profile, fieldExists, "1")
		pipe.PExpire(ctx, k.profile, ProfileTTL)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("storage: mark welcomed %s: %w", u, err)
	}
	return first.Val(), nil
}

// markHomeScript sets the home-opened mark, with ARGV[2] "1" only on a profile that exists.
//
//	KEYS[1] profile; ARGV[1] profile TTL ms, ARGV[2] "1": only if known. Returns 1 when set.
var markHomeScript = redis.NewScript(`
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'v', '1', 'ho', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// MarkHomeOpened implements bot.ProfileStore in one atomic step, so an erasure between a
// check and the write cannot leave a profile of the mark alone behind.
func (s *Store) MarkHomeOpened(ctx context.Context, u bot.UserRef, ifKnown bool) (bool, error) {
	k, err := keysFor(u)
	if err != nil {
		return false, fmt.Errorf("storage: mark home opened %s: %w", u, err)
	}
	only := "0"
	if ifKnown {
		only = "1"
	}
	n, err := markHomeScript.Run(ctx, s.rdb, []string{k.profile}, ProfileTTL.Milliseconds(), only).Int()
	if err != nil {
		return false, fmt.Errorf("storage: mark home opened %s: %w", u, err)
	}
	return n == 1, nil
}

// FirstSeen implements bot.Deduper with SET NX PX: the first caller creates the key. The
// key holds a keyed hash of id, never id itself (see dedupeKey).
func (s *Store) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	secret, err := s.dedupeSecret(ctx)
	if err != nil {
		return false, fmt.Errorf("storage: dedupe: %w", err)
	}
	key, err := dedupeKey(secret, id)
	if err != nil {
		return false, fmt.Errorf("storage: dedupe: %w", err)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("storage: dedupe: ttl %v is not positive", ttl)
	}
	ok, err := s.rdb.SetNX(ctx, key, "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("storage: dedupe: %w", err)
	}
	return ok, nil
}

// unixField reads a unix-seconds field; missing or malformed is the zero time.
func unixField(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// setPlatformTZScript sets the platform zone only when none is set, in one step, so it
// never overwrites a zone the user chose.
//
//	KEYS[1] profile; ARGV[1] zone, ARGV[2] profile TTL ms. Returns 1 when set.
var setPlatformTZScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'tz') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', '1', 'tz', ARGV[1], 'tzp', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// SetPlatformTZ implements bot.ProfileStore.
func (s *Store) SetPlatformTZ(ctx context.Context, u bot.UserRef, tz string) (bool, error) {
	k, err := keysFor(u)
	if err != nil {
		return false, fmt.Errorf("storage: set platform tz %s: %w", u, err)
	}
	n, err := setPlatformTZScript.Run(ctx, s.rdb, []string{k.profile}, tz, ProfileTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("storage: set platform tz %s: %w", u, err)
	}
	return n == 1, nil
}
