package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// maxTurnTries bounds the optimistic retries of one Turn. Turns of one user within one
// Store are serialized by turnLocks, so conflicts come only from other processes (replicas)
// handling the same user at the same moment; the bound is generous so a burst still settles.
const maxTurnTries = 100

// turnLockShards is the number of in-process turn locks. Users hash onto them; two users
// sharing a shard merely wait for each other's two round trips.
const turnLockShards = 256

// turnLocks serializes the turns of one user within one Store. Optimistic concurrency alone
// is correct, but under a burst of turns for one user (a double-clicked button, redelivered
// events) most attempts would read, compute and then lose; waiting in line costs less and
// never starves a turn. Each lock is a one-slot channel so that waiting honours ctx.
type turnLocks [turnLockShards]chan struct{}

func newTurnLocks() *turnLocks {
	var l turnLocks
	for i := range l {
		l[i] = make(chan struct{}, 1)
	}
	return &l
}

// lock takes the lock for the user with key tag, and returns the lock: a receive from it
// releases it. (Not a release func: a closure is an allocation on every turn.)
func (l *turnLocks) lock(ctx context.Context, tag string) (chan struct{}, error) {
	h := fnv.New32a()
	h.Write([]byte(tag))
	ch := l[h.Sum32()%turnLockShards]
	select {
	case ch <- struct{}{}:
		// Free, as it nearly always is: taken without asking ctx for its Done channel,
		// which a context makes on first use.
		return ch, nil
	default:
	}
	select {
	case ch <- struct{}{}:
		return ch, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// turnScript commits a turn if nobody else committed since it was read: the "ver" field is
// the optimistic lock. Doing the check and all writes in one script makes the commit atomic
// (dialogue state, journal entry and the event's done mark, together) and costs one
// round trip. The retention cutoff comes in as an argument computed from the store's clock
// rather than from TIME, so that the script is deterministic and tests can move the clock.
//
//	KEYS[1] dialogue hash, KEYS[2] journal index, KEYS[3] applied-events zset (read only:
//	builds before this one recorded applied events there; see keys.go),
//	KEYS[4] entry key (with an entry; else KEYS[1] again, untouched),
//	KEYS[5] the event's lease key (with an event; else KEYS[1] again, untouched),
//	KEYS[6] the user's profile (its TTL starts again when ARGV[14] is set: a profile
//	outlives the user's last dialogue, not only its last write)
//	ARGV[1] version read ("0": none), ARGV[2] new version,
//	ARGV[3] encoded state ("": the zero State, stored as no field),
//	ARGV[4] dialogue TTL ms, ARGV[5] encoded entry ("": none), ARGV[6] entry id,
//	ARGV[7] entry score (unix ms), ARGV[8] cutoff (unix ms), ARGV[9] retention ms,
//	ARGV[10] event id ("": none), ARGV[11] and ARGV[12] unused (the applied-events set's
//	cutoff and TTL, when the set was written), ARGV[13] done-mark TTL ms (AppliedTTL),
//	ARGV[14] profile TTL ms ("": leave the profile's TTL alone; see preparedTurn.args)
//
// With an event it marks the event done on its lease key (bot.SnapshotTurner), so the
// lease needs no call of its own after the turn: a DM answer costs the claim and this. That
// mark is also the record that the event was applied: an event whose lease key says done,
// or that an earlier build's applied-events set names, is not applied again. It returns 1
// when committed, 0 on a version mismatch, 2 when the event was already applied (nothing
// written). The hash keeps "ver" even for the zero State, so a closed
// dialogue never lets the version fall back to a value a stalled turn may have read (no ABA).
var turnScript = newScript(`
if ARGV[10] ~= '' then
  local l = redis.call('GET', KEYS[5])
  if l == 'done' or l == '1' or redis.call('ZSCORE', KEYS[3], ARGV[10]) then return 2 end
end
local cur = redis.call('HGET', KEYS[1], 'ver')
if not cur then cur = '0' end
if cur ~= ARGV[1] then return 0 end
` + turnWrites + `
return 1
`)

// AppliedTTL is how long an applied event is remembered (its done mark, written by the
// turn's commit): longer than any platform redelivers (Slack: five minutes), a signed
// request stays fresh (five minutes) or a Discord catch-up reaches back.
const AppliedTTL = bot.DefaultDoneTTL

// Turn implements bot.DialogueStore. Uncontended it takes two round trips: HMGET of the
// dialogue hash, then the commit script (one, the commit, when TurnFrom starts from a
// snapshot). Turns of one user through this Store wait for each
// other; against other processes, on a lost race it reads again and calls fn again,
// after a short jittered pause, up to maxTurnTries times; then it returns bot.ErrConflict.
// An entry fn returns gets its ID (time-ordered, unique) set before it is saved.
func (s *Store) Turn(ctx context.Context, u bot.UserRef, fn bot.TurnFunc) error {
	_, err := s.TurnOnce(ctx, u, "", fn)
	return err
}

var _ bot.OnceTurner = (*Store)(nil)

// TurnOnce implements bot.OnceTurner: Turn, with the event id recorded in the commit (for
// AppliedTTL) so that a redelivered or replayed event is never applied twice. The check
// costs nothing extra: it rides in the read's round trip and again, atomically, in the
// commit's.
func (s *Store) TurnOnce(ctx context.Context, u bot.UserRef, id string, fn bot.TurnFunc) (bool, error) {
	return s.TurnFrom(ctx, u, id, nil, fn)
}

// TurnFrom implements bot.SnapshotTurner: TurnOnce whose first attempt uses from, the
// dialogue as the event's claim (or Snapshot) read it, so that an uncontended turn costs the
// commit alone. from is only a starting point: the commit checks that the version it names
// is still the stored one, and when another turn committed in between (the user's earlier
// event, another replica) the next attempt reads again, as Turn does; more round trips are
// spent only then. With an event id the commit also marks the event done on its lease key.
func (s *Store) TurnFrom(ctx context.Context, u bot.UserRef, id string, from *bot.DialogueRead, fn bot.TurnFunc) (bool, error) {
	k, err := s.turnKeysOf(u)
	if err != nil {
		return false, fmt.Errorf("storage: turn %s: %w", u, err)
	}
	var leaseKey string
	if id != "" {
		secret, err := s.dedupeSecret(ctx)
		if err == nil {
			leaseKey, err = s.leaseKey(secret, k, id)
		}
		if err != nil {
			return false, fmt.Errorf("storage: turn %s: %w", u, err)
		}
	}
	lock, err := s.locks.lock(ctx, k.tag)
	if err != nil {
		return false, fmt.Errorf("storage: turn %s: wait for the previous turn: %w", u, err)
	}
	defer func() { <-lock }()
	for try := 1; ; try++ {
		var res int
		if from != nil && from.Guess != nil && leaseKey != "" {
			// From this process's memory: the commit checks it and claims the event.
			var fresh *bot.Snapshot
			res, fresh, err = s.tryGuessTurn(ctx, k, id, leaseKey, from, fn)
			from.Guess.Settle(err == nil && res == guessHeld)
			switch {
			case err != nil:
			case res == guessHeld:
				s.log.Info("storage: event held by another process", "user", u.String(), "event", id)
				return false, bot.ErrEventHeld
			case res == turnDuplicate:
				s.log.Info("storage: event handled before", "user", u.String(), "event", id)
				return false, bot.ErrEventHandled
			case res == guessStale && fresh.CoachOK:
				return false, &bot.StaleSnapshotError{Snapshot: fresh}
			case res == guessStale:
				// The event is claimed now and fresh is what the claim read: compute the
				// turn again from it (no sleep: nothing was lost to a race).
				from = fresh.Dialogue
				continue
			}
		} else {
			res, err = s.tryTurn(ctx, k, id, leaseKey, from, fn)
		}
		from = nil // a lost race means from is stale: read again
		if err != nil {
			var fe fnError
			if errors.As(err, &fe) {
				return false, fe.err // fn's own error, as is
			}
			return false, fmt.Errorf("storage: turn %s: %w", u, err)
		}
		if res == turnDuplicate {
			s.log.Info("storage: event already applied", "user", u.String(), "event", id)
			return false, nil
		}
		if res == turnCommitted {
			if try > 1 {
				s.log.Debug("storage: turn committed after conflicts", "user", u.String(), "tries", try)
			}
			return true, nil
		}
		if try >= maxTurnTries {
			s.log.Warn("storage: turn gave up after conflicts", "user", u.String(), "tries", try)
			return false, fmt.Errorf("storage: turn %s: %w", u, bot.ErrConflict)
		}
		if err := sleep(ctx, backoff(try)); err != nil {
			return false, fmt.Errorf("storage: turn %s: %w", u, err)
		}
	}
}

// fnError marks an error that came from the TurnFunc, so Turn returns it unwrapped.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// The outcomes of one attempt.
const (
	turnLost      = 0 // another turn committed first: read again
	turnCommitted = 1
	turnDuplicate = 2 // the event was applied before
)

// tryTurn makes one attempt and reports its outcome. With from it reads nothing: the
// commit's version check and applied-events check stand in for the read's.
func (s *Store) tryTurn(ctx context.Context, k *turnKeys, eventID, leaseKey string, from *bot.DialogueRead, fn bot.TurnFunc) (int, error) {
	if from == nil {
		read, dup, err := s.readTurn(ctx, k, eventID, leaseKey)
		if err != nil {
			return turnLost, err
		}
		if dup {
			return turnDuplicate, nil
		}
		from = &read
	}
	c, err := s.prepareTurn(k, from, fn)
	if err != nil {
		return turnLost, err
	}
	t := c.command(s, k, leaseKey, from.Version, eventID, nil)
	res, err := turnScript.runArgv(ctx, s.batch, t.argv[:t.n], turnKeyCount).Int()
	if err != nil {
		return turnLost, fmt.Errorf("save dialogue: %w", err)
	}
	if res == turnCommitted {
		s.rememberCommit(k, from.Version+1, t.state, &c.next)
	}
	return res, nil
}

// preparedTurn is a turn computed and encoded, ready for its commit script.
type preparedTurn struct {
	next     flows.State // the new state
	state    []byte      // the new state as stored (sealed); nil for the zero State
	entry    []byte      // the journal entry as stored; nil for none
	entryID  string
	entryKey string
	now      time.Time
	// touchProfile: the commit starts the profile's TTL again (see args).
	touchProfile bool
}

// prepareTurn runs fn on from's state and encodes what the commit writes.
func (s *Store) prepareTurn(k *turnKeys, from *bot.DialogueRead, fn bot.TurnFunc) (preparedTurn, error) {
	next, save, err := fn(from.State)
	if err != nil {
		return preparedTurn{}, fnError{err}
	}
	c := preparedTurn{next: next, now: s.now()}
	if c.state, err = s.encodeState(&c.next, k.stateAD); err != nil {
		return preparedTurn{}, err
	}
	// A dialogue's first turn, its last and any turn that saves an entry start the profile's
	// 400 days again. Every turn did once, and in the peer kit's load that PEXPIRE was about
	// a tenth of Redis's work per answer; the days a dialogue's middle turns would add are
	// nothing against 400 (and a dialogue lasts 7 idle days at most).
	c.touchProfile = from.Stored == "" || c.state == nil || save != nil
	if save != nil {
		c.entryID = newEntryID(c.now)
		save.ID = c.entryID
		if save.Created.IsZero() {
			save.Created = c.now
		}
		if c.entry, err = json.Marshal(save); err != nil {
			return preparedTurn{}, fmt.Errorf("encode entry: %w", sanitizeJSONError(err))
		}
		c.entryKey = k.entry(c.entryID)
		if c.entry, err = s.crypt.seal(c.entry, c.entryKey); err != nil {
			return preparedTurn{}, fmt.Errorf("encrypt entry: %w", err)
		}
	}
	return c, nil
}

// encodeState returns st as stored at ad: its JSON (json.Marshal's bytes, written by
// appendStateJSON into a buffer the next turn reuses), sealed; nil for the zero State.
func (s *Store) encodeState(st *flows.State, ad string) ([]byte, error) {
	bp, _ := s.encBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer func() {
		if cap(*bp) <= maxPooledStateBuf {
			s.encBufs.Put(bp)
		}
	}()
	plain, err := appendStateJSON((*bp)[:0], st)
	if err != nil {
		return nil, fmt.Errorf("encode dialogue: %w", sanitizeJSONError(err))
	}
	*bp = plain
	switch {
	case bytes.Equal(plain, s.zeroEnc):
		return nil, nil // nothing worth keeping, and nothing of the user's
	case !s.crypt.enabled():
		return bytes.Clone(plain), nil // seal would return the buffer itself
	}
	sealed, err := s.crypt.seal(plain, ad)
	if err != nil {
		return nil, fmt.Errorf("encrypt dialogue: %w", err)
	}
	return sealed, nil
}

// maxPooledStateBuf bounds the encoding buffers kept for reuse: a state is mostly under a
// few KB; a rare larger one's buffer is left to the collector.
const maxPooledStateBuf = 64 << 10

// The numbers of turnScript's and guessTurnScript's KEYS and ARGV.
const (
	turnKeyCount      = 6
	turnArgCount      = 14
	guessTurnKeyCount = turnKeyCount + 1
	guessTurnArgCount = turnArgCount + 3
)

// turnCmd is a commit's command line (turnScript's, or guessTurnScript's) with the values
// it names: one allocation for all of it. The client writes a *string or *int64 as the
// value it points to, so the strings and numbers go in as pointers here or into the user's
// turnKeys; put in an interface themselves, they would be an allocation each. A turnCmd is
// never reused: the batcher may still be writing it after its caller gave up (batch.go).
type turnCmd struct {
	argv [3 + guessTurnKeyCount + guessTurnArgCount]any
	n    int // the used part of argv

	state                      string // the new state as stored: what the commit writes and the memory keeps
	entryKey, leaseKey, event  string
	entryID                    string
	ver, next, nowMS, cutoffMS int64
}

// command returns the commit over version n: turnScript's KEYS and ARGV after the three
// places runArgv fills, or, with guess (the remembered dialogue the turn started from),
// guessTurnScript's.
func (c *preparedTurn) command(s *Store, k *turnKeys, leaseKey string, n int64, eventID string, guess *bot.DialogueRead) *turnCmd {
	t := &turnCmd{
		state: string(c.state), entryKey: c.entryKey, leaseKey: leaseKey, event: eventID, entryID: c.entryID,
		ver: n, next: n + 1, nowMS: c.now.UnixMilli(), cutoffMS: c.now.Add(-s.ret).UnixMilli(),
	}
	// KEYS (see turnScript).
	keys := t.argv[3:]
	keys[0], keys[1], keys[2], keys[3], keys[4], keys[5] = &k.dialogue, &k.journal, &k.applied, &k.dialogue, &k.dialogue, &k.profile
	if c.entryKey != "" {
		keys[3] = &t.entryKey
	}
	if leaseKey != "" {
		keys[4] = &t.leaseKey
	}
	nk := turnKeyCount
	if guess != nil {
		keys[6] = &k.pending
		nk = guessTurnKeyCount
	}
	// ARGV.
	args := append(t.argv[3+nk:3+nk],
		&t.ver, &t.next, &t.state, s.dlgTTLMS,
		c.entry, &t.entryID, &t.nowMS, &t.cutoffMS, s.retMS,
		// ARGV[11] and ARGV[12] are no longer read (see turnScript).
		&t.event, "", "",
		// A turn's done mark is the record that its event was applied: it lives as long
		// as the applied-events record did.
		int64(AppliedTTL/time.Millisecond), c.profileTTLArg(),
	)
	if guess != nil {
		// The usual lease's length is boxed once (leaseMSArg).
		args = append(args, &guess.Stored, &guess.Guess.Token, leaseMSArg(guess.Guess.Lease))
	}
	t.n = 3 + nk + len(args)
	return t
}

// profileTTLArg is ARGV[14]: the profile's TTL in ms when the commit starts it again.
func (c *preparedTurn) profileTTLArg() any {
	if c.touchProfile {
		return int64(ProfileTTL / time.Millisecond)
	}
	return ""
}

// readTurn reads the dialogue for a turn, and whether eventID (with lease key leaseKey) was
// applied already, in one pipelined round trip.
func (s *Store) readTurn(ctx context.Context, k *turnKeys, eventID, leaseKey string) (read bot.DialogueRead, dup bool, err error) {
	var (
		hm      *redis.SliceCmd
		lease   *redis.StringCmd
		applied *redis.FloatCmd
	)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		hm = p.HMGet(ctx, k.dialogue, "ver", "state")
		if eventID != "" {
			lease = p.Get(ctx, leaseKey)
			applied = p.ZScore(ctx, k.applied, eventID)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return read, false, fmt.Errorf("load dialogue: %w", err)
	}
	if lease != nil && (lease.Val() == doneMark || lease.Val() == "1") || applied != nil && applied.Err() == nil {
		return read, true, nil
	}
	vals := hm.Val()
	if v, ok := vals[0].(string); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return read, false, errors.New("load dialogue: malformed version")
		}
		read.Version = n
	}
	if v, ok := vals[1].(string); ok {
		if err := s.decode([]byte(v), k.stateAD, &read.State); err != nil {
			return read, false, fmt.Errorf("load dialogue: %w", err)
		}
		read.Stored = v
	}
	s.remember(k, read.Version, read.Stored)
	return read, false, nil
}

