package flows

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultCrisisResources is the crisis resources text used when Config.CrisisResources is empty.
const DefaultCrisisResources = "If you are in danger right now, call your local emergency number. " +
	"You can find a free, confidential helpline near you at https://findahelpline.com."

// Config configures a Machine.
type Config struct {
	// CrisisResources replaces the resources part of the safety message
	// (STORYBOT_CRISIS_TEXT). Empty means DefaultCrisisResources.
	CrisisResources string
}

// Machine runs every dialogue. It holds only configuration, so one Machine may serve all
// users at once.
type Machine struct {
	crisisResources string
}

// New returns a Machine configured by cfg.
func New(cfg Config) *Machine {
	r := strings.TrimSpace(cfg.CrisisResources)
	if r == "" {
		r = DefaultCrisisResources
	}
	return &Machine{crisisResources: r}
}

// Step applies one input to a user's dialogue state and returns the next state and the
// replies to show, in order. It is the single entry point for all dialogues.
//
// Every returned State has Version StateVersion and Updated in.Now, but for a repeated
// start: a Start whose Request started the dialogue that is open, or the offer to start it,
// leaves s as it is and says nothing (a replayed slash command, or a proxy's retry of one).
// A reply with Save set carries a finished dialogue the user chose to keep. Step returns an error, and s unchanged,
// only when s cannot be read (an unknown version, flow or step) or in starts an unknown flow;
// bad user input is answered with a ReplyProblem, never an error.
func (m *Machine) Step(s State, in Input) (State, []Reply, error) {
	if err := check(s); err != nil {
		return s, nil, err
	}
	if in.Start != nil {
		if _, err := startFlow(*in.Start); err != nil {
			return s, nil, err
		}
	}
	if r := in.Start; r != nil && r.Request != "" && s.Open() && (s.Request == r.Request || s.Pending != nil && s.Pending.Request == r.Request) {
		return s, nil, nil
	}
	in = validUTF8(in)
	next, replies, err := m.step(s.clone(), in)
	if err != nil {
		return s, nil, err
	}
	next.Version = StateVersion
	next.Updated = in.Now
	return next, replies, nil
}

// Prompt returns the open prompt of s: the question the dialogue is waiting on. With no
// dialogue open, it returns the short note that says how to start one.
func (m *Machine) Prompt(s State) (Reply, error) {
	if err := check(s); err != nil {
		return Reply{}, err
	}
	if s.Check != nil {
		return checkPrompt(), nil
	}
	if !s.Open() {
		return idleReply(), nil
	}
	if s.Step == StepCheckin {
		return checkinPrompt(), nil
	}
	if isPlanStep(s.Step) {
		return planPrompt(s)
	}
	if s.Flow == FlowFollowup {
		return followupPrompt(s)
	}
	return m.prompt(s)
}

// step does the work of Step on a checked, privately owned state.
func (m *Machine) step(s State, in Input) (State, []Reply, error) {
	// Safety comes before everything else, parked or not, open or not.
	s, rs, done, err := m.safety(s, in)
	if done || err != nil {
		return s, rs, err
	}
	return m.proceed(s, in)
}

// proceed does the work of step for an input that passed the safety check.
func (m *Machine) proceed(s State, in Input) (State, []Reply, error) {
	if in.Start != nil && in.Start.Flow == FlowFollowup {
		return m.startFollowup(s, *in.Start, in.Now)
	}
	if in.Start == nil && s.Flow == FlowFollowup {
		return m.stepFollowup(s, in) // it has its own stop, skip and back
	}

	cmd := command(in)
	if cmd == "stop" {
		if !s.Open() {
			return State{}, []Reply{idleReply()}, nil
		}
		if s.Deeper {
			return State{}, []Reply{info(textStoppedDeeper)}, nil
		}
		return State{}, []Reply{info(textStopped)}, nil
	}

	if in.Start != nil {
		if n := utf8.RuneCountInString(strings.TrimSpace(in.Start.Text)); n > MaxAnswerRunes {
			return m.problem(s, tooLong(n))
		}
	}

	if in.Start != nil && in.Start.Flow == FlowCheckin {
		return m.startCheckin(s, in.Now, in.Start.NoCheckBack)
	}
	if in.Start != nil && (s.Flow == FlowCheckin || s.Flow == FlowFollowup) {
		// An unanswered check-in gives way to any dialogue the user starts; so does a
		// follow-up, whose answers so far are already kept with the entry.
		s = State{}
	}
	if s.Open() && s.Flow != FlowCheckin && s.Step != StepResumeOffer && !in.Now.Before(s.Updated.Add(ParkAfter)) {
		return m.offer(s, in.Start)
	}
	if in.Start != nil {
		if s.Open() {
			return m.offer(s, in.Start)
		}
		st, _ := startFlow(*in.Start) // checked in Step
		return m.start(st, in.Now)
	}
	if !s.Open() {
		return State{}, []Reply{idleReply()}, nil
	}

	if in.Choice == "" {
		if n := utf8.RuneCountInString(in.Text); n > MaxAnswerRunes {
			return m.problem(s, tooLong(n))
		}
	}
	if isPlanStep(s.Step) && (cmd == "skip" || cmd == "") {
		return m.answerPlan(s, in, cmd == "skip")
	}
	switch cmd {
	case "back":
		return m.back(s)
	case "skip":
		return m.skip(s)
	}
	return m.answer(s, in)
}

