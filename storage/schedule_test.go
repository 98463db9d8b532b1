package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// TestPutJobs: the batch put (the migration tool's) stores each job as PutJob does. The rest
// of the schedule store is in the conformance suite (storetest).
func TestPutJobs(t *testing.T) {
	s := NewStore(redistest.Client(t, redistest.Start(t)), Config{})
	ctx := context.Background()
	u := bot.UserRef{Platform: "slack", Workspace: "Tbatch", User: fmt.Sprintf("U%d", time.Now().UnixNano())}
	other := bot.UserRef{Platform: "discord", Workspace: "dm", User: u.User}
	sch, _ := bot.ParseSchedule([]string{"weekdays", "09:00"})
	due := time.Date(2101, 3, 2, 8, 0, 0, 0, time.UTC)
	checkin := bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: sch}, TZ: "Europe/Berlin"}
	digest := bot.Job{Kind: bot.JobDigest, User: other}
	if err := s.PutJobs(ctx, []JobAt{{Job: checkin, Due: due}, {Job: digest, Due: due.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []JobAt{{Job: checkin, Due: due}, {Job: digest, Due: due.Add(time.Hour)}} {
		j, d, ok, err := s.Job(ctx, want.Job.User, want.Job.Kind)
		if !ok || err != nil || j != want.Job || !d.Equal(want.Due) {
			t.Errorf("Job after PutJobs = %+v due %v (%v, %v), want %+v due %v", j, d, ok, err, want.Job, want.Due)
		}
	}
	for _, u := range []bot.UserRef{u, other} {
		if err := s.ForgetSchedules(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
}
