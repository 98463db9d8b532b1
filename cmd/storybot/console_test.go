package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// terminal is one `storybot console` running in the background, typed into line by line.
type terminal struct {
	in   *io.PipeWriter
	out  *syncBuffer
	done chan error
}

func startTerminal(t *testing.T, ctx context.Context, user string, vars map[string]string) *terminal {
	t.Helper()
	r, w := io.Pipe()
	term := &terminal{in: w, out: &syncBuffer{}, done: make(chan error, 1)}
	go func() { term.done <- run(ctx, []string{"console", "--user", user}, env(vars), r, term.out, io.Discard) }()
	term.waitFor(t, "you are \""+user+"\"")
	return term
}

func (term *terminal) say(line string) { io.WriteString(term.in, line+"\n") }

func (term *terminal) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q:\n%s", text, term.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsoleCoachingAcrossTerminals: a coach in one terminal and a client in another, on one
// Redis: the invitation arrives in the client's terminal, the acceptance in the coach's.
func TestConsoleCoachingAcrossTerminals(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vars := map[string]string{"REDIS_URL": "redis://" + mr.Addr()}
	coach := startTerminal(t, ctx, "alice", vars)
	client := startTerminal(t, ctx, "bob", vars)

	coach.say("/story coach invite @bob")
	coach.waitFor(t, "Invitation sent to")
	client.waitFor(t, "If you accept, they will see only this")
	client.say("accept")
	client.waitFor(t, "You've accepted")
	coach.waitFor(t, "accepted your invitation")
	for _, term := range []*terminal{coach, client} {
		if strings.Contains(term.out.String(), "didn't go through") || strings.Contains(term.out.String(), "was not told") {
			t.Errorf("a terminal reported a failure:\n%s", term.out.String())
		}
	}
	if strings.Contains(coach.out.String(), "If you accept") {
		t.Error("the invitation showed in the coach's terminal")
	}
	cancel()
	coach.in.Close()
	client.in.Close()
}

// TestConsoleSaysPlainlyWhatItCannotDo: with the embedded store there is no other terminal,
// and the console says so instead of pointing at a log that is not there.
func TestConsoleSaysPlainlyWhatItCannotDo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coach := startTerminal(t, ctx, "alice", nil)
	coach.say("/story coach invite @bob")
	coach.waitFor(t, "the other person was not told")
	if out := coach.out.String(); strings.Contains(out, "see the log above") || !strings.Contains(out, "REDIS_URL") {
		t.Errorf("console output:\n%s", out)
	}
	cancel()
	coach.in.Close()
}
