package flows

import (
	"strings"
	"testing"
	"time"
)

var formNow = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

func goodForm() QuickForm {
	return QuickForm{Story: "they think I'm slow", Other: "they were busy", Next: "Ask Sam when we can pick it up", Feeling: "anxious", CheckBack: "checkback-tomorrow"}
}

// TestSubmitQuickSummary: a good form ends where the typed Quick flow ends, with the same
// entry and the same summary.
func TestSubmitQuickSummary(t *testing.T) {
	m := New(Config{})
	f := goodForm()
	s, rs, problems, err := m.SubmitQuick(State{}, f, formNow, nil)
	if err != nil || len(problems) > 0 {
		t.Fatalf("SubmitQuick(%+v) = problems %v, err %v", f, problems, err)
	}
	checkState(t, s, Input{Now: formNow})
	if s.Flow != FlowQuick || s.Step != StepSummary {
		t.Fatalf("SubmitQuick state = %v/%v, want quick/summary", s.Flow, s.Step)
	}
	last := rs[len(rs)-1]
	if last.Kind != ReplySummary || len(last.Choices) == 0 || last.Choices[0].ID != "save" {
		t.Fatalf("SubmitQuick last reply = %+v, want the summary with Save", last)
	}
	for _, want := range []string{f.Story, f.Other, f.Next, "anxious", "I'll check back"} {
		if !strings.Contains(last.Text, want) {
			t.Errorf("summary %q lacks %q", last.Text, want)
		}
	}
	// The typed dialogue, answer by answer, reaches the same entry.
	typed, _, _ := m.Step(State{}, Input{Now: formNow, Start: &Start{Flow: FlowQuick, Text: f.Story}})
	for _, in := range []Input{{Text: "skip"}, {Text: f.Other}, {Text: f.Next}, {Choice: f.CheckBack}} {
		in.Now = formNow
		if in.Text == "skip" {
			typed.HintAnswered = true // the form shows no hint
			continue
		}
		typed, _, _ = m.Step(typed, in)
	}
	if typed.Step != StepSummary || typed.Entry.Next != s.Entry.Next || *typed.Entry.CheckBack != *s.Entry.CheckBack || typed.Entry.Others[0] != s.Entry.Others[0] {
		t.Errorf("typed dialogue = %+v, form = %+v; want the same entry", typed.Entry, s.Entry)
	}
	// Save keeps it in the journal, as in the DM.
	done, rs, err := m.Step(s, Input{Now: formNow, Choice: "save"})
	if err != nil || done.Open() || len(rs) != 1 || rs[0].Save == nil || rs[0].Save.Feeling != "anxious" || rs[0].Save.Story != f.Story {
		t.Fatalf("Save after the form = %+v, %+v, %v", done, rs, err)
	}
}

// TestSubmitQuickProblems: every field's problem at once; the state is unchanged.
func TestSubmitQuickProblems(t *testing.T) {
	m := New(Config{})
	long := strings.Repeat("a", MaxAnswerRunes+1)
	cur := State{Version: StateVersion, Flow: FlowCheckin, Step: StepCheckin, Updated: formNow}
	for _, tc := range []struct {
		name string
		f    QuickForm
		want map[string]string // field → a word of its problem
	}{
		{"empty", QuickForm{Story: "  ", Other: "", Next: "call"}, map[string]string{FieldStory: "empty", FieldOther: "empty"}},
		{"too long", QuickForm{Story: "s", Other: long, Next: "n"}, map[string]string{FieldOther: "3,001"}},
		{"long feeling", QuickForm{Story: "s", Other: "o", Next: "n", Feeling: long}, map[string]string{FieldFeeling: "shorten"}},
		{"bad time", QuickForm{Story: "s", Other: "o", Next: "n", CheckBack: "whenever the moon is blue"}, map[string]string{FieldCheckBack: "time"}},
		{"hint answer", QuickForm{Story: "they think I'm slow", Other: "yes", Next: "n"}, map[string]string{FieldOther: "story"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rs, problems, err := m.SubmitQuick(cur, tc.f, formNow, nil)
			if err != nil || len(rs) != 0 {
				t.Fatalf("SubmitQuick = %v, %v", rs, err)
			}
			if s.Flow != cur.Flow || s.Step != cur.Step {
				t.Errorf("SubmitQuick state = %v/%v, want unchanged %v/%v", s.Flow, s.Step, cur.Flow, cur.Step)
			}
			got := map[string]string{}
			for _, p := range problems {
				got[p.Field] = p.Text
			}
			if len(got) != len(tc.want) {
				t.Errorf("problems = %v, want fields %v", got, tc.want)
			}
			for f, w := range tc.want {
				if !strings.Contains(got[f], w) {
					t.Errorf("problem for %s = %q, want it to mention %q", f, got[f], w)
				}
			}
		})
	}
}

