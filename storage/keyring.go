package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The key ring: which encryption keys have sealed data in this Redis, so that a start with a
// key that cannot read that data fails at once, naming the keys to list, instead of every
// user being told "send that again in a minute" for ever.
//
//	sb:keyring      hash, no TTL. Field: key id (8 hex digits, see crypt.go); value: a canary,
//	                the JSON {"since": unix s} sealed with that key (AD "sb:keyring#<id>").
//	                Written the first time a key is configured first (encrypting); removed by
//	                RetireUnusedKeys once no value is sealed with it.
//	sb:rotate:<id>  hash, no TTL: the progress of a rotation to key <id>. Field: "node" (the
//	                node's address, "-" for a single server); value: the SCAN cursor to resume
//	                from, or "done". Deleted when the rotation completes.
//
// Sealed values live at two kinds of place, and the AD is the place: a string's AD is its
// key; a hash field's AD is key + "#" + field. Every sealed value in the store follows this
// convention, which is what lets keys check and keys rotate work on all of them without
// knowing what they are.
const (
	keyringKey   = keyPrefix + "keyring"
	rotatePrefix = keyPrefix + "rotate:"
)

// KeyID returns the id of an encryption key as it appears in sealed values and reports: 8 hex
// digits derived from the key, which reveal nothing about it.
func KeyID(key []byte) string {
	c, err := newCrypter([][]byte{key})
	if err != nil {
		return "invalid"
	}
	return hex.EncodeToString(c.keys[0].id[:])
}

// configuredIDs returns the ids of the configured keys, the encrypting one first.
func (c crypter) ids() []string {
	out := make([]string, len(c.keys))
	for i, k := range c.keys {
		out[i] = hex.EncodeToString(k.id[:])
	}
	return out
}

// sealWith seals plain with the configured key of index i.
func (c crypter) sealWith(i int, plain []byte, ad string) ([]byte, error) {
	one := crypter{keys: []sealKey{c.keys[i]}}
	return one.seal(plain, ad)
}

// sealedKeyID returns the key id of a sealed value, or "" for a value that is not sealed.
func sealedKeyID(v []byte) string {
	if !bytes.HasPrefix(v, sealedMagic) || len(v) < len(sealedMagic)+keyIDSize {
		return ""
	}
	return hex.EncodeToString(v[len(sealedMagic) : len(sealedMagic)+keyIDSize])
}

// ErrKeyMissing is returned by CheckKeys when data in Redis is sealed with a key that is not
// configured.
var ErrKeyMissing = errors.New("storage: data is encrypted with a key that is not configured")

