package flows

import (
	"fmt"
	"strconv"
	"strings"
)

// All of the dialogues' wording lives in this file, so it can be read, and reviewed, in one
// place. The voice: warm, brief, curious, never clinical; one question per message.

const (
	textStopped       = "Stopped — nothing was saved. Type /story whenever you want to start again."
	textIdle          = "No pause is open right now. Type /story to start one."
	textNothingBefore = "This is the first question, so there's nothing to go back to."
	textBackAtOffer   = "There's nothing to go back to here."
	textNoSkip        = "This one can't be skipped, but a few words are plenty."
	textNoSkipChoice  = "There's nothing to skip here — just pick one."
	textEmpty         = "That came through empty. Take your time — a few words are plenty."
	textStaleButton   = "That button belongs to an earlier question, so I left things as they were."
	textNotChoice     = "I didn't catch that. Type one of the options, or its number."
	textNotStrength   = "I didn't catch that. Send a number from 0 to 10, or type skip."
	textNotTraps      = "I didn't catch that. Pick by number or name, like 1, 3 — or type none."
	textNoSuggestions = "I didn't suggest any this time. Pick by number or name, or type none."
	textSaved         = "Saved to your journal. Type /story whenever you want another pause."
	textSavedDeeper   = "Saved to your journal. Now let's look closer at that story."
	textDiscarded     = "Discarded — nothing was saved."
)

// savedEarlier says that starting fresh kept the finished dialogue.
func savedEarlier(f Flow) string {
	return fmt.Sprintf("I saved your earlier %s to your journal.", f.title())
}

func info(text string) Reply { return Reply{Kind: ReplyInfo, Text: text} }

func idleReply() Reply { return info(textIdle) }

// tooLong asks to shorten an answer of n characters.
func tooLong(n int) string {
	return fmt.Sprintf("That's %s characters, and I can take up to %s. Could you shorten it and send it again? Nothing you wrote before was lost.",
		thousands(n), thousands(MaxAnswerRunes))
}

// thousands formats n with comma separators: 3,001.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// feelings are the feeling buttons; the id is the word kept in the journal.
var feelings = []string{"anxious", "angry", "hurt", "ashamed", "sad", "frustrated", "overwhelmed", "other"}

func feelingChoices() []Choice {
	cs := make([]Choice, len(feelings))
	for i, f := range feelings {
		cs[i] = Choice{ID: f, Label: strings.ToUpper(f[:1]) + f[1:]}
	}
	return cs
}

func strengthChoices() []Choice {
	cs := make([]Choice, 11)
	for i := range cs {
		cs[i] = Choice{ID: strconv.Itoa(i), Label: strconv.Itoa(i)}
	}
	return cs
}

func summaryChoices(f Flow) []Choice {
	cs := []Choice{{ID: "save", Label: "Save to journal"}, {ID: "discard", Label: "Discard"}}
	if f != FlowReframe {
		cs = append(cs, Choice{ID: "deeper", Label: "Go deeper"})
	}
	return cs
}

func offerChoices() []Choice {
	return []Choice{{ID: "continue", Label: "Continue where you left off"}, {ID: "fresh", Label: "Start fresh"}}
}

// trapChoices lists every trap, then "None of these", then, when traps were suggested, a way
// to accept them all with one press.
func trapChoices(hints []string) []Choice {
	cs := make([]Choice, 0, len(trapDefs)+2)
	for _, d := range trapDefs {
		cs = append(cs, Choice{ID: d.trap.ID, Label: d.trap.Label()})
	}
	cs = append(cs, Choice{ID: "none", Label: "None of these"})
	switch len(hints) {
	case 0:
	case 1:
		cs = append(cs, Choice{ID: "yes", Label: "Yes, that fits"})
	default:
		cs = append(cs, Choice{ID: "yes", Label: "Yes, those fit"})
	}
	return cs
}

func prompt(text string, choices ...Choice) Reply {
	return Reply{Kind: ReplyPrompt, Text: text, Choices: choices}
}

