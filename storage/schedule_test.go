package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage/redistest"
)

func TestJobIDRoundTrip(t *testing.T) {
	for _, u := range []bot.UserRef{
		{Platform: "slack", Workspace: "T0123ABCD", User: "U0123ABCDEF"},
		{Platform: "discord", Workspace: "dm", User: "80351110224678912"},
		{Platform: "console", Workspace: "local", User: "a:b%c{d}"},
		{Platform: "matrix:x", Workspace: "s", User: "~u"},
	} {
		for _, k := range bot.JobKinds {
			id, err := jobID(k, u)
			if err != nil {
				t.Fatal(err)
			}
			gk, gu, err := parseJobID(id)
			if err != nil || gk != k || gu != u {
				t.Errorf("parseJobID(jobID(%v, %v) = %q) = %v, %v, %v", k, u, id, gk, gu, err)
			}
		}
		for _, e := range []string{"1767225600000-00a1f3c29b7e", "0000000000001-000000000000", "odd:id{x}|y", "12345"} {
			j := bot.Job{Kind: bot.JobFollowup, User: u, Entry: e}
			// Compact: the ID names the user, the record's tail the entry.
			id, err := jobIDOf(j)
			if err != nil {
				t.Fatal(err)
			}
			tail, err := recordTail(j)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseJobIDOf(id)
			if err == nil {
				_, _, err = parseRecord("abc,abd|"+tail, &got)
			}
			if err != nil || got != j {
				t.Errorf("parse of jobIDOf(%+v) = %q with tail %q = %+v, %v", j, id, tail, got, err)
			}
			// Legacy: the ID names both, the record has no tail.
			legacy, err := legacyFollowupID(u, e)
			if err != nil {
				t.Fatal(err)
			}
			got, err = parseJobIDOf(legacy)
			if err == nil {
				_, _, err = parseRecord("abc,abd|", &got)
			}
			if err != nil || got != j {
				t.Errorf("parse of legacyFollowupID(%v, %q) = %q = %+v, %v", u, e, legacy, got, err)
			}
		}
	}
	// Redis keeps a zset member of up to 30 bytes in a 32-byte allocation, the next size
	// up is 40 (sds header and terminator included): the follow-up benchmark's budget.
	if id, _ := jobIDOf(bot.Job{Kind: bot.JobFollowup, User: bot.UserRef{Platform: "slack", Workspace: "T0123ABCDE", User: "U0123ABCDEF"}, Entry: "1767225600000-00a1f3c29b7e"}); len(id) > 30 {
		t.Errorf("follow-up job id %q is %d bytes, want at most 30 (memory per follow-up)", id, len(id))
	}
	if _, err := parseJobIDOf("Fs"); err == nil {
		t.Errorf("parseJobIDOf(%q) = nil error", "Fs")
	}
}

// TestForgetSchedules: after ForgetSchedules no scheduler key or value holds the user's ID.
func TestForgetSchedules(t *testing.T) {
	testForgetSchedules(t, redistest.Client(t, redistest.Start(t)))
}

