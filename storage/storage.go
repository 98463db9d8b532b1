// Package storage keeps storybot's data in Redis: dialogue state and the journal, profiles,
// safety plans, scheduled jobs, coaching, and the dedupe marks and leases of platform events.
// It implements every store interface package bot names (the dialogue, profile, plan,
// schedule and coaching stores, the job queue, event leases, erasers, mergers and export
// parts) over one go-redis UniversalClient, which may be a single node, a Redis Cluster, a
// Sentinel-managed failover group, or an embedded in-process miniredis for running without
// any Redis at all. storage/storetest is their conformance suite; store_test.go runs it on
// each of those. It imports bot and flows, never the engine or an adapter.
//
// Reflection text (dialogue state and journal entries) is encrypted at rest with AES-256-GCM
// when keys are configured, and always expires: dialogues after DialogueTTL idle, journal
// entries after Retention. The key layout is documented in keys.go.
package storage

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/lru"
)

// Defaults for Config.
const (
	DefaultRetention   = 180 * 24 * time.Hour
	DefaultDialogueTTL = 7 * 24 * time.Hour
	// ProfileTTL is how long a profile outlives its last write, so that the few settings of
	// users who left vanish too.
	ProfileTTL = 400 * 24 * time.Hour
)

// Config says where Redis is and how to keep data there. At most one of URL (single node),
// ClusterAddrs and SentinelAddrs selects the server; with none, Open runs an embedded
// in-memory store. When URL is set together with ClusterAddrs or SentinelAddrs, only its
// credentials, database and TLS setting are used.
type Config struct {
	URL            string   // redis:// or rediss://
	ClusterAddrs   []string // seed addresses of a Redis Cluster
	SentinelAddrs  []string // Sentinel addresses; needs SentinelMaster
	SentinelMaster string

	// EncryptionKeys are 32-byte AES-256 keys (see ParseKeys): the first encrypts, all
	// decrypt. None: values are stored as plain JSON.
	EncryptionKeys [][]byte

	Retention   time.Duration    // journal entries expire this long after creation; default 180 days
	DialogueTTL time.Duration    // a dialogue idle this long is dropped; default 7 days
	Now         func() time.Time // the clock; default time.Now
	Logger      *slog.Logger     // default: discard
}

// Store implements the bot stores over Redis. It is safe for concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	mini *miniredis.Miniredis // non-nil for the embedded store
	// stopTTLs stops the embedded store's expiry clock (see expireInRealTime); nil otherwise.
	stopTTLs func()
	crypt    crypter
	ret      time.Duration
	dlgTTL   time.Duration
	now      func() time.Time
	log      *slog.Logger
	zeroEnc  []byte // the encoding of the zero State, which is not stored
	locks    *turnLocks
	guesses  *lru.Cache[bot.UserRef, guessed] // dialogues this process read or wrote lately: guess.go
	// clientLocks serializes the coaching updates (Coaching.UpdateClient) of one user
	// within this Store, as locks does their turns; a lock set of its own, so that a turn
	// and a coaching update never wait for each other.
	clientLocks *turnLocks
	macs        macPool                // event ids' MACs (eventKey)
	encBufs     sync.Pool              // *[]byte: buffers a turn encodes its state in (encodeState)
	breaker     *breaker               // nil unless Open made the client
	dsecret     atomic.Pointer[[]byte] // the dedupe secret, once known
	// dlgTTLMS and retMS are dlgTTL and ret in milliseconds, boxed once: every commit
	// passes them.
	dlgTTLMS, retMS any
	// batch sends the hot path's scripts of concurrent turns together (batch.go).
	batch *scriptBatcher
}

// dedupeSecret returns the secret dedupe keys are hashed with: derived from the first
// encryption key when there is one, else shared by every replica through Redis (created
// once by whichever replica comes first).
func (s *Store) dedupeSecret(ctx context.Context) ([]byte, error) {
	if p := s.dsecret.Load(); p != nil {
		return *p, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("dedupe secret: %w", err)
	}
	if err := s.rdb.SetNX(ctx, dedupeSecretKey, fresh, 0).Err(); err != nil {
		return nil, fmt.Errorf("dedupe secret: %w", err)
	}
	secret, err := s.rdb.Get(ctx, dedupeSecretKey).Bytes()
	if err != nil {
		return nil, fmt.Errorf("dedupe secret: %w", err)
	}
	s.dsecret.Store(&secret)
	return secret, nil
}

var (
	_ bot.DialogueStore = (*Store)(nil)
	_ bot.ProfileStore  = (*Store)(nil)
	_ bot.Deduper       = (*Store)(nil)
	_ bot.Pinger        = (*Store)(nil)
)

