package redistest

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestLease: tests on one shared server get distinct databases, emptied for them, and a
// database holding data that is not the tests' is never used or emptied.
func TestLease(t *testing.T) {
	srv := StartServer(t)
	ctx := context.Background()
	opts, _ := redis.ParseURL(srv.URL)
	// Database 1 holds someone's data; database 2 has leftovers of an earlier test run.
	foreign := dbClient(opts, 1)
	defer foreign.Close()
	foreign.Set(ctx, "sb:precious", "keep me", 0)
	stale := dbClient(opts, 2)
	defer stale.Close()
	home0 := dbClient(opts, 0)
	defer home0.Close()
	home0.Set(ctx, ownedPrefix+"2", "1", 0)
	stale.Set(ctx, "sb:{sched}:due", "old job", 0)

	seen := map[string]bool{}
	var urls []string
	t.Run("leases", func(t *testing.T) {
		for range 3 {
			u := Lease(t, srv.URL)
			if seen[u] {
				t.Errorf("database leased twice: %s", u)
			}
			seen[u] = true
			urls = append(urls, u)
			c := Client(t, u)
			if n, _ := c.Exists(ctx, "sb:{sched}:due", "sb:precious").Result(); n != 0 {
				t.Errorf("%s: leased with leftovers", u)
			}
			if n, _ := c.DBSize(ctx).Result(); n != 0 {
				t.Errorf("%s: %d keys in a fresh lease, want none", u, n)
			}
			c.Set(ctx, "sb:mine", "1", 0)
		}
	})
	if strings.HasSuffix(urls[0], "/1") || seen[strings.TrimSuffix(srv.URL, "/0")+"/1"] || seen[srv.URL] {
		t.Errorf("leased %v: the home database or the one with foreign data", urls)
	}
	if v, _ := foreign.Get(ctx, "sb:precious").Result(); v != "keep me" {
		t.Error("foreign data was touched")
	}
	home := Client(t, srv.URL)
	if keys, _ := home.Keys(ctx, leasePrefix+"*").Result(); len(keys) != 0 {
		t.Errorf("leases left after the tests ended: %v", keys)
	}
	for _, u := range urls {
		if n, _ := Client(t, u).Exists(ctx, "sb:mine").Result(); n != 0 {
			t.Errorf("%s was not emptied after its test", u)
		}
	}
}
