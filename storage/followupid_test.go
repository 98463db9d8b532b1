package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage/redistest"
)

// putLegacyFollowup stores a follow-up exactly as the version before compact IDs did: the
// legacy ID, a record without a tail.
func putLegacyFollowup(t *testing.T, rdb redis.UniversalClient, u bot.UserRef, entry string, due time.Time) string {
	t.Helper()
	id, err := legacyFollowupID(u, entry)
	if err != nil {
		t.Fatal(err)
	}
	err = putScript.Run(context.Background(), rdb, []string{schedDue, schedProc, bucketKey(id)},
		id, "", due.Unix(), b36(due)).Err()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// claimMine claims everything due at at and returns u's claims; other users' claims are
// put back as they were.
func claimMine(t *testing.T, s *Store, u bot.UserRef, at time.Time) []bot.Claim {
	t.Helper()
	cs, err := s.Claim(context.Background(), at, 1000, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var mine []bot.Claim
	for _, c := range cs {
		if c.Job.User == u {
			mine = append(mine, c)
			continue
		}
		_ = s.Retry(context.Background(), c, c.Due, false)
	}
	return mine
}

// inSets reports whether id is a member of the due or the processing set, or a field of
// its bucket.
func inSets(t *testing.T, rdb redis.UniversalClient, id string) bool {
	t.Helper()
	ctx := context.Background()
	_, e1 := rdb.ZScore(ctx, schedDue, id).Result()
	_, e2 := rdb.ZScore(ctx, schedProc, id).Result()
	n, _ := rdb.HExists(ctx, bucketKey(id), id).Result()
	return e1 == nil || e2 == nil || n
}

// TestLegacyFollowups: follow-ups stored by the previous version (legacy IDs) are still
// listed, delivered once, cancelled, forgotten, and replaced by a compact job on PutJob.
func TestLegacyFollowups(t *testing.T) {
	rdb := redistest.Client(t, redistest.Start(t))
	s := NewStore(rdb, Config{})
	ctx := context.Background()
	due := time.Date(1998, 6, 1, 9, 0, 0, 0, time.UTC) // before any other test's jobs
	u := bot.UserRef{Platform: "slack", Workspace: "Tlegacy", User: fmt.Sprintf("U%d", time.Now().UnixNano())}
	const (
		delivered = "1767225600000-00a1f3c29b7e"
		cancelled = "1767225600001-00a1f3c29b7f"
		replaced  = "1767225600002-00a1f3c29b80"
	)
	ids := map[string]string{}
	for i, e := range []string{delivered, cancelled, replaced} {
		ids[e] = putLegacyFollowup(t, rdb, u, e, due.Add(time.Duration(i)*time.Minute))
	}
	got, err := s.FollowupsDue(ctx, u, []string{delivered, cancelled, replaced})
	if err != nil || len(got) != 3 || !got[delivered].Equal(due) || !got[replaced].Equal(due.Add(2*time.Minute)) {
		t.Fatalf("FollowupsDue of legacy jobs = %v, %v; want all three", got, err)
	}

	// Cancel one; reschedule another ("Not yet"): it moves to its compact ID.
	if err := s.DeleteFollowups(ctx, u, cancelled); err != nil {
		t.Fatal(err)
	}
	if inSets(t, rdb, ids[cancelled]) {
		t.Errorf("legacy follow-up still stored after DeleteFollowups")
	}
	later := due.Add(time.Hour)
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: replaced}, later); err != nil {
		t.Fatal(err)
	}
	if inSets(t, rdb, ids[replaced]) {
		t.Errorf("legacy follow-up still stored after PutJob of its entry")
	}
	got, _ = s.FollowupsDue(ctx, u, []string{delivered, cancelled, replaced})
	if len(got) != 2 || !got[delivered].Equal(due) || !got[replaced].Equal(later) {
		t.Errorf("FollowupsDue = %v, want %s at %v and %s at %v", got, delivered, due, replaced, later)
	}

	// The legacy job is claimed with its entry, marked and finished under its own ID.
	cs := claimMine(t, s, u, due.Add(5*time.Minute))
	if len(cs) != 1 || cs[0].Job.Entry != delivered || cs[0].Job.Kind != bot.JobFollowup || cs[0].ID != ids[delivered] {
		t.Fatalf("claimed %+v, want the legacy follow-up of %s", cs, delivered)
	}
	if ok, err := s.MarkSent(ctx, cs[0]); !ok || err != nil {
		t.Fatalf("MarkSent(legacy) = %v, %v", ok, err)
	}
	if ok, _ := s.MarkSent(ctx, cs[0]); ok {
		t.Errorf("second MarkSent(legacy) = true")
	}
	if err := s.Finish(ctx, cs[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
	if inSets(t, rdb, ids[delivered]) {
		t.Errorf("legacy follow-up still stored after Finish")
	}
	cs = claimMine(t, s, u, later)
	if len(cs) != 1 || cs[0].Job.Entry != replaced || cs[0].ID[0] != 'F' {
		t.Fatalf("claimed %+v, want the compact follow-up of %s", cs, replaced)
	}
	if err := s.Finish(ctx, cs[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FollowupsDue(ctx, u, []string{delivered, cancelled, replaced}); len(got) != 0 {
		t.Errorf("FollowupsDue after all = %v, want none", got)
	}
}

// TestForgetLegacyFollowups: /story forget erases legacy and compact follow-ups alike, and
// an uninstall erases the workspace's.
func TestForgetLegacyFollowups(t *testing.T) {
	rdb := redistest.Client(t, redistest.Start(t))
	s := NewStore(rdb, Config{})
	ctx := context.Background()
	due := time.Date(2031, 6, 1, 9, 0, 0, 0, time.UTC)
	u := bot.UserRef{Platform: "slack", Workspace: "Tforgetfu", User: fmt.Sprintf("U%d", time.Now().UnixNano())}
	const old, cur = "1767225600000-00a1f3c29b7e", "1767225600001-00a1f3c29b7f"
	legacy := putLegacyFollowup(t, rdb, u, old, due)
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: cur}, due); err != nil {
		t.Fatal(err)
	}
	compact, _ := jobIDOf(bot.Job{Kind: bot.JobFollowup, User: u, Entry: cur})
	k, _ := keysFor(u)
	if err := rdb.ZAdd(ctx, k.journal, redis.Z{Member: old}, redis.Z{Member: cur}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{legacy, compact} {
		if inSets(t, rdb, id) {
			t.Errorf("follow-up %q still stored after Forget", id)
		}
	}

	// Uninstall: both forms of this workspace's follow-ups go, another workspace's stay.
	other := bot.UserRef{Platform: "slack", Workspace: "Tforgetfu2", User: u.User}
	legacy = putLegacyFollowup(t, rdb, u, old, due)
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: cur}, due); err != nil {
		t.Fatal(err)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: other, Entry: cur}, due); err != nil {
		t.Fatal(err)
	}
	n, err := s.ForgetWorkspaceJobs(ctx, "slack", u.Workspace)
	if err != nil || n != 2 {
		t.Errorf("ForgetWorkspaceJobs = %d, %v; want 2", n, err)
	}
	for _, id := range []string{legacy, compact} {
		if inSets(t, rdb, id) {
			t.Errorf("follow-up %q still stored after ForgetWorkspaceJobs", id)
		}
	}
	if got, _ := s.FollowupsDue(ctx, other, []string{cur}); len(got) != 1 {
		t.Errorf("another workspace's follow-up was erased")
	}
}