// validUTF8 replaces invalid UTF-8 in the input's text with U+FFFD, as JSON would, so that
// what is stored reads back the same.
func validUTF8(in Input) Input {
	in.Text = strings.ToValidUTF8(in.Text, "\uFFFD")
	in.Choice = strings.ToValidUTF8(in.Choice, "\uFFFD")
	if in.Start != nil {
		st := *in.Start
		st.Text = strings.ToValidUTF8(st.Text, "\uFFFD")
		in.Start = &st
	}
	return in
}

// check reports whether s is a state this code can read.
func check(s State) error {
	if s.Version < 0 || s.Version > StateVersion {
		return fmt.Errorf("flows: unknown state version %d", s.Version)
	}
	if !validFlow(s.Flow) {
		return fmt.Errorf("flows: unknown flow %d", int(s.Flow))
	}
	if !validStep(s.Step) {
		return fmt.Errorf("flows: unknown step %d", int(s.Step))
	}
	if s.Check != nil && s.Check.Start != nil {
		if _, err := startFlow(*s.Check.Start); err != nil {
			return err
		}
	}
	if s.Flow == FlowNone {
		if s.Step != StepNone {
			return fmt.Errorf("flows: step %v with no dialogue open", s.Step)
		}
		return nil
	}
	if s.Step == StepResumeOffer {
		if !inFlow(s.Flow, s.Parked) {
			return fmt.Errorf("flows: parked step %v is not part of the %v dialogue", s.Parked, s.Flow)
		}
		if s.Pending != nil {
			if _, err := startFlow(*s.Pending); err != nil {
				return err
			}
		}
	} else if !inFlow(s.Flow, s.Step) {
		return fmt.Errorf("flows: step %v is not part of the %v dialogue", s.Step, s.Flow)
	}
	for _, t := range s.Trail {
		if !inFlow(s.Flow, t) {
			return fmt.Errorf("flows: step %v in trail is not part of the %v dialogue", t, s.Flow)
		}
	}
	return nil
}

func validFlow(f Flow) bool { return f >= FlowNone && f <= FlowFollowup || f == FlowSafetyPlan }

func validStep(s Step) bool { return s >= StepNone && s <= StepFollowupAgain || isPlanStep(s) }

// inFlow reports whether step is a prompt of flow.
func inFlow(f Flow, s Step) bool {
	switch f {
	case FlowPause:
		return s >= StepWhat && s <= StepSummary || s == StepRumble || s == StepCheckBack
	case FlowQuick:
		return s == StepStory || s == StepOthers || s == StepNext || s == StepCheckBack || s == StepSummary
	case FlowReframe:
		return s >= StepReframeStory && s <= StepReframeSummary || s == StepCheckBack ||
			s >= StepReframeBelief && s <= StepReframeBeliefAfter
	case FlowCheckin:
		return s == StepCheckin
	case FlowSafetyPlan:
		return isPlanStep(s)
	case FlowFollowup:
		return inFollowup(s)
	default:
		return false
	}
}

// startFlow returns st with its flow made explicit: a Start with no flow is a Pause.
func startFlow(st Start) (Start, error) {
	switch st.Flow {
	case FlowNone:
		st.Flow = FlowPause
	case FlowPause, FlowQuick, FlowReframe, FlowCheckin, FlowSafetyPlan, FlowFollowup:
	default:
		return st, fmt.Errorf("flows: cannot start unknown flow %d", int(st.Flow))
	}
	st.Text = strings.TrimSpace(st.Text)
	return st, nil
}

// clone returns a deep copy of s, so that Step never writes into the caller's slices.
func (s State) clone() State {
	s.Trail = append([]Step(nil), s.Trail...)
	s.Hints = append([]string(nil), s.Hints...)
	s.Turnarounds = append([]Turnaround(nil), s.Turnarounds...)
	s.Entry = s.Entry.clone()
	if s.Pending != nil {
		p := *s.Pending
		s.Pending = &p
	}
	return s
}

func (e Entry) clone() Entry {
	e.Others = append([]string(nil), e.Others...)
	e.Traps = append([]string(nil), e.Traps...)
	e.SuggestedTraps = append([]string(nil), e.SuggestedTraps...)
	for _, p := range []**int{&e.BeliefBefore, &e.BeliefAfter} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	if e.CheckBack != nil {
		t := *e.CheckBack
		e.CheckBack = &t
	}
	if e.StrengthBefore != nil {
		v := *e.StrengthBefore
		e.StrengthBefore = &v
	}
	if e.StrengthAfter != nil {
		v := *e.StrengthAfter
		e.StrengthAfter = &v
	}
	if e.FollowUp != nil {
		v := e.FollowUp.clone()
		e.FollowUp = &v
	}
	return e
}

