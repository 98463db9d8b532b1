package slack

import (
	"strings"
	"testing"

	"github.com/storybot/storybot/storage/redistest"
)

// maxTripsPerDM is what one DM answer in an open dialogue, dedupe included, may cost:
// the claim (which also reads the dialogue and the coaching marker) and the commit (which
// also marks the event done).
const maxTripsPerDM = 2

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
		do         func()
	}{
		{"DM answer", "What are you feeling", func() { h.dm(u, "Everyone thinks I'm unprepared.") }},
		{"button click", "How strong", func() { h.click(u, "anxious") }},
		{"DM answer after a click", "know for sure", func() { h.dm(u, "8") }},
	} {
		n := h.ncalls()
		step.do()
		trips := c.Take()
		got := h.replies(u, n)
		if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), step.want) {
			t.Fatalf("%s: replies %q, want one containing %q (the step must really run)", step.name, got, step.want)
		}
		t.Logf("%s: %d Redis round trips: %s (reply %q)", step.name, len(trips), strings.Join(trips, ", "), last(got))
		if len(trips) > maxTripsPerDM {
			t.Errorf("%s cost %d Redis round trips, want at most %d", step.name, len(trips), maxTripsPerDM)
		}
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
