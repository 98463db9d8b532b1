package flows

import (
	"fmt"
	"strings"
	"time"
)

// The follow-up: inner work becomes outer work. When a saved entry's next step has a
// check-back time, the scheduler starts this dialogue (FlowFollowup) in the user's DM:
//
//	On Tuesday 1 Dec you planned: “Ask Sam when we can pick it up.” Did it happen?
//	Done / Not yet / Changed my mind
//
// Done asks what they found out, then how true the first story turned out (both optional).
// Not yet, the first time, offers one more check-back tomorrow; the second time it lets go,
// without guilt. Each answer goes back to the caller as a Reply.Outcome, so what was said
// is kept on the journal entry even when the user walks away halfway.
//
// Like the check-in, a follow-up never interrupts a dialogue the user is working on (Step
// returns no replies and the caller tries again later), is never parked (an answer hours
// later is still an answer), and gives way to any dialogue the user starts.

// MaxFollowupAsks is how many check-backs one next step gets: the one the user asked for
// and, after "Not yet", one more.
const MaxFollowupAsks = 2

// The follow-up's choices. Their IDs are stable: adapters send them back.
var (
	choiceFollowupDone    = Choice{ID: "fu-done", Label: "Done"}
	choiceFollowupNotYet  = Choice{ID: "fu-notyet", Label: "Not yet"}
	choiceFollowupChanged = Choice{ID: "fu-changed", Label: "Changed my mind"}
	choiceFollowupAgain   = Choice{ID: "fu-again", Label: "Yes, tomorrow"}
	choiceFollowupLetGo   = Choice{ID: "fu-letgo", Label: "No, let it go"}
)

// FollowupChoices are the buttons of the first follow-up question.
func FollowupChoices() []Choice {
	return []Choice{choiceFollowupDone, choiceFollowupNotYet, choiceFollowupChanged}
}

// The follow-up's wording (the voice of text.go: warm, brief, one question at a time).
const (
	textFollowupFound    = "What did you find out? Or type skip."
	textFollowupTrue     = "Looking back, how true was your first story, 0 to 10? Or type skip."
	textFollowupAgain    = "No rush. Shall I ask once more tomorrow?"
	textFollowupThanks   = "Thank you — that's kept with the entry in your journal."
	textFollowupTomorrow = "I'll ask once more tomorrow morning."
	textFollowupLetGo    = "Okay — I'll let this one go. It stays in your journal."
	textFollowupLastTime = "That's okay — plans change. I'll let this one go; it stays in your journal."
	textFollowupChanged  = "Fair enough — plans change. I've noted it with the entry."
	textFollowupSkipAsk  = "Okay — I won't ask about this one again."
	textFollowupStopped  = "Stopped. Anything you already answered is kept with the entry."
	textFollowupNotAsk   = "I didn't catch that. Was it done, not yet, or did you change your mind? Type 1, 2 or 3."
)

// FollowupQuestion is the first follow-up message: the planned next step, verbatim, with
// the day it was planned (in the zone of planned), and the question.
func FollowupQuestion(planned time.Time, next string) string {
	return fmt.Sprintf("On %s you planned: “%s” Did it happen?", planned.Format("Monday 2 Jan"), strings.TrimSpace(next))
}

// startFollowup opens a follow-up about st.Entry. A dialogue the user worked on within
// ParkAfter is never interrupted: it returns s and no replies, and the caller tries later.
// That includes a check-in or another follow-up sent within ParkAfter and not yet answered:
// replacing one would leave its buttons answering the wrong question (a check-back picked
// for "Tomorrow" lands on the minute of a 09:00 check-in, and two picked for the same time
// come together). An abandoned dialogue, check-in or follow-up gives way.
func (m *Machine) startFollowup(s State, st Start, now time.Time) (State, []Reply, error) {
	if st.Entry == nil || st.Entry.ID == "" || strings.TrimSpace(st.Entry.Next) == "" {
		return s, nil, fmt.Errorf("flows: a follow-up needs an entry with an ID and a next step")
	}
	if s.Open() && now.Before(s.Updated.Add(ParkAfter)) {
		return s, nil, nil
	}
	fu := FollowUp{Asked: 1}
	if prev := st.Entry.FollowUp; prev != nil {
		fu.Asked = prev.Asked + 1
	}
	e := Entry{ID: st.Entry.ID, Flow: st.Entry.Flow, Created: st.Entry.Created, Next: st.Entry.Next, FollowUp: &fu}
	n := State{Flow: FlowFollowup, Step: StepFollowupAsk, Entry: e}
	return m.ask(n)
}

// followupPrompt is the question a follow-up state waits on.
func followupPrompt(s State) (Reply, error) {
	switch s.Step {
	case StepFollowupAsk:
		return prompt(FollowupQuestion(s.Entry.Created, s.Entry.Next), FollowupChoices()...), nil
	case StepFollowupFound:
		return prompt(textFollowupFound), nil
	case StepFollowupTrue:
		return prompt(textFollowupTrue, strengthChoices()...), nil
	case StepFollowupAgain:
		return prompt(textFollowupAgain, choiceFollowupAgain, choiceFollowupLetGo), nil
	}
	return Reply{}, fmt.Errorf("flows: unknown follow-up step %d", int(s.Step))
}

// inFollowup reports whether step is a prompt of the follow-up.
func inFollowup(step Step) bool { return step >= StepFollowupAsk && step <= StepFollowupAgain }