// command returns "stop", "back" or "skip" when the input is exactly one of those words.
func command(in Input) string {
	if in.Start != nil {
		return ""
	}
	t := in.Text
	if in.Choice != "" {
		t = in.Choice
	}
	switch c := strings.ToLower(strings.TrimSpace(t)); c {
	case "stop", "back", "skip":
		return c
	}
	return ""
}

// start opens the dialogue st asks for.
func (m *Machine) start(st Start, now time.Time) (State, []Reply, error) {
	s := State{Flow: st.Flow, Entry: Entry{Flow: st.Flow, Created: now}, NoCheckBack: st.NoCheckBack, Request: st.Request}
	switch st.Flow {
	case FlowPause:
		s.Step = StepWhat
		if st.Text != "" {
			s.Entry.What = st.Text
			s.Trail = []Step{StepWhat}
			s.Step = StepStory
		}
	case FlowQuick:
		s.Step = StepStory
		if st.Text != "" {
			s.setStory(st.Text)
			s.Trail = []Step{StepStory}
			s.Step = StepOthers
		}
	case FlowReframe:
		s.Step = StepReframeStory
		if st.Text != "" {
			s.setStory(st.Text)
			s.Trail = []Step{StepReframeStory}
			s.Step = StepReframeBelief
		}
	case FlowSafetyPlan:
		return m.startPlan(now)
	default:
		return s, nil, fmt.Errorf("flows: cannot start unknown flow %d", int(st.Flow))
	}
	return m.ask(s)
}

// setStory records the story and the thinking traps it suggests. A new story takes back a
// "yes" to the old story's hint.
func (s *State) setStory(story string) {
	if story != s.Entry.Story {
		s.HintAnswered = false
		s.Entry.Traps = nil
	}
	s.Entry.Story = story
	s.Hints = trapIDs(SuggestTraps(story))
	s.Entry.SuggestedTraps = append([]string(nil), s.Hints...)
}

// ask returns s with its prompt.
func (m *Machine) ask(s State, before ...Reply) (State, []Reply, error) {
	if s.Step == StepCheckin {
		return s, append(before, checkinPrompt()), nil
	}
	if isPlanStep(s.Step) {
		p, err := planPrompt(s)
		return s, append(before, p), err
	}
	if s.Flow == FlowFollowup {
		p, err := followupPrompt(s)
		if err != nil {
			return s, nil, err
		}
		return s, append(before, p), nil
	}
	p, err := m.prompt(s)
	if err != nil {
		return s, nil, err
	}
	return s, append(before, p), nil
}

// problem answers input that could not be taken: the problem, then the open prompt again.
func (m *Machine) problem(s State, text string) (State, []Reply, error) {
	r := Reply{Kind: ReplyProblem, Text: text}
	if !s.Open() {
		return s, []Reply{r}, nil
	}
	return m.ask(s, r)
}

// offer parks the open dialogue behind "continue where you left off, or start fresh?",
// remembering what to start instead.
func (m *Machine) offer(s State, st *Start) (State, []Reply, error) {
	if s.Step != StepResumeOffer {
		s.Parked = s.Step
		s.Step = StepResumeOffer
	}
	if st != nil {
		p, err := startFlow(*st)
		if err != nil {
			return s, nil, err
		}
		s.Pending = &p
	}
	return m.ask(s)
}

// advance moves s to its next step and asks it.
func (m *Machine) advance(s State, before ...Reply) (State, []Reply, error) {
	next, err := nextStep(s)
	if err != nil {
		return s, nil, err
	}
	s.Trail = append(s.Trail, s.Step)
	s.Step = next
	if next == StepReframeTurnaround {
		// Built as the step is entered, so a button press picks the very sentence shown.
		s.Turnarounds = Turnarounds(s.Entry.Story)
	}
	return m.ask(s, before...)
}

// nextStep is the step after s.Step, given the answers so far. With check-backs off the
// check-back step is passed over, as if it had been skipped.
func nextStep(s State) (Step, error) {
	next, err := nextStepAll(s)
	if err == nil && next == StepCheckBack && s.NoCheckBack {
		s.Step = StepCheckBack
		return nextStepAll(s)
	}
	return next, err
}

