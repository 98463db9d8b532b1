package flows

import (
	"fmt"
	"strings"
	"time"
)

// The safety protocol in the dialogues: every typed answer and every command's text passes
// ClassifySafety before anything else. Clear crisis language stops the dialogue with the
// crisis answer and saves nothing. Ambiguous language asks one check question and keeps the
// dialogue, and the answer that raised the question, exactly as they were: "No, a figure of
// speech" goes on from there with the answer as given; "Yes" gives the crisis answer; "I'd
// rather not say" gives the resources in one line and goes on too.
//
// The safety plan is a short dialogue of its own (warning signs, what helps, people and
// places), written in a calm moment and shown by /story sos.

// SafetyCheck is the check question waiting for an answer, with the input that raised it.
type SafetyCheck struct {
	Text  string `json:"text,omitempty"`  // the typed answer that raised the question
	Start *Start `json:"start,omitempty"` // or the command that did
	// Form is a quick pause submitted as a form (a modal) whose words raised the question;
	// it goes on as submitted once the answer is no or rather not say.
	Form *QuickForm `json:"form,omitempty"`
}

// SafetyPlan is what a user wrote in /story safety-plan. Any part may be empty (skipped).
type SafetyPlan struct {
	WarningSigns string    `json:"warning_signs,omitempty"`
	Helps        string    `json:"helps,omitempty"`
	People       string    `json:"people,omitempty"`
	Updated      time.Time `json:"updated"`
}

// Empty reports whether nothing was written.
func (p SafetyPlan) Empty() bool { return p.WarningSigns == "" && p.Helps == "" && p.People == "" }

// SafetyEvent says what a reply is in the safety protocol, so the caller can count it
// (never with an id or the text).
type SafetyEvent int

// The safety events.
const (
	SafetyEventNone    SafetyEvent = iota
	SafetyEventCrisis              // the crisis answer to clear crisis language
	SafetyEventCheck               // the check question, asked on ambiguous language
	SafetyEventYes                 // the crisis answer after "Yes" to the check question
	SafetyEventNo                  // "No, a figure of speech": the dialogue went on
	SafetyEventPrivate             // "I'd rather not say": resources in one line
	SafetyEventSOS                 // /story sos
)

// String returns the event's name, as used in metrics.
func (e SafetyEvent) String() string {
	switch e {
	case SafetyEventNone:
		return "none"
	case SafetyEventCrisis:
		return "crisis"
	case SafetyEventCheck:
		return "check"
	case SafetyEventYes:
		return "check-yes"
	case SafetyEventNo:
		return "check-no"
	case SafetyEventPrivate:
		return "check-private"
	case SafetyEventSOS:
		return "sos"
	}
	return fmt.Sprintf("SafetyEvent(%d)", int(e))
}

// The safety plan's flow and steps are numbered apart from the dialogues' (from 100), so that
// steps appended to the dialogues never collide with them. The numbers are stored in Redis:
// never change them.
const FlowSafetyPlan Flow = 100

// The safety plan's steps.
const (
	StepPlanSigns  Step = 100 + iota // warning signs
	StepPlanHelps                    // what helps
	StepPlanPeople                   // people and places to reach
)

func isPlanStep(s Step) bool { return s >= StepPlanSigns && s <= StepPlanPeople }

// The safety protocol's wording. Warm, brief, plain; no diagnosis.
const (
	textCrisisCare       = "Thank you for telling me. That sounds really hard, and you deserve support from a person right now."
	textCrisisGrounding  = "For a moment, feel your feet on the floor and breathe out slowly."
	textCrisisNotTherapy = "I'm a coaching tool, not therapy, so I've stopped here and saved nothing. Type /story sos any time to see this again."

	TextCheckQuestion  = "I want to check I read that right: are you having thoughts of hurting yourself or ending your life?"
	textCheckNo        = "Thanks for telling me. Let's carry on."
	textCheckNotAnswer = "I didn't catch that. Type yes, no, or rather not say — or 1, 2 or 3."

	textSOSGrounding  = "Let's slow down together. Breathe in for 4, hold for 4, breathe out for 6 — three times. Then name five things you can see."
	textSOSNoPlan     = "In a calmer moment, /story safety-plan helps you write down what helps, so it's here next time."
	textSOSNotTherapy = "I'm a coaching tool, not therapy."

	textPlanIntro   = "A safety plan is a few notes to yourself, written in a calm moment, for a hard one. Three short questions, each skippable; only you will ever see it."
	textPlanNothing = "Nothing written, so nothing saved. /story safety-plan whenever you like."
	textPlanSaved   = "Saved — only you can see it. /story sos shows it any time, and /story forget erases it."
)

