package slack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage/redistest"
)

// maxTripsPerDM is what one DM answer in an open dialogue, dedupe included, may cost:
// the claim (which also reads the dialogue and the coaching marker) and the commit (which
// also marks the event done). A replica that answered the user's previous event remembers
// the dialogue and folds the claim into the commit: one (tripsFromMemory).
const (
	maxTripsPerDM   = 2
	tripsFromMemory = 1
)

// TestDMRoundTrips drives real Slack events through the real adapter, engine and storage
// on a real Redis, wired like serve, and counts the Redis round trips each costs from the
// signed request to the last call its work makes: a typed answer in an open dialogue and a
// button pressed in one must each cost at most two.
func TestDMRoundTrips(t *testing.T) {
	h := newHarness(t)
	c := &redistest.Trips{}
	h.store.Client().AddHook(c)

	// A first user loads the scripts into Redis (a script's very first run costs an extra
	// EVAL) and the dedupe secret into the process, as any replica's first minutes do.
	h.slash("UWARM", sharedChannel, "pause The demo froze.")
	h.dm("UWARM", "Everyone thinks I'm unprepared.")
	h.click("UWARM", "anxious")

	const u = "UTRIPS"
	h.slash(u, sharedChannel, "pause The demo froze.")
	c.Take()

	for _, step := range []struct {
		name, want string
		max        int
		do         func()
	}{
		{"DM answer", "What are you feeling", tripsFromMemory, func() { h.dm(u, "Everyone thinks I'm unprepared.") }},
		{"button click", "How strong", maxTripsPerDM, func() { h.click(u, "anxious") }},
		{"DM answer after a click", "know for sure", tripsFromMemory, func() { h.dm(u, "8") }},
	} {
		n := h.ncalls()
		step.do()
		trips := c.Take()
		got := h.replies(u, n)
		if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), step.want) {
			t.Fatalf("%s: replies %q, want one containing %q (the step must really run)", step.name, got, step.want)
		}
		t.Logf("%s: %d Redis round trips: %s (reply %q)", step.name, len(trips), strings.Join(trips, ", "), last(got))
		if len(trips) > step.max {
			t.Errorf("%s cost %d Redis round trips, want at most %d", step.name, len(trips), step.max)
		}
	}

	// A greeted user starting the next pause: the claim, which also reads the profile's
	// check-back preference and whether they were greeted (no welcome write), and the commit.
	h.dm(u, "stop")
	c.Take()
	n := h.ncalls()
	h.slash(u, sharedChannel, "pause The demo froze again.")
	trips := c.Take()
	got := h.replies(u, n)
	t.Logf("/story start of a greeted user: %d Redis round trips: %s", len(trips), strings.Join(trips, ", "))
	if len(got) == 0 || strings.Contains(strings.Join(got, "\n"), "storybot") {
		t.Errorf("/story of a greeted user: replies %q, want the first prompt and no welcome", got)
	}
	if len(trips) > 2 {
		t.Errorf("/story start of a greeted user cost %d round trips, want at most 2", len(trips))
	}
}

// TestDMRoundTripsTwoReplicas alternates one user's DM answers between two replicas, so that
// every answer reaches a replica whose memory of the dialogue is out of date: each still
// costs at most two round trips, and every answer is applied, in order.
func TestDMRoundTripsTwoReplicas(t *testing.T) {
	first, next := replicas(t)
	c := &redistest.Trips{}
	first.store.Client().AddHook(c)
	next() // first
	second := next()
	second.store.Client().AddHook(c)

	const u = "UTRIPS2"
	first.slash("UWARM", sharedChannel, "pause The demo froze.")
	second.slash("UWARM2", sharedChannel, "pause The demo froze.")
	first.dm("UWARM", "Everyone thinks I'm unprepared.")
	second.dm("UWARM2", "Everyone thinks I'm unprepared.")
	first.slash(u, sharedChannel, "pause The demo froze.")
	for i, step := range []struct{ text, want string }{
		{"Everyone thinks I'm unprepared.", "What are you feeling"},
		{"anxious 6", "know for sure"},
		{"The demo froze for a minute.", "What else could be true"},
	} {
		h := first
		if i%2 == 0 {
			h = second
		}
		c.Take()
		n := first.ncalls()
		h.dm(u, step.text)
		trips := c.Take()
		got := first.replies(u, n)
		if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), step.want) {
			t.Fatalf("answer %d on replica %s: replies %q, want one containing %q", i, h.name, got, step.want)
		}
		t.Logf("answer %d on replica %s: %d round trips: %s", i, h.name, len(trips), strings.Join(trips, ", "))
		if len(trips) > maxTripsPerDM {
			t.Errorf("answer %d on a replica that did not answer the previous one cost %d round trips, want at most %d", i, len(trips), maxTripsPerDM)
		}
	}
}

