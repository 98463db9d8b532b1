package storage_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

func coachUser(name string) bot.UserRef {
	return bot.UserRef{Platform: "slack", Workspace: "T1", User: fmt.Sprintf("%s%d", name, time.Now().UnixNano())}
}

// TestCoachingUpdateClientIsAtomic increments one practice's counter from many goroutines
// through two stores (two replicas): no increment is lost.
func TestCoachingUpdateClientIsAtomic(t *testing.T) {
	testCoachingUpdateClientIsAtomic(t, singleNode(t))
}

// singleNode returns a factory of clients of one redis-server (see redistest.Start).
func singleNode(t *testing.T) func(t *testing.T) redis.UniversalClient {
	url := redistest.Start(t)
	return func(t *testing.T) redis.UniversalClient { return redistest.Client(t, url) }
}

// keysOf returns u's keys: in a cluster, from the node that holds u's hash slot.
func keysOf(t *testing.T, rdb redis.UniversalClient, u bot.UserRef) []string {
	t.Helper()
	ctx := context.Background()
	prefix := storage.KeyPrefix(u)
	var c redis.Cmdable = rdb
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		c = m
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func testCoachingUpdateClientIsAtomic(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
	ctx := context.Background()
	stores := make([]*storage.Coaching, 2)
	for i := range stores {
		st := storage.NewStore(newClient(t), storage.Config{EncryptionKeys: [][]byte{make([]byte, storage.KeySize)}})
		stores[i] = st.Coaching()
	}
	u := coachUser("UATOM")
	err := stores[0].UpdateClient(ctx, u, func(d *bot.ClientData) error {
		d.Practices["p"] = bot.Practice{ID: "p", Status: bot.PracticeActive}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(c *storage.Coaching) {
			defer wg.Done()
			err := c.UpdateClient(ctx, u, func(d *bot.ClientData) error {
				p := d.Practices["p"]
				p.Done++
				d.Practices["p"] = p
				return nil
			})
			if err != nil {
				t.Errorf("UpdateClient: %v", err)
			}
		}(stores[i%2])
	}
	wg.Wait()
	d, err := stores[1].ClientData(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Practices["p"].Done; got != n {
		t.Errorf("after %d concurrent increments Done = %d", n, got)
	}
	// An error from fn saves nothing.
	boom := fmt.Errorf("boom")
	if err := stores[0].UpdateClient(ctx, u, func(d *bot.ClientData) error {
		delete(d.Practices, "p")
		return boom
	}); err != boom {
		t.Errorf("UpdateClient returned %v, want fn's error", err)
	}
	if d, _ := stores[0].ClientData(ctx, u); len(d.Practices) != 1 {
		t.Errorf("a failed update changed the data: %+v", d.Practices)
	}
}

func TestCoachingNotesExpireAndStayEncrypted(t *testing.T) {
	testCoachingNotesExpireAndStayEncrypted(t, singleNode(t))
}

func testCoachingNotesExpireAndStayEncrypted(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := storage.NewStore(newClient(t), storage.Config{
		EncryptionKeys: [][]byte{make([]byte, storage.KeySize)},
		Retention:      10 * 24 * time.Hour,
		Now:            func() time.Time { return now },
	})
	c := st.Coaching()
	u := coachUser("UNOTE")
	old := bot.Note{ID: "n1", Practice: "p", Created: now.Add(-11 * 24 * time.Hour), Text: "old-note-text"}
	fresh := bot.Note{ID: "n2", Practice: "p", Created: now, Text: "fresh-note-text"}
	for _, n := range []bot.Note{old, fresh} {
		if err := c.AddNote(ctx, u, n); err != nil {
			t.Fatal(err)
		}
	}
	notes, err := c.Notes(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Text != "fresh-note-text" || notes[0].Shared {
		t.Fatalf("Notes = %+v, want only the fresh private one", notes)
	}
	rdb := newClient(t)
	key := storage.KeyPrefix(u) + ":pn:n2"
	raw, err := rdb.Get(ctx, key).Result()
	if err != nil || strings.Contains(raw, "fresh-note-text") {
		t.Fatalf("note at rest = %q, %v: want it sealed", raw, err)
	}
	ttl := rdb.TTL(ctx, key).Val()
	if ttl <= 0 || ttl > 10*24*time.Hour {
		t.Errorf("note TTL = %v, want the retention", ttl)
	}
	if ok, err := c.ShareNote(ctx, u, "n2", true); !ok || err != nil {
		t.Fatalf("ShareNote = %v, %v", ok, err)
	}
	if ttl2 := rdb.TTL(ctx, key).Val(); ttl2 <= 0 || ttl2 > ttl {
		t.Errorf("sharing changed the TTL from %v to %v", ttl, ttl2)
	}
	if ok, _ := c.ShareNote(ctx, u, "missing", true); ok {
		t.Errorf("ShareNote of a missing note reported true")
	}
	notes, _ = c.Notes(ctx, u)
	if len(notes) != 1 || !notes[0].Shared {
		t.Errorf("after sharing Notes = %+v", notes)
	}
	// Forget is idempotent and leaves nothing of u's.
	for range 2 {
		if err := c.Forget(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if keys := keysOf(t, rdb, u); len(keys) != 0 {
		t.Errorf("after Forget keys remain: %v", keys)
	}
}

// testCoachingForgetAcrossUsers: a coach's and a client's keys live in different hash
// slots (in a cluster, likely on different nodes); forgetting either updates the other.
func testCoachingForgetAcrossUsers(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	c := storage.NewStore(rdb, storage.Config{}).Coaching()
	coach, client := coachUser("UCOACH"), coachUser("UCLIENT")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	link := bot.CoachLink{ID: "l1", Coach: coach, Client: client, State: bot.LinkAccepted, Invited: now}
	if err := c.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		d.Links[link.ID] = link
		d.Practices["p"] = bot.Practice{ID: "p", LinkID: link.ID, Status: bot.PracticeActive}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutCoachEntry(ctx, coach, bot.CoachEntry{LinkID: link.ID, Client: client, State: bot.LinkAccepted, Since: now}); err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(ctx, coach); err != nil {
		t.Fatal(err)
	}
	if d, err := c.ClientData(ctx, client); err != nil || len(d.Links) != 0 || len(d.Practices) != 0 {
		t.Errorf("client's data after the coach forgot = %+v, %v; want no link and no practice", d, err)
	}
	if keys := keysOf(t, rdb, coach); len(keys) != 0 {
		t.Errorf("after Forget the coach's keys remain: %v", keys)
	}
	if err := c.Forget(ctx, client); err != nil {
		t.Fatal(err)
	}
	if keys := keysOf(t, rdb, client); len(keys) != 0 {
		t.Errorf("after Forget the client's keys remain: %v", keys)
	}
}
