package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// The schedule store and the job queue (bot.ScheduleStore, bot.JobQueue) and the workspace
// clean-up the engine calls when a platform says a workspace is gone.
//
// The due set is one for the whole Redis, shared by every test on it. So each test claims at
// times of its own, decades in the past (where no other test's job is due), and hands back
// any claim of another test's job untouched (claimMine).

// era returns a whole-second time in year, for a test's jobs: the queue keeps due times to
// the second.
func era(year int) time.Time { return time.Date(year, 3, 2, 8, 0, 0, 0, time.UTC) }

// claimMine claims up to 1000 jobs due at or before at, leased for a minute, and returns
// those of users; every other claim is handed back as it was.
func claimMine(t *testing.T, q bot.JobQueue, at time.Time, users ...bot.UserRef) []bot.Claim {
	t.Helper()
	ctx := context.Background()
	cs, err := q.Claim(ctx, at, 1000, at.Add(time.Minute))
	if err != nil {
		t.Fatalf("Claim(%v) = %v", at, err)
	}
	var mine []bot.Claim
	for _, c := range cs {
		ours := false
		for _, u := range users {
			ours = ours || c.Job.User == u
		}
		if ours {
			mine = append(mine, c)
			continue
		}
		if err := q.Retry(ctx, c, c.Due, false); err != nil {
			t.Fatalf("Retry(another test's claim) = %v", err)
		}
	}
	return mine
}