// TestSubmitQuickBusy: a dialogue open in the DM is never dropped for a form.
func TestSubmitQuickBusy(t *testing.T) {
	m := New(Config{})
	open, _, _ := m.Step(State{}, Input{Now: formNow, Start: &Start{Flow: FlowPause, Text: "Sam left"}})
	s, _, problems, err := m.SubmitQuick(open, goodForm(), formNow, nil)
	if err != nil || len(problems) != 1 || problems[0].Field != FieldStory || s.Flow != FlowPause || s.Entry.What != "Sam left" {
		t.Fatalf("SubmitQuick over an open pause = %+v, %v, %v", s, problems, err)
	}
}

// TestSubmitQuickSafety: crisis language in any field is the crisis answer, nothing kept;
// ambiguous language asks the check question, and "no" goes on with the form as submitted.
func TestSubmitQuickSafety(t *testing.T) {
	m := New(Config{})
	for _, field := range []string{FieldStory, FieldOther, FieldNext, FieldFeeling, FieldCheckBack} {
		f := goodForm()
		set := map[string]*string{FieldStory: &f.Story, FieldOther: &f.Other, FieldNext: &f.Next, FieldFeeling: &f.Feeling, FieldCheckBack: &f.CheckBack}
		*set[field] = "i want to kill myself"
		s, rs, problems, err := m.SubmitQuick(State{}, f, formNow, nil)
		if err != nil || len(problems) != 0 || s.Open() || len(rs) != 1 || rs[0].Kind != ReplyCrisis {
			t.Errorf("crisis in %s: SubmitQuick = %+v, %+v, %v, %v", field, s, rs, problems, err)
		}
	}
	f := goodForm()
	f.Next = "stop killing myself to hit this target"
	s, rs, _, err := m.SubmitQuick(State{}, f, formNow, nil)
	if err != nil || s.Check == nil || len(rs) != 1 || rs[0].Text != TextCheckQuestion {
		t.Fatalf("ambiguous: SubmitQuick = %+v, %+v, %v", s, rs, err)
	}
	checkState(t, s, Input{Now: formNow})
	if !s.WantsLocation() {
		t.Errorf("a held form's state does not want the location")
	}
	later := formNow.Add(time.Minute)
	s, rs, err = m.Step(s, Input{Now: later, Choice: "safety-no"})
	if err != nil || s.Step != StepSummary || s.Entry.Next != f.Next || rs[len(rs)-1].Kind != ReplySummary {
		t.Fatalf("no after the form's check = %+v, %+v, %v", s, rs, err)
	}
	held, _, _, _ := m.SubmitQuick(State{}, f, formNow, nil)
	s, rs, _ = m.Step(held, Input{Now: later, Choice: "safety-yes"})
	if s.Open() || rs[0].Kind != ReplyCrisis {
		t.Errorf("yes after the form's check = %+v, %+v", s, rs)
	}
}

