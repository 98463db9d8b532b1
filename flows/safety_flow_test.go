package flows

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestCheckResumesExactly: for dialogues at every kind of step, an ambiguous answer asks the
// check question and changes nothing else; "No" then gives exactly what the answer would have
// given without the question (after one short acknowledgement), and "I'd rather not say" the
// same after the resources line.
func TestCheckResumesExactly(t *testing.T) {
	m := New(Config{})
	ambiguous := []string{"I'm killing myself to hit this target", "it's a suicide mission", "I cut myself off mid-sentence", "I could die of embarrassment", "I don't want to be here anymore"}
	openings := [][]Input{
		{start(FlowPause, "")},
		{start(FlowPause, ""), text("The review went badly.")},
		{start(FlowQuick, "")},
		{start(FlowQuick, "They think I'm lazy")},
		{start(FlowReframe, "They think I'm lazy"), text("yes")},
		{start(FlowCheckin, "")},
		{start(FlowSafetyPlan, "")}, // ambiguous words pass here: no question
		{},                          // nothing open
	}
	for _, opening := range openings {
		s, _ := run(t, State{}, opening...)
		for _, amb := range ambiguous {
			for _, answer := range []Input{{Choice: "safety-no"}, text("no"), text("2"), {Choice: "safety-private"}, text("3"), text("rather not say")} {
				in := text(amb)
				in.Now = s.Updated.Add(time.Minute)
				asked, rs, err := m.Step(s, in)
				if err != nil {
					t.Fatal(err)
				}
				if s.Flow == FlowSafetyPlan {
					if asked.Check != nil {
						t.Errorf("Step(%v, %q) asked the check question in the safety plan", s.Step, amb)
					}
					continue
				}
				if len(rs) != 1 || rs[0].Safety != SafetyEventCheck || asked.Check == nil || asked.Check.Text != amb {
					t.Fatalf("Step(%v, %q) = %+v, %v, want the check question holding the answer", s.Step, amb, asked, rs)
				}
				withoutCheck := asked
				withoutCheck.Check = nil
				withoutCheck.Updated, withoutCheck.Version = s.Updated, s.Version
				if jsonOf(t, withoutCheck) != jsonOf(t, s) {
					t.Errorf("Step(%v, %q) changed the dialogue: %+v, want %+v", s.Step, amb, withoutCheck, s)
				}
				back := roundTrip(t, asked)
				answer.Now = in.Now.Add(time.Minute)
				got, grs, err := m.Step(back, answer)
				if err != nil {
					t.Fatal(err)
				}
				plain := s.clone()
				plain.Updated = answer.Now
				want, wrs, err := m.proceed(plain, Input{Now: answer.Now, Text: amb})
				if err != nil {
					t.Fatal(err)
				}
				want.Version, want.Updated = StateVersion, answer.Now
				if !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, want)) {
					t.Errorf("after %q, %q: state %s, want %s", amb, describe(answer), jsonOf(t, got), jsonOf(t, want))
				}
				if len(grs) != len(wrs)+1 || !reflect.DeepEqual(grs[1:], wrs) {
					t.Errorf("after %q, %q: replies %v, want one acknowledgement then %v", amb, describe(answer), grs, wrs)
				} else if ev := grs[0].Safety; ev != SafetyEventNo && ev != SafetyEventPrivate {
					t.Errorf("after %q, %q: first reply %+v, want the acknowledgement", amb, describe(answer), grs[0])
				} else if ev == SafetyEventPrivate && !strings.Contains(grs[0].Text, "findahelpline.com") {
					t.Errorf("rather-not-say reply %q lacks the resources", grs[0].Text)
				}
			}
		}
	}
}

func jsonOf(tb testing.TB, s State) string {
	tb.Helper()
	j, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return string(j)
}

