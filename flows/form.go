package flows

import (
	"strings"
	"time"
	"unicode/utf8"
)

// The quick pause as a form: a platform modal shows the Quick flow's questions all at once
// (the story, what else could be true, one next step, the feeling and the check-back), and
// SubmitQuick runs the Quick flow's own steps over the answers, in order, as if each had been
// typed at its prompt. So the modal is a rendering of the Quick flow, not a second copy of
// it: the same safety gate, the same "too long" and "empty" rules, the same check-back
// reading and the same summary with Save and Discard.

// QuickForm holds a quick pause's answers, one per field. Feeling and CheckBack are optional.
type QuickForm struct {
	Story string `json:"story,omitempty"`
	Other string `json:"other,omitempty"`
	Next  string `json:"next,omitempty"`
	// Feeling is a feeling's ID ("anxious") or the user's own word; empty: none named.
	Feeling string `json:"feeling,omitempty"`
	// CheckBack is a CheckBackChoices ID or a typed time ("friday", "at 16:00"); empty: no
	// check-back.
	CheckBack string `json:"check_back,omitempty"`
	// NoCheckBack is the user's preference (/story followups off), set by the caller: the
	// form shows no check-back field, and a CheckBack sent anyway is ignored (though still
	// read by the safety check, like every field).
	NoCheckBack bool `json:"no_check_back,omitempty"`
}

// The form's field names, as FieldProblem.Field reports them; adapters name their inputs
// after them.
const (
	FieldStory     = "story"
	FieldOther     = "other"
	FieldNext      = "next"
	FieldFeeling   = "feeling"
	FieldCheckBack = "check_back"
)

// FieldProblem is why one field could not be taken, in words for the user.
type FieldProblem struct {
	Field string
	Text  string
}

// textFormBusy refuses a form while another dialogue is open in the DM: starting fresh
// there would drop its answers, and a modal cannot ask "continue or start fresh?".
const textFormBusy = "You have a pause open in our DM. Finish it there, or type stop there, then try this again — nothing was lost."

// FeelingChoices are the feeling buttons (their IDs are the words kept in the journal), for
// a form's feeling menu. The last is "other": a form takes the user's own word instead.
func FeelingChoices() []Choice { return feelingChoices() }

// fields lists f's fields with their text, in the order the Quick flow asks them.
func (f QuickForm) fields() []struct{ name, text string } {
	return []struct{ name, text string }{
		{FieldStory, f.Story}, {FieldOther, f.Other}, {FieldNext, f.Next},
		{FieldFeeling, f.Feeling}, {FieldCheckBack, f.CheckBack},
	}
}

// SubmitQuick takes a quick pause submitted as a form, on the user's current state cur.
//
// Crisis language in any field stops everything with the crisis answer, as in the DM, and
// nothing is kept. Ambiguous language asks the check question first, holding the form; the
// answer "No, a figure of speech" (or "I'd rather not say") then goes on with the form as
// submitted. Otherwise, when a field cannot be taken (an empty story, other story or next
// step, an answer over MaxAnswerRunes, an unreadable check-back time), problems says so per
// field and cur is returned unchanged. Otherwise the returned State waits at the Quick flow's
// summary, and the replies end with that summary and its Save and Discard choices.
//
// A dialogue open in the DM is not dropped for a form: the story field reports it. An
// unanswered check-in, a quick pause left at its summary (a modal closed without Save) and a
// check question that a new form makes lapse all give way, as they do to a new command.
// loc is the user's time zone for the check-back (nil: UTC).
func (m *Machine) SubmitQuick(cur State, f QuickForm, now time.Time, loc *time.Location) (next State, replies []Reply, problems []FieldProblem, err error) {
	if err := check(cur); err != nil {
		return cur, nil, nil, err
	}
	// As Step does for typed input: invalid UTF-8 becomes U+FFFD, as JSON would make it, so
	// what is stored reads back the same.
	for _, p := range []*string{&f.Story, &f.Other, &f.Next, &f.Feeling, &f.CheckBack} {
		*p = strings.ToValidUTF8(*p, "\uFFFD")
	}

	for _, fl := range f.fields() {
		if ClassifySafety(fl.text).Tier == SafetyCrisis {
			return State{Version: StateVersion, Updated: now}, []Reply{m.crisisReply(SafetyEventCrisis)}, nil, nil
		}
	}
	if problems := formProblems(f, now, loc); len(problems) > 0 {
		return cur, nil, problems, nil
	}
	if cur.Open() && !givesWayToForm(cur) {
		return cur, nil, []FieldProblem{{Field: FieldStory, Text: textFormBusy}}, nil
	}
	for _, fl := range f.fields() {
		if ClassifySafety(fl.text).Tier == SafetyAmbiguous {
			held := f
			s := State{Version: StateVersion, Updated: now, Check: &SafetyCheck{Form: &held}}
			return s, []Reply{checkPrompt()}, nil, nil
		}
	}
	s, rs, problems, err := m.runQuick(f, now, loc)
	if err != nil || len(problems) > 0 {
		return cur, nil, problems, err
	}
	s.Version, s.Updated = StateVersion, now
	return s, rs, nil, nil
}