// Open connects to the Redis that cfg names, or starts the embedded store when cfg names
// none, and checks that it answers: a wrong address or password fails here, at startup,
// rather than at a user's first message.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if _, err := newCrypter(cfg.EncryptionKeys); err != nil {
		return nil, err
	}
	var (
		rdb  redis.UniversalClient
		mini *miniredis.Miniredis
	)
	switch {
	case cfg.URL == "" && len(cfg.ClusterAddrs) == 0 && len(cfg.SentinelAddrs) == 0:
		// The embedded store speaks RESP on a loopback port, so it runs the very code path a
		// real server does (scripts included) rather than a second implementation.
		m, err := miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("storage: start embedded store: %w", err)
		}
		mini = m
		opts := &redis.UniversalOptions{Addrs: []string{m.Addr()}}
		tuneOptions(opts)
		rdb = redis.NewClient(opts.Simple())
	default:
		opts, err := universalOptions(cfg)
		if err != nil {
			return nil, err
		}
		tuneOptions(opts)
		rdb = redis.NewUniversalClient(opts)
	}
	s := NewStore(rdb, cfg)
	s.mini = mini
	if mini != nil {
		s.stopTTLs = expireInRealTime(mini, 100*time.Millisecond)
	}
	// Open owns the client, so it may hook it: the breaker fails calls fast while Redis is
	// down or hanging (see resilience.go).
	s.breaker = newBreaker(time.Now, func(open bool) {
		if open {
			s.log.Error("storage: redis is not answering: failing calls fast until it does")
		} else {
			s.log.Info("storage: redis answers again")
		}
	})
	rdb.AddHook(s.breaker)
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	if mini != nil {
		s.log.Warn("storage: no Redis configured: using an embedded in-memory store; everything is lost when the process exits and replicas do not share it")
	}
	if !s.crypt.enabled() {
		s.log.Warn("storage: no encryption key configured: reflection text is stored unencrypted")
	}
	return s, nil
}

// universalOptions translates cfg into options from which NewUniversalClient picks a
// single-node, cluster or failover client.
func universalOptions(cfg Config) (*redis.UniversalOptions, error) {
	opts := &redis.UniversalOptions{}
	if cfg.URL != "" {
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			// The URL may hold a password: do not echo it.
			return nil, errors.New("storage: REDIS_URL is not a valid redis:// or rediss:// URL")
		}
		opts.Addrs = []string{o.Addr}
		opts.Username, opts.Password, opts.DB = o.Username, o.Password, o.DB
		opts.TLSConfig = o.TLSConfig
		opts.ClientName = o.ClientName
		opts.Protocol = o.Protocol
	}
	switch {
	case len(cfg.SentinelAddrs) > 0:
		if cfg.SentinelMaster == "" {
			return nil, errors.New("storage: sentinel addresses given without a master name")
		}
		opts.Addrs = cfg.SentinelAddrs
		opts.MasterName = cfg.SentinelMaster
	case len(cfg.ClusterAddrs) > 0:
		if opts.DB != 0 {
			return nil, errors.New("storage: redis cluster has only database 0")
		}
		opts.Addrs = cfg.ClusterAddrs
		opts.IsClusterMode = true // also with a single seed address
	}
	if opts.TLSConfig != nil && opts.TLSConfig.MinVersion == 0 {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return opts, nil
}

// NewStore returns a Store over client, for tests and custom wiring. It does not check that
// the server answers. It panics when cfg.EncryptionKeys holds a key that is not 32 bytes
// long: keys are meant to come from ParseKeys, which reports that as an error.
func NewStore(client redis.UniversalClient, cfg Config) *Store {
	c, err := newCrypter(cfg.EncryptionKeys)
	if err != nil {
		panic(err)
	}
	s := &Store{
		batch:  &scriptBatcher{rdb: client},
		rdb:    client,
		crypt:  c,
		ret:    cfg.Retention,
		dlgTTL: cfg.DialogueTTL,
		now:    cfg.Now,
		log:    cfg.Logger,
	}
	if s.ret <= 0 {
		s.ret = DefaultRetention
	}
	if s.dlgTTL <= 0 {
		s.dlgTTL = DefaultDialogueTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.dlgTTLMS, s.retMS = s.dlgTTL.Milliseconds(), s.ret.Milliseconds()
	s.zeroEnc = mustZeroStateJSON()
	s.locks = newTurnLocks()
	s.guesses = newGuesses()
	s.clientLocks = newTurnLocks()
	if len(cfg.EncryptionKeys) > 0 {
		m := hmac.New(sha256.New, cfg.EncryptionKeys[0])
		m.Write([]byte("storybot dedupe secret v1"))
		secret := m.Sum(nil)
		s.dsecret.Store(&secret)
	}
	return s
}

// Client returns the underlying go-redis client, for other Redis users in the process (the
// scheduler, leases) and for tests.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// CircuitOpen reports whether calls currently fail fast because Redis recently did not
// answer (for metrics and readiness).
func (s *Store) CircuitOpen() bool { return s.breaker != nil && s.breaker.Open() }

// Embedded reports whether the store is the in-process one: data lives in memory only.
func (s *Store) Embedded() bool { return s.mini != nil }

// Ping reports whether the store answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}

// Close closes the client and stops the embedded store, if any.
func (s *Store) Close() error {
	err := s.rdb.Close()
	if s.stopTTLs != nil {
		s.stopTTLs()
	}
	if s.mini != nil {
		s.mini.Close()
	}
	if err != nil {
		return fmt.Errorf("storage: close: %w", err)
	}
	return nil
}

// expireInRealTime makes the embedded store's TTLs pass: miniredis counts them down only when
// told (FastForward), so without this nothing ever expired in the embedded store — not an
// event lease of a handler that died, not a handled-event mark, not an idle dialogue — and
// its memory only grew. Every tick it moves the store's clock on by the real time elapsed.
// The returned func stops it and waits for it to end.
func expireInRealTime(m *miniredis.Miniredis, tick time.Duration) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-stopped
		})
	}
}
