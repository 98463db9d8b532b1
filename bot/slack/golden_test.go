package slack

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/followuptest"
	"github.com/storybot/storybot/internal/transcript"
)

// TestGoldenTranscripts replays flows' golden transcripts through Slack: commands as slash
// commands in the bot's DM, answers as DM message events, [choice:ID] as button presses,
// and compares the bot's DM texts (the plain-text fallback) with the transcript's "<" lines.
func TestGoldenTranscripts(t *testing.T) {
	paths, _ := transcript.Paths(filepath.Join("..", "..", "flows", "testdata"))
	if len(paths) == 0 {
		t.Skip("no transcripts in flows/testdata")
	}
	for _, path := range paths {
		f, err := transcript.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f.Name, func(t *testing.T) {
			h := newHarness(t)
			// The transcripts read check-back times in UTC; the engine tests cover a
			// profile's own zone.
			h.fake.mu.Lock()
			h.fake.tz = "UTC"
			h.fake.mu.Unlock()
			u := "UGOLD"
			if _, err := h.store.MarkWelcomed(context.Background(), userRef(testTeam, u)); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, st := range f.Steps {
				for _, r := range st.Replies {
					want = append(want, strings.Split(r, "\n")...)
				}
			}
			h.clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			for _, st := range f.Steps {
				in := st.Input
				if in.Kind == transcript.None {
					if st.CheckBacks != "" {
						if err := followuptest.SetCheckBacks(context.Background(), h.store, userRef(testTeam, u), st.CheckBacks); err != nil {
							t.Fatal(err)
						}
					}
					h.clock.Add(st.Wait)
					continue
				}
				h.clock.Add(time.Minute)
				switch in.Kind {
				case transcript.Command:
					h.slash(u, "D"+u, strings.TrimSpace(in.Sub+" "+in.Text))
				case transcript.Choice:
					if !h.tryClick(u, in.Text) {
						// A button from a message long gone (closed.txtar): press it anyway.
						stale := call{Channel: "D" + u, TS: "1600000000." + strconv.Itoa(int(h.events.Add(1)))}
						h.clickRaw(u, stale, choiceAction+"_0", in.Text, in.Text)
					}
				case transcript.Checkin:
					// What the scheduler does when the check-in is due.
					job := bot.Job{Kind: bot.JobCheckin, User: userRef(testTeam, u)}
					if err := h.eng.Deliver(context.Background(), job); err != nil {
						t.Fatalf("deliver check-in: %v", err)
					}
				case transcript.Followup:
					if err := followuptest.Deliver(context.Background(), h.store, h.eng, userRef(testTeam, u), in.Text, in.N); err != nil {
						t.Fatalf("deliver follow-up: %v", err)
					}
				case transcript.Long:
					h.dm(u, strings.Repeat("ö", in.N))
				default:
					h.dm(u, in.Text)
				}
			}
			var got []string
			for _, r := range h.replies(u, 0) {
				got = append(got, strings.Split(r, "\n")...)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				for i := 0; i < len(got) || i < len(want); i++ {
					var g, w string
					if i < len(got) {
						g = got[i]
					}
					if i < len(want) {
						w = want[i]
					}
					if g != w {
						t.Fatalf("%s through Slack differs at line %d:\n got: %q\nwant: %q", path, i+1, g, w)
					}
				}
			}
		})
	}
}
