package slack

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/storybot/storybot/bot"
)

// TestGoldenTranscripts replays flows' golden transcripts through Slack: commands as slash
// commands in the bot's DM, answers as DM message events, [choice:ID] as button presses,
// and compares the bot's DM texts (the plain-text fallback) with the transcript's "<" lines.
func TestGoldenTranscripts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "flows", "testdata", "*.txtar"))
	if len(files) == 0 {
		t.Skip("no transcripts in flows/testdata")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			a, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var script string
			for _, f := range a.Files {
				if f.Name == "transcript" {
					script = string(f.Data)
				}
			}
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
			for _, ln := range strings.Split(script, "\n") {
				switch {
				case ln == "<":
					want = append(want, "")
				case strings.HasPrefix(ln, "< "):
					want = append(want, strings.TrimPrefix(ln, "< "))
				}
			}
			h.clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			for _, ln := range strings.Split(script, "\n") {
				switch {
				case strings.HasPrefix(ln, "# wait "):
					d, err := time.ParseDuration(strings.TrimPrefix(ln, "# wait "))
					if err != nil {
						t.Fatal(err)
					}
					h.clock.Add(d)
				case strings.HasPrefix(ln, ">"):
					h.clock.Add(time.Minute)
					in := strings.TrimSpace(strings.TrimPrefix(ln, ">"))
					switch {
					case in == "/story" || strings.HasPrefix(in, "/story "):
						h.slash(u, "D"+u, strings.TrimSpace(strings.TrimPrefix(in, "/story")))
					case strings.HasPrefix(in, "[choice:"):
						choice := strings.TrimSuffix(strings.TrimPrefix(in, "[choice:"), "]")
						if !h.tryClick(u, choice) {
							// A button from a message long gone (closed.txtar): press it anyway.
							stale := call{Channel: "D" + u, TS: "1600000000." + strconv.Itoa(int(h.events.Add(1)))}
							h.clickRaw(u, stale, choiceAction+"_0", choice, choice)
						}
					case in == "[checkin]":
						// What the scheduler does when the check-in is due.
						job := bot.Job{Kind: bot.JobCheckin, User: userRef(testTeam, u)}
						if err := h.eng.Deliver(context.Background(), job); err != nil {
							t.Fatalf("deliver check-in: %v", err)
						}
					case strings.HasPrefix(in, "[long:"):
						var n int
						_, _ = fmtSscanf(in, &n)
						h.dm(u, strings.Repeat("ö", n))
					default:
						h.dm(u, in)
					}
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
						t.Fatalf("%s through Slack differs at line %d:\n got: %q\nwant: %q", file, i+1, g, w)
					}
				}
			}
		})
	}
}

func fmtSscanf(s string, n *int) (int, error) { return fmt.Sscanf(s, "[long:%d]", n) }