// TestFollowupTokenCollision: two entries of one user whose compact IDs collide keep two
// jobs (the second in the legacy form), each listed, claimed and cancelled on its own.
func TestFollowupTokenCollision(t *testing.T) {
	seen := map[string]string{}
	var a, b string
	for i := 0; b == ""; i++ {
		e := fmt.Sprintf("1767225600000-%012x", i)
		tok := followupToken(e)
		if prev, ok := seen[tok]; ok {
			a, b = prev, e
		}
		seen[tok] = e
	}
	rdb := redistest.Client(t, redistest.Start(t))
	s := NewStore(rdb, Config{})
	ctx := context.Background()
	due := time.Date(1997, 6, 1, 9, 0, 0, 0, time.UTC)
	u := bot.UserRef{Platform: "discord", Workspace: "dm", User: fmt.Sprintf("%d", time.Now().UnixNano())}
	err := s.PutJobs(ctx, []JobAt{
		{Job: bot.Job{Kind: bot.JobFollowup, User: u, Entry: a}, Due: due},
		{Job: bot.Job{Kind: bot.JobFollowup, User: u, Entry: b}, Due: due.Add(time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Putting them again (a reschedule) keeps them apart.
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: b}, due.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.FollowupsDue(ctx, u, []string{a, b})
	if err != nil || len(got) != 2 || !got[a].Equal(due) || !got[b].Equal(due.Add(2*time.Minute)) {
		t.Fatalf("FollowupsDue(%s, %s) with colliding tokens = %v, %v", a, b, got, err)
	}
	// Cancelling the one in the legacy form leaves the other, and the reverse.
	if err := s.DeleteFollowups(ctx, u, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FollowupsDue(ctx, u, []string{a, b}); len(got) != 1 || got[a].IsZero() {
		t.Errorf("after cancelling %s: %v, want only %s", b, got, a)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: b}, due.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFollowups(ctx, u, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FollowupsDue(ctx, u, []string{a, b}); len(got) != 1 || got[b].IsZero() {
		t.Errorf("after cancelling %s: %v, want only %s", a, got, b)
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: a}, due); err != nil {
		t.Fatal(err)
	}
	cs := claimMine(t, s, u, due.Add(time.Hour))
	entries := map[string]bool{}
	for _, c := range cs {
		entries[c.Job.Entry] = true
		if ok, err := s.MarkSent(ctx, c); !ok || err != nil {
			t.Errorf("MarkSent(%s) = %v, %v", c.Job.Entry, ok, err)
		}
		if err := s.Finish(ctx, c, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(cs) != 2 || !entries[a] || !entries[b] {
		t.Errorf("claimed %+v, want one claim each of %s and %s", cs, a, b)
	}
}

// FuzzFollowupID: any job ID and record parse without panicking, and a follow-up of any
// user and entry reads back whole from its compact ID and record tail, and from its legacy
// ID.
func FuzzFollowupID(f *testing.F) {
	f.Add("slack", "T0123ABCD", "U0123ABCDEF", "1767225600000-00a1f3c29b7e", "FsT1:U1abcde", "a,b|x")
	f.Add("matrix:x", "s", "~u", "odd:id{x}|y", "fs~a:b:c:~x", ",|")
	f.Fuzz(func(t *testing.T, platform, workspace, user, entry, rawID, rawRec string) {
		if j, err := parseJobIDOf(rawID); err == nil {
			_, _, _ = parseRecord(rawRec, &j)
		}
		u := bot.UserRef{Platform: platform, Workspace: workspace, User: user}
		want := bot.Job{Kind: bot.JobFollowup, User: u, Entry: entry}
		id, tail, legacy, err := followupIDs(u, entry)
		if err != nil {
			return // an empty component or entry
		}
		got, err := parseJobIDOf(id)
		if err == nil {
			_, _, err = parseRecord("abc,abd|"+tail, &got)
		}
		if err != nil || got != want {
			t.Fatalf("compact %q + %q = %+v, %v; want %+v", id, tail, got, err, want)
		}
		got, err = parseJobIDOf(legacy)
		if err == nil {
			_, _, err = parseRecord("abc,abd|", &got)
		}
		if err != nil || got != want {
			t.Fatalf("legacy %q = %+v, %v; want %+v", legacy, got, err, want)
		}
	})
}