// TestDMHeldElsewhereNotAcknowledged: a DM answered from the replica's memory, whose event
// another process holds (it is answering it right now, and may yet die), is answered 503 so
// that Slack delivers it again, and nothing is said or written; the redelivery after the
// other process gave it up is answered.
func TestDMHeldElsewhereNotAcknowledged(t *testing.T) {
	h := newHarness(t)
	const u = "UHELD"
	ref := userRef(testTeam, u)
	ctx := context.Background()
	h.slash(u, sharedChannel, "pause The demo froze.")
	h.dm(u, "Everyone thinks I'm unprepared.")

	eventID := fmt.Sprintf("EvHELD%d", time.Now().UnixNano())
	id := "slack:event:" + testTeam + ":" + eventID
	if st, _, err := h.store.ClaimEvent(ctx, ref, id, "other-process", time.Minute); err != nil || st != bot.Claimed {
		t.Fatalf("ClaimEvent(other process) = %v, %v", st, err)
	}
	before, _, err := h.store.Dialogue(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	n := h.ncalls()
	code, _ := h.post("/slack/events", "application/json", h.messageBody(u, "anxious 6", eventID), nil)
	h.wait()
	if code != 503 {
		t.Errorf("a DM whose event another process holds: status %d, want 503 (Slack delivers it again)", code)
	}
	if got := h.replies(u, n); len(got) != 0 {
		t.Errorf("a DM whose event another process holds got replies %q, want none", got)
	}
	if after, _, _ := h.store.Dialogue(ctx, ref); after.Step != before.Step {
		t.Errorf("a DM whose event another process holds moved the dialogue from %v to %v", before.Step, after.Step)
	}

	if err := h.store.ReleaseEvent(ctx, ref, id, "other-process"); err != nil {
		t.Fatal(err)
	}
	code, _ = h.post("/slack/events", "application/json", h.messageBody(u, "anxious 6", eventID), nil)
	h.wait()
	if code != 200 {
		t.Errorf("the redelivery after the holder gave up: status %d, want 200", code)
	}
	if got := h.replies(u, n); len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "know for sure") {
		t.Errorf("the redelivery got replies %q, want the next prompt", got)
	}
}

// BenchmarkDMAnswer is one DM answer in an open dialogue at a time, end to end: the signed
// event over real HTTP, the adapter's claim, the engine's turn on real Redis, the reply
// posted to the fake Slack, and the done mark. It reports the Redis round trips per answer
// beside time and allocations (of the whole process, test client and fake Slack included).
// Answers alternate with "back", so every op is one step of a Pause and one reply.
func BenchmarkDMAnswer(b *testing.B) {
	h := newHarness(b)
	c := &redistest.Trips{}
	h.store.Client().AddHook(c)
	const u = "UBENCHDM"
	h.slash(u, sharedChannel, "pause The demo froze.")
	h.dm(u, "They might just be busy today.") // loads the scripts
	h.dm(u, "back")
	c.Take()
	n := h.ncalls()
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		text := "They might just be busy today."
		if k%2 == 1 {
			text = "back"
		}
		k++
		h.dm(u, text)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(c.Take()))/float64(b.N), "round-trips/op")
	// Every answer moved the dialogue and got its one reply (the story question or the
	// feeling question), not "no pause is open".
	for _, r := range h.replies(u, n) {
		if !strings.Contains(r, "story I'm telling myself") && !strings.Contains(r, "What are you feeling") {
			b.Fatalf("a DM answer got %q, want the next step's question", r)
		}
	}
	if got := len(h.replies(u, n)); got != b.N {
		b.Fatalf("%d replies to %d answers", got, b.N)
	}
}

// TestSlashStartHonoursFollowupsOff: a pause started by a slash command takes the check-back
// preference from what the command's claim read of the profile (no read of its own): after
// /story followups off the next step leads to the summary with no check-back question, and
// after /story followups on the question is back.
func TestSlashStartHonoursFollowupsOff(t *testing.T) {
	h := newHarness(t)
	const u = "UCBOFF"
	walk := func() string {
		h.slash(u, "D"+u, "quick Sam thinks my draft is weak") // in the DM: the quick pause goes on there
		h.dm(u, "Sam is busy this week")
		n := h.ncalls()
		h.dm(u, "Ask Sam when we can go through it")
		got := strings.Join(h.replies(u, n), "\n")
		h.dm(u, "stop")
		return got
	}
	h.slash(u, sharedChannel, "followups off")
	if got := walk(); strings.Contains(got, "When shall I check back") || !strings.Contains(got, "Here's your quick pause") {
		t.Errorf("after the next step with check-backs off: %q, want the summary and no check-back", got)
	}
	h.slash(u, sharedChannel, "followups on")
	if got := walk(); !strings.Contains(got, "When shall I check back") {
		t.Errorf("after the next step with check-backs on: %q, want the check-back question", got)
	}
}