func TestCheckAnswers(t *testing.T) {
	m := New(Config{CrisisResources: "Call 116 123.\nOr text SHOUT to 85258."})
	s, _ := run(t, State{}, start(FlowPause, ""), text("The review went badly."), text("I'm killing myself to hit this target"))
	if s.Check == nil {
		t.Fatalf("no check question pending: %+v", s)
	}
	for _, tt := range []struct {
		in       Input
		open     bool
		event    SafetyEvent
		kind     ReplyKind
		contains string
	}{
		{Input{Choice: "safety-yes"}, false, SafetyEventYes, ReplyCrisis, "Call 116 123."},
		{text("yes"), false, SafetyEventYes, ReplyCrisis, "/story sos"},
		{text("1"), false, SafetyEventYes, ReplyCrisis, "saved nothing"},
		{text("actually I do want to die"), false, SafetyEventCrisis, ReplyCrisis, "not therapy"},
		{text("I'd rather not say"), true, SafetyEventPrivate, ReplyInfo, "Call 116 123. Or text SHOUT to 85258."},
		{text("No, a figure of speech"), true, SafetyEventNo, ReplyInfo, ""},
		{text("nope"), true, SafetyEventNo, ReplyInfo, ""},
		{text("what do you mean"), true, SafetyEventNone, ReplyProblem, "yes, no, or rather not say"},
		{Input{Choice: "anxious"}, true, SafetyEventNone, ReplyProblem, "earlier question"},
		{text("stop"), false, SafetyEventNone, ReplyInfo, "nothing was saved"},
	} {
		in := tt.in
		in.Now = s.Updated.Add(time.Minute)
		got, rs, err := m.Step(s, in)
		if err != nil {
			t.Fatal(err)
		}
		checkState(t, got, in)
		if got.Open() != tt.open || len(rs) == 0 || rs[0].Kind != tt.kind || rs[0].Safety != tt.event || !strings.Contains(rs[0].Text, tt.contains) {
			t.Errorf("Step(check, %q) = open %v, %+v; want open %v, first reply %v/%v containing %q", describe(in), got.Open(), rs, tt.open, tt.kind, tt.event, tt.contains)
		}
		for _, r := range rs {
			if r.Save != nil {
				t.Errorf("Step(check, %q) saved %+v", describe(in), r.Save)
			}
		}
		if tt.kind == ReplyProblem && (got.Check == nil || rs[len(rs)-1].Safety != SafetyEventCheck) {
			t.Errorf("Step(check, %q) = %+v, %v: want the question kept and asked again", describe(in), got, rs)
		}
	}

	// A scheduled check-in waits; a new command lets the question lapse.
	in := start(FlowCheckin, "")
	in.Now = s.Updated.Add(time.Hour)
	if got, rs, _ := m.Step(s, in); len(rs) != 0 || got.Check == nil {
		t.Errorf("check-in during the check question = %+v, %v; want no replies, question kept", got, rs)
	}
	in = start(FlowQuick, "")
	in.Now = s.Updated.Add(time.Minute)
	if got, rs, _ := m.Step(s, in); got.Check != nil || len(rs) != 1 || got.Step != StepResumeOffer {
		t.Errorf("new command during the check question = %+v, %v; want the question gone and the resume offer", got, rs)
	}
	if p, err := m.Prompt(s); err != nil || p.Safety != SafetyEventCheck {
		t.Errorf("Prompt(check pending) = %+v, %v; want the check question", p, err)
	}
}