// FuzzSubmitQuick: any form leaves a state that checks and reads back, and either problems
// with the state unchanged, or replies.
func FuzzSubmitQuick(f *testing.F) {
	f.Add("they think I'm slow", "they were busy", "ask Sam", "anxious", "tomorrow")
	f.Add("", " ", "x", "other", "checkback-none")
	f.Add("i want to kill myself", "o", "n", "", "at 16:00")
	f.Add("killing myself to hit this target", "o", "n", "", "friday")
	f.Fuzz(func(t *testing.T, story, other, next, feeling, checkBack string) {
		m := New(Config{})
		form := QuickForm{Story: story, Other: other, Next: next, Feeling: feeling, CheckBack: checkBack}
		s, rs, problems, err := m.SubmitQuick(State{}, form, formNow, nil)
		if err != nil {
			t.Fatalf("SubmitQuick(%+v) error %v", form, err)
		}
		if len(problems) > 0 {
			if len(rs) != 0 || s.Open() {
				t.Fatalf("SubmitQuick(%+v) = problems %v with replies %v, state %+v", form, problems, rs, s)
			}
			return
		}
		if len(rs) == 0 {
			t.Fatalf("SubmitQuick(%+v) = no problems and no replies", form)
		}
		if err := check(s); err != nil {
			t.Fatalf("SubmitQuick(%+v) state does not check: %v", form, err)
		}
		roundTrip(t, s)
	})
}

// TestSubmitQuickNoCheckBack: with check-backs off, a form's check-back (even one the step
// could not read) is ignored: no problem, no check-back in the summary or the entry; a
// form held by the check question keeps the preference; crisis language in the ignored
// field is still the crisis answer.
func TestSubmitQuickNoCheckBack(t *testing.T) {
	m := New(Config{})
	for _, cb := range []string{"checkback-tomorrow", "friday", "whenever, honestly"} {
		f := goodForm()
		f.CheckBack, f.NoCheckBack = cb, true
		s, rs, problems, err := m.SubmitQuick(State{}, f, formNow, nil)
		if err != nil || len(problems) > 0 {
			t.Fatalf("SubmitQuick(check-back %q, off) = problems %v, err %v", cb, problems, err)
		}
		if s.Step != StepSummary || s.Entry.CheckBack != nil || !s.NoCheckBack {
			t.Errorf("SubmitQuick(check-back %q, off) state = %v, check-back %v, NoCheckBack %v; want the summary with none", cb, s.Step, s.Entry.CheckBack, s.NoCheckBack)
		}
		if last := rs[len(rs)-1]; strings.Contains(last.Text, "check back") {
			t.Errorf("summary %q mentions a check-back", last.Text)
		}
	}
	// Held by the check question, then answered "a figure of speech".
	f := goodForm()
	f.Next, f.NoCheckBack = "stop killing myself to hit this target", true
	s, rs, problems, err := m.SubmitQuick(State{}, f, formNow, nil)
	if err != nil || len(problems) > 0 || s.Check == nil {
		t.Fatalf("SubmitQuick(ambiguous) = %+v, %v, %v; want the check question", rs, problems, err)
	}
	s, _, err = m.Step(s, Input{Now: formNow, Choice: "safety-no"})
	if err != nil || s.Step != StepSummary || s.Entry.CheckBack != nil {
		t.Errorf("after the check question: step %v, check-back %v, err %v; want the summary with none", s.Step, s.Entry.CheckBack, err)
	}
	f = goodForm()
	f.CheckBack, f.NoCheckBack = "i want to kill myself", true
	if s, rs, _, _ := m.SubmitQuick(State{}, f, formNow, nil); s.Open() || len(rs) != 1 || rs[0].Kind != ReplyCrisis {
		t.Errorf("crisis in an ignored check-back: SubmitQuick = %+v, %+v; want the crisis answer", s, rs)
	}
	// With check-backs on, the same form keeps its check-back.
	f = goodForm()
	if s, _, _, _ := m.SubmitQuick(State{}, f, formNow, nil); s.Entry.CheckBack == nil {
		t.Errorf("SubmitQuick(check-backs on) lost the check-back")
	}
}