// schedKeys returns every scheduler key: in a cluster, from the node that holds {sched}.
func schedKeys(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	ctx := context.Background()
	var c redis.Cmdable = rdb
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, schedDue)
		if err != nil {
			t.Fatal(err)
		}
		c = m
	}
	keys, err := c.Keys(ctx, schedTag+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// testForgetSchedules is TestForgetSchedules over any Redis (TestCluster runs it too).
func testForgetSchedules(t *testing.T, rdb redis.UniversalClient) {
	s := NewStore(rdb, Config{})
	ctx := context.Background()
	u := bot.UserRef{Platform: "slack", Workspace: "Tforget", User: "Uforget42"}
	other := bot.UserRef{Platform: "slack", Workspace: "Tforget", User: "Ukeep"}
	sch, _ := bot.ParseSchedule([]string{"weekdays", "09:00"})
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, who := range []bot.UserRef{u, other} {
		for _, k := range bot.JobKinds {
			if err := s.PutJob(ctx, bot.Job{Kind: k, User: who, Checkin: bot.Checkin{Schedule: sch}, TZ: "Europe/Berlin"}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One of them in flight.
	if _, err := s.Claim(ctx, now, 1, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetSchedules(ctx, u); err != nil {
		t.Fatal(err)
	}
	keys := schedKeys(t, rdb)
	if len(keys) == 0 {
		t.Fatalf("no scheduler keys at all")
	}
	for _, k := range keys {
		if strings.Contains(k, u.User) {
			t.Errorf("key %q holds the user's id", k)
		}
		var vals []string
		switch rdb.Type(ctx, k).Val() {
		case "zset":
			vals, _ = rdb.ZRange(ctx, k, 0, -1).Result()
		case "hash":
			m, _ := rdb.HGetAll(ctx, k).Result()
			for f, v := range m {
				vals = append(vals, f, v)
			}
		}
		for _, v := range vals {
			if strings.Contains(v, u.User) {
				t.Errorf("%s holds %q after ForgetSchedules", k, v)
			}
		}
	}
	if _, _, ok, _ := s.Job(ctx, other, bot.JobCheckin); !ok {
		t.Errorf("another user's job was erased")
	}
}

// TestScheduleLifecycle runs a job through every scheduler script: put, claim, mark,
// retry, reap, finish, delete.
func TestScheduleLifecycle(t *testing.T) {
	testScheduleLifecycle(t, redistest.Client(t, redistest.Start(t)))
}

func testScheduleLifecycle(t *testing.T, rdb redis.UniversalClient) {
	s := NewStore(rdb, Config{})
	ctx := context.Background()
	// Users of their own: the scheduler's keys are shared by every test on this Redis.
	u := bot.UserRef{Platform: "slack", Workspace: "Tlife", User: fmt.Sprintf("U%d", time.Now().UnixNano())}
	other := bot.UserRef{Platform: "discord", Workspace: "dm", User: u.User}
	sch, _ := bot.ParseSchedule([]string{"weekdays", "09:00"})
	// Far in the past, so that no job of another test is due before ours.
	now := time.Date(1999, 3, 2, 8, 0, 0, 0, time.UTC)
	err := s.PutJobs(ctx, []JobAt{
		{Job: bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: sch}, TZ: "Europe/Berlin"}, Due: now.Add(-time.Minute)},
		{Job: bot.Job{Kind: bot.JobDigest, User: other}, Due: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(at time.Time, want int) []bot.Claim {
		t.Helper()
		cs, err := s.Claim(ctx, at, 10, at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var mine []bot.Claim
		for _, c := range cs {
			if c.Job.User == u || c.Job.User == other {
				mine = append(mine, c)
			}
		}
		if len(mine) != want {
			t.Fatalf("Claim(%v) = %+v, want %d of this test's jobs", at, mine, want)
		}
		return mine
	}
	c1 := claim(now, 1)[0]
	if c1.Job.Kind != bot.JobCheckin || c1.Job.TZ != "Europe/Berlin" || c1.Sent || !c1.Occurrence.Equal(now.Add(-time.Minute)) {
		t.Fatalf("claim = %+v", c1)
	}
	if ok, err := s.MarkSent(ctx, c1); !ok || err != nil {
		t.Fatalf("MarkSent = %v, %v; want true", ok, err)
	}
	if ok, _ := s.MarkSent(ctx, c1); ok {
		t.Errorf("second MarkSent = true")
	}
	if err := s.Retry(ctx, c1, now.Add(5*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	claim(now, 0)
	c2 := claim(now.Add(5*time.Minute), 1)[0]
	if !c2.Sent {
		t.Errorf("retried claim lost its sent mark: %+v", c2)
	}
	// The lease lapses: the reaper returns the job, and the old claim is void.
	if n, err := s.Reap(ctx, now.Add(10*time.Minute), 100); err != nil || n < 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	c3 := claim(now.Add(10*time.Minute), 1)[0]
	if ok, _ := s.MarkSent(ctx, c2); ok {
		t.Errorf("MarkSent with a reaped claim = true")
	}
	next := now.Add(24 * time.Hour)
	if err := s.Finish(ctx, c3, next); err != nil {
		t.Fatal(err)
	}
	if _, due, ok, err := s.Job(ctx, u, bot.JobCheckin); !ok || err != nil || !due.Equal(next) {
		t.Errorf("Job after Finish = %v, %v, %v; want due %v", due, ok, err, next)
	}
	c4 := claim(next, 2)
	for _, c := range c4 {
		if err := s.Finish(ctx, c, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok, _ := s.Job(ctx, u, bot.JobCheckin); ok {
		t.Errorf("job still there after Finish without a next time")
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobDigest, User: other}, next); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, other, bot.JobDigest); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := s.Job(ctx, other, bot.JobDigest); ok {
		t.Errorf("job still there after DeleteJob")
	}
}
