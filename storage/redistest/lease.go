package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Database leases on a shared server. The scheduler's keys are global ({sched}), so two
// tests that run schedulers on one database see each other's jobs; a database each keeps
// them apart. Leases are keys in the database REDIS_URL names:
//
//	storybot-test:lease:<n>  string, TTL leaseTTL: the token of the test using database n.
//	storybot-test:owned:<n>  string "1", no TTL: database n has been the tests' before.
//
// A leased database is emptied before use only if it is empty already or was the tests'
// before: a database holding anything else is never touched, so pointing REDIS_URL at a
// server with real data in other databases loses nothing. The leased database itself holds
// nothing but the test's own keys. Use a server, or at least databases, set aside for tests
// all the same.
const (
	leasePrefix = "storybot-test:lease:"
	ownedPrefix = "storybot-test:owned:"
	leaseTTL    = 30 * time.Minute
	leaseWait   = 3 * time.Minute
)

// Lease returns base (a redis:// URL) with the database number of a database leased to tb
// alone, emptied, and released and emptied again when tb ends.
func Lease(tb testing.TB, base string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("redistest: REDIS_URL: %v", err)
	}
	opts, err := redis.ParseURL(base)
	if err != nil {
		tb.Fatalf("redistest: REDIS_URL: %v", err)
	}
	ctx := context.Background()
	home := redis.NewClient(opts)
	defer home.Close()
	dbs := 16
	if cfg, err := home.ConfigGet(ctx, "databases").Result(); err == nil {
		if n, err := strconv.Atoi(cfg["databases"]); err == nil && n > 0 {
			dbs = n
		}
	}
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	deadline := time.Now().Add(leaseWait)
	for {
		for n := 0; n < dbs; n++ {
			if n == opts.DB {
				continue // the home database holds the leases
			}
			ok, err := home.SetNX(ctx, leasePrefix+strconv.Itoa(n), token, leaseTTL).Result()
			if err != nil {
				tb.Fatalf("redistest: lease a database: %v", err)
			}
			if !ok {
				continue
			}
			if err := claim(ctx, home, opts, n); err != nil {
				release(ctx, home, n, token)
				if errors.Is(err, errForeignData) {
					continue
				}
				tb.Fatalf("redistest: database %d: %v", n, err)
			}
			tb.Cleanup(func() {
				c := dbClient(opts, n)
				defer c.Close()
				_ = c.FlushDB(ctx).Err()
				h := redis.NewClient(opts)
				defer h.Close()
				release(ctx, h, n, token)
			})
			leased := *u
			leased.Path = "/" + strconv.Itoa(n)
			return leased.String()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: no free database on the REDIS_URL server after %s (databases other than %d are leased to other tests, or hold data that is not theirs)", leaseWait, opts.DB)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errForeignData = errors.New("holds data that is not the tests'")

// claim marks database n as the tests' and empties it, if it is empty or was theirs before.
func claim(ctx context.Context, home *redis.Client, opts *redis.Options, n int) error {
	c := dbClient(opts, n)
	defer c.Close()
	size, err := c.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	owned, err := home.Exists(ctx, ownedPrefix+strconv.Itoa(n)).Result()
	if err != nil {
		return err
	}
	if size > 0 && owned == 0 {
		return errForeignData
	}
	if err := home.Set(ctx, ownedPrefix+strconv.Itoa(n), "1", 0).Err(); err != nil {
		return err
	}
	return c.FlushDB(ctx).Err()
}

// release deletes the lease on n if it is still token's.
func release(ctx context.Context, home *redis.Client, n int, token string) {
	_ = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`).
		Run(ctx, home, []string{leasePrefix + strconv.Itoa(n)}, token).Err()
}

func dbClient(opts *redis.Options, n int) *redis.Client {
	o := *opts
	o.DB = n
	return redis.NewClient(&o)
}