// CheckChoices are the check question's buttons. Their IDs are stable: adapters send them back.
func CheckChoices() []Choice {
	return []Choice{
		{ID: "safety-yes", Label: "Yes"},
		{ID: "safety-no", Label: "No, a figure of speech"},
		{ID: "safety-private", Label: "I'd rather not say"},
	}
}

// checkWords are typed answers to the check question beyond the labels and numbers.
var checkWords = map[string]string{
	"y": "safety-yes", "yes": "safety-yes", "yeah": "safety-yes", "yep": "safety-yes", "yes i am": "safety-yes",
	"i am": "safety-yes", "im having them": "safety-yes", "sometimes": "safety-yes", "maybe": "safety-yes",
	"n": "safety-no", "no": "safety-no", "nope": "safety-no", "nah": "safety-no", "no, a figure of speech": "safety-no",
	"a figure of speech": "safety-no", "figure of speech": "safety-no", "just a figure of speech": "safety-no",
	"no, just a figure of speech": "safety-no", "no im fine": "safety-no", "no, im fine": "safety-no", "im fine": "safety-no",
	"im ok": "safety-no", "im okay": "safety-no", "no i'm fine": "safety-no", "no, i'm fine": "safety-no", "i'm fine": "safety-no",
	"i'm ok": "safety-no", "i'm okay": "safety-no", "not at all": "safety-no", "no, not at all": "safety-no",
	"rather not say": "safety-private", "i'd rather not say": "safety-private", "id rather not say": "safety-private",
	"rather not": "safety-private", "i'd rather not": "safety-private", "pass": "safety-private", "skip": "safety-private",
	"prefer not to say": "safety-private", "i prefer not to say": "safety-private",
}

func checkPrompt() Reply {
	return Reply{Kind: ReplyPrompt, Text: TextCheckQuestion, Choices: CheckChoices(), Safety: SafetyEventCheck}
}

// crisisReply is the crisis answer: care, one grounding step, resources, what storybot is,
// that nothing was saved, and where to find this again.
func (m *Machine) crisisReply(ev SafetyEvent) Reply {
	return Reply{Kind: ReplyCrisis, Safety: ev, Text: strings.Join([]string{
		textCrisisCare, textCrisisGrounding, m.crisisResources, textCrisisNotTherapy,
	}, "\n")}
}

// resourcesLine is the resources in one line, for "I'd rather not say".
func (m *Machine) resourcesLine() Reply {
	r := strings.Join(strings.Fields(m.crisisResources), " ")
	return Reply{Kind: ReplyInfo, Safety: SafetyEventPrivate, Text: "That's fine — let's carry on. " + r + " /story sos shows this any time."}
}

// SOS is the reply to /story sos: a grounding step, the resources, and the user's own safety
// plan when they wrote one (plan may be nil).
func (m *Machine) SOS(plan *SafetyPlan) Reply {
	parts := []string{textSOSGrounding, m.crisisResources}
	if plan != nil && !plan.Empty() {
		parts = append(parts, planText(*plan))
	} else {
		parts = append(parts, textSOSNoPlan)
	}
	parts = append(parts, textSOSNotTherapy)
	return Reply{Kind: ReplyInfo, Safety: SafetyEventSOS, Text: strings.Join(parts, "\n")}
}

// planText shows a plan in the user's own words.
func planText(p SafetyPlan) string {
	var b strings.Builder
	b.WriteString("Your safety plan:\n")
	line(&b, "Warning signs", p.WarningSigns)
	line(&b, "What helps", p.Helps)
	line(&b, "People and places", p.People)
	return strings.TrimSuffix(b.String(), "\n")
}

// inputText is the free text an input carries: a typed line or a command's inline text.
func inputText(in Input) string {
	switch {
	case in.Start != nil:
		return in.Start.Text
	case in.Choice == "":
		return in.Text
	}
	return ""
}

// safety is the gate every input passes first. When done is set, its replies are the
// answer and the dialogue's own step does not run; otherwise s (perhaps with a lapsed
// check question cleared) goes on to the dialogue.
func (m *Machine) safety(s State, in Input) (next State, replies []Reply, done bool, err error) {
	if s.Check != nil {
		switch {
		case in.Start == nil:
			next, replies, err = m.answerCheck(s, in)
			return next, replies, true, err
		case in.Start.Flow == FlowCheckin || in.Start.Flow == FlowFollowup:
			// A scheduled check-in or follow-up never interrupts the check question.
			return s, nil, true, nil
		}
		// A new command while the question waited: the question lapses with what raised
		// it, and the new command is read on its own.
		s.Check = nil
	}
	tier := ClassifySafety(inputText(in)).Tier
	if s.Flow == FlowSafetyPlan && in.Start == nil {
		// A safety plan is about hard moments by nature: its answers may name them. Clear
		// crisis language there asks the check question rather than stopping, and
		// ambiguous language passes.
		tier--
	}
	switch tier {
	case SafetyCrisis:
		return State{}, []Reply{m.crisisReply(SafetyEventCrisis)}, true, nil
	case SafetyAmbiguous:
		held := SafetyCheck{Text: in.Text}
		if in.Start != nil {
			st := *in.Start
			held = SafetyCheck{Start: &st}
		}
		s.Check = &held
		return s, []Reply{checkPrompt()}, true, nil
	}
	return s, nil, false, nil
}