// nextStepAll is nextStep with every step.
func nextStepAll(s State) (Step, error) {
	e := s.Entry
	switch s.Flow {
	case FlowPause:
		switch s.Step {
		case StepWhat:
			return StepStory, nil
		case StepStory:
			return StepFeeling, nil
		case StepFeeling:
			if e.Feeling == "" {
				return StepFacts, nil // no feeling named: no strength to rate
			}
			return StepStrength, nil
		case StepFeelingOther:
			if e.Feeling == "" {
				return StepFacts, nil
			}
			return StepStrength, nil
		case StepStrength:
			return StepFacts, nil
		case StepFacts:
			return StepOthers, nil
		case StepOthers:
			return StepRumble, nil
		case StepRumble:
			return StepNext, nil
		case StepNext:
			return StepCheckBack, nil
		case StepCheckBack:
			if e.StrengthBefore == nil {
				return StepSummary, nil // no rating before, so no shift to measure
			}
			return StepStrengthAfter, nil
		case StepStrengthAfter:
			return StepSummary, nil
		}
	case FlowQuick:
		switch s.Step {
		case StepStory:
			return StepOthers, nil
		case StepOthers:
			return StepNext, nil
		case StepNext:
			return StepCheckBack, nil
		case StepCheckBack:
			return StepSummary, nil
		}
	case FlowReframe:
		switch s.Step {
		case StepReframeStory:
			return StepReframeBelief, nil
		case StepReframeBelief:
			return StepReframeTrue, nil
		case StepReframeTrue:
			if isNo(e.IsTrue) {
				return StepReframeReact, nil // not true: "can you absolutely know?" has its answer
			}
			return StepReframeAbsolutely, nil
		case StepReframeAbsolutely:
			return StepReframeReact, nil
		case StepReframeReact:
			return StepReframeTraps, nil
		case StepReframeTraps, StepReframeTrapList:
			return StepReframeTurnaround, nil
		case StepReframeTurnaround:
			return StepReframeExample, nil
		case StepReframeExample:
			return StepReframeWithout, nil
		case StepReframeWithout:
			return StepReframeNext, nil
		case StepReframeNext:
			return StepCheckBack, nil
		case StepCheckBack:
			if e.BeliefBefore == nil {
				return StepReframeSummary, nil
			}
			return StepReframeBeliefAfter, nil
		case StepReframeBeliefAfter:
			return StepReframeSummary, nil
		}
	}
	return StepNone, fmt.Errorf("flows: unknown step %d after which to go on in the %v dialogue", int(s.Step), s.Flow)
}

// back moves to the previous step, keeping the answers.
func (m *Machine) back(s State) (State, []Reply, error) {
	if s.Step == StepResumeOffer {
		return m.ask(s, info(textBackAtOffer))
	}
	if len(s.Trail) == 0 {
		return m.ask(s, info(textNothingBefore))
	}
	s.Step = s.Trail[len(s.Trail)-1]
	s.Trail = s.Trail[:len(s.Trail)-1]
	return m.ask(s)
}

// skip leaves out an optional step and moves on; other steps are kindly refused.
func (m *Machine) skip(s State) (State, []Reply, error) {
	e := &s.Entry
	switch s.Step {
	case StepFeeling, StepFeelingOther:
		// With no feeling named there is nothing to rate, so both ratings go too.
		e.Feeling, e.StrengthBefore, e.StrengthAfter = "", nil, nil
	case StepStrength:
		e.StrengthBefore, e.StrengthAfter = nil, nil
	case StepStrengthAfter:
		e.StrengthAfter = nil
	case StepFacts:
		e.Facts = ""
	case StepReframeTrue:
		e.IsTrue = ""
	case StepReframeAbsolutely:
		e.Absolutely = ""
	case StepReframeReact:
		e.Reaction = ""
	case StepReframeTraps, StepReframeTrapList:
		e.Traps = nil
	case StepRumble:
		e.Learn = ""
	case StepCheckBack:
		e.CheckBack = nil
	case StepReframeBelief:
		e.BeliefBefore, e.BeliefAfter = nil, nil
	case StepReframeBeliefAfter:
		e.BeliefAfter = nil
	case StepReframeTurnaround:
		// No turnaround, so no example to ask for: on to the fair story.
		e.Turnaround, e.Example = "", ""
		s.Trail = append(s.Trail, s.Step)
		s.Step = StepReframeWithout
		return m.ask(s)
	case StepReframeExample:
		e.Example = ""
	case StepWhat, StepStory, StepOthers, StepNext, StepReframeStory, StepReframeWithout, StepReframeNext:
		return m.ask(s, info(textNoSkip))
	case StepSummary, StepReframeSummary, StepResumeOffer:
		return m.ask(s, info(textNoSkipChoice))
	case StepCheckin:
		return m.checkinChoice(s, "skip", time.Time{})
	default:
		return s, nil, fmt.Errorf("flows: unknown step %d", int(s.Step))
	}
	return m.advance(s)
}

// answer applies typed text or a pressed button to the open step.
func (m *Machine) answer(s State, in Input) (State, []Reply, error) {
	switch s.Step {
	case StepWhat, StepStory, StepFeelingOther, StepFacts, StepNext, StepRumble,
		StepReframeStory, StepReframeReact, StepReframeWithout, StepReframeExample, StepReframeNext:
		return m.answerText(s, in)
	case StepOthers:
		return m.answerOthers(s, in)
	case StepReframeTrue, StepReframeAbsolutely:
		return m.answerYesNo(s, in)
	case StepFeeling:
		return m.answerFeeling(s, in)
	case StepStrength, StepStrengthAfter, StepReframeBelief, StepReframeBeliefAfter:
		return m.answerStrength(s, in)
	case StepSummary, StepReframeSummary:
		return m.answerSummary(s, in)
	case StepReframeTraps, StepReframeTrapList:
		return m.answerTraps(s, in)
	case StepReframeTurnaround:
		return m.answerTurnaround(s, in)
	case StepCheckBack:
		return m.answerCheckBack(s, in)
	case StepResumeOffer:
		return m.answerOffer(s, in)
	case StepCheckin:
		return m.answerCheckin(s, in)
	default:
		return s, nil, fmt.Errorf("flows: unknown step %d", int(s.Step))
	}
}

