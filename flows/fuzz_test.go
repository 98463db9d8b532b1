package flows

import (
	"strings"
	"testing"
	"time"
)

// FuzzStep drives the machine from any stored-looking state with any sequence of inputs. It
// must never panic; every output State must keep its promises (version, time, JSON round
// trip, readable by check); and once a state has been stepped successfully, no valid input
// may make Step fail.
//
// script holds one input per line: "/N text" starts flow N, "!id" presses a button, "~m" waits
// m minutes, anything else is typed.
func FuzzStep(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), "/1\nit happened\nthey think I'm lazy\n1\n7\nfacts\nother\nnext\n4\nsave")
	f.Add(uint8(2), uint8(2), uint8(1), "/2\nskip\nstory\nback\nback\nstop")
	f.Add(uint8(3), uint8(14), uint8(0), "yes\n1, 3\nmind reading and labelling\nnone\nkinder\n1")
	f.Add(uint8(1), uint8(18), uint8(7), "!continue\n!fresh\n~31\n/3 story\n2")
	f.Add(uint8(1), uint8(10), uint8(0), "!deeper\nskip\nskip\nskip\nskip\nk\n2")
	f.Add(uint8(1), uint8(5), uint8(0), "11\n-1\n10\n!5\n\n   \nBACK")
	f.Add(uint8(9), uint8(99), uint8(200), "I want to die")
	f.Add(uint8(1), uint8(7), uint8(0), strings.Repeat("ö", MaxAnswerRunes+1))
	f.Fuzz(func(t *testing.T, flow, step, parked uint8, script string) {
		m := New(Config{})
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		s := State{Version: StateVersion, Flow: Flow(flow % 5), Step: Step(step % 21), Parked: Step(parked % 21), Updated: now,
			Entry: Entry{Story: "They always think I'm late", Others: []string{"o"}}, Hints: []string{"mind-reading", "nope"}}
		if s.Flow == FlowNone {
			s = State{}
		}
		stepped := false
		for _, ln := range strings.Split(script, "\n") {
			now = now.Add(time.Minute)
			in := Input{Now: now}
			switch {
			case strings.HasPrefix(ln, "~"):
				now = now.Add(time.Duration(len(ln)) * 10 * time.Minute)
				continue
			case strings.HasPrefix(ln, "/") && len(ln) >= 2:
				in.Start = &Start{Flow: Flow(int(ln[1]-'0') % 4), Text: strings.TrimSpace(ln[2:])}
				if in.Start.Flow < 0 {
					in.Start.Flow = FlowPause
				}
			case strings.HasPrefix(ln, "!"):
				in.Choice = ln[1:]
			default:
				in.Text = ln
			}
			next, rs, err := m.Step(s, in)
			if err != nil {
				if stepped {
					t.Fatalf("Step(%+v, %q) = error %v after a successful step, want none", s, describe(in), err)
				}
				return
			}
			stepped = true
			checkState(t, next, in)
			for _, r := range rs {
				_ = PlainText(r)
				if r.Text == "" {
					t.Fatalf("Step(%v, %q) = an empty reply %+v", s.Step, describe(in), r)
				}
			}
			if next.Open() {
				if _, err := m.Prompt(next); err != nil {
					t.Fatalf("Prompt(%+v) = %v, want none", next, err)
				}
			}
			s = next
		}
	})
}
