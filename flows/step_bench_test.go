package flows

import (
	"testing"
	"time"

	"github.com/storybot/storybot/internal/cputime"
)

// BenchmarkStepPauseAnswer is the flows part of the DM answer the Slack and storage
// benchmarks measure: in an open Pause, the story question answered, then "back", so every
// op is one step and one reply, as the peer kit's dm-e2e mode sends them.
func BenchmarkStepPauseAnswer(b *testing.B) {
	m := New(Config{})
	s, _, err := m.Step(State{}, Input{Now: t0, Start: &Start{Flow: FlowPause, Text: "The demo froze."}})
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	b.ReportAllocs()
	c0, ok := cputime.Process()
	k := 0
	for b.Loop() {
		text := "They might just be busy today."
		if k%2 == 1 {
			text = "back"
		}
		k++
		now = now.Add(time.Second)
		next, rs, err := m.Step(s, Input{Now: now, Text: text})
		if err != nil || len(rs) == 0 {
			b.Fatalf("Step(%v, %q) = %v, %v", s.Step, text, rs, err)
		}
		s = next
	}
	if c1, ok1 := cputime.Process(); ok && ok1 {
		b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
	}
}

// walkAnswers are the peer kit's dm-e2e answers (../shared/peers/load), typed one per step
// of a Pause opened by a bare /story, then "stop".
var walkAnswers = []string{
	"My manager moved our 1:1 for the second time this week.",
	"The story I'm telling myself is that she doesn't think my work matters.",
	"anxious 6",
	"She moved it twice. She wrote that a client call overlapped.",
	"Maybe the client call really was urgent, and she moved everyone's meetings.",
	"I'll ask her for a fixed slot next week.",
	"stop",
}

// BenchmarkStepWalk is one whole walk of the peer kit's dm-e2e mode through the machine:
// the start of a Pause and its answers, eight steps per op.
func BenchmarkStepWalk(b *testing.B) {
	m := New(Config{})
	now := t0
	b.ReportAllocs()
	c0, ok := cputime.Process()
	for b.Loop() {
		now = now.Add(time.Second)
		s, rs, err := m.Step(State{}, Input{Now: now, Start: &Start{Flow: FlowPause}})
		if err != nil || len(rs) == 0 {
			b.Fatalf("start: %v, %v", rs, err)
		}
		for _, text := range walkAnswers {
			now = now.Add(time.Second)
			s, rs, err = m.Step(s, Input{Now: now, Text: text})
			if err != nil || len(rs) == 0 {
				b.Fatalf("Step(%v, %q) = %v, %v", s.Step, text, rs, err)
			}
		}
		if s.Open() {
			b.Fatalf("the walk ended with %v open", s.Step)
		}
	}
	if c1, ok1 := cputime.Process(); ok && ok1 {
		b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
	}
}