// prompt is the question s waits on. It depends on s alone, so asking again gives the very
// same reply.
func (m *Machine) prompt(s State) (Reply, error) {
	e := s.Entry
	switch s.Step {
	case StepWhat:
		return prompt("What's happening? One line, only what a camera would record."), nil
	case StepStory:
		return prompt("Finish this sentence: the story I'm telling myself is…"), nil
	case StepFeeling:
		return prompt("What are you feeling? Pick one, or type your own word.", feelingChoices()...), nil
	case StepFeelingOther:
		return prompt("What's your word for the feeling?"), nil
	case StepStrength:
		return prompt("How strong is the feeling right now, from 0 to 10? Or type skip.", strengthChoices()...), nil
	case StepFacts:
		return prompt("What do you know for sure? Only facts — what you saw and heard."), nil
	case StepOthers:
		if sp := spottedHints(s); len(sp) > 0 {
			t := sp[0]
			return prompt(fmt.Sprintf("You wrote “%s”. This might be %s — does that fit? %s", t.Because, t.Name, t.Hint)), nil
		}
		return prompt("What else could be true? Name one other story that fits the same facts."), nil
	case StepNext:
		return prompt("What's one next step — something you'll do or say?"), nil
	case StepStrengthAfter:
		return prompt("And now, how strong is the feeling, 0 to 10? Or type skip.", strengthChoices()...), nil
	case StepSummary:
		return Reply{Kind: ReplySummary, Text: pauseSummary(s.Flow, e), Choices: summaryChoices(s.Flow)}, nil
	case StepReframeStory:
		return prompt("What's the story you're telling yourself? Write it the way it sounds in your head."), nil
	case StepReframeTrue:
		return prompt(fmt.Sprintf("Your story: “%s”\nIs it true?", e.Story)), nil
	case StepReframeAbsolutely:
		return prompt("Can you absolutely know that it's true?"), nil
	case StepReframeReact:
		return prompt("How do you react when you believe that story — what do you feel, what do you do?"), nil
	case StepReframeTraps:
		return prompt(trapsQuestion(spottedHints(s)), trapChoices(s.Hints)...), nil
	case StepReframeWithout:
		return prompt("Who would you be without that story? Write a more accurate, kinder one."), nil
	case StepReframeSummary:
		return Reply{Kind: ReplySummary, Text: reframeSummary(e), Choices: summaryChoices(FlowReframe)}, nil
	case StepResumeOffer:
		t := fmt.Sprintf("You have a %s open. Continue where you left off, or start fresh?", s.Flow.title())
		if s.Parked == StepSummary || s.Parked == StepReframeSummary {
			t = fmt.Sprintf("Your %s is ready to save. Continue where you left off, or start fresh? Starting fresh saves it first.", s.Flow.title())
		}
		return prompt(t, offerChoices()...), nil
	default:
		return Reply{}, fmt.Errorf("flows: unknown step %d", int(s.Step))
	}
}

// spottedHints returns the traps suggested for the story, with the words behind them. The
// state's Hints decide which; the story supplies the words.
func spottedHints(s State) []Spotted {
	var out []Spotted
	sp := SpotTraps(s.Entry.Story)
	for _, id := range s.Hints {
		for _, x := range sp {
			if x.ID == id {
				out = append(out, x)
			}
		}
	}
	return out
}

// trapsQuestion explains the suggested traps, each with the words that suggested it.
func trapsQuestion(sp []Spotted) string {
	if len(sp) == 0 {
		return "Thinking traps are habits that make a story feel truer than it is. Do any of these fit? Pick any, or none."
	}
	var b strings.Builder
	if len(sp) == 1 {
		b.WriteString("Some words in your story might point to a thinking trap:\n")
	} else {
		b.WriteString("Some words in your story might point to thinking traps:\n")
	}
	for _, x := range sp {
		fmt.Fprintf(&b, "- %s: you wrote “%s”. %s\n", x.Label(), x.Because, x.Explain)
	}
	if len(sp) == 1 {
		b.WriteString("Does that fit? Type yes, pick others, or none.")
	} else {
		b.WriteString("Do they fit? Type yes, pick the ones that do, or none.")
	}
	return b.String()
}

// pauseSummary is the pause's summary in the user's own words.
func pauseSummary(f Flow, e Entry) string {
	var b strings.Builder
	if f == FlowQuick {
		b.WriteString("Here's your quick pause.\n")
	} else {
		b.WriteString("Here's your pause.\n")
	}
	line(&b, "Your story", e.Story)
	line(&b, "Another story", strings.Join(e.Others, "\n"))
	line(&b, "Your next step", e.Next)
	if e.Feeling != "" {
		shift := e.Feeling
		if e.StrengthBefore != nil {
			shift += " " + strconv.Itoa(*e.StrengthBefore)
			if e.StrengthAfter != nil {
				shift += " → " + strconv.Itoa(*e.StrengthAfter)
			}
		}
		line(&b, "Feeling", shift)
	}
	b.WriteString("Save it to your journal?")
	return b.String()
}

// reframeSummary is the reframe's summary in the user's own words.
func reframeSummary(e Entry) string {
	var b strings.Builder
	b.WriteString("Here's your reframe.\n")
	line(&b, "Your story", e.Story)
	line(&b, "Is it true?", e.IsTrue)
	line(&b, "Can you absolutely know?", e.Absolutely)
	line(&b, "When you believe it", e.Reaction)
	var names []string
	for _, id := range e.Traps {
		if t, ok := trapByID(id); ok {
			names = append(names, t.Name)
		}
	}
	line(&b, "Thinking traps", strings.Join(names, ", "))
	line(&b, "A kinder story", e.KinderStory)
	b.WriteString("Save it to your journal?")
	return b.String()
}

// line writes "label: value" when there is a value.
func line(b *strings.Builder, label, value string) {
	if value == "" {
		return
	}
	b.WriteString(label)
	if !strings.HasSuffix(label, "?") {
		b.WriteString(":")
	}
	b.WriteString(" ")
	b.WriteString(value)
	b.WriteString("\n")
}
