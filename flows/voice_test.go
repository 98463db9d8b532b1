package flows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// The voice rule of SPEC.md: one question per message, under about 25 words. The test
// fails on a message with two question marks or over maxWords words. The user's own words,
// quoted back between “ and ”, are not counted: they are theirs, however long.
const maxWords = 30

// voiceExceptions are the messages that are deliberately longer, with why.
var voiceExceptions = []struct {
	prefix, why string
}{
	{"Here's your", "a summary: the user's own answers, one per line, then one question"},
	{"If you are in danger", "the crisis resources: complete matters more than short"},
	{"Thank you for telling me", "the crisis answer: care, grounding, resources, what storybot is"},
	{"That's ", "the too-long notice gives both numbers and that nothing was lost"},
	{"A safety plan is", "the safety plan's introduction says what it is and who sees it"},
	{"Let's slow down together", "the SOS grounding steps"},
	{"Your safety plan", "the user's own safety plan, read back"},
}

func exception(text string) bool {
	for _, e := range voiceExceptions {
		if strings.HasPrefix(text, e.prefix) {
			return true
		}
	}
	return false
}

// unquoted is text without the user's words quoted in “…”.
func unquoted(text string) string {
	var b strings.Builder
	depth := 0
	for _, r := range text {
		switch {
		case r == '“':
			depth++
		case r == '”' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func checkVoice(tb testing.TB, where, text string) {
	tb.Helper()
	if exception(text) {
		return
	}
	t := unquoted(text)
	if n := strings.Count(t, "?"); n > 1 {
		tb.Errorf("%s: %d questions in one message, want one:\n%s", where, n, text)
	}
	if n := len(strings.Fields(t)); n > maxWords {
		tb.Errorf("%s: %d words, want at most %d:\n%s", where, n, maxWords, text)
	}
}

// TestPromptsOneQuestion asks every prompt of every dialogue, with answers like a user's,
// and walks every reply in the golden transcripts.
func TestPromptsOneQuestion(t *testing.T) {
	m := New(Config{})
	five := 5
	cb := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	e := Entry{What: "Sam moved my item to the end of the agenda.", Story: "They think my project doesn't matter.",
		Feeling: "anxious", StrengthBefore: &five, StrengthAfter: &five, Facts: "My item was moved.",
		Others: []string{"The agenda was packed."}, Learn: "What Sam planned.", Next: "Ask Sam.", CheckBack: &cb,
		BeliefBefore: &five, BeliefAfter: &five, IsTrue: "Not sure", Absolutely: "No", Reaction: "I go quiet.",
		Traps: []string{"mind-reading"}, Turnaround: "I think their project doesn't matter.", Example: "I skipped theirs.",
		KinderStory: "We ran out of time."}
	stories := []string{e.Story, "I'm an idiot, I should have caught that bug.", "Everything I touch lately goes wrong.", "The meeting moved."}
	for _, f := range []Flow{FlowPause, FlowQuick, FlowReframe} {
		for step := StepNone; step <= StepReframeBeliefAfter; step++ {
			if !inFlow(f, step) {
				continue
			}
			for _, story := range stories {
				s := State{Version: StateVersion, Flow: f, Step: step, Entry: e, Updated: cb.Add(-time.Hour)}
				s.Entry.Flow = f
				s.setStory(story)
				s.Turnarounds = Turnarounds(story)
				for _, answered := range []bool{false, true} {
					s.HintAnswered = answered
					r, err := m.Prompt(s)
					if err != nil {
						t.Fatalf("Prompt(%v %v): %v", f, step, err)
					}
					checkVoice(t, f.String()+"/"+step.String(), r.Text)
				}
			}
		}
		s := State{Version: StateVersion, Flow: f, Step: StepResumeOffer, Parked: StepNext, Entry: e}
		if f == FlowReframe {
			s.Parked = StepReframeNext
		}
		r, err := m.Prompt(s)
		if err != nil {
			t.Fatal(err)
		}
		checkVoice(t, f.String()+"/resume", r.Text)
	}
	for _, text := range []string{textStopped, textIdle, textNothingBefore, textBackAtOffer, textNoSkip, textNoSkipChoice,
		textEmpty, textStaleButton, textNotChoice, textNotStrength, textNotTraps, textNoSuggestions, textHintNoted,
		textNotAStory, textNotCheckBack, textPickTurnaround, textTurnaroundMissing, textSaved, textSavedDeeper, textDiscarded,
		TextCheckinQuestion} {
		checkVoice(t, "fixed text", text)
	}

	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if f.Name != "transcript" {
				continue
			}
			var cur []string
			flush := func() {
				if len(cur) > 0 {
					checkVoice(t, file, strings.Join(cur, "\n"))
				}
				cur = nil
			}
			for _, ln := range strings.Split(string(f.Data), "\n") {
				switch {
				case strings.HasPrefix(ln, "<   ") && len(cur) > 0:
					// a choice: a label, not part of the message's text
				case ln == "<" || strings.HasPrefix(ln, "< "):
					cur = append(cur, strings.TrimPrefix(strings.TrimPrefix(ln, "<"), " "))
				default:
					flush()
				}
			}
			flush()
		}
	}
}

// TestVoiceCheckFails makes sure the check above can fail.
func TestVoiceCheckFails(t *testing.T) {
	ft := &fakeTB{}
	checkVoice(ft, "x", "Does that fit? What else could they be thinking?")
	checkVoice(ft, "x", strings.Repeat("word ", 31))
	checkVoice(ft, "x", "You wrote “is it? is it? "+strings.Repeat("mine ", 40)+"” — what else could be true?")
	if ft.errors != 2 {
		t.Errorf("checkVoice flagged %d messages, want 2 (two questions; 31 words; quoted words not counted)", ft.errors)
	}
}

type fakeTB struct {
	testing.TB
	errors int
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Errorf(string, ...any) { f.errors++ }

// TestOldShapesStillLoad decodes a journal entry and a dialogue state saved before the
// rumble, the check-back and the new Reframe steps, and steps the old state on.
func TestOldShapesStillLoad(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "old_shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Entry        Entry `json:"entry"`
		PauseAtNext  State `json:"pause_at_next"`
		ReframeTraps State `json:"reframe_at_traps"`
	}
	if err := json.Unmarshal(b, &old); err != nil {
		t.Fatalf("decoding old shapes: %v", err)
	}
	e := old.Entry
	if e.Story != "They think my project doesn't matter." || e.KinderStory != "Sam meant to get to it." ||
		!reflect.DeepEqual(e.Traps, []string{"mind-reading"}) || *e.StrengthBefore != 7 || e.CheckBack != nil || e.Learn != "" {
		t.Errorf("old entry = %+v", e)
	}
	// A pause saved at the next step, version 1: the answer is taken and the new check-back
	// question follows.
	s, rs := run(t, old.PauseAtNext, text("Ask Sam after the meeting."))
	if s.Step != StepCheckBack || s.Entry.Next != "Ask Sam after the meeting." || s.Entry.Story != "They think I'm slow." {
		t.Errorf("old pause stepped to %v with %+v, %v", s.Step, s.Entry, rs)
	}
	s, rs = run(t, s, text("no"), text("3"))
	if s.Step != StepSummary || !strings.Contains(rs[0].Text, "They think I'm slow.") {
		t.Errorf("old pause ends at %v: %v", s.Step, rs)
	}
	// A reframe saved at the traps step, with the old numbered list: it goes on to the
	// turnaround.
	s, _ = run(t, old.ReframeTraps, text("none"))
	if s.Step != StepReframeTurnaround || len(s.Turnarounds) == 0 {
		t.Errorf("old reframe stepped to %v, turnarounds %v", s.Step, s.Turnarounds)
	}
}
