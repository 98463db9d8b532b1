package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/lru"
)

// A DM answer normally costs two round trips: the claim before the acknowledgement (which
// reads the dialogue) and the commit. A replica that read or wrote a user's dialogue a
// moment ago mostly knows what the claim would read: the dialogue it committed itself. The
// guess memory keeps that, per user, so that the turn can run first and one script then
// does, atomically, what the claim and the commit do apart: check that the event is neither
// held nor handled, that the dialogue is exactly the one remembered (the stored bytes, not
// only the version: a dialogue erased by /story forget or expired starts its versions again,
// and bytes sealed with a random nonce never repeat), that no coaching marker is set, and
// commit. When any check fails it claims the event and returns what it read, as the claim
// would have: the turn is computed again from that and committed, two round trips as before.
// The memory is only ever a starting point, never the truth, so a replica that is out of
// date (another replica answered the user's last event) costs what it always did.

const (
	// guessCapacity bounds the memory: a user's entry holds their dialogue twice (as stored
	// and, after a commit, decoded) and their keys: about 1.6 KB of heap for a short
	// dialogue (0.6 KB before it kept the decoded state), so some 16 to 30 MB at most.
	guessCapacity = 10_000
	// guessTTL is how long a remembered dialogue is used: past it the next answer claims
	// and reads, as usual (a person answers within minutes or not for a long while).
	guessTTL = 10 * time.Minute
)

// guessed is one user's remembered dialogue: its version and its state as stored (and
// decoded, when this process committed it), with the user's turn keys.
type guessed struct {
	keys   *turnKeys
	ver    int64
	stored string // "" for no state field (the zero State)
	// state, when set, is stored decoded, kept by the commit that wrote stored: what
	// decoding stored gives, exactly (decodedState), so that a turn from the memory starts
	// where one from a read of the same bytes would, without decoding them. It is never
	// changed: Guess hands out copies, since a turn's step may change the State it is
	// handed in place. nil: Guess decodes stored (a read's memory, which a commit mostly
	// replaces at once). stored stays the truth the commit compares.
	state *flows.State
	at    time.Time
}

func newGuesses() *lru.Cache[bot.UserRef, guessed] {
	return lru.New[bot.UserRef, guessed](guessCapacity)
}

// turnKeys are the keys a turn of one user needs. Every turn needs them, so they are built
// once and kept with what this process remembers of the user's dialogue.
type turnKeys struct {
	userKeys
	user    bot.UserRef
	pending string // the coaching marker (coachKeys.pending)
	stateAD string // what the dialogue's state is sealed for: the dialogue key + "#state"
	lease   string // the prefix of the user's event lease keys, sb:dedupe:{d<n>}:
}

func turnKeysFor(u bot.UserRef) (*turnKeys, error) {
	k, err := keysFor(u)
	if err != nil {
		return nil, err
	}
	// The ref is kept (as the memory's key) for as long as the user is remembered: copies,
	// so that it never holds on to a larger string its parts may have been cut from.
	u = bot.UserRef{Platform: strings.Clone(u.Platform), Workspace: strings.Clone(u.Workspace), User: strings.Clone(u.User)}
	return &turnKeys{
		userKeys: k,
		user:     u,
		pending:  k.tag + coachPendingSuffix,
		stateAD:  k.dialogue + stateADSuffix,
		lease:    dedupePrefix + "{" + slotTag(hashSlot(k.tag)) + "}:",
	}, nil
}

// stateADSuffix makes a dialogue's key the associated data its state is sealed for.
const stateADSuffix = "#state"

// turnKeysOf returns u's turn keys: those kept with the memory of u's dialogue, or new ones.
func (s *Store) turnKeysOf(u bot.UserRef) (*turnKeys, error) {
	if g, ok := s.guesses.Get(u); ok {
		return g.keys, nil
	}
	return turnKeysFor(u)
}

// remember keeps what a read of k's dialogue found.
func (s *Store) remember(k *turnKeys, ver int64, stored string) {
	s.guesses.Add(k.user, guessed{keys: k, ver: ver, stored: stored, at: s.now()})
}

// rememberCommit keeps what a commit of k's dialogue wrote: next, stored as stored.
func (s *Store) rememberCommit(k *turnKeys, ver int64, stored string, next *flows.State) {
	g := guessed{keys: k, ver: ver, stored: stored, at: s.now()}
	if stored != "" {
		if d, ok := decodedState(*next); ok { // not ok is not reached: next would not encode
			g.state = &d
		}
	}
	s.guesses.Add(k.user, g)
}

// forgetGuess drops what this process remembers of u's dialogue (it was erased, merged, or
// a coaching marker was set, which changes what the next line means).
func (s *Store) forgetGuess(u bot.UserRef) {
	s.guesses.Remove(u)
}

var _ bot.Guesser = (*Store)(nil)

// guessRead is what Guess returns, the snapshot and its dialogue, allocated together.
type guessRead struct {
	snap bot.Snapshot
	d    bot.DialogueRead
}

