package storage_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

// TestMergeMovesEverything merges an old reference of a person (their workspace team id)
// into their one identity, with encryption on: journal entries, an open dialogue, the
// profile, a check-in, and coaching on both sides of a link (the coach's index and the
// client's link name the new reference afterwards). Nothing stays under the old one, a
// second merge changes nothing, and sealed values open under their new keys.
func TestMergeMovesEverything(t *testing.T) {
	ctx := context.Background()
	url := redistest.Start(t)
	key := bytes.Repeat([]byte{7}, storage.KeySize)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s, err := storage.Open(ctx, storage.Config{URL: url, EncryptionKeys: [][]byte{key}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Coaching()
	old := bot.UserRef{Platform: "slack", Workspace: "T1", User: "UMERGE1"}
	cur := bot.UserRef{Platform: "slack", Workspace: "E1", User: "UMERGE1"}
	coach := bot.UserRef{Platform: "slack", Workspace: "T1", User: "UCOACH1"}

	save := func(u bot.UserRef, story string, open bool) {
		t.Helper()
		err := s.Turn(ctx, u, func(st flows.State) (flows.State, *flows.Entry, error) {
			next := st
			if open {
				next = flows.State{Version: 1, Flow: flows.FlowQuick, Step: st.Step, Updated: now}
			}
			return next, &flows.Entry{Flow: flows.FlowQuick, Story: story, Created: now}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	save(old, "old story one", false)
	save(old, "old story two", true)
	save(cur, "new story", false)
	if err := s.SaveProfile(ctx, old, bot.Profile{Welcomed: true, TZ: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	j := bot.Job{Kind: bot.JobCheckin, User: old, Checkin: bot.Checkin{Schedule: bot.Schedule{Days: [7]bool{1: true}, Hour: 9}}}
	if err := s.PutJob(ctx, j, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	link := bot.CoachLink{ID: "l1", Coach: coach, Client: old, State: bot.LinkAccepted, Invited: now}
	if err := c.UpdateClient(ctx, old, func(d *bot.ClientData) error { d.Links["l1"] = link; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.PutCoachEntry(ctx, coach, bot.CoachEntry{LinkID: "l1", Client: old, State: bot.LinkAccepted, Since: now}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddNote(ctx, old, bot.Note{ID: "n1", Practice: "p", LinkID: "l1", Created: now, Text: "my note"}); err != nil {
		t.Fatal(err)
	}

	for i := range 2 { // the second merge finds nothing to do
		if err := s.Merge(ctx, old, cur); err != nil {
			t.Fatalf("Merge #%d: %v", i+1, err)
		}
		if err := c.Merge(ctx, old, cur); err != nil {
			t.Fatalf("Coaching.Merge #%d: %v", i+1, err)
		}
	}

	entries, err := s.Journal(ctx, cur, 10)
	if err != nil || len(entries) != 3 {
		t.Fatalf("Journal after merge = %d entries, %v; want 3", len(entries), err)
	}
	st, ok, err := s.Dialogue(ctx, cur)
	if err != nil || !ok || st.Flow != flows.FlowQuick {
		t.Errorf("Dialogue after merge = %+v, %v, %v; want the open quick pause", st, ok, err)
	}
	if p, _, _ := s.Profile(ctx, cur); !p.Welcomed || p.TZ != "Europe/Paris" {
		t.Errorf("Profile after merge = %+v", p)
	}
	if _, _, ok, _ := s.Job(ctx, cur, bot.JobCheckin); !ok {
		t.Error("check-in not moved")
	}
	d, err := c.ClientData(ctx, cur)
	if err != nil || d.Links["l1"].Client != cur {
		t.Errorf("client links after merge = %+v, %v", d.Links, err)
	}
	es, _ := c.CoachEntries(ctx, coach)
	if len(es) != 1 || es[0].Client != cur {
		t.Errorf("coach index after merge = %+v, want it to name the new reference", es)
	}
	if ns, err := c.Notes(ctx, cur); err != nil || len(ns) != 1 || ns[0].Text != "my note" {
		t.Errorf("notes after merge = %+v, %v", ns, err)
	}
	if left := keysOf(t, s.Client(), old); len(left) > 0 {
		t.Errorf("keys left under the old reference: %q", left)
	}

	// The coach's own merge renames the coach on the client's link too.
	newCoach := bot.UserRef{Platform: "slack", Workspace: "E1", User: "UCOACH1"}
	if err := c.Merge(ctx, coach, newCoach); err != nil {
		t.Fatal(err)
	}
	d, _ = c.ClientData(ctx, cur)
	if d.Links["l1"].Coach != newCoach {
		t.Errorf("client's link coach after the coach's merge = %s, want %s", d.Links["l1"].Coach, newCoach)
	}
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