// answerText takes the answer at a step that asks for the user's own words.
func (m *Machine) answerText(s State, in Input) (State, []Reply, error) {
	if in.Choice != "" {
		return m.problem(s, textStaleButton)
	}
	t := strings.TrimSpace(in.Text)
	if t == "" {
		return m.problem(s, textEmpty)
	}
	e := &s.Entry
	switch s.Step {
	case StepWhat:
		e.What = t
	case StepStory, StepReframeStory:
		s.setStory(t)
	case StepFeelingOther:
		e.Feeling = t
	case StepFacts:
		e.Facts = t
	case StepOthers:
		e.Others = []string{t}
	case StepNext, StepReframeNext:
		e.Next = t
	case StepRumble:
		e.Learn = t
	case StepReframeExample:
		e.Example = t
	case StepReframeReact:
		e.Reaction = t
	case StepReframeWithout:
		e.KinderStory = t
	default:
		return s, nil, fmt.Errorf("flows: unknown step %d", int(s.Step))
	}
	return m.advance(s)
}

// reFeelingStrength reads a feeling and its strength typed as one answer: "anxious 6",
// "angry, 7/10", "tired - 4 out of 10". People answer the two questions at once.
var reFeelingStrength = regexp.MustCompile(`^(.*?[^\s,:;-])[\s,:;-]+(\d{1,2})\s*(?:/\s*10|out of 10)?$`)

// feelingWithStrength splits a typed "feeling N" into the feeling (a choice's ID, or the
// user's own word) and the strength; ok is false for anything else, including a bare
// choice number ("2") or "2 6", which stay ambiguous and go the usual way.
func feelingWithStrength(text string) (feeling string, strength int, ok bool) {
	sm := reFeelingStrength.FindStringSubmatch(strings.TrimSpace(text))
	if sm == nil {
		return "", 0, false
	}
	v, err := strconv.Atoi(sm[2])
	word := strings.TrimSpace(sm[1])
	if err != nil || v > 10 || strings.Trim(word, "0123456789 ") == "" {
		return "", 0, false
	}
	if id, matched := match(feelingChoices(), Input{Text: word}); matched {
		if id == "other" {
			return "", 0, false
		}
		return id, v, true
	}
	return word, v, true
}

// answerFeeling takes a feeling button, its label or number, or the user's own word — with
// its strength too, when typed together ("anxious 6"), and then the strength question is
// passed (back still reaches it).
func (m *Machine) answerFeeling(s State, in Input) (State, []Reply, error) {
	if in.Choice == "" && in.Start == nil {
		if f, v, ok := feelingWithStrength(in.Text); ok {
			s.Entry.Feeling, s.Entry.StrengthBefore = f, &v
			s.Trail = append(s.Trail, s.Step)
			s.Step = StepStrength
			return m.advance(s)
		}
	}
	id, ok := match(feelingChoices(), in)
	switch {
	case ok && id == "other":
		s.Trail = append(s.Trail, s.Step)
		s.Step = StepFeelingOther
		return m.ask(s)
	case ok:
		s.Entry.Feeling = id
	case in.Choice != "":
		return m.problem(s, textStaleButton)
	default:
		t := strings.TrimSpace(in.Text)
		if t == "" {
			return m.problem(s, textEmpty)
		}
		s.Entry.Feeling = t // their word, as they wrote it
	}
	return m.advance(s)
}

// strengthAnswer reads a rating from 0 to 10: a button, or typed ("7", "7/10"). When in is
// not one, problem is what to tell the user.
func strengthAnswer(in Input) (v int, problem string) {
	if id, matched := match(strengthChoices(), in); matched {
		v, _ = strconv.Atoi(id)
		return v, ""
	}
	if in.Choice != "" {
		return 0, textStaleButton
	}
	if v, ok := parseStrength(in.Text); ok {
		return v, ""
	}
	return 0, textNotStrength
}

// answerStrength takes a rating from 0 to 10.
func (m *Machine) answerStrength(s State, in Input) (State, []Reply, error) {
	v, problem := strengthAnswer(in)
	if problem != "" {
		return m.problem(s, problem)
	}
	switch s.Step {
	case StepStrength:
		s.Entry.StrengthBefore = &v
	case StepStrengthAfter:
		s.Entry.StrengthAfter = &v
	case StepReframeBelief:
		s.Entry.BeliefBefore = &v
	case StepReframeBeliefAfter:
		s.Entry.BeliefAfter = &v
	}
	return m.advance(s)
}

// parseStrength reads a typed rating such as "7", "7/10" or "7 out of 10".
func parseStrength(text string) (int, bool) {
	t := normal(text)
	t = strings.TrimSuffix(t, "/10")
	t = strings.TrimSuffix(t, " out of 10")
	t = strings.TrimSpace(t)
	v, err := strconv.Atoi(t)
	if err != nil || v < 0 || v > 10 {
		return 0, false
	}
	return v, true
}