// Guess implements bot.Guesser.
func (s *Store) Guess(u bot.UserRef) *bot.Snapshot {
	g, ok := s.guesses.Get(u)
	if !ok || s.now().Sub(g.at) > guessTTL {
		return nil
	}
	r := &guessRead{d: bot.DialogueRead{Version: g.ver, Stored: g.stored}} // one allocation
	switch {
	case g.state != nil:
		r.d.State = cloneState(*g.state)
	case g.stored != "":
		if err := s.decode([]byte(g.stored), g.keys.stateAD, &r.d.State); err != nil {
			s.guesses.Remove(u)
			return nil
		}
	}
	r.snap.Dialogue = &r.d
	return &r.snap
}

// turnWrites is the write half shared by turnScript and guessTurnScript: see turnScript for
// the keys and arguments.
const turnWrites = `
if ARGV[3] == '' then
  redis.call('HSET', KEYS[1], 'ver', ARGV[2])
  redis.call('HDEL', KEYS[1], 'state')
else
  redis.call('HSET', KEYS[1], 'ver', ARGV[2], 'state', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[14] ~= '' then
  redis.call('PEXPIRE', KEYS[6], ARGV[14])
end
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[9])
  redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[8])
  redis.call('PEXPIRE', KEYS[2], ARGV[9])
end
if ARGV[10] ~= '' then
  redis.call('SET', KEYS[5], 'done', 'PX', ARGV[13])
end
`

// guessTurnScript is turnScript for a turn computed from a remembered dialogue, with the
// event's claim folded in: it commits only when the event is neither handled nor held by
// someone else, the stored dialogue is byte for byte the remembered one and no coaching
// marker is set; otherwise it claims the event (when free) and returns what it read.
//
//	KEYS[1..6] as turnScript (KEYS[5] the event's lease key), KEYS[7] coaching marker;
//	ARGV[1..14] as turnScript (ARGV[10] the event id), ARGV[15] the remembered stored state,
//	ARGV[16] the lease token, ARGV[17] lease ms
//	returns {1} committed, {2} handled before, {3} held by another, {0, ver, state, marker}
//	out of date (the event is now claimed with ARGV[16])
var guessTurnScript = newScript(`
local l = redis.call('GET', KEYS[5])
if l == 'done' or l == '1' then return {2} end
if l and l ~= ARGV[16] then return {3} end
if redis.call('ZSCORE', KEYS[3], ARGV[10]) then return {2} end
local d = redis.call('HMGET', KEYS[1], 'ver', 'state')
local m = redis.call('GET', KEYS[7])
if m or (d[1] or '0') ~= ARGV[1] or (d[2] or '') ~= ARGV[15] then
  redis.call('SET', KEYS[5], ARGV[16], 'PX', ARGV[17])
  return {0, d[1], d[2], m}
end
` + turnWrites + `
return {1}
`)

// The outcomes of a guessed attempt beyond turnScript's.
const (
	guessStale = 10 + iota // out of date: the event is claimed now, fresh holds the read
	guessHeld              // another process holds the event
)

// tryGuessTurn is tryTurn for a turn from a remembered dialogue (from.Guess set).
func (s *Store) tryGuessTurn(ctx context.Context, k *turnKeys, eventID, leaseKey string, from *bot.DialogueRead, fn bot.TurnFunc) (res int, fresh *bot.Snapshot, err error) {
	c, err := s.prepareTurn(k, from, fn)
	if err != nil {
		return turnLost, nil, err
	}
	t := c.command(s, k, leaseKey, from.Version, eventID, from)
	reply, err := guessTurnScript.runArgv(ctx, s.batch, t.argv[:t.n], guessTurnKeyCount).Slice()
	if err != nil {
		return turnLost, nil, fmt.Errorf("save dialogue: %w", err)
	}
	n, _ := reply[0].(int64)
	switch n {
	case 1:
		s.rememberCommit(k, from.Version+1, t.state, &c.next)
		return turnCommitted, nil, nil
	case 2:
		return turnDuplicate, nil, nil
	case 3:
		return guessHeld, nil, nil
	case 0:
		if len(reply) < 4 {
			return turnLost, nil, errors.New("save dialogue: short reply")
		}
		fresh, err := s.snapshot(k, reply[1], reply[2], reply[3])
		if err != nil {
			return turnLost, nil, fmt.Errorf("load dialogue: %w", err)
		}
		return guessStale, fresh, nil
	}
	return turnLost, nil, fmt.Errorf("save dialogue: unexpected reply %d", n)
}

// defaultLeaseMS is bot.DefaultLease in milliseconds, boxed once (see leaseMSArg).
var defaultLeaseMS any = bot.DefaultLease.Milliseconds()

// leaseMSArg is lease in milliseconds as a script argument; the usual lease's is boxed once.
func leaseMSArg(lease time.Duration) any {
	if lease == bot.DefaultLease {
		return defaultLeaseMS
	}
	return lease.Milliseconds()
}