func weekdays9(t *testing.T) bot.Schedule {
	t.Helper()
	s, err := bot.ParseSchedule([]string{"weekdays", "09:00"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testScheduleJobs: a job not scheduled is none; PutJob creates and replaces the user's one
// job of a kind; DeleteJob removes it, and removing a missing one is no error; jobs of other
// kinds and users are apart.
func testScheduleJobs(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	u, other := newUser(t), newUser(t)
	due := era(2101) // far in the future: never claimed by another test
	if j, d, ok, err := s.Job(ctx, u, bot.JobCheckin); ok || err != nil || !d.IsZero() || j != (bot.Job{}) {
		t.Errorf("Job(never scheduled) = %+v, %v, %v, %v; want zero, zero, false, nil", j, d, ok, err)
	}
	if err := s.DeleteJob(ctx, u, bot.JobCheckin); err != nil {
		t.Errorf("DeleteJob(never scheduled) = %v, want nil", err)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobCheckin, User: u}, time.Time{}); err == nil {
		t.Errorf("PutJob(no due time) = nil, want an error")
	}
	checkin := bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: weekdays9(t)}, TZ: "Europe/Berlin"}
	if err := s.PutJob(ctx, checkin, due); err != nil {
		t.Fatalf("PutJob = %v", err)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobDigest, User: u}, due.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobCheckin, User: other}, due.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if j, d, ok, err := s.Job(ctx, u, bot.JobCheckin); !ok || err != nil || !d.Equal(due) || j != checkin {
		t.Errorf("Job = %+v, %v, %v, %v; want %+v due %v", j, d, ok, err, checkin, due)
	}
	// Replace: one job of a kind per user.
	daily, _ := bot.ParseSchedule([]string{"daily", "18:30"})
	again := bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: daily}, TZ: "Asia/Kolkata"}
	if err := s.PutJob(ctx, again, due.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if j, d, ok, err := s.Job(ctx, u, bot.JobCheckin); !ok || err != nil || !d.Equal(due.Add(3*time.Hour)) || j != again {
		t.Errorf("Job after replacing = %+v, %v, %v, %v; want %+v due %v", j, d, ok, err, again, due.Add(3*time.Hour))
	}
	if err := s.DeleteJob(ctx, u, bot.JobCheckin); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := s.Job(ctx, u, bot.JobCheckin); ok || err != nil {
		t.Errorf("Job after DeleteJob = %v, %v; want none", ok, err)
	}
	if _, d, ok, _ := s.Job(ctx, u, bot.JobDigest); !ok || !d.Equal(due.Add(time.Hour)) {
		t.Errorf("deleting the check-in touched the digest: %v, %v", d, ok)
	}
	if _, _, ok, _ := s.Job(ctx, other, bot.JobCheckin); !ok {
		t.Errorf("deleting one user's check-in deleted another's")
	}
	for _, x := range []bot.UserRef{u, other} {
		if err := s.ForgetSchedules(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
}

// testScheduleLifecycle runs a job through every queue operation: put, claim, mark, retry,
// reap, finish, delete.
func testScheduleLifecycle(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	u := newUser(t)
	other := bot.UserRef{Platform: "other", Workspace: u.Workspace, User: u.User}
	now := era(1999)
	checkin := bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: weekdays9(t)}, TZ: "Europe/Berlin"}
	if err := s.PutJob(ctx, checkin, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobDigest, User: other}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	claim := func(at time.Time, want int) []bot.Claim {
		t.Helper()
		mine := claimMine(t, s, at, u, other)
		if len(mine) != want {
			t.Fatalf("Claim(%v) = %+v, want %d of this test's jobs", at, mine, want)
		}
		return mine
	}
	c1 := claim(now, 1)[0]
	if c1.Job != checkin || c1.Sent || !c1.Occurrence.Equal(now.Add(-time.Minute)) || !c1.Due.Equal(now.Add(-time.Minute)) {
		t.Fatalf("claim = %+v, want the check-in as put, due and occurring at %v, not sent", c1, now.Add(-time.Minute))
	}
	claim(now, 0) // claimed: nobody else gets it
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
	if err := s.Finish(ctx, c2, now.Add(99*time.Hour)); err != nil {
		t.Fatal(err)
	}
	next := now.Add(24 * time.Hour)
	if err := s.Finish(ctx, c3, next); err != nil {
		t.Fatal(err)
	}
	if _, due, ok, err := s.Job(ctx, u, bot.JobCheckin); !ok || err != nil || !due.Equal(next) {
		t.Errorf("Job after Finish = %v, %v, %v; want due %v (a lapsed claim's Finish moves nothing)", due, ok, err, next)
	}
	c4 := claim(next, 2)
	for _, c := range c4 {
		if c.Sent {
			t.Errorf("the next occurrence %+v is marked sent", c)
		}
		if err := s.Finish(ctx, c, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok, _ := s.Job(ctx, u, bot.JobCheckin); ok {
		t.Errorf("job still there after Finish without a next time")
	}
	claim(next.Add(1000*time.Hour), 0)
}

// testScheduleRetryUnmark: a send that failed is retried with its sent mark removed, so the
// retry may send; without unmark the mark stays and the retry must not.
func testScheduleRetryUnmark(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	u := newUser(t)
	now := era(1997)
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobDigest, User: u}, now); err != nil {
		t.Fatal(err)
	}
	c := claimMine(t, s, now, u)
	if len(c) != 1 {
		t.Fatalf("claimed %d, want 1", len(c))
	}
	if ok, err := s.MarkSent(ctx, c[0]); !ok || err != nil {
		t.Fatalf("MarkSent = %v, %v", ok, err)
	}
	if err := s.Retry(ctx, c[0], now.Add(time.Minute), true); err != nil {
		t.Fatal(err)
	}
	c = claimMine(t, s, now.Add(time.Minute), u)
	if len(c) != 1 || c[0].Sent {
		t.Fatalf("after Retry(unmark) claimed %+v, want one not sent", c)
	}
	if ok, err := s.MarkSent(ctx, c[0]); !ok || err != nil {
		t.Fatalf("MarkSent after an unmarked retry = %v, %v; want true", ok, err)
	}
	if err := s.Finish(ctx, c[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// testSchedulePutAbandonsInFlight: a job the user changes or deletes while a delivery of its
// old occurrence is claimed (not yet sending) is not sent: MarkSent says no, and the old
// claim's Finish does not undo the change.
func testSchedulePutAbandonsInFlight(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	changed, deleted := newUser(t), newUser(t)
	now := era(1995)
	for _, u := range []bot.UserRef{changed, deleted} {
		if err := s.PutJob(ctx, bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: weekdays9(t)}}, now); err != nil {
			t.Fatal(err)
		}
	}
	cs := claimMine(t, s, now, changed, deleted)
	if len(cs) != 2 {
		t.Fatalf("claimed %d, want 2", len(cs))
	}
	later := now.Add(48 * time.Hour)
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobCheckin, User: changed, TZ: "UTC"}, later); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, deleted, bot.JobCheckin); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if ok, err := s.MarkSent(ctx, c); ok || err != nil {
			t.Errorf("MarkSent(%s) after the user changed the job = %v, %v; want false", c.Job.User, ok, err)
		}
		if err := s.Finish(ctx, c, now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if j, due, ok, _ := s.Job(ctx, changed, bot.JobCheckin); !ok || !due.Equal(later) || j.TZ != "UTC" {
		t.Errorf("changed job = %+v due %v (%v), want the new one due %v", j, due, ok, later)
	}
	if _, _, ok, _ := s.Job(ctx, deleted, bot.JobCheckin); ok {
		t.Errorf("a deleted job came back after the old claim finished")
	}
	if err := s.ForgetSchedules(ctx, changed); err != nil {
		t.Fatal(err)
	}
}