// saveWords are typed answers that mean "save" at a summary, its default.
var saveWords = map[string]bool{"yes": true, "y": true, "ok": true, "okay": true, "save": true, "save it": true, "sure": true}

// answerSummary takes save, discard or (after a pause) go deeper.
func (m *Machine) answerSummary(s State, in Input) (State, []Reply, error) {
	id, ok := match(summaryChoices(s.Flow), in)
	if !ok && in.Choice == "" && saveWords[normal(in.Text)] {
		id, ok = "save", true
	}
	if !ok {
		if in.Choice != "" {
			return m.problem(s, textStaleButton)
		}
		return m.problem(s, textNotChoice)
	}
	switch id {
	case "save":
		return State{}, []Reply{saveReply(s, textSaved)}, nil
	case "discard":
		return State{}, []Reply{info(textDiscarded)}, nil
	case "deeper":
		saved := saveReply(s, textSavedDeeper)
		r := State{Flow: FlowReframe, Step: StepReframeBelief, Trail: []Step{StepReframeStory},
			Entry: Entry{Flow: FlowReframe, Created: in.Now}, Deeper: true, NoCheckBack: s.NoCheckBack}
		r.setStory(s.Entry.Story)
		return m.ask(r, saved)
	default:
		return s, nil, fmt.Errorf("flows: unknown summary choice %q", id)
	}
}

// saveReply is the reply that asks the caller to keep the dialogue in the journal.
func saveReply(s State, text string) Reply {
	e := s.Entry.clone()
	e.Flow = s.Flow
	e.SuggestedTraps = shownHints(s) // what the user was shown, not what the detector found
	if len(e.Others) == 0 {
		e.Others = nil
	}
	if len(e.Traps) == 0 {
		e.Traps = nil
	}
	if len(e.SuggestedTraps) == 0 {
		e.SuggestedTraps = nil
	}
	return Reply{Kind: ReplyInfo, Text: text, Save: &e}
}

// yesWords and noneWords answer the suggested thinking traps.
var (
	yesWords  = map[string]bool{"yes": true, "y": true, "yep": true, "yeah": true, "ok": true, "it fits": true, "that fits": true, "they fit": true, "those fit": true, "yes those fit": true, "yes that fits": true, "both": true, "both fit": true, "yes both": true}
	noneWords = map[string]bool{"none": true, "no": true, "nope": true, "none of these": true, "none of them": true, "neither": true, "nothing": true}
)

// answerTraps takes the thinking traps the user recognises: yes to the suggestions, one of
// them, some from the full list by number or name ("1, 3", "mind reading and labelling"),
// or none. "Show all" opens the full list.
func (m *Machine) answerTraps(s State, in Input) (State, []Reply, error) {
	if s.Step == StepReframeTraps && len(shownHints(s)) > 0 {
		if id, ok := match(hintChoices(shownHints(s)), in); ok && id == "list" {
			s.Trail = append(s.Trail, s.Step)
			s.Step = StepReframeTrapList
			return m.ask(s)
		}
	}
	ids, ok := m.pickTraps(s, in)
	if !ok {
		switch {
		case in.Choice != "":
			return m.problem(s, textStaleButton)
		case yesWords[normal(in.Text)]:
			return m.problem(s, textNoSuggestions)
		default:
			return m.problem(s, textNotTraps)
		}
	}
	s.Entry.Traps = ids
	return m.advance(s)
}