// Journal implements bot.DialogueStore: the newest n entries created within the retention
// period, newest first. It takes two round trips: the index, then one MGET of the entries
// (same hash slot). Index members whose entry has already expired are skipped.
func (s *Store) Journal(ctx context.Context, u bot.UserRef, n int) ([]flows.Entry, error) {
	k, err := keysFor(u)
	if err != nil {
		return nil, fmt.Errorf("storage: journal %s: %w", u, err)
	}
	if n <= 0 {
		return nil, nil
	}
	// The cutoff from the clock hides entries past retention even before a later write trims
	// them from the index (and with a server clock that lags, as miniredis's does).
	cutoff := s.now().Add(-s.ret).UnixMilli()
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key:     k.journal,
		Start:   "+inf",
		Stop:    strconv.FormatInt(cutoff, 10),
		ByScore: true,
		Rev:     true,
		Count:   int64(n),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("storage: journal %s: read index: %w", u, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = k.entry(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("storage: journal %s: read entries: %w", u, err)
	}
	out := make([]flows.Entry, 0, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // expired
		}
		var e flows.Entry
		if err := s.decode([]byte(str), keys[i], &e); err != nil {
			return nil, fmt.Errorf("storage: journal %s: entry %s: %w", u, ids[i], err)
		}
		e.ID = ids[i]
		out = append(out, e)
	}
	return out, nil
}