// testScheduleClaimsOnce: several replicas claiming and reaping at once hand each due job to
// exactly one of them.
func testScheduleClaimsOnce(t *testing.T, h *harness) {
	ctx := context.Background()
	now := era(1993)
	const n, replicas = 120, 4
	users := make([]bot.UserRef, n)
	setup := h.store()
	for i := range users {
		users[i] = newUser(t)
		if err := setup.PutJob(ctx, bot.Job{Kind: bot.JobCheckin, User: users[i]}, now.Add(-time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	mine := map[bot.UserRef]bool{}
	for _, u := range users {
		mine[u] = true
	}
	var (
		mu     sync.Mutex
		counts = map[bot.UserRef]int{}
		wg     sync.WaitGroup
	)
	for range replicas {
		s := h.store()
		wg.Go(func() {
			for range 10 {
				cs, err := s.Claim(ctx, now, 7, now.Add(time.Hour))
				if err != nil {
					t.Errorf("Claim = %v", err)
					return
				}
				if _, err := s.Reap(ctx, now, 10); err != nil { // no lease has ended: reaps nothing
					t.Errorf("Reap = %v", err)
				}
				for _, c := range cs {
					if !mine[c.Job.User] {
						_ = s.Retry(ctx, c, c.Due, false)
						continue
					}
					mu.Lock()
					counts[c.Job.User]++
					mu.Unlock()
					if ok, err := s.MarkSent(ctx, c); !ok || err != nil {
						t.Errorf("MarkSent(%s) = %v, %v", c.Job.User, ok, err)
					}
					if err := s.Finish(ctx, c, time.Time{}); err != nil {
						t.Errorf("Finish = %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	for len(counts) < n { // whatever the racing replicas left
		cs := claimMine(t, setup, now, users...)
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			counts[c.Job.User]++
			_ = setup.Finish(ctx, c, time.Time{})
		}
	}
	for _, u := range users {
		if counts[u] != 1 {
			t.Errorf("%s claimed %d times, want 1", u, counts[u])
		}
	}
}

// testForgetSchedules: after ForgetSchedules (check-ins, snoozes, digests, practice
// reminders) no key or value anywhere holds the user's ID, and another user's jobs stay.
func testForgetSchedules(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	u, other := newUser(t), newUser(t)
	now := era(1991)
	for _, who := range []bot.UserRef{u, other} {
		for _, k := range bot.JobKinds {
			j := bot.Job{Kind: k, User: who, Checkin: bot.Checkin{Schedule: weekdays9(t)}, TZ: "Europe/Berlin"}
			if err := s.PutJob(ctx, j, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Follow-ups are erased with their journal entries (testForgetCancelsFollowups); another
	// user's stays.
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: other, Entry: "1767225600000-00a1f3c29b7e"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(claimMine(t, s, now, u)) == 0 { // some of them in flight
		t.Fatal("nothing claimed")
	}
	if err := s.ForgetSchedules(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, v := range allValues(t, h) {
		if strings.Contains(v.key, u.User) || strings.Contains(v.value, u.User) {
			t.Errorf("after ForgetSchedules %s holds the user's ID", v.key)
		}
	}
	for _, k := range bot.JobKinds {
		if _, _, ok, _ := s.Job(ctx, other, k); !ok {
			t.Errorf("another user's %v job was erased", k)
		}
	}
	if due, _ := s.FollowupsDue(ctx, other, []string{"1767225600000-00a1f3c29b7e"}); len(due) != 1 {
		t.Errorf("another user's follow-up was erased")
	}
	if err := s.ForgetSchedules(ctx, u); err != nil {
		t.Errorf("ForgetSchedules again = %v, want nil (idempotent)", err)
	}
	if err := s.ForgetSchedules(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFollowups(ctx, other, "1767225600000-00a1f3c29b7e"); err != nil {
		t.Fatal(err)
	}
}

// allValues returns every key on the Redis (every master of a cluster) with its contents.
func allValues(t *testing.T, h *harness) []rawValue {
	t.Helper()
	return readValues(t, h.rdb, scanKeys(t, h.rdb, "*"))
}

// testForgetWorkspaceJobs: a workspace that is gone loses every scheduled job of its users
// and only those; the count says how many.
func testForgetWorkspaceJobs(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	gone := newUser(t)
	gone2 := bot.UserRef{Platform: gone.Platform, Workspace: gone.Workspace, User: gone.User + "b"}
	kept := bot.UserRef{Platform: gone.Platform, Workspace: gone.Workspace + "x", User: gone.User}
	otherPlatform := bot.UserRef{Platform: "other", Workspace: gone.Workspace, User: gone.User}
	due := era(2102)
	for _, u := range []bot.UserRef{gone, gone2, kept, otherPlatform} {
		for _, k := range []bot.JobKind{bot.JobCheckin, bot.JobDigest} {
			if err := s.PutJob(ctx, bot.Job{Kind: k, User: u}, due); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := s.ForgetWorkspaceJobs(ctx, gone.Platform, gone.Workspace)
	if err != nil || n != 4 {
		t.Errorf("ForgetWorkspaceJobs = %d, %v; want 4", n, err)
	}
	for _, u := range []bot.UserRef{gone, gone2, kept, otherPlatform} {
		_, _, ok, err := s.Job(ctx, u, bot.JobCheckin)
		if err != nil {
			t.Fatal(err)
		}
		if want := u == kept || u == otherPlatform; ok != want {
			t.Errorf("after the workspace went, %s has a check-in: %v, want %v", u, ok, want)
		}
	}
	if n, err := s.ForgetWorkspaceJobs(ctx, gone.Platform, gone.Workspace); err != nil || n != 0 {
		t.Errorf("ForgetWorkspaceJobs again = %d, %v; want 0", n, err)
	}
	for _, u := range []bot.UserRef{kept, otherPlatform} {
		if err := s.ForgetSchedules(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
}