// stepFollowup takes one answer (text or button, back, skip or stop) in an open follow-up.
func (m *Machine) stepFollowup(s State, in Input) (State, []Reply, error) {
	if in.Choice == "" {
		if n := len([]rune(in.Text)); n > MaxAnswerRunes {
			return m.problem(s, tooLong(n))
		}
	}
	switch command(in) {
	case "stop":
		if s.Entry.FollowUp != nil && s.Entry.FollowUp.Outcome != "" {
			return State{}, []Reply{info(textFollowupStopped)}, nil
		}
		return State{}, []Reply{info(textFollowupSkipAsk)}, nil
	case "back":
		return m.back(s)
	case "skip":
		switch s.Step {
		case StepFollowupAsk:
			return State{}, []Reply{info(textFollowupSkipAsk)}, nil
		case StepFollowupFound:
			return m.followupTo(s, StepFollowupTrue)
		case StepFollowupTrue:
			return State{}, []Reply{info(textFollowupThanks)}, nil
		case StepFollowupAgain:
			return State{}, []Reply{info(textFollowupLetGo)}, nil
		}
	}
	fu := *s.Entry.FollowUp
	fu.At = in.Now
	switch s.Step {
	case StepFollowupAsk:
		id, ok := matchFollowup(in)
		if !ok {
			if in.Choice != "" {
				return m.problem(s, textStaleButton)
			}
			if strings.TrimSpace(in.Text) == "" {
				return m.problem(s, textEmpty)
			}
			return m.problem(s, textFollowupNotAsk)
		}
		fu.FoundOut, fu.HowTrue, fu.Again = "", nil, nil
		switch id {
		case choiceFollowupDone.ID:
			fu.Outcome = OutcomeDone
			s.Entry.FollowUp = &fu
			s, rs, err := m.followupTo(s, StepFollowupFound)
			return s, withOutcome(rs, s.Entry, false), err
		case choiceFollowupChanged.ID:
			fu.Outcome = OutcomeChangedMind
			s.Entry.FollowUp = &fu
			return State{}, withOutcome([]Reply{info(textFollowupChanged)}, s.Entry, false), nil
		default: // not yet
			fu.Outcome = OutcomeNotYet
			s.Entry.FollowUp = &fu
			if fu.Asked >= MaxFollowupAsks {
				return State{}, withOutcome([]Reply{info(textFollowupLastTime)}, s.Entry, false), nil
			}
			s, rs, err := m.followupTo(s, StepFollowupAgain)
			return s, withOutcome(rs, s.Entry, false), err
		}
	case StepFollowupFound:
		if in.Choice != "" {
			return m.problem(s, textStaleButton)
		}
		t := strings.TrimSpace(in.Text)
		if t == "" {
			return m.problem(s, textEmpty)
		}
		fu.FoundOut = t
		s.Entry.FollowUp = &fu
		s, rs, err := m.followupTo(s, StepFollowupTrue)
		return s, withOutcome(rs, s.Entry, false), err
	case StepFollowupTrue:
		v, problem := strengthAnswer(in)
		if problem != "" {
			return m.problem(s, problem)
		}
		fu.HowTrue = &v
		s.Entry.FollowUp = &fu
		return State{}, withOutcome([]Reply{info(textFollowupThanks)}, s.Entry, false), nil
	case StepFollowupAgain:
		id, ok := match([]Choice{choiceFollowupAgain, choiceFollowupLetGo}, in)
		if !ok && in.Choice == "" {
			switch normal(in.Text) {
			case "yes", "y", "ok", "okay", "sure", "tomorrow", "please", "yes please":
				id, ok = choiceFollowupAgain.ID, true
			case "no", "n", "no thanks", "let it go":
				id, ok = choiceFollowupLetGo.ID, true
			}
		}
		if !ok {
			if in.Choice != "" {
				return m.problem(s, textStaleButton)
			}
			return m.problem(s, textNotChoice)
		}
		if id == choiceFollowupAgain.ID {
			return State{}, withOutcome([]Reply{info(textFollowupTomorrow)}, s.Entry, true), nil
		}
		return State{}, []Reply{info(textFollowupLetGo)}, nil
	}
	return s, nil, fmt.Errorf("flows: unknown follow-up step %d", int(s.Step))
}

// followupTo moves s on to step and asks it; back returns to the step before.
func (m *Machine) followupTo(s State, step Step) (State, []Reply, error) {
	s.Trail = append(s.Trail, s.Step)
	s.Step = step
	return m.ask(s)
}

// matchFollowup reads the first question's answer: a button, a label, a number, or a
// short word people type ("yes", "no", "changed").
func matchFollowup(in Input) (string, bool) {
	if id, ok := match(FollowupChoices(), in); ok {
		return id, true
	}
	if in.Choice != "" {
		return "", false
	}
	switch normal(in.Text) {
	case "yes", "y", "yep", "it did", "done it", "i did", "i did it", "did it":
		return choiceFollowupDone.ID, true
	case "no", "n", "nope", "notyet", "not really", "didn't", "i didn't":
		return choiceFollowupNotYet.ID, true
	case "changed", "changed mind", "changed my mind", "i changed my mind":
		return choiceFollowupChanged.ID, true
	}
	return "", false
}

// withOutcome attaches e's follow-up to the first reply, so the caller records it.
func withOutcome(rs []Reply, e Entry, again bool) []Reply {
	if len(rs) == 0 || e.FollowUp == nil {
		return rs
	}
	rs[0].Outcome = &Outcome{EntryID: e.ID, FollowUp: *e.FollowUp, Again: again}
	return rs
}

func (f FollowUp) clone() FollowUp {
	if f.HowTrue != nil {
		v := *f.HowTrue
		f.HowTrue = &v
	}
	if f.Again != nil {
		v := *f.Again
		f.Again = &v
	}
	return f
}
