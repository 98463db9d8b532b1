package discord

import (
	"net/http"
	"strings"
	"testing"

	"github.com/storybot/storybot/internal/walker"
)

// TestTwoReplicas runs two replicas on the fake gateway (both connected, so every DM
// reaches both) with interactions alternating between them: a whole Pause answered by DM,
// a forget, a fresh start greeted again, and the closed-DMs fallback across replicas.
func TestTwoReplicas(t *testing.T) {
	e := newEnv(t, 2, true)
	e.roundRobin = true
	const user = "u-two"

	e.run(t, e.command(user, "g1", "pause"))
	waitFor(t, "the welcome and the first prompt", func() bool { return len(e.fake.dmPosts(user)) >= 2 })
	if !strings.Contains(content(e.fake.dmPosts(user)[0]), "storybot") {
		t.Fatalf("first DM %q, want the welcome", content(e.fake.dmPosts(user)[0]))
	}
	saved := false
	for turn := 0; turn < 20 && !saved; turn++ {
		posts := e.fake.dmPosts(user)
		prompt := content(posts[len(posts)-1])
		e.dm(user, walker.Answer(prompt))
		waitFor(t, "a reply to turn", func() bool { return len(e.fake.dmPosts(user)) > len(posts) })
		e.idle()
		for _, c := range e.fake.dmPosts(user)[len(posts):] {
			saved = saved || strings.Contains(content(c), "Saved to your journal")
		}
	}
	if !saved {
		var all []string
		for _, c := range e.fake.dmPosts(user) {
			all = append(all, content(c))
		}
		t.Fatalf("the pause never reached the journal:\n%s", strings.Join(all, "\n---\n"))
	}
	entries, err := e.store.Journal(t.Context(), userRef(user), 5)
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal = %d entries, %v; want exactly one (each DM handled once)", len(entries), err)
	}
	if n := e.handlers[0].n.Load() + e.handlers[1].n.Load(); n == 0 {
		t.Fatal("no events reached the engines")
	}

	// Forget through one replica, confirmed by DM; the next /story, on whichever replica,
	// greets the user as new.
	e.run(t, e.command(user, "", "forget"))
	before := len(e.fake.dmPosts(user))
	e.dm(user, "Erase everything")
	waitFor(t, "the forget confirmation", func() bool { return len(e.fake.dmPosts(user)) > before || !e.hasProfile(t, user) })
	e.idle()
	if e.hasProfile(t, user) {
		t.Fatal("the profile survived forget")
	}
	before = len(e.fake.dmPosts(user))
	e.run(t, e.command(user, "g1", "pause"))
	e.run(t, e.command(user, "g1", "pause")) // and on the other replica: no second welcome
	welcomes := 0
	for _, c := range e.fake.dmPosts(user)[before:] {
		if strings.Contains(content(c), "Hi, I'm storybot") {
			welcomes++
		}
	}
	if welcomes != 1 {
		t.Errorf("after forget the user was welcomed %d times, want once", welcomes)
	}

	// DMs closed: the command on one replica answers in place; the answer submitted through
	// the other replica's endpoint is answered on its own interaction.
	const closed = "u-two-closed"
	e.fake.closeDMs(closed)
	tok := e.run(t, e.command(closed, "g1", "pause", strOpt("text", "Sam left the call")))
	if s := e.inPlace(tok); !strings.Contains(s, "Privacy") || !strings.Contains(s, "story I'm telling myself") {
		t.Fatalf("in place on the command: %q, want how to open DMs and the first prompt", s)
	}
	sub := e.modalSubmit(closed, "g1", "They think I'm slow.", nil)
	e.run(t, sub)
	if s := e.inPlace(sub["token"].(string)); !strings.Contains(s, "feeling") {
		t.Errorf("after the answer on the other replica: %q, want the next prompt in place", s)
	}
	if s := e.inPlace(sub["token"].(string)); strings.Contains(s, "Privacy") {
		t.Errorf("the how-to-open-DMs note came again on an answer: %q", s)
	}
	for _, c := range e.fake.callsTo(http.MethodPost, "channels/", "/messages") {
		if !strings.Contains(c.Path, "dm-") {
			t.Errorf("posted outside a DM: %s", c.Path)
		}
	}
}

func (e *env) hasProfile(t *testing.T, user string) bool {
	t.Helper()
	_, ok, err := e.store.Profile(t.Context(), userRef(user))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