// CheckKeys compares the configured encryption keys with the key ring in Redis. It fails when
// the ring names a key that is not configured (data sealed with it could not be read), or
// when a configured key cannot open its own canary (a different key with a colliding id, or
// a tampered ring). Otherwise it records the encrypting key, with a canary, if it is new. The
// error says which key ids to list and in which order.
func (s *Store) CheckKeys(ctx context.Context) error {
	ring, err := s.rdb.HGetAll(ctx, keyringKey).Result()
	if err != nil {
		return fmt.Errorf("storage: read key ring: %w", err)
	}
	configured := s.crypt.ids()
	var missing []string
	for id, canary := range ring {
		i := indexOf(configured, id)
		if i < 0 {
			missing = append(missing, id)
			continue
		}
		if _, err := s.crypt.open([]byte(canary), keyringKey+"#"+id); err != nil {
			return fmt.Errorf("storage: configured encryption key %d (id %s) does not open its canary in Redis: %w; is it the key that was used before?", i+1, id, err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		have := "no key is configured"
		if len(configured) > 0 {
			have = "STORYBOT_ENCRYPTION_KEY has key ids " + strings.Join(configured, ", ")
		}
		return fmt.Errorf("%w: Redis holds data encrypted with key id %s, but %s. Add the old key after the current one (STORYBOT_ENCRYPTION_KEY=new,old), then run `storybot keys rotate` and `storybot keys check` before dropping it",
			ErrKeyMissing, strings.Join(missing, " and "), have)
	}
	if len(configured) == 0 {
		return nil
	}
	if _, ok := ring[configured[0]]; !ok {
		canary, _ := json.Marshal(struct {
			Since int64 `json:"since"`
		}{s.now().Unix()})
		sealed, err := s.crypt.sealWith(0, canary, keyringKey+"#"+configured[0])
		if err != nil {
			return fmt.Errorf("storage: seal canary: %w", err)
		}
		if err := s.rdb.HSetNX(ctx, keyringKey, configured[0], sealed).Err(); err != nil {
			return fmt.Errorf("storage: record encryption key: %w", err)
		}
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// KeyUsage is how many stored values one key id seals.
type KeyUsage struct {
	ID string
	// Position is the key's place in STORYBOT_ENCRYPTION_KEY, from 1 (the encrypting key);
	// 0 when it is not configured.
	Position int
	Values   int
	InRing   bool // recorded in the key ring
}

// KeyReport is what CountKeys found.
type KeyReport struct {
	Keys       []KeyUsage // configured keys first, in order, then others by id
	Plain      int        // unencrypted JSON values at places where sealed values live
	Unreadable int        // sealed values no configured key opens (wrong key or tampered)
	Scanned    int        // Redis keys looked at
}

// CountKeys scans every storybot key and counts the sealed values by key id. It reads only.
// progress, when not nil, is called now and then with the number of keys scanned so far.
func (s *Store) CountKeys(ctx context.Context, progress func(scanned int)) (KeyReport, error) {
	counts := map[string]int{}
	var rep KeyReport
	err := s.eachValue(ctx, "", func(ctx context.Context, v storedValue) error {
		id := sealedKeyID(v.val)
		switch {
		case id != "":
			counts[id]++
			if _, err := s.crypt.open(v.val, v.ad()); err != nil {
				rep.Unreadable++
			}
		case len(v.val) > 0 && v.val[0] == '{' && v.sealable():
			rep.Plain++
		}
		return nil
	}, func(n int) {
		rep.Scanned = n
		if progress != nil {
			progress(n)
		}
	}, nil)
	if err != nil {
		return KeyReport{}, err
	}
	ring, err := s.rdb.HGetAll(ctx, keyringKey).Result()
	if err != nil {
		return KeyReport{}, fmt.Errorf("storage: read key ring: %w", err)
	}
	configured := s.crypt.ids()
	seen := map[string]bool{}
	for i, id := range configured {
		_, inRing := ring[id]
		rep.Keys = append(rep.Keys, KeyUsage{ID: id, Position: i + 1, Values: counts[id], InRing: inRing})
		seen[id] = true
	}
	var others []string
	for id := range counts {
		if !seen[id] {
			others = append(others, id)
			seen[id] = true
		}
	}
	for id := range ring {
		if !seen[id] {
			others = append(others, id)
			seen[id] = true
		}
	}
	sort.Strings(others)
	for _, id := range others {
		_, inRing := ring[id]
		rep.Keys = append(rep.Keys, KeyUsage{ID: id, Values: counts[id], InRing: inRing})
	}
	return rep, nil
}

// RetireUnusedKeys removes from the key ring every key that report found sealing nothing,
// except the encrypting key, so that a start without it no longer fails. It returns the ids
// removed.
func (s *Store) RetireUnusedKeys(ctx context.Context, rep KeyReport) ([]string, error) {
	var retired []string
	for _, k := range rep.Keys {
		if k.Values == 0 && k.Position != 1 && k.InRing {
			if err := s.rdb.HDel(ctx, keyringKey, k.ID).Err(); err != nil {
				return retired, fmt.Errorf("storage: retire key %s: %w", k.ID, err)
			}
			retired = append(retired, k.ID)
		}
	}
	return retired, nil
}

// RotateProgress is reported while Rotate runs.
type RotateProgress struct {
	Scanned    int // Redis keys looked at in this run
	Resealed   int // values re-encrypted with the encrypting key
	Unreadable int // sealed values no configured key opens: left as they are
	Resumed    bool
}

// Rotate re-encrypts with the first configured key every sealed value that another key
// sealed. Each value is replaced only if it has not changed since it was read (a
// compare-and-set script), and its TTL is kept, so replicas may keep serving meanwhile. The
// SCAN position is saved in Redis after each batch: a rotation that stops (a crash, ^C)
// resumes where it was when run again. Values that no configured key opens are counted and
// left alone. progress, when not nil, is called after each batch.
func (s *Store) Rotate(ctx context.Context, progress func(RotateProgress)) (RotateProgress, error) {
	if !s.crypt.enabled() {
		return RotateProgress{}, errors.New("storage: rotate: no encryption key is configured")
	}
	target := s.crypt.ids()[0]
	if err := s.CheckKeys(ctx); err != nil {
		return RotateProgress{}, err
	}
	var p RotateProgress
	err := s.eachValue(ctx, target, func(ctx context.Context, v storedValue) error {
		id := sealedKeyID(v.val)
		if id == "" || id == target {
			return nil
		}
		plain, err := s.crypt.open(v.val, v.ad())
		if err != nil {
			p.Unreadable++
			return nil
		}
		sealed, err := s.crypt.seal(plain, v.ad())
		if err != nil {
			return fmt.Errorf("storage: rotate: seal: %w", err)
		}
		var res *redis.Cmd
		if v.field == "" {
			res = casString.Run(ctx, s.rdb, []string{v.key}, v.val, sealed)
		} else {
			res = casField.Run(ctx, s.rdb, []string{v.key}, v.field, v.val, sealed)
		}
		n, err := res.Int()
		if err != nil {
			return fmt.Errorf("storage: rotate %s: %w", v.key, err)
		}
		p.Resealed += n // 0: changed meanwhile (by a turn, sealed with the new key) or gone
		return nil
	}, func(n int) {
		p.Scanned = n
		if progress != nil {
			progress(p)
		}
	}, &p.Resumed)
	if err != nil {
		return p, err
	}
	return p, nil
}

// The compare-and-set scripts: replace a value only if it is still the one read.
var (
	casString = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0`)
	casField = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`)
)

// storedValue is one value at a place where sealed values may live.
type storedValue struct {
	key, field string // field is empty for a string key
	val        []byte
}

func (v storedValue) ad() string {
	if v.field == "" {
		return v.key
	}
	return v.key + "#" + v.field
}

// sealable reports whether the value sits where the store seals values: a user's key (its
// hash tag starts {u:). Profiles, versions and scheduler keys are never sealed.
func (v storedValue) sealable() bool { return strings.HasPrefix(v.key, keyPrefix+"{u:") }

// scanBatch is how many keys one SCAN step asks for (a variable for tests).
var scanBatch int64 = 200

// eachValue calls fn for every string value and hash field value of every storybot key
// (sb:*), except the key ring and rotation records, node by node in a cluster. With
// resumeFor set, the SCAN position is saved under sb:rotate:<resumeFor> after each batch and
// resumed from there; a completed pass deletes it. after is called after each batch with the
// number of keys scanned so far.
func (s *Store) eachValue(ctx context.Context, resumeFor string, fn func(context.Context, storedValue) error, after func(int), resumed *bool) error {
	scanned := 0
	progressKey := rotatePrefix + resumeFor
	node := func(ctx context.Context, rdb redis.UniversalClient, name string) error {
		var cursor uint64
		if resumeFor != "" {
			saved, err := s.rdb.HGet(ctx, progressKey, name).Result()
			switch {
			case err == nil && saved == "done":
				return nil
			case err == nil:
				c, perr := strconv.ParseUint(saved, 10, 64)
				if perr == nil {
					cursor = c
					if resumed != nil {
						*resumed = true
					}
				}
			case !errors.Is(err, redis.Nil):
				return fmt.Errorf("storage: read rotation progress: %w", err)
			}
		}
		for {
			keys, next, err := rdb.Scan(ctx, cursor, keyPrefix+"*", scanBatch).Result()
			if err != nil {
				return fmt.Errorf("storage: scan: %w", err)
			}
			for _, k := range keys {
				if k == keyringKey || strings.HasPrefix(k, rotatePrefix) || k == schemaKey {
					continue
				}
				if err := s.eachValueOf(ctx, k, fn); err != nil {
					return err
				}
			}
			scanned += len(keys)
			cursor = next
			if resumeFor != "" {
				mark := strconv.FormatUint(cursor, 10)
				if cursor == 0 {
					mark = "done"
				}
				if err := s.rdb.HSet(ctx, progressKey, name, mark).Err(); err != nil {
					return fmt.Errorf("storage: save rotation progress: %w", err)
				}
			}
			after(scanned)
			if cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		// ForEachMaster runs side by side; progress counts are shared, so go one at a time.
		var masters []*redis.Client
		err = cc.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
			masters = append(masters, m)
			return nil
		})
		sort.Slice(masters, func(i, j int) bool { return masters[i].Options().Addr < masters[j].Options().Addr })
		for _, m := range masters {
			if err != nil {
				break
			}
			err = node(ctx, m, m.Options().Addr)
		}
	} else {
		err = node(ctx, s.rdb, "-")
	}
	if err == nil && resumeFor != "" {
		if derr := s.rdb.Del(ctx, progressKey).Err(); derr != nil {
			return fmt.Errorf("storage: clear rotation progress: %w", derr)
		}
	}
	return err
}

// eachValueOf calls fn for the value of k, or each field of k, when k is a string or a hash.
func (s *Store) eachValueOf(ctx context.Context, k string, fn func(context.Context, storedValue) error) error {
	typ, err := s.rdb.Type(ctx, k).Result()
	if err != nil {
		return fmt.Errorf("storage: type of %s: %w", k, err)
	}
	switch typ {
	case "string":
		v, err := s.rdb.Get(ctx, k).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil // expired meanwhile
		}
		if err != nil {
			return fmt.Errorf("storage: get %s: %w", k, err)
		}
		return fn(ctx, storedValue{key: k, val: v})
	case "hash":
		fields, err := s.rdb.HGetAll(ctx, k).Result()
		if err != nil {
			return fmt.Errorf("storage: read %s: %w", k, err)
		}
		names := make([]string, 0, len(fields))
		for f := range fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			if err := fn(ctx, storedValue{key: k, field: f, val: []byte(fields[f])}); err != nil {
				return err
			}
		}
	}
	return nil
}
