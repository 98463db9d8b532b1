package discord

import (
	"strings"
	"testing"

	"github.com/storybot/storybot/storage/redistest"
)

// TestGatewayDMRoundTrips: on Discord too, a typed DM answer (through the gateway) and a
// button press (an interaction) in an open dialogue cost at most two Redis round trips each,
// the claim and the commit, from the real adapter through the engine wired like serve.
func TestGatewayDMRoundTrips(t *testing.T) {
	e := newEnv(t, 1, true)
	c := &redistest.Trips{}
	e.store.Client().AddHook(c)
	answer := func(user, text string) (trips []string, reply call) {
		t.Helper()
		n := len(e.fake.dmPosts(user))
		c.Take()
		e.dm(user, text)
		waitFor(t, "the reply to "+text, func() bool { return len(e.fake.dmPosts(user)) > n })
		e.idle()
		posts := e.fake.dmPosts(user)
		return c.Take(), posts[len(posts)-1]
	}
	// The first user loads the scripts, as a replica's first minutes do.
	for _, user := range []string{"u-warm", "u-trips"} {
		e.welcomed(t, user)
		answer(user, "/story pause The demo froze.")
		trips, reply := answer(user, "Everyone thinks I'm unprepared.")
		if !strings.Contains(content(reply), "What are you feeling") {
			t.Fatalf("DM answer got %q, want the feeling question", content(reply))
		}
		if user == "u-warm" {
			continue
		}
		t.Logf("gateway DM answer: %d Redis round trips: %s", len(trips), strings.Join(trips, ", "))
		if len(trips) > 2 {
			t.Errorf("gateway DM answer cost %d Redis round trips, want at most 2", len(trips))
		}
		c.Take()
		e.press(t, user, reply, "c:anxious")
		trips = c.Take()
		if got := content(e.fake.dmPosts(user)[len(e.fake.dmPosts(user))-1]); !strings.Contains(got, "How strong") {
			t.Fatalf("after pressing Anxious the DM reads %q, want the strength question", got)
		}
		t.Logf("button press: %d Redis round trips: %s", len(trips), strings.Join(trips, ", "))
		if len(trips) > 2 {
			t.Errorf("button press cost %d Redis round trips, want at most 2", len(trips))
		}
	}
}
