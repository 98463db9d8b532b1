package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage/redistest"
)

var (
	keyA = bytes.Repeat([]byte{0xa1}, KeySize)
	keyB = bytes.Repeat([]byte{0xb2}, KeySize)
)

func storeWith(tb testing.TB, rdb redis.UniversalClient, keys ...[]byte) *Store {
	tb.Helper()
	return NewStore(rdb, Config{EncryptionKeys: keys})
}

func TestCheckKeysCanary(t *testing.T) {
	rdb := redistest.Client(t, redistest.Start(t))
	ctx := context.Background()
	if err := storeWith(t, rdb).CheckKeys(ctx); err != nil {
		t.Fatalf("CheckKeys on an empty store without keys = %v", err)
	}
	if err := storeWith(t, rdb, keyA).CheckKeys(ctx); err != nil {
		t.Fatalf("CheckKeys, first start with key A = %v", err)
	}
	idA, idB := KeyID(keyA), KeyID(keyB)
	for _, tt := range []struct {
		name string
		keys [][]byte
	}{{"wrong key", [][]byte{keyB}}, {"no key", nil}} {
		err := storeWith(t, rdb, tt.keys...).CheckKeys(ctx)
		if !errors.Is(err, ErrKeyMissing) || !strings.Contains(err.Error(), idA) || !strings.Contains(err.Error(), "STORYBOT_ENCRYPTION_KEY=new,old") {
			t.Errorf("%s: CheckKeys = %v, want ErrKeyMissing naming %s and what to set", tt.name, err, idA)
		}
		if len(tt.keys) > 0 && !strings.Contains(err.Error(), idB) {
			t.Errorf("%s: the error does not say which key is configured (%s): %v", tt.name, idB, err)
		}
	}
	if err := storeWith(t, rdb, keyB, keyA).CheckKeys(ctx); err != nil {
		t.Fatalf("CheckKeys with B,A = %v", err)
	}
	ring, _ := rdb.HGetAll(ctx, keyringKey).Result()
	if len(ring) != 2 || ring[idA] == "" || ring[idB] == "" {
		t.Errorf("key ring = %v, want ids %s and %s", ring, idA, idB)
	}
	// A key whose canary does not open (a tampered ring) is refused too.
	rdb.HSet(ctx, keyringKey, idB, "e1:garbage")
	if err := storeWith(t, rdb, keyB, keyA).CheckKeys(ctx); err == nil || !strings.Contains(err.Error(), "canary") {
		t.Errorf("CheckKeys with a broken canary = %v", err)
	}
}

