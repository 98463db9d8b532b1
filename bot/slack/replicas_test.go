package slack

import (
	"context"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/walker"
)

// replicas returns two storybot processes, each wired like serve with its own engine,
// adapter and HTTP server, on one fake Slack, one real Redis and one clock; next hands them
// out in turn, like a round-robin load balancer.
func replicas(t *testing.T) (first *harness, next func() *harness) {
	t.Helper()
	h1 := newHarness(t)
	h2 := newReplica(t, h1.fake, h1.redisURL, h1.clock, "r2")
	n := 0
	return h1, func() *harness {
		n++
		if n%2 == 1 {
			return h1
		}
		return h2
	}
}

// TestTwoReplicas sends every request of one user alternately to two replicas: a whole
// Pause, a forget, and a fresh start all behave as with one process.
func TestTwoReplicas(t *testing.T) {
	first, next := replicas(t)
	const u = "UREPLICA"
	ref := userRef(testTeam, u)
	ctx := context.Background()

	next().slash(u, sharedChannel, "pause Sam closed the laptop while I was talking.")
	got := first.replies(u, 0)
	if len(got) < 2 || !strings.Contains(got[0], "storybot") {
		t.Fatalf("first replies %q, want the welcome and the first prompt", got)
	}
	saved := false
	for turn := 0; turn < 20 && !saved; turn++ {
		before := first.ncalls()
		prompt := last(first.replies(u, 0))
		a := walker.Answer(prompt)
		next().dm(u, a)
		rs := first.replies(u, before)
		if len(rs) == 0 {
			t.Fatalf("turn %d: no reply to %q (prompt %q): a replica lost the turn", turn, a, prompt)
		}
		saved = strings.Contains(strings.Join(rs, "\n"), "Saved to your journal")
	}
	if !saved {
		t.Fatalf("the pause never reached the journal; replies:\n%s", strings.Join(first.replies(u, 0), "\n"))
	}
	entries, err := first.store.Journal(ctx, ref, 5)
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal = %d entries, %v; want the one pause", len(entries), err)
	}

	// The zone came from Slack once; forget on one replica, then the other greets the user
	// as new and reads their profile zone again.
	next().slash(u, sharedChannel, "checkin weekdays 09:00")
	if n := first.countCalls("users.info"); n != 1 {
		t.Errorf("users.info called %d times before forget, want 1", n)
	}
	next().slash(u, "D"+u, "forget")
	next().dm(u, "Erase everything")
	if p, ok, err := first.store.Profile(ctx, ref); err != nil || ok {
		t.Fatalf("after forget the profile is %+v (exists %v, %v), want none", p, ok, err)
	}
	before := first.ncalls()
	next().slash(u, sharedChannel, "pause")
	if rs := first.replies(u, before); len(rs) == 0 || !strings.Contains(rs[0], "storybot") {
		t.Errorf("after forget the next replica said %q first, want the welcome again", rs)
	}
	next().slash(u, sharedChannel, "checkin weekdays 10:00")
	if n := first.countCalls("users.info"); n != 2 {
		t.Errorf("users.info called %d times in all, want a second look-up after forget", n)
	}
	if p, _, err := first.store.Profile(ctx, ref); err != nil || p.TZ != "Europe/Berlin" {
		t.Errorf("profile zone after forget = %q, %v; want Europe/Berlin read again", p.TZ, err)
	}
}

// TestTwoReplicasCoachCycle runs a coach and a client whose requests alternate between two
// replicas: invitation, consent, assignment, a completion and progress.
func TestTwoReplicasCoachCycle(t *testing.T) {
	first, next := replicas(t)
	const coach, client = "UCOACHR", "UCLIENTR"
	has := func(what string, got []string, want string) {
		t.Helper()
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("%s: lacks %q:\n%s", what, want, strings.Join(got, "\n"))
		}
	}
	n := first.ncalls()
	next().slash(coach, "C1", "coach invite <@"+client+"|client>")
	has("invitation", first.replies(client, n), "would like to be your coach")
	next().click(client, findChoice(t, first, client, "coach:accept:"))
	n = first.ncalls()
	next().slash(coach, "C1", "coach assign <@"+client+"> name-the-story daily 09:00")
	has("assignment", first.replies(client, n), "Name the story")
	next().click(client, "practice:done:name-the-story")
	n = first.ncalls()
	next().slash(coach, "C1", "coach progress <@"+client+">")
	has("progress", first.replies(coach, n), "Done 1")
	if _, _, ok, err := first.store.Job(context.Background(), bot.UserRef{Platform: Platform, Workspace: testTeam, User: client}, bot.JobPractice); err != nil || !ok {
		t.Errorf("no reminder job after assignment on another replica: %v %v", ok, err)
	}
}
