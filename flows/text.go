package flows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// All of the dialogues' wording lives in this file, so it can be read, and reviewed, in one
// place. The voice: warm, brief, curious, never clinical; one question per message.

const (
	textStopped           = "Stopped — nothing was saved. Type /story whenever you want to start again."
	textStoppedDeeper     = "Stopped. Your pause is saved in your journal; this closer look at it was not saved. Type /story whenever you want to start again."
	textIdle              = "No pause is open right now. Type /story to start one."
	textNothingBefore     = "This is the first question, so there's nothing to go back to."
	textBackAtOffer       = "There's nothing to go back to here."
	textNoSkip            = "This one can't be skipped, but a few words are plenty."
	textNoSkipChoice      = "There's nothing to skip here — just pick one."
	textEmpty             = "That came through empty. Take your time — a few words are plenty."
	textStaleButton       = "That button belongs to an earlier question, so I left things as they were."
	textNotChoice         = "I didn't catch that. Type one of the options, or its number."
	textNotStrength       = "I didn't catch that. Send a number from 0 to 10, or type skip."
	textNotTraps          = "I didn't catch that. Pick by number or name, like 1, 3 — or type none."
	textNoSuggestions     = "I didn't suggest any this time. Pick by number or name, or type none."
	textHintNoted         = "Thanks — noted."
	textNotAStory         = "I'm after one other story that could be true — a few words are plenty."
	textNotCheckBack      = "I didn't catch a time there. Try “tomorrow”, “friday”, “at 16:00”, “in 2 hours” — or no."
	textPickTurnaround    = "Pick one by its number or name, or write your own turnaround."
	textTurnaroundMissing = "I couldn't build that one well from your words. Write it your own way, or pick one above."
	textSaved             = "Saved to your journal. Type /story whenever you want another pause."
	textSavedDeeper       = "Saved to your journal. Now let's look closer at that story."
	textDiscarded         = "Discarded — nothing was saved."
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

// feelingButtons are the feeling choices, labelled once: the question is asked on most
// Pauses, and a reply's choices are the caller's to keep, so each gets a copy.
var feelingButtons = func() []Choice {
	cs := make([]Choice, len(feelings))
	for i, f := range feelings {
		cs[i] = Choice{ID: f, Label: strings.ToUpper(f[:1]) + f[1:]}
	}
	return cs
}()

func feelingChoices() []Choice { return slices.Clone(feelingButtons) }

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

// trapChoices lists every trap, then "None of these".
func trapChoices() []Choice {
	cs := make([]Choice, 0, len(trapDefs)+1)
	for _, d := range trapDefs {
		cs = append(cs, Choice{ID: d.trap.ID, Label: d.trap.Label()})
	}
	return append(cs, Choice{ID: "none", Label: "None of these"})
}

// hintChoices answer the suggested traps: all of them, one of them (when there are two),
// none, or the full list.
func hintChoices(hints []string) []Choice {
	var cs []Choice
	if len(hints) == 1 {
		cs = append(cs, Choice{ID: "yes", Label: "Yes, that fits"})
	} else {
		cs = append(cs, Choice{ID: "yes", Label: "Yes, both fit"})
		for _, id := range hints {
			if t, ok := trapByID(id); ok {
				cs = append(cs, Choice{ID: id, Label: "Only " + t.Name})
			}
		}
	}
	return append(cs, Choice{ID: "none", Label: "None of these"}, Choice{ID: "list", Label: "Show all traps"})
}

// turnaroundLabels name the kinds of turnaround.
var turnaroundLabels = map[string]string{TurnSelf: "To yourself", TurnOther: "To them", TurnOpposite: "The opposite"}

func turnaroundChoices(ts []Turnaround) []Choice {
	cs := make([]Choice, 0, len(ts))
	for _, t := range ts {
		cs = append(cs, Choice{ID: "turn-" + t.Kind, Label: turnaroundLabels[t.Kind]})
	}
	return cs
}

// trapHints are one short sentence for each trap that may be at work, said after "You wrote
// “…” —". Traps not listed get a sentence made from their name.
var trapHints = map[string]string{
	"all-or-nothing":             "that may be all-or-nothing, with no middle ground.",
	"mind-reading":               "that may be a guess about what's in their mind.",
	"fortune-telling":            "that may be a prediction, not yet a fact.",
	"catastrophising":            "that may be the worst case rather than the likely one.",
	"should-statements":          "that may be a rule about how things must be.",
	"labelling":                  "that may be a label for a whole person.",
	"personalising":              "that may be taking on more of it than is yours.",
	"overgeneralising":           "that may be one moment turned into a rule.",
	"emotional-reasoning":        "that may be a feeling taken as a fact.",
	"disqualifying-positive":     "that may be setting aside what went well.",
	"disqualifying-the-positive": "that may be setting aside what went well.",
	"blaming":                    "that may put all of it on one person.",
	"comparing":                  "that may be a comparison that leaves a lot out.",
}

// hintLine is the one sentence naming the words that suggested a trap.
func hintLine(x Spotted) string {
	h, ok := trapHints[x.ID]
	if !ok {
		h = "that may be a thinking trap: " + x.Name + "."
	}
	return fmt.Sprintf("You wrote “%s” — %s", x.Because, h)
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
		if sp := spottedHints(s); len(sp) > 0 && !s.HintAnswered {
			return prompt(hintLine(sp[0]) + "\nWhat else could be true?"), nil
		}
		return prompt("What else could be true? Name one other story that fits the same facts."), nil
	case StepRumble:
		return prompt("What more do you need to learn — about the situation, about them, or about yourself? Or type skip."), nil
	case StepNext, StepReframeNext:
		return prompt("What's one next step — something you'll do or say?"), nil
	case StepCheckBack:
		return prompt("When shall I check back on how it went? Or type skip.", CheckBackChoices()...), nil
	case StepStrengthAfter:
		return prompt("And now, how strong is the feeling, 0 to 10? Or type skip.", strengthChoices()...), nil
	case StepSummary:
		return Reply{Kind: ReplySummary, Text: pauseSummary(s.Flow, e, s.Updated), Choices: summaryChoices(s.Flow)}, nil
	case StepReframeStory:
		return prompt("What's the story you're telling yourself? Write it the way it sounds in your head."), nil
	case StepReframeBelief:
		return prompt(fmt.Sprintf("Your story: “%s”\nHow much do you believe it, from 0 to 10? Or type skip.", e.Story), strengthChoices()...), nil
	case StepReframeTrue:
		return prompt("Is it true?", yesNoChoices()...), nil
	case StepReframeAbsolutely:
		return prompt("Can you absolutely know that it's true?", yesNoChoices()...), nil
	case StepReframeReact:
		return prompt("How do you react when you believe that story?"), nil
	case StepReframeTraps:
		if sp := spottedHints(s); len(sp) > 0 {
			return prompt(trapsQuestion(sp), hintChoices(shownHints(s))...), nil
		}
		return prompt("Do any of these thinking traps fit your story? Pick any, or none.", trapChoices()...), nil
	case StepReframeTrapList:
		return prompt("Which thinking traps fit? Pick by number or name, like 1, 3 — or none.", trapChoices()...), nil
	case StepReframeTurnaround:
		return turnaroundPrompt(s.Turnarounds), nil
	case StepReframeExample:
		return prompt(fmt.Sprintf("“%s”\nWhat's one example of how that could be as true, or truer?", e.Turnaround)), nil
	case StepReframeWithout:
		return prompt("Who would you be without that story? Write one that's fair to everyone, you included."), nil
	case StepReframeBeliefAfter:
		return prompt("And now, how much do you believe the first story, 0 to 10? Or type skip.", strengthChoices()...), nil
	case StepReframeSummary:
		return Reply{Kind: ReplySummary, Text: reframeSummary(e, s.Updated), Choices: summaryChoices(FlowReframe)}, nil
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

// spottedHints returns the traps shown to the user for the story, with the words behind
// them. The state's Hints decide which; the story supplies the words.
func spottedHints(s State) []Spotted {
	shown := shownHints(s)
	if len(shown) == 0 {
		return nil // no trap to show: the story need not be read again
	}
	var out []Spotted
	sp := SpotTraps(s.Entry.Story)
	for _, id := range shown {
		for _, x := range sp {
			if x.ID == id {
				out = append(out, x)
			}
		}
	}
	return out
}

// trapsQuestion names the words behind each suggested trap, then asks once.
func trapsQuestion(sp []Spotted) string {
	var b strings.Builder
	for _, x := range sp {
		b.WriteString(hintLine(x))
		b.WriteString("\n")
	}
	if len(sp) == 1 {
		b.WriteString("Does that fit?")
	} else {
		b.WriteString("Do these fit?")
	}
	return b.String()
}

// turnaroundPrompt offers the story turned around, or, when the rules could not build one
// well, asks the user to try.
func turnaroundPrompt(ts []Turnaround) Reply {
	if len(ts) == 0 {
		return prompt("How would your story read turned around — to yourself, to them, or to its opposite? Or type skip.")
	}
	var b strings.Builder
	b.WriteString("Turned around, your story could read:\n")
	for _, t := range ts {
		fmt.Fprintf(&b, "- %s: “%s”\n", turnaroundLabels[t.Kind], t.Text)
	}
	b.WriteString("Which could be as true, or truer? Or write your own.")
	return prompt(b.String(), turnaroundChoices(ts)...)
}

// pauseSummary is the pause's summary in the user's own words: what happened beside the
// story, then what came of it. now is the time of the last answer, for "tomorrow".
func pauseSummary(f Flow, e Entry, now time.Time) string {
	var b strings.Builder
	if f == FlowQuick {
		b.WriteString("Here's your quick pause.\n")
	} else {
		b.WriteString("Here's your pause.\n")
	}
	line(&b, "What happened", e.What)
	line(&b, "Your story", e.Story)
	line(&b, "What you know", e.Facts)
	line(&b, "Another story", strings.Join(e.Others, "\n"))
	line(&b, "To learn", e.Learn)
	line(&b, "Your next step", e.Next)
	if e.CheckBack != nil {
		line(&b, "I'll check back", whenText(*e.CheckBack, now))
	}
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
	if AboutOther(e.Story) {
		line(&b, "To say it out loud", "“The story I'm making up is that "+storyClause(e.Story)+" — can you help me understand?”")
	}
	b.WriteString("Save it to your journal?")
	return b.String()
}

// storyClause is the story as it goes after "The story I'm making up is that": its first
// letter lower-cased unless it is "I" or a name, without closing punctuation.
func storyClause(story string) string {
	s := strings.TrimRight(strings.TrimSpace(story), ".!?… ")
	ts := splitWords(s)
	if len(ts) > 0 && ts[0].pre == "" && ts[0].word != "I" && !strings.HasPrefix(ts[0].word, "I'") && !strings.HasPrefix(ts[0].word, "I’") && !looksLikeName(ts[0]) {
		r := []rune(s)
		r[0] = unicode.ToLower(r[0])
		s = string(r)
	}
	return s
}

// reframeSummary is the reframe's summary in the user's own words.
func reframeSummary(e Entry, now time.Time) string {
	var b strings.Builder
	b.WriteString("Here's your reframe.\n")
	line(&b, "Your story", e.Story)
	if e.BeliefBefore != nil {
		belief := strconv.Itoa(*e.BeliefBefore)
		if e.BeliefAfter != nil {
			belief += " → " + strconv.Itoa(*e.BeliefAfter)
		}
		line(&b, "How much you believe it", belief)
	}
	line(&b, "Is it true", e.IsTrue)
	line(&b, "Can you absolutely know", e.Absolutely)
	line(&b, "When you believe it", e.Reaction)
	var names []string
	for _, id := range e.Traps {
		if t, ok := trapByID(id); ok {
			names = append(names, t.Name)
		}
	}
	line(&b, "Thinking traps", strings.Join(names, ", "))
	if e.Turnaround != "" {
		line(&b, "Turned around", "“"+e.Turnaround+"”")
	}
	line(&b, "For example", e.Example)
	line(&b, "A story fair to everyone", e.KinderStory)
	line(&b, "Your next step", e.Next)
	if e.CheckBack != nil {
		line(&b, "I'll check back", whenText(*e.CheckBack, now))
	}
	b.WriteString("Save it to your journal?")
	return b.String()
}

// line writes "label: value" when there is a value.
func line(b *strings.Builder, label, value string) {
	if value == "" {
		return
	}
	b.WriteString(label)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteString("\n")
}