func TestSafetyPlanFlow(t *testing.T) {
	m := New(Config{})
	s, rs := run(t, State{}, start(FlowSafetyPlan, ""), text("signs"), text("skip"), text("people"))
	if s.Open() || len(rs) != 1 || rs[0].SavePlan == nil || rs[0].Save != nil {
		t.Fatalf("safety plan = %+v, %v; want closed and a plan to save, no journal entry", s, rs)
	}
	p := *rs[0].SavePlan
	if p.WarningSigns != "signs" || p.Helps != "" || p.People != "people" || p.Updated.IsZero() {
		t.Errorf("plan = %+v", p)
	}
	sos := m.SOS(&p)
	for _, want := range []string{"signs", "people", "findahelpline.com", "Breathe"} {
		if !strings.Contains(sos.Text, want) {
			t.Errorf("SOS(plan) = %q, lacks %q", sos.Text, want)
		}
	}
	if strings.Contains(m.SOS(nil).Text, "Your safety plan") || !strings.Contains(m.SOS(&SafetyPlan{}).Text, "/story safety-plan") {
		t.Errorf("SOS without a plan shows a plan, or does not offer to write one")
	}
	// Clear crisis language in a plan answer asks, and does not stop.
	s, rs = run(t, State{}, start(FlowSafetyPlan, ""), text("when I want to kill myself"))
	if !s.Open() || s.Check == nil || rs[len(rs)-1].Safety != SafetyEventCheck {
		t.Errorf("crisis words in the plan = %+v, %v; want the check question", s, rs)
	}
	// But a command's text is never a plan answer.
	_, rs = run(t, s, start(FlowPause, "I want to kill myself"))
	if len(rs) != 1 || rs[0].Kind != ReplyCrisis {
		t.Errorf("crisis command during the plan = %v, want the crisis answer", rs)
	}
}

// FuzzSafetyFlow drives the check question and the safety plan with any inputs: never a
// panic, never an error after a successful step, every state keeps its promises, and the
// open prompt can always be asked.
//
// script holds one input per line: "/N text" starts flow N (9: the safety plan), "!id"
// presses a button, anything else is typed.
func FuzzSafetyFlow(f *testing.F) {
	f.Add(uint8(0), "/9\nwhen I want to die\n!safety-no\nskip\nback\nskip\nfriends")
	f.Add(uint8(1), "I'm killing myself to hit this target\nwhat\n2\nother story")
	f.Add(uint8(2), "/1 it's a suicide mission\n!safety-private\n/9\n/2 I want to kill myself")
	f.Add(uint8(3), "I could die of embarrassment\n/4\nyes")
	f.Fuzz(func(t *testing.T, pick uint8, script string) {
		m := New(Config{})
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		states := []State{
			{},
			{Version: StateVersion, Flow: FlowQuick, Step: StepOthers, Trail: []Step{StepStory}, Entry: Entry{Story: "s"}, Updated: now},
			{Version: StateVersion, Check: &SafetyCheck{Start: &Start{Flow: FlowReframe, Text: "x"}}, Updated: now},
			{Version: StateVersion, Flow: FlowSafetyPlan, Step: StepPlanHelps, Trail: []Step{StepPlanSigns}, Plan: &SafetyPlan{WarningSigns: "w"}, Check: &SafetyCheck{Text: "t"}, Updated: now},
		}
		s := states[int(pick)%len(states)]
		for _, ln := range strings.Split(script, "\n") {
			now = now.Add(time.Minute)
			in := Input{Now: now}
			switch {
			case strings.HasPrefix(ln, "/") && len(ln) >= 2:
				fl := Flow(int(ln[1]-'0') % 5)
				if ln[1] == '9' {
					fl = FlowSafetyPlan
				}
				if fl <= FlowNone {
					fl = FlowPause
				}
				in.Start = &Start{Flow: fl, Text: strings.TrimSpace(ln[2:])}
			case strings.HasPrefix(ln, "!"):
				in.Choice = ln[1:]
			default:
				in.Text = ln
			}
			next, rs, err := m.Step(s, in)
			if err != nil {
				t.Fatalf("Step(%+v, %q) = error %v", s, describe(in), err)
			}
			checkState(t, next, in)
			for _, r := range rs {
				if r.Text == "" {
					t.Fatalf("Step(%v, %q) = an empty reply %+v", s.Step, describe(in), r)
				}
				if r.Kind == ReplyCrisis && (next.Open() || next.Check != nil) {
					t.Fatalf("Step(%v, %q) gave the crisis answer and kept %+v open", s.Step, describe(in), next)
				}
			}
			if _, err := m.Prompt(next); err != nil {
				t.Fatalf("Prompt(%+v) = %v", next, err)
			}
			s = next
		}
	})
}