// pickTraps reads the answer at the traps steps. A nil, true result means none.
func (m *Machine) pickTraps(s State, in Input) ([]string, bool) {
	hints := shownHints(s)
	choices := trapChoices()
	if s.Step == StepReframeTraps && len(hints) > 0 {
		choices = hintChoices(hints)
	}
	if id, ok := match(choices, in); ok {
		switch id {
		case "none":
			return nil, true
		case "yes":
			return ordered(hints), true
		case "list":
			return nil, false
		}
		return []string{id}, true
	}
	if in.Choice != "" {
		return nil, false
	}
	t := normal(in.Text)
	if yesWords[t] {
		return ordered(hints), len(hints) > 0 && s.Step == StepReframeTraps
	}
	if noneWords[t] {
		return nil, true
	}
	var picked []string
	for _, part := range splitList(t) {
		if id, ok := matchTrap(part); ok {
			picked = append(picked, id)
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > len(choices) {
			return nil, false
		}
		id := choices[n-1].ID
		if _, isTrap := trapByID(id); !isTrap {
			return nil, false
		}
		picked = append(picked, id)
	}
	if len(picked) == 0 {
		return nil, false
	}
	return ordered(picked), true
}

// shownHints are the thinking traps the dialogue suggests to the user: one beside "what
// else could be true?" in a pause, at most two in a reframe.
func shownHints(s State) []string {
	n := 1
	if s.Flow == FlowReframe {
		n = 2
	}
	if len(s.Hints) < n {
		n = len(s.Hints)
	}
	return append([]string(nil), s.Hints[:n]...)
}

// answerOthers takes another story. An answer to the thinking-trap hint itself ("yes",
// "no", "that fits") is not a story: it is noted — a yes confirms the trap — and the
// question is asked again, without the hint.
func (m *Machine) answerOthers(s State, in Input) (State, []Reply, error) {
	if in.Choice == "" {
		if reply, ok := hintReply(in.Text); ok {
			hints := shownHints(s)
			if len(hints) == 0 || s.HintAnswered {
				return m.problem(s, textNotAStory)
			}
			s.HintAnswered = true
			if reply == "yes" {
				s.Entry.Traps = ordered(append(s.Entry.Traps, hints...))
			}
			return m.ask(s, info(textHintNoted))
		}
	}
	if in.Choice != "" {
		return m.problem(s, textStaleButton)
	}
	t := strings.TrimSpace(in.Text)
	if t == "" {
		return m.problem(s, textEmpty)
	}
	s.Entry.Others = []string{t}
	return m.advance(s)
}

// hintWords are the words of an answer to "does that fit?" rather than another story.
var hintWords = map[string]string{
	"yes": "yes", "y": "yes", "yeah": "yes", "yep": "yes", "yup": "yes", "ya": "yes", "sure": "yes",
	"ok": "yes", "okay": "yes", "true": "yes", "right": "yes", "correct": "yes", "exactly": "yes",
	"fits": "yes", "fit": "yes", "agreed": "yes", "definitely": "yes", "absolutely": "yes", "totally": "yes",
	"probably": "yes", "maybe": "maybe", "perhaps": "maybe", "possibly": "maybe", "kinda": "maybe",
	"no": "no", "n": "no", "nope": "no", "nah": "no", "not": "no", "doesn't": "no", "don't": "no",
	"dont": "no", "doesnt": "no", "wrong": "no",
}

// fillerWords may come with a hint answer ("yes, I think it does").
var fillerWords = map[string]bool{
	"i": true, "it": true, "that": true, "this": true, "does": true, "do": true, "think": true, "so": true,
	"guess": true, "really": true, "kind": true, "of": true, "sort": true, "a": true, "bit": true,
	"little": true, "could": true, "be": true, "might": true, "is": true, "it's": true, "that's": true,
	"quite": true, "well": true, "hmm": true, "mm": true, "um": true, "fair": true, "point": true,
	"very": true, "much": true, "the": true, "one": true, "thanks": true, "thank": true, "you": true,
	"somewhat": true, "there": true, "yes,": true, "sounds": true, "like": true, "me": true, "mind": true,
	"reading": true, "still": true, "true": true, "sure": true,
}

// hintReply reports whether text answers the hint ("yes", "no, not really", "I think it
// fits") rather than telling another story, and which way: "yes", "no" or "maybe".
func hintReply(text string) (string, bool) {
	t := strings.Map(func(r rune) rune {
		if r == ',' || r == '.' || r == '!' || r == '?' || r == ';' || r == '—' || r == '-' {
			return ' '
		}
		return r
	}, normal(text))
	words := strings.Fields(t)
	if len(words) == 0 || len(words) > 8 {
		return "", false
	}
	answer := ""
	for _, w := range words {
		if a, ok := hintWords[w]; ok {
			if answer == "" || a == "no" {
				answer = a
			}
			continue
		}
		if !fillerWords[w] {
			return "", false
		}
	}
	return answer, answer != ""
}

// yesNoChoices answer "Is it true?" and "Can you absolutely know?".
func yesNoChoices() []Choice {
	return []Choice{{ID: "yes", Label: "Yes"}, {ID: "no", Label: "No"}, {ID: "unsure", Label: "Not sure"}}
}

// answerYesNo takes Yes, No or Not sure, or the user's own words, kept as typed.
func (m *Machine) answerYesNo(s State, in Input) (State, []Reply, error) {
	var answer string
	if id, ok := match(yesNoChoices(), in); ok {
		for _, c := range yesNoChoices() {
			if c.ID == id {
				answer = c.Label
			}
		}
	} else if in.Choice != "" {
		return m.problem(s, textStaleButton)
	} else if answer = strings.TrimSpace(in.Text); answer == "" {
		return m.problem(s, textEmpty)
	}
	if s.Step == StepReframeTrue {
		s.Entry.IsTrue = answer
		if isNo(answer) {
			s.Entry.Absolutely = "" // a no already answers it
		}
	} else {
		s.Entry.Absolutely = answer
	}
	return m.advance(s)
}

// isNo reports whether an answer to "Is it true?" says no: "No", "nope", "not really",
// "no, it isn't". "Not sure" is not a no.
func isNo(answer string) bool {
	t := strings.Trim(normal(answer), " ,.!")
	switch t {
	case "false", "it isn't", "it's not", "isn't", "not true", "not really", "untrue", "n":
		return true
	}
	first := strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == ',' || r == '.' || r == '—' })
	if len(first) == 0 {
		return false
	}
	switch first[0] {
	case "no", "nope", "nah":
		return true
	}
	return false
}

