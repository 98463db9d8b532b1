package flows

import (
	"strings"
	"time"
)

// The check-in: a scheduled DM with one question and four choices. It is a dialogue of its
// own (FlowCheckin, one step) so that typed labels and numbers, "stop" and the state kept in
// Redis work exactly as in the other dialogues. It is never parked: an answer hours later is
// still an answer, and any dialogue the user starts simply replaces an unanswered check-in.

// SnoozeFor is how long "Snooze 1 h" waits before the one extra check-in.
const SnoozeFor = time.Hour

// The check-in's wording.
const (
	TextCheckinQuestion = "What story are you carrying today?"
	textCheckinClear    = "Good to hear. I'm here whenever a story shows up."
	textCheckinSnooze   = "Sure — I'll ask again in an hour."
	textCheckinSkip     = "Skipping today. See you next time."
)

// CheckinChoices are the check-in's buttons. Their IDs are stable: adapters send them back.
func CheckinChoices() []Choice {
	return []Choice{
		{ID: "checkin-pause", Label: "Start a pause"},
		{ID: "checkin-clear", Label: "All clear"},
		{ID: "checkin-snooze", Label: "Snooze 1 h"},
		{ID: "checkin-skip", Label: "Skip today"},
	}
}

func checkinPrompt() Reply { return prompt(TextCheckinQuestion, CheckinChoices()...) }

// startCheckin opens a check-in. A dialogue the user worked on within ParkAfter is never
// interrupted: Step then returns s and no replies, and the caller skips this check-in. An
// older open dialogue (abandoned: the user did not come back for ParkAfter) or an unanswered
// earlier check-in is replaced.
func (m *Machine) startCheckin(s State, now time.Time, noCheckBack bool) (State, []Reply, error) {
	if s.Open() && s.Flow != FlowCheckin && now.Before(s.Updated.Add(ParkAfter)) {
		return s, nil, nil
	}
	return State{Flow: FlowCheckin, Step: StepCheckin, Entry: Entry{Flow: FlowCheckin, Created: now}, NoCheckBack: noCheckBack}, []Reply{checkinPrompt()}, nil
}

// answerCheckin takes a button, a typed label or number. Anything else typed is read as the
// story the user is carrying: it starts a quick pause from that story.
func (m *Machine) answerCheckin(s State, in Input) (State, []Reply, error) {
	cs := CheckinChoices()
	id, ok := match(cs, in)
	if !ok && in.Choice == "" {
		// Short forms people type: "pause", "clear", "snooze", "skip" (stop/back/skip are
		// handled before this).
		t := normal(in.Text)
		for _, c := range cs {
			if t == strings.TrimPrefix(c.ID, "checkin-") {
				id, ok = c.ID, true
			}
		}
	}
	if !ok {
		if in.Choice != "" {
			return m.problem(s, textStaleButton)
		}
		t := strings.TrimSpace(in.Text)
		if t == "" {
			return m.problem(s, textEmpty)
		}
		return m.start(Start{Flow: FlowQuick, Text: t, NoCheckBack: s.NoCheckBack}, in.Now)
	}
	return m.checkinChoice(s, strings.TrimPrefix(id, "checkin-"), in.Now)
}

// checkinChoice applies one of the four answers.
func (m *Machine) checkinChoice(s State, id string, now time.Time) (State, []Reply, error) {
	switch id {
	case "pause":
		return m.start(Start{Flow: FlowPause, NoCheckBack: s.NoCheckBack}, now)
	case "clear":
		return State{}, []Reply{info(textCheckinClear)}, nil
	case "snooze":
		r := info(textCheckinSnooze)
		r.Remind = SnoozeFor
		return State{}, []Reply{r}, nil
	case "skip":
		return State{}, []Reply{info(textCheckinSkip)}, nil
	}
	return s, nil, nil
}
