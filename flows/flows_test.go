package flows

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// run steps a fresh machine through inputs one minute apart and returns the final state and
// the last replies, failing on any error.
func run(tb testing.TB, s State, inputs ...Input) (State, []Reply) {
	tb.Helper()
	now := s.Updated
	if now.IsZero() {
		now = t0
	}
	return runFrom(tb, s, now, inputs...)
}

// runFrom is run with the clock starting at now.
func runFrom(tb testing.TB, s State, now time.Time, inputs ...Input) (State, []Reply) {
	tb.Helper()
	m := New(Config{})
	var replies []Reply
	for _, in := range inputs {
		now = now.Add(time.Minute)
		in.Now = now
		next, rs, err := m.Step(s, in)
		if err != nil {
			tb.Fatalf("Step(%v, %q) = error %v, want none", s.Step, describe(in), err)
		}
		checkState(tb, next, in)
		s, replies = next, rs
	}
	return s, replies
}

func text(t string) Input          { return Input{Text: t} }
func choice(id string) Input       { return Input{Choice: id} }
func start(f Flow, t string) Input { return Input{Start: &Start{Flow: f, Text: t}} }

func TestIsCrisis(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"I want to kill myself", true},
		{"Sometimes I think about SUICIDE.", true},
		{"I've been feeling suicidal", true},
		{"I want to end my life", true},
		{"honestly i want to die", true},
		{"I have been self-harming", true},
		{"I self-harm when it gets bad", true},
		{"thinking about self harm", true},
		{"I might hurt myself", true},
		{"I cut myself last night", true},
		{"there's no reason to live", true},
		{"they'd be better off dead without me", true},
		{"I just want to end it all", true},
		{"I don’t want to be alive", true},
		{"This deadline is killing me", false},
		{"We killed the project", false},
		{"The die is cast", false},
		{"Let's end it all-hands early", false}, // "end it all" is crisis, but not in "all-hands"
		{"I will hurt my chances", false},
		{"The suicides squad movie", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsCrisis(tt.text); got != tt.want {
			t.Errorf("IsCrisis(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestCrisisStopsDialogue(t *testing.T) {
	for _, in := range []Input{text("I want to die"), start(FlowReframe, "I want to kill myself"), text("I feel SUICIDAL")} {
		s, _ := run(t, State{}, start(FlowPause, ""), text("The review went badly."))
		s, rs := run(t, s, in)
		if s.Open() || len(rs) != 1 || rs[0].Kind != ReplyCrisis || rs[0].Save != nil {
			t.Errorf("Step(_, %q) = %v, %v, want closed state and one crisis reply", describe(in), s, rs)
			continue
		}
		for _, part := range []string{"feet on the floor", DefaultCrisisResources, "not therapy"} {
			if !strings.Contains(rs[0].Text, part) {
				t.Errorf("crisis reply %q lacks %q", rs[0].Text, part)
			}
		}
	}
	m := New(Config{CrisisResources: "Call 116 123."})
	_, rs, err := m.Step(State{}, Input{Now: t0, Text: "end my life"})
	if err != nil || len(rs) != 1 || !strings.Contains(rs[0].Text, "Call 116 123.") || strings.Contains(rs[0].Text, "findahelpline") {
		t.Errorf("Step with CrisisResources = %v, %v, want the configured resources only", rs, err)
	}
}

func TestMatch(t *testing.T) {
	feel := feelingChoices()
	str := strengthChoices()
	tests := []struct {
		choices []Choice
		in      Input
		want    string
		ok      bool
	}{
		{feel, choice("angry"), "angry", true},
		{feel, choice("furious"), "", false},
		{feel, text("Angry"), "angry", true},
		{feel, text("  ANXIOUS  "), "anxious", true},
		{feel, text("2"), "angry", true},
		{feel, text("9"), "", false},
		{feel, text("0"), "", false},
		{feel, text("angry-ish"), "", false},
		{str, text("5"), "5", true}, // the label wins over the position
		{str, text("0"), "0", true},
		{str, text("10"), "10", true},
		{str, text("11"), "", false},
		{summaryChoices(FlowPause), text("save to journal"), "save", true},
		{summaryChoices(FlowPause), text("go deeper"), "deeper", true},
		{summaryChoices(FlowPause), text("3"), "deeper", true},
		{summaryChoices(FlowReframe), text("3"), "", false},
		{offerChoices(), text("start fresh"), "fresh", true},
		{offerChoices(), text("Continue where you left off."), "continue", true},
		{trapChoices(), text("all or nothing thinking"), "all-or-nothing", true},
		{trapChoices(), text("mind-reading"), "mind-reading", true},
	}
	for _, tt := range tests {
		got, ok := match(tt.choices, tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("match(%v, %q) = %q, %v, want %q, %v", tt.choices, describe(tt.in), got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnrecognisedChoice(t *testing.T) {
	s, _ := run(t, State{}, start(FlowPause, "x happened"), text("story"), text("anxious"))
	for _, in := range []Input{text("eleven"), text("-1"), choice("save")} {
		got, rs := run(t, s, in)
		if got.Step != StepStrength || len(rs) != 2 || rs[0].Kind != ReplyProblem || rs[1].Kind != ReplyPrompt {
			t.Errorf("Step(%v, %q) = %v, %v, want a problem then the strength prompt", s.Step, describe(in), got.Step, rs)
		}
	}
	got, _ := run(t, s, text("7/10"))
	if got.Entry.StrengthBefore == nil || *got.Entry.StrengthBefore != 7 {
		t.Errorf("Step(%v, %q) strength = %v, want 7", s.Step, "7/10", got.Entry.StrengthBefore)
	}
}

func TestBackSkipStop(t *testing.T) {
	pauseAt := func(tb testing.TB, inputs ...Input) State {
		tb.Helper()
		s, _ := run(tb, State{}, append([]Input{start(FlowPause, "")}, inputs...)...)
		return s
	}
	tests := []struct {
		name     string
		s        State
		in       Input
		wantStep Step
		wantOpen bool
	}{
		{"back at first", pauseAt(t), text("back"), StepWhat, true},
		{"back", pauseAt(t, text("w")), text("BACK"), StepWhat, true},
		{"back to inline what", func() State { s, _ := run(t, State{}, start(FlowNone, "inline")); return s }(), text("back"), StepWhat, true},
		{"skip what refused", pauseAt(t), text("skip"), StepWhat, true},
		{"skip story refused", pauseAt(t, text("w")), text("skip"), StepStory, true},
		{"skip feeling", pauseAt(t, text("w"), text("s")), text(" Skip "), StepFacts, true},
		{"skip feeling other", pauseAt(t, text("w"), text("s"), text("other")), text("skip"), StepFacts, true},
		{"skip strength", pauseAt(t, text("w"), text("s"), text("sad")), text("skip"), StepFacts, true},
		{"skip facts", pauseAt(t, text("w"), text("s"), text("sad"), text("3")), text("skip"), StepOthers, true},
		{"skip others refused", pauseAt(t, text("w"), text("s"), text("sad"), text("3"), text("f")), text("skip"), StepOthers, true},
		{"skip rumble", pauseAt(t, text("w"), text("s"), text("sad"), text("3"), text("f"), text("o")), text("skip"), StepNext, true},
		{"skip next refused", pauseAt(t, text("w"), text("s"), text("sad"), text("3"), text("f"), text("o"), text("skip")), text("skip"), StepNext, true},
		{"skip check-back", pauseAt(t, text("w"), text("s"), text("sad"), text("3"), text("f"), text("o"), text("l"), text("n")), text("skip"), StepStrengthAfter, true},
		{"skip strength after", pauseAt(t, text("w"), text("s"), text("sad"), text("3"), text("f"), text("o"), text("l"), text("n"), text("no")), text("skip"), StepSummary, true},
		{"skip summary refused", pauseAt(t, text("w"), text("s"), text("skip"), text("f"), text("o"), text("l"), text("n"), text("no")), text("skip"), StepSummary, true},
		{"stop", pauseAt(t, text("w"), text("s")), text("stop"), StepNone, false},
		{"stop button", pauseAt(t, text("w"), text("s")), choice("stop"), StepNone, false},
		{"stop word inside text", pauseAt(t, text("w")), text("I want them to stop"), StepFeeling, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rs := run(t, tt.s, tt.in)
			if got.Step != tt.wantStep || got.Open() != tt.wantOpen || len(rs) == 0 {
				t.Errorf("Step(%v, %q) = %v, %v, want %v", tt.s.Step, describe(tt.in), got.Step, rs, tt.wantStep)
			}
		})
	}
	// Skipping the first rating skips the second: nobody is made to score.
	s := pauseAt(t, text("w"), text("s"), text("sad"), text("skip"), text("f"), text("o"), text("skip"), text("n"), text("no"))
	if s.Step != StepSummary {
		t.Errorf("after skipping the first rating, step = %v, want %v", s.Step, StepSummary)
	}
	// Back keeps the answers: only the position moves.
	s = pauseAt(t, text("what happened"), text("my story"), text("back"))
	if s.Step != StepStory || s.Entry.Story != "my story" {
		t.Errorf("back = %v with story %q, want %v with the story kept", s.Step, s.Entry.Story, StepStory)
	}
	// Stop says how to start again.
	_, rs := run(t, pauseAt(t), text("Stop"))
	if len(rs) != 1 || !strings.Contains(rs[0].Text, "nothing was saved") || !strings.Contains(rs[0].Text, "/story") {
		t.Errorf("stop replies = %v, want one that says nothing was saved and how to start", rs)
	}
}

func TestLongInput(t *testing.T) {
	s, _ := run(t, State{}, start(FlowQuick, ""))
	for _, tt := range []struct {
		text   string
		accept bool
	}{
		{strings.Repeat("a", MaxAnswerRunes+1), false},
		{strings.Repeat("a", MaxAnswerRunes), true},
		{strings.Repeat("ö", MaxAnswerRunes), true}, // 6,000 bytes, 3,000 characters
		{strings.Repeat("ö", MaxAnswerRunes+1), false},
		{strings.Repeat("🙂", MaxAnswerRunes), true},
	} {
		got, rs := run(t, s, text(tt.text))
		if tt.accept {
			if got.Step != StepOthers || got.Entry.Story != tt.text {
				t.Errorf("Step(%v, %d runes) = %v, want %v with the text kept whole", s.Step, len([]rune(tt.text)), got.Step, StepOthers)
			}
			continue
		}
		if got.Step != StepStory || got.Entry.Story != "" || len(rs) == 0 || rs[0].Kind != ReplyProblem || !strings.Contains(rs[0].Text, "3,001") {
			t.Errorf("Step(%v, %d runes) = %v, %v, want a problem naming 3,001 and no change", s.Step, len([]rune(tt.text)), got.Step, rs)
		}
	}
	// A long inline start is refused too, and nothing opens.
	got, rs := run(t, State{}, start(FlowReframe, strings.Repeat("x", MaxAnswerRunes+1)))
	if got.Open() || len(rs) != 1 || rs[0].Kind != ReplyProblem {
		t.Errorf("Step(closed, long start) = %v, %v, want a problem and nothing open", got, rs)
	}
}

func TestEmptyText(t *testing.T) {
	s, _ := run(t, State{}, start(FlowPause, ""))
	got, rs := run(t, s, text("   \n\t"))
	if got.Step != StepWhat || len(rs) != 2 || rs[0].Kind != ReplyProblem {
		t.Errorf("Step(%v, blank) = %v, %v, want a kind problem and the prompt again", s.Step, got.Step, rs)
	}
}

func TestParking(t *testing.T) {
	m := New(Config{})
	s, _ := run(t, State{}, start(FlowPause, "it happened"), text("my story"))
	if s.Step != StepFeeling {
		t.Fatalf("setup step = %v, want %v", s.Step, StepFeeling)
	}
	for _, tt := range []struct {
		idle   time.Duration
		in     Input
		parked bool
	}{
		{ParkAfter - time.Second, text("sad"), false},
		{ParkAfter, text("sad"), true},
		{ParkAfter, choice("sad"), true},
		{ParkAfter, start(FlowQuick, ""), true},
		{2 * time.Hour, text("sad"), true},
		{0, start(FlowQuick, ""), true}, // starting while open is offered the same way
	} {
		in := tt.in
		in.Now = s.Updated.Add(tt.idle)
		got, rs, err := m.Step(s, in)
		if err != nil {
			t.Fatal(err)
		}
		parked := got.Step == StepResumeOffer
		if parked != tt.parked {
			t.Errorf("Step(%v, %q) after %v = %v, want parked %v", s.Step, describe(in), tt.idle, got.Step, tt.parked)
			continue
		}
		if parked && (got.Parked != StepFeeling || len(rs) != 1 || len(rs[0].Choices) != 2) {
			t.Errorf("Step(%v, %q) = %+v, %v, want the resume offer for %v", s.Step, describe(in), got, rs, StepFeeling)
		}
		if parked && (in.Start != nil) != (got.Pending != nil) {
			t.Errorf("Step(%v, %q) Pending = %v, want it set only for a start", s.Step, describe(in), got.Pending)
		}
	}
}

func TestContinueAndStartFresh(t *testing.T) {
	m := New(Config{})
	s, before := run(t, State{}, start(FlowPause, "it happened"), text("They think I'm slow"), text("anxious"), text("5"), text("facts"))
	want, err := m.Prompt(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before[len(before)-1], want) {
		t.Errorf("Prompt(%v) = %v, want the last prompt %v", s.Step, want, before[len(before)-1])
	}
	later := s.Updated.Add(time.Hour)
	got, rs := runFrom(t, s, later, text("anything"), text("1"))
	if got.Step != StepOthers || len(rs) != 1 || !reflect.DeepEqual(rs[0], want) {
		t.Errorf("continue = %v, %v, want %v asked again exactly: %v", got.Step, rs, StepOthers, want)
	}
	if got.Entry.Story != "They think I'm slow" || *got.Entry.StrengthBefore != 5 {
		t.Errorf("continue lost answers: %+v", got.Entry)
	}

	got, rs = runFrom(t, s, later, text("anything"), choice("fresh"))
	if got.Flow != FlowPause || got.Step != StepWhat || got.Entry.Story != "" || rs[0].Save != nil {
		t.Errorf("start fresh = %+v, %v, want a new pause and nothing saved", got, rs)
	}

	got, _ = run(t, s, start(FlowReframe, "new story"), text("start fresh"))
	if got.Flow != FlowReframe || got.Step != StepReframeBelief || got.Entry.Story != "new story" {
		t.Errorf("start fresh with pending reframe = %+v, want the reframe started", got)
	}

	// At a summary, starting fresh keeps what was finished.
	sum, _ := run(t, State{}, start(FlowQuick, ""), text("story"), text("other"), text("next"), text("no"))
	got, rs = run(t, sum, start(FlowQuick, ""), text("2"))
	if len(rs) != 2 || rs[0].Save == nil || rs[0].Save.Story != "story" || got.Step != StepStory || got.Entry.Story != "" {
		t.Errorf("start fresh at summary = %+v, %v, want the old one saved and a new quick pause", got, rs)
	}
}

func TestGoDeeper(t *testing.T) {
	s, rs := run(t, State{}, start(FlowPause, "the demo froze"), text("Everyone thinks I'm a fraud."), text("ashamed"), text("8"),
		text("It froze."), text("Demos freeze."), text("skip"), text("Send the recording."), choice("checkback-none"), text("6"), choice("deeper"))
	if len(rs) != 2 || rs[0].Save == nil || rs[0].Save.Flow != FlowPause || rs[0].Save.Story != "Everyone thinks I'm a fraud." {
		t.Fatalf("go deeper replies = %v, want the pause saved first", rs)
	}
	if *rs[0].Save.StrengthBefore != 8 || *rs[0].Save.StrengthAfter != 6 || rs[0].Save.What != "the demo froze" {
		t.Errorf("saved pause = %+v, want its answers", rs[0].Save)
	}
	if s.Flow != FlowReframe || s.Step != StepReframeBelief || s.Entry.Story != "Everyone thinks I'm a fraud." || !strings.Contains(rs[1].Text, "Everyone thinks I'm a fraud.") {
		t.Errorf("go deeper = %+v, %v, want a reframe at %v with the story", s, rs[1], StepReframeBelief)
	}
	if len(s.Hints) == 0 {
		t.Errorf("go deeper hints = %v, want traps spotted in the carried story", s.Hints)
	}
	s, rs = run(t, s, text("skip"), text("yes"), text("no"), text("I hide"), text("yes"), text("skip"), text("I had a glitch."),
		text("Ask for a rerun."), text("no"), text("yes"))
	if s.Open() || len(rs) != 1 || rs[0].Save == nil || rs[0].Save.Flow != FlowReframe || rs[0].Save.KinderStory != "I had a glitch." {
		t.Errorf("reframe save = %+v, %v, want the reframe saved", s, rs)
	}
	// At most two suggestions, and "yes" confirms those two.
	if want := ordered(trapIDs(SpotTraps("Everyone thinks I'm a fraud."))); !reflect.DeepEqual(rs[0].Save.Traps, want) || !reflect.DeepEqual(ordered(rs[0].Save.SuggestedTraps), want) {
		t.Errorf("reframe traps = %v, want %v", rs[0].Save.Traps, want)
	}
}

func TestPickTraps(t *testing.T) {
	hint, _ := run(t, State{}, start(FlowReframe, "I'm an idiot, I should have caught that bug."), text("skip"), text("skip"), text("skip"), text("skip"))
	if hint.Step != StepReframeTraps {
		t.Fatalf("setup step = %v", hint.Step)
	}
	shown := shownHints(hint)
	if len(shown) != 2 {
		t.Fatalf("suggested traps = %v, want two for this story", shown)
	}
	first, _ := trapByID(shown[0])
	both := ordered(shown)
	list, _ := run(t, hint, choice("list"))
	if list.Step != StepReframeTrapList {
		t.Fatalf("Step(%v, [choice:list]) = %v, want %v", hint.Step, list.Step, StepReframeTrapList)
	}
	tests := []struct {
		s    State
		in   Input
		want []string
		ok   bool
	}{
		{hint, text("yes"), both, true},
		{hint, choice("yes"), both, true},
		{hint, text("both fit"), both, true},
		{hint, text("none"), nil, true},
		{hint, text("no"), nil, true},
		{hint, text("Only " + first.Name), shown[:1], true},
		{hint, text("3"), shown[1:], true},
		{hint, text("mind reading"), []string{"mind-reading"}, true},
		{hint, text("Catastrophizing and labeling"), []string{"catastrophising", "labelling"}, true},
		{hint, text("maybe"), nil, false},
		{list, text(strconv.Itoa(len(Traps()) + 1)), nil, true}, // "None of these", after the traps
		{list, text("1, 3"), []string{"all-or-nothing", "fortune-telling"}, true},
		{list, text("3 1"), []string{"all-or-nothing", "fortune-telling"}, true},
		{list, text("mind reading, labelling"), []string{"mind-reading", "labelling"}, true},
		{list, text("Personalising"), []string{"personalising"}, true},
		{list, choice("labelling"), []string{"labelling"}, true},
		{list, text("yes"), nil, false},
		{list, text("1, 42"), nil, false},
		{list, text("maybe"), nil, false},
	}
	for _, tt := range tests {
		got, rs := run(t, tt.s, tt.in)
		if !tt.ok {
			if got.Step != tt.s.Step || rs[0].Kind != ReplyProblem {
				t.Errorf("Step(%v, %q) = %v, %v, want a problem", tt.s.Step, describe(tt.in), got.Step, rs)
			}
			continue
		}
		if got.Step != StepReframeTurnaround || !reflect.DeepEqual(got.Entry.Traps, tt.want) {
			t.Errorf("Step(%v, %q) = %v %v, want %v %v", tt.s.Step, describe(tt.in), got.Step, got.Entry.Traps, StepReframeTurnaround, tt.want)
		}
	}
}

func TestClosedInput(t *testing.T) {
	for _, in := range []Input{text("hello"), choice("save"), text("back"), text("skip")} {
		got, rs := run(t, State{}, in)
		if got.Open() || len(rs) != 1 || rs[0].Kind != ReplyInfo || !strings.Contains(rs[0].Text, "/story") {
			t.Errorf("Step(closed, %q) = %v, %v, want a note on how to start", describe(in), got, rs)
		}
	}
}

func TestStepErrors(t *testing.T) {
	m := New(Config{})
	bad := []State{
		{Version: StateVersion + 1},
		{Version: 1, Flow: Flow(9), Step: StepWhat},
		{Version: 1, Flow: FlowPause, Step: Step(99)},
		{Version: 1, Flow: FlowQuick, Step: StepFeeling},
		{Version: 1, Flow: FlowNone, Step: StepStory},
		{Version: 1, Flow: FlowPause, Step: StepResumeOffer, Parked: StepReframeTrue},
		{Version: 1, Flow: FlowPause, Step: StepStory, Trail: []Step{Step(-3)}},
	}
	for _, s := range bad {
		got, rs, err := m.Step(s, Input{Now: t0, Text: "hi"})
		if err == nil || rs != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("Step(%+v, %q) = %v, %v, %v, want an error and the state unchanged", s, "hi", got, rs, err)
		}
		if _, err := m.Prompt(s); err == nil {
			t.Errorf("Prompt(%+v) = nil error, want one", s)
		}
	}
	if _, _, err := m.Step(State{}, Input{Now: t0, Start: &Start{Flow: Flow(7)}}); err == nil {
		t.Errorf("Step(closed, start Flow(7)) = nil error, want one")
	}
}

func TestStepDoesNotShareMemory(t *testing.T) {
	s, _ := run(t, State{}, start(FlowReframe, "x"), text("a"))
	s.Trail = append(make([]Step, 0, 10), s.Trail...)
	before, _ := json.Marshal(s)
	run(t, s, text("b"), text("c"), text("1, 2"))
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Errorf("Step changed its input state: %s, want %s", after, before)
	}
}

func TestStateJSON(t *testing.T) {
	s, _ := run(t, State{}, start(FlowPause, "w"), text("They think I'm late"), text("sad"), text("4"), text("f"))
	s, _ = run(t, s, start(FlowQuick, "q"))
	back := roundTrip(t, s)
	if !reflect.DeepEqual(back.Entry.StrengthBefore, s.Entry.StrengthBefore) || back.Step != s.Step ||
		back.Parked != s.Parked || !reflect.DeepEqual(back.Pending, s.Pending) || !reflect.DeepEqual(back.Trail, s.Trail) ||
		!back.Updated.Equal(s.Updated) || !reflect.DeepEqual(back.Hints, s.Hints) {
		t.Errorf("JSON round trip = %+v, want %+v", back, s)
	}
	// A decoded state carries on exactly as the original would.
	m := New(Config{})
	in := Input{Now: s.Updated.Add(time.Minute), Text: "1"}
	a, ra, err1 := m.Step(s, in)
	b, rb, err2 := m.Step(back, in)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if err1 != nil || err2 != nil || string(ja) != string(jb) || !reflect.DeepEqual(ra, rb) {
		t.Errorf("Step(decoded) = %s, %v, want %s, %v", jb, rb, ja, ra)
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		r    Reply
		want string
	}{
		{Reply{Text: "Hi."}, "Hi."},
		{Reply{Text: "Pick:", Choices: []Choice{{"a", "Anxious"}, {"b", "Angry"}}}, "Pick:\n  1) Anxious\n  2) Angry"},
		{Reply{Text: "Rate:", Choices: strengthChoices()}, "Rate:\n  0 1 2 3 4 5 6 7 8 9 10"},
	}
	for _, tt := range tests {
		if got := PlainText(tt.r); got != tt.want {
			t.Errorf("PlainText(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	for s := StepNone; s <= StepResumeOffer; s++ {
		if strings.HasPrefix(s.String(), "Step(") {
			t.Errorf("Step(%d).String() = %q, want a name", int(s), s.String())
		}
	}
	if got := Step(99).String(); got != "Step(99)" {
		t.Errorf("Step(99).String() = %q, want %q", got, "Step(99)")
	}
	if got := FlowReframe.String(); got != "reframe" {
		t.Errorf("FlowReframe.String() = %q", got)
	}
}

// TestPromptWording keeps every prompt short: one question, under about 25 words.
func TestPromptWording(t *testing.T) {
	m := New(Config{})
	for f := FlowPause; f <= FlowReframe; f++ {
		for st := StepWhat; st < StepResumeOffer; st++ {
			if !inFlow(f, st) || st == StepSummary || st == StepReframeSummary || st == StepReframeTraps {
				continue
			}
			r, err := m.Prompt(State{Flow: f, Step: st, Entry: Entry{Story: "s"}})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(strings.Fields(r.Text)); n > 25 {
				t.Errorf("Prompt(%v/%v) has %d words, want at most 25: %q", f, st, n, r.Text)
			}
			if q := strings.Count(r.Text, "?"); q > 2 {
				t.Errorf("Prompt(%v/%v) asks %d questions: %q", f, st, q, r.Text)
			}
		}
	}
}

// TestStopAfterGoDeeperSaysWhatWasSaved: "Go deeper" saves the pause and says so; stopping
// the reframe after it says the pause is saved and the reframe is not.
func TestStopAfterGoDeeperSaysWhatWasSaved(t *testing.T) {
	m := New(Config{})
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := State{Version: StateVersion, Flow: FlowPause, Step: StepSummary, Updated: now,
		Entry: Entry{Flow: FlowPause, What: "w", Story: "They think I'm slow.", Others: []string{"busy"}, Next: "ask"}}
	s, rs, err := m.Step(s, Input{Choice: "deeper", Now: now})
	if err != nil || len(rs) == 0 || rs[0].Save == nil || !strings.Contains(rs[0].Text, "Saved") {
		t.Fatalf("Go deeper = %+v, %v; want the pause saved, and said", rs, err)
	}
	_, rs, err = m.Step(s, Input{Text: "stop", Now: now.Add(time.Minute)})
	if err != nil || len(rs) != 1 || !strings.Contains(rs[0].Text, "pause is saved") || !strings.Contains(rs[0].Text, "not saved") || strings.Contains(rs[0].Text, "nothing was saved") {
		t.Errorf("stop after Go deeper = %+v, %v; want what was and was not saved", rs, err)
	}
}

// TestFeelingWithStrength: a feeling and its strength typed as one answer fill both steps
// (the peer kit's walk and many people type "anxious 6"); a bare number still picks a
// button, and back returns to the strength question.
func TestFeelingWithStrength(t *testing.T) {
	tests := []struct {
		in           string
		wantFeeling  string
		wantStrength int // -1: none yet
		wantStep     Step
	}{
		{"anxious 6", "anxious", 6, StepFacts},
		{"Angry, 7/10", "angry", 7, StepFacts},
		{"drained - 4 out of 10", "drained", 4, StepFacts},
		{"drained 4 out of 10", "drained", 4, StepFacts},
		{"embarrassed 0", "embarrassed", 0, StepFacts},
		{"anxious 11", "anxious 11", -1, StepStrength}, // not a rating: their own word
		{"2", "", -1, StepStrength},                    // a button number
		{"2 6", "2 6", -1, StepStrength},
		{"anxious", "anxious", -1, StepStrength},
		{"other 5", "other 5", -1, StepStrength}, // not "Other…": taken as their word, as before
	}
	for _, tt := range tests {
		s, _ := run(t, State{}, start(FlowPause, ""), text("w"), text("s"), text(tt.in))
		if s.Step != tt.wantStep {
			t.Errorf("%q: step %v, want %v", tt.in, s.Step, tt.wantStep)
		}
		if tt.wantFeeling != "" && s.Entry.Feeling != tt.wantFeeling {
			t.Errorf("%q: feeling %q, want %q", tt.in, s.Entry.Feeling, tt.wantFeeling)
		}
		got := -1
		if s.Entry.StrengthBefore != nil {
			got = *s.Entry.StrengthBefore
		}
		if got != tt.wantStrength {
			t.Errorf("%q: strength %d, want %d", tt.in, got, tt.wantStrength)
		}
	}
	s, _ := run(t, State{}, start(FlowPause, ""), text("w"), text("s"), text("anxious 6"), text("back"))
	if s.Step != StepStrength {
		t.Errorf("back after \"anxious 6\": step %v, want the strength question", s.Step)
	}
}