// answerCheck takes the answer to the check question.
func (m *Machine) answerCheck(s State, in Input) (State, []Reply, error) {
	if in.Choice == "" && ClassifySafety(in.Text).Tier == SafetyCrisis {
		return State{}, []Reply{m.crisisReply(SafetyEventCrisis)}, nil
	}
	id, ok := match(CheckChoices(), in)
	if !ok && in.Choice == "" {
		id, ok = checkWords[normal(in.Text)]
		if !ok {
			id, ok = checkWords[strings.ReplaceAll(normal(in.Text), "'", "")]
		}
	}
	if !ok && in.Choice == "" && normal(in.Text) == "stop" {
		return State{}, []Reply{info(textStopped)}, nil
	}
	if !ok {
		t := textCheckNotAnswer
		if in.Choice != "" {
			t = textStaleButton
		}
		return s, []Reply{{Kind: ReplyProblem, Text: t}, checkPrompt()}, nil
	}
	held := *s.Check
	s.Check = nil
	var before Reply
	switch id {
	case "safety-yes":
		return State{}, []Reply{m.crisisReply(SafetyEventYes)}, nil
	case "safety-no":
		before = Reply{Kind: ReplyInfo, Text: textCheckNo, Safety: SafetyEventNo}
	case "safety-private":
		before = m.resourcesLine()
	default:
		return s, nil, fmt.Errorf("flows: unknown check choice %q", id)
	}
	if held.Form != nil {
		return m.answerFormCheck(s, *held.Form, before, in.Now, in.Location)
	}
	// Go on exactly where the dialogue was, with the answer as given. The user is here
	// now, so the dialogue is not parked for the time the question took.
	s.Updated = in.Now
	again := Input{Now: in.Now, Text: held.Text, Start: held.Start}
	next, rs, err := m.proceed(s, again)
	if err != nil {
		return s, nil, err
	}
	return next, append([]Reply{before}, rs...), nil
}

// startPlan opens the safety-plan dialogue.
func (m *Machine) startPlan(now time.Time) (State, []Reply, error) {
	s := State{Flow: FlowSafetyPlan, Step: StepPlanSigns, Plan: &SafetyPlan{}, Entry: Entry{Flow: FlowSafetyPlan, Created: now}}
	return m.ask(s, info(textPlanIntro))
}

// planPrompt is the question at a safety-plan step.
func planPrompt(s State) (Reply, error) {
	switch s.Step {
	case StepPlanSigns:
		return prompt("What are your warning signs — thoughts, feelings or situations that tell you a hard moment is coming? Or type skip."), nil
	case StepPlanHelps:
		return prompt("What helps you through — things you can do on your own, even small ones? Or type skip."), nil
	case StepPlanPeople:
		return prompt("Who could you reach, and where could you go — people, numbers, places? Or type skip."), nil
	}
	return Reply{}, fmt.Errorf("flows: unknown step %d", int(s.Step))
}

// answerPlan takes an answer, or a skip (text ""), at a safety-plan step.
func (m *Machine) answerPlan(s State, in Input, skipped bool) (State, []Reply, error) {
	if !isPlanStep(s.Step) {
		return s, nil, fmt.Errorf("flows: unknown step %d", int(s.Step))
	}
	t := ""
	if !skipped {
		if in.Choice != "" {
			return m.problem(s, textStaleButton)
		}
		if t = strings.TrimSpace(in.Text); t == "" {
			return m.problem(s, textEmpty)
		}
	}
	p := SafetyPlan{}
	if s.Plan != nil {
		p = *s.Plan
	}
	switch s.Step {
	case StepPlanSigns:
		p.WarningSigns = t
	case StepPlanHelps:
		p.Helps = t
	case StepPlanPeople:
		p.People = t
	}
	s.Plan = &p
	if s.Step < StepPlanPeople {
		s.Trail = append(s.Trail, s.Step)
		s.Step++
		return m.ask(s)
	}
	if p.Empty() {
		return State{}, []Reply{info(textPlanNothing)}, nil
	}
	p.Updated = in.Now
	return State{}, []Reply{{Kind: ReplyInfo, Text: planText(p) + "\n" + textPlanSaved, SavePlan: &p}}, nil
}