// answerTurnaround takes the turnaround the user picked, or one they wrote.
func (m *Machine) answerTurnaround(s State, in Input) (State, []Reply, error) {
	if id, ok := match(turnaroundChoices(s.Turnarounds), in); ok {
		for _, t := range s.Turnarounds {
			if "turn-"+t.Kind == id {
				s.Entry.Turnaround = t.Text
			}
		}
		return m.advance(s)
	}
	if in.Choice != "" {
		return m.problem(s, textStaleButton)
	}
	t := strings.TrimSpace(in.Text)
	if t == "" {
		return m.problem(s, textEmpty)
	}
	if _, ok := hintReply(t); ok && len(s.Turnarounds) > 0 {
		return m.problem(s, textPickTurnaround) // "yes" picks nothing
	}
	switch loose(t) {
	case "to them", "to yourself", "to myself", "to me", "to the other", "to the other person", "the opposite", "opposite", "to the opposite":
		// A kind the rules could not build well from this story: not their own words.
		return m.problem(s, textTurnaroundMissing)
	}
	s.Entry.Turnaround = t // their own turnaround, in their words
	return m.advance(s)
}

// answerCheckBack takes when to check back: a button, its label or number, or a typed time.
func (m *Machine) answerCheckBack(s State, in Input) (State, []Reply, error) {
	answer := in.Text
	if id, ok := match(CheckBackChoices(), in); ok {
		answer = id
	} else if in.Choice != "" {
		return m.problem(s, textStaleButton)
	}
	when, ok := resolveCheckBack(answer, in.Now, in.Location)
	if !ok {
		return m.problem(s, textNotCheckBack)
	}
	s.Entry.CheckBack = when
	return m.advance(s)
}

// splitList splits "1, 3", "1 3" or "mind reading and labelling" into its items.
func splitList(t string) []string {
	t = strings.NewReplacer(";", ",", "&", ",", "/", ",", " and ", ",").Replace(t)
	var parts []string
	for _, p := range strings.Split(t, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 1 {
		fs := strings.Fields(parts[0])
		for _, f := range fs {
			if _, err := strconv.Atoi(f); err != nil {
				return parts
			}
		}
		return fs
	}
	return parts
}

// ordered returns the trap ids without repeats, in the order of Traps.
func ordered(ids []string) []string {
	var out []string
	for _, d := range trapDefs {
		for _, id := range ids {
			if id == d.trap.ID {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// answerOffer takes "continue where you left off" or "start fresh".
func (m *Machine) answerOffer(s State, in Input) (State, []Reply, error) {
	id, ok := match(offerChoices(), in)
	if !ok {
		if in.Choice != "" {
			return m.problem(s, textStaleButton)
		}
		return m.problem(s, textNotChoice)
	}
	switch id {
	case "continue":
		s.Step, s.Parked, s.Pending = s.Parked, StepNone, nil
		return m.ask(s)
	case "fresh":
		var before []Reply
		if s.Parked == StepSummary || s.Parked == StepReframeSummary {
			before = append(before, saveReply(s, savedEarlier(s.Flow)))
		}
		st := Start{Flow: FlowPause, NoCheckBack: s.NoCheckBack}
		if s.Pending != nil {
			st = *s.Pending
		}
		st, err := startFlow(st)
		if err != nil {
			return s, nil, err
		}
		ns, rs, err := m.start(st, in.Now)
		if err != nil {
			return s, nil, err
		}
		return ns, append(before, rs...), nil
	default:
		return s, nil, fmt.Errorf("flows: unknown resume choice %q", id)
	}
}

// match finds the choice an input picks: a button's ID, a label typed in full (any case), a
// 1-based number, or a typed ID. Labels come first, so typing "5" at a rating means 5.
func match(choices []Choice, in Input) (string, bool) {
	if in.Start != nil {
		return "", false
	}
	if in.Choice != "" {
		for _, c := range choices {
			if c.ID == in.Choice {
				return c.ID, true
			}
		}
		return "", false
	}
	t := loose(in.Text)
	if t == "" {
		return "", false
	}
	for _, c := range choices {
		if loose(c.Label) == t {
			return c.ID, true
		}
	}
	// Choices that are numbers themselves (a rating) are not also picked by position:
	// "11" is not the eleventh rating.
	if !numeric(choices) {
		if n, err := strconv.Atoi(normal(in.Text)); err == nil && n >= 1 && n <= len(choices) {
			return choices[n-1].ID, true
		}
	}
	for _, c := range choices {
		if loose(c.ID) == t {
			return c.ID, true
		}
	}
	return "", false
}

// normal folds typed text for matching: lower case, single spaces, no surrounding space or
// closing punctuation, ’ as '.
func normal(t string) string {
	t = strings.ToLower(t)
	t = strings.ReplaceAll(t, "’", "'")
	t = strings.Join(strings.Fields(t), " ")
	return strings.TrimRight(t, ".!")
}

// loose is normal with hyphens read as spaces, for names: "all or nothing" is
// "all-or-nothing". Numbers are compared with normal, so "-1" stays minus one.
func loose(t string) string {
	r := []rune(t)
	for i := 1; i < len(r); i++ {
		if r[i] == '-' && unicode.IsLetter(r[i-1]) {
			r[i] = ' '
		}
	}
	return normal(string(r))
}
