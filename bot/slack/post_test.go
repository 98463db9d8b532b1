package slack

import (
	"context"
	"testing"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// nopHandler is an engine that does nothing: for tests that only send.
type nopHandler struct{}

func (nopHandler) Handle(context.Context, bot.Event) error { return nil }

// sendOnly returns an adapter on fake that only sends (no Redis, no engine).
func sendOnly(tb testing.TB, fake *fakeSlack) *Adapter {
	tb.Helper()
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: fake.apiURL()}, nopHandler{})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// benchPrompt is a typical DM reply: a question with its buttons.
func benchPrompt(user string) bot.Message {
	return bot.Message{
		To:   bot.Destination{Kind: bot.DestDM, User: bot.UserRef{Platform: Platform, Workspace: testTeam, User: user}},
		Kind: flows.ReplyPrompt,
		Text: "What is the story you're telling yourself about this? Write it the way it sounds in your head, even if it's unfair — it's only for you.",
		Choices: []flows.Choice{
			{ID: "skip", Label: "Skip this question"},
			{ID: "back", Label: "Go back"},
			{ID: "stop", Label: "Stop the pause"},
		},
	}
}

// BenchmarkPostMessage measures one DM reply with its buttons going out through the
// adapter's real path (Send, the DM channel cache, the outbox, chat.postMessage) to the
// fake Slack, which answers as Slack does (the message echoed). The fake's own work (it
// parses the form, records the call and writes JSON) runs in this process too and is in
// the figures; compare them with each other, not with production. cpu-ns/op is the
// process's CPU time per post.
func BenchmarkPostMessage(b *testing.B) {
	for _, echo := range []bool{true, false} {
		name := "echo"
		if !echo {
			name = "short" // ok, channel and ts only, as the fake answers in other tests
		}
		b.Run(name, func(b *testing.B) {
			fake := newFakeSlack(b)
			fake.echo = echo
			a := sendOnly(b, fake)
			m := benchPrompt("UBENCH")
			ctx := context.Background()
			if err := a.Send(ctx, m); err != nil { // opens the DM channel once
				b.Fatal(err)
			}
			b.ReportAllocs()
			c0, ok := cpuTime()
			for b.Loop() {
				if err := a.Send(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if c1, ok1 := cpuTime(); ok && ok1 {
				// The process's CPU time (client, fake, GC): on a shared machine the wall
				// time mostly measures the queue for a core.
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
			if n := a.outbox.pending(); n != 0 {
				b.Fatalf("%d replies queued: the benchmark must post each at once", n)
			}
		})
	}
}