// seedJournal writes n users' dialogues and journal entries, sealed by s.
func seedJournal(tb testing.TB, s *Store, n int) []bot.UserRef {
	tb.Helper()
	var users []bot.UserRef
	for i := range n {
		u := bot.UserRef{Platform: "test", Workspace: "ROT", User: fmt.Sprintf("U%03d", i)}
		err := s.Turn(context.Background(), u, func(cur flows.State) (flows.State, *flows.Entry, error) {
			next := cur
			next.Flow, next.Step = flows.FlowPause, flows.StepStory
			next.Entry.Story = fmt.Sprintf("story %d in progress", i)
			return next, &flows.Entry{Flow: flows.FlowPause, Story: fmt.Sprintf("saved story %d", i)}, nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		users = append(users, u)
	}
	return users
}

// TestRotateResumesAfterACrash: a rotation stopped half-way leaves every value readable by
// the configured keys; run again, it resumes from the saved position and finishes; then the
// old key protects nothing, is retired, and a start with the new key alone reads everything.
func TestRotateResumesAfterACrash(t *testing.T) {
	rdb := redistest.Client(t, redistest.Start(t))
	ctx := context.Background()
	defer func(n int64) { scanBatch = n }(scanBatch)
	scanBatch = 4

	old := storeWith(t, rdb, keyA)
	if err := old.CheckKeys(ctx); err != nil {
		t.Fatal(err)
	}
	users := seedJournal(t, old, 30) // 30 dialogue states and 30 entries sealed with A
	idA, idB := KeyID(keyA), KeyID(keyB)

	both := storeWith(t, rdb, keyB, keyA)
	rep, err := both.CountKeys(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := usage(rep, idA); got.Values != 60 || got.Position != 2 {
		t.Fatalf("before rotating, key A = %+v, want 60 values at position 2 (%+v)", got, rep)
	}

	// The "crash": the context ends after the third batch.
	crashCtx, crash := context.WithCancel(ctx)
	batches := 0
	_, err = both.Rotate(crashCtx, func(p RotateProgress) {
		if batches++; batches == 3 {
			crash()
		}
	})
	if err == nil {
		t.Fatal("Rotate did not stop when its context ended")
	}
	mid, err := both.CountKeys(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := usage(mid, idA).Values, usage(mid, idB).Values
	if a == 0 || b == 0 || a+b != 60 || mid.Unreadable != 0 {
		t.Fatalf("after the crash: A %d, B %d, unreadable %d; want a partial rotation of 60 values, all readable", a, b, mid.Unreadable)
	}
	for _, u := range users {
		if entries, err := both.Journal(ctx, u, 5); err != nil || len(entries) != 1 {
			t.Fatalf("mid-rotation Journal(%v) = %v, %v", u, entries, err)
		}
	}

	p, err := both.Rotate(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Resumed || p.Resealed != a {
		t.Errorf("second Rotate = %+v, want it resumed and %d values resealed", p, a)
	}
	if n, _ := rdb.Exists(ctx, rotatePrefix+idB).Result(); n != 0 {
		t.Error("the rotation progress is left behind after completing")
	}
	end, err := both.CountKeys(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if usage(end, idA).Values != 0 || usage(end, idB).Values != 60 || end.Unreadable != 0 {
		t.Fatalf("after rotating: %+v", end)
	}

	// A start with B alone fails until A, now protecting nothing, is retired.
	onlyB := storeWith(t, rdb, keyB)
	if err := onlyB.CheckKeys(ctx); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("CheckKeys with B alone before retiring A = %v", err)
	}
	retired, err := both.RetireUnusedKeys(ctx, end)
	if err != nil || len(retired) != 1 || retired[0] != idA {
		t.Fatalf("RetireUnusedKeys = %v, %v; want [%s]", retired, err, idA)
	}
	if err := onlyB.CheckKeys(ctx); err != nil {
		t.Fatalf("CheckKeys with B alone after retiring A = %v", err)
	}
	for i, u := range users {
		entries, err := onlyB.Journal(ctx, u, 5)
		if err != nil || len(entries) != 1 || entries[0].Story != fmt.Sprintf("saved story %d", i) {
			t.Fatalf("Journal(%v) with B alone = %+v, %v", u, entries, err)
		}
		var got flows.State
		err = onlyB.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
			got = cur
			return cur, nil, nil
		})
		if err != nil || got.Entry.Story != fmt.Sprintf("story %d in progress", i) {
			t.Fatalf("dialogue of %v with B alone = %+v, %v", u, got, err)
		}
	}
	// TTLs survive the rotation.
	keys, _ := rdb.Keys(ctx, "sb:{u:test:ROT:U000}:*").Result()
	for _, k := range keys {
		if ttl, _ := rdb.TTL(ctx, k).Result(); ttl <= 0 {
			t.Errorf("%s has TTL %v after rotating, want the one it had", k, ttl)
		}
	}
}

func usage(rep KeyReport, id string) KeyUsage {
	for _, k := range rep.Keys {
		if k.ID == id {
			return k
		}
	}
	return KeyUsage{ID: id}
}

func TestCheckSchema(t *testing.T) {
	rdb := redistest.Client(t, redistest.Start(t))
	ctx := context.Background()
	s := NewStore(rdb, Config{})
	if v, err := s.CheckSchema(ctx); err != nil || v != 0 {
		t.Fatalf("CheckSchema on a new store = %d, %v", v, err)
	}
	if got, _ := rdb.Get(ctx, schemaKey).Int(); got != SchemaVersion {
		t.Errorf("stored schema = %d, want %d", got, SchemaVersion)
	}
	if v, err := s.CheckSchema(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("CheckSchema again = %d, %v", v, err)
	}
	rdb.Set(ctx, schemaKey, SchemaVersion+1, 0)
	v, err := s.CheckSchema(ctx)
	if !errors.Is(err, ErrSchemaTooNew) || v != SchemaVersion+1 || !strings.Contains(err.Error(), "restore the backup") {
		t.Errorf("CheckSchema against a newer store = %d, %v", v, err)
	}
	if got, _ := rdb.Get(ctx, schemaKey).Int(); got != SchemaVersion+1 {
		t.Errorf("an older build lowered the stored schema to %d", got)
	}
}
