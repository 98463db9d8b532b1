package storage

import (
	"context"
	"strings"
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
	}
}

// TestForgetSchedules: after ForgetSchedules no scheduler key or value holds the user's ID.
func TestForgetSchedules(t *testing.T) {
	rdb := redistest.Client(t, redistest.Start(t))
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
	keys, _ := rdb.Keys(ctx, "sb:{sched}:*").Result()
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