// decode opens and unmarshals a value stored at ad.
func (s *Store) decode(v []byte, ad string, into any) error {
	plain, err := s.crypt.open(v, ad)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(plain, into); err != nil {
		return sanitizeJSONError(err)
	}
	return nil
}

// sanitizeJSONError rewrites a JSON error so that no byte of the value (user text) shows:
// a syntax error quotes the offending character, and error messages end up in logs.
func sanitizeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("JSON field %q: cannot decode a %s into %s", te.Field, te.Value, te.Type)
	default:
		return errors.New("malformed JSON value")
	}
}

func mustZeroStateJSON() []byte {
	b, err := json.Marshal(flows.State{})
	if err != nil {
		panic(err)
	}
	return b
}

var entrySeq atomic.Uint32

// newEntryID returns an ID that sorts by creation time: 13 decimal digits of unix
// milliseconds, then a per-process sequence number (order within a millisecond) and random
// bits (uniqueness across replicas), e.g. "1767225600000-00a1f3c29b7e".
func newEntryID(now time.Time) string {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		binary.BigEndian.PutUint32(r[:], mrand.Uint32())
	}
	seq := uint16(entrySeq.Add(1))
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], seq)
	return fmt.Sprintf("%013d-%s%s", now.UnixMilli(), hex.EncodeToString(b[:]), hex.EncodeToString(r[:]))
}

// backoff returns the pause before try+1: random, growing with the number of lost races so
// that many contenders spread out, capped so a turn stays well inside platform deadlines.
func backoff(try int) time.Duration {
	limit := time.Duration(min(try, 20)) * 500 * time.Microsecond
	return time.Duration(mrand.Int64N(int64(limit))) + 100*time.Microsecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