// givesWayToForm reports whether an open state may be replaced by a submitted form.
func givesWayToForm(s State) bool {
	return s.Flow == FlowCheckin || (s.Flow == FlowQuick && s.Step == StepSummary && s.Check == nil)
}

// formProblems checks what can be checked field by field, before any step runs: every
// problem is reported at once, so the user fixes the form in one go.
func formProblems(f QuickForm, now time.Time, loc *time.Location) []FieldProblem {
	var ps []FieldProblem
	for _, fl := range f.fields() {
		t := strings.TrimSpace(fl.text)
		switch {
		case utf8.RuneCountInString(t) > MaxAnswerRunes:
			ps = append(ps, FieldProblem{Field: fl.name, Text: tooLong(utf8.RuneCountInString(t))})
		case t == "" && (fl.name == FieldStory || fl.name == FieldOther || fl.name == FieldNext):
			ps = append(ps, FieldProblem{Field: fl.name, Text: textEmpty})
		case fl.name == FieldCheckBack && t != "" && !f.NoCheckBack && !readsAsCheckBack(t, now, loc):
			ps = append(ps, FieldProblem{Field: fl.name, Text: textNotCheckBack})
		}
	}
	return ps
}

// readsAsCheckBack reports whether the check-back step would take t: a choice's ID, label or
// number, or a time it can read.
func readsAsCheckBack(t string, now time.Time, loc *time.Location) bool {
	if _, ok := match(CheckBackChoices(), Input{Choice: t}); ok {
		return true
	}
	if id, ok := match(CheckBackChoices(), Input{Text: t}); ok {
		t = id
	}
	_, ok := resolveCheckBack(t, now, loc)
	return ok
}

// runQuick runs the Quick flow's steps over f's answers: start with the story, then the other
// story, the next step and the check-back, each through the step that takes it at its
// prompt. A step that does not move on has refused its answer: its problem is the field's.
func (m *Machine) runQuick(f QuickForm, now time.Time, loc *time.Location) (State, []Reply, []FieldProblem, error) {
	s, _, err := m.start(Start{Flow: FlowQuick, Text: strings.TrimSpace(f.Story), NoCheckBack: f.NoCheckBack}, now)
	if err != nil {
		return s, nil, nil, err
	}
	s.Updated = now
	// The form shows no thinking-trap hint, so an answer like "yes" in the other-story field
	// is not taken as answering one: it is not a story, and the field says so.
	s.HintAnswered = true
	checkBack := strings.TrimSpace(f.CheckBack)
	if checkBack == "" {
		checkBack = "checkback-none"
	}
	steps := []struct {
		field string
		in    Input
	}{
		{FieldOther, Input{Now: now, Text: f.Other}},
		{FieldNext, Input{Now: now, Text: f.Next}},
		{FieldCheckBack, Input{Now: now, Text: checkBack, Location: loc}},
	}
	if _, ok := match(CheckBackChoices(), Input{Choice: checkBack}); ok {
		steps[2].in = Input{Now: now, Choice: checkBack, Location: loc}
	}
	if f.NoCheckBack {
		steps = steps[:2] // the next step leads straight to the summary
	}
	var rs []Reply
	for _, st := range steps {
		before := s.Step
		next, out, err := m.answer(s, st.in)
		if err != nil {
			return s, nil, nil, err
		}
		if next.Step == before {
			return s, nil, []FieldProblem{{Field: st.field, Text: problemText(out)}}, nil
		}
		s, rs = next, out
	}
	if feeling := strings.TrimSpace(f.Feeling); feeling != "" && feeling != "other" {
		if id, ok := match(feelingChoices(), Input{Text: feeling}); ok {
			feeling = id
		}
		s.Entry.Feeling = feeling
		// The summary shows the feeling: ask again so the summary is built with it.
		p, err := m.prompt(s)
		if err != nil {
			return s, nil, nil, err
		}
		rs = []Reply{p}
	}
	return s, rs, nil, nil
}

// problemText is the problem among a refused step's replies.
func problemText(rs []Reply) string {
	for _, r := range rs {
		if r.Kind == ReplyProblem {
			return r.Text
		}
	}
	return textNotChoice
}

// answerFormCheck goes on with a form held by the check question, once the user said it was
// a figure of speech or would rather not say: the form runs as submitted, with no further
// check question (crisis language is still read, field by field).
func (m *Machine) answerFormCheck(s State, f QuickForm, before Reply, now time.Time, loc *time.Location) (State, []Reply, error) {
	for _, fl := range f.fields() {
		if ClassifySafety(fl.text).Tier == SafetyCrisis {
			return State{}, []Reply{m.crisisReply(SafetyEventCrisis)}, nil
		}
	}
	next, rs, problems, err := m.runQuick(f, now, loc)
	if err != nil {
		return s, nil, err
	}
	if len(problems) > 0 {
		// Checked before the question was asked, so this is rare (a step refusing what the
		// field checks let through): say why; the form can be sent again.
		return State{}, []Reply{before, {Kind: ReplyProblem, Text: problems[0].Text}}, nil
	}
	return next, append([]Reply{before}, rs...), nil
}
