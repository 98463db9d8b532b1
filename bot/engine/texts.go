package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/storybot/storybot/flows"
)

// TextPlatformDown is said in place when the platform did not take a DM: true whatever the
// cause (a token the operator must fix, an outage), and it blames neither the user nor the store.
const TextPlatformDown = "I couldn't send you a direct message just now — nothing you wrote was lost. Try again in a few minutes."

// TextStoreDown is the one reply to a storage outage (SPEC.md promise 5). It never
// carries the error itself.
const TextStoreDown = "I can't save right now — nothing you wrote before was lost; send that again in a minute."

// TextTextOnly answers a message the bot cannot read, like an image without words.
const TextTextOnly = "I can only read text here — type your answer, and I'll take it from there."

// texts holds the fixed wording that depends on configuration.
type texts struct {
	retentionDays int
	encrypted     bool
}

// welcome is the first-use greeting: what storybot is, who could reach what the user
// writes (honestly: the people who run its Redis can read whatever is not encrypted), and
// how long it is kept. Three lines; a deliberate exception to the one-short-question rule.
func (t texts) welcome() string {
	return "Hi, I'm storybot — a quiet place to pause and notice the story you're telling yourself.\n" +
		t.whoCanReach() + "\n" +
		fmt.Sprintf("Your journal is kept for %d days. /story privacy says more; /story forget erases it all.", t.retentionDays)
}

// whoCanReach says who could read what the user writes, and whether this installation
// encrypts it.
func (t texts) whoCanReach() string {
	if t.encrypted {
		return "No coach or colleague can read what you write here through storybot, and this storybot stores it encrypted: the people who run its Redis see only scrambled text."
	}
	return "No coach or colleague can read what you write here through storybot — but this storybot stores it unencrypted, so the people who run its Redis could read it."
}

// operators says what the people who run this installation could read.
func (t texts) operators() string {
	if t.encrypted {
		return "the people who run this storybot and its Redis. This installation encrypts your dialogues, journal, practice notes and safety plan, so they see only scrambled text there; your schedules, time zone and coaching links are not encrypted."
	}
	return "the people who run this storybot and its Redis. This installation does not encrypt what you write (its operator has not set an encryption key), so they could read it."
}

// homePrivacy is the privacy line at the foot of the home: who can read the journal, and
// honestly whether this installation encrypts it.
func (t texts) homePrivacy() string {
	line := "Private to you: no coach or colleague can read your journal through storybot"
	if t.encrypted {
		line += ", and it is stored encrypted."
	} else {
		line += "; this storybot stores it unencrypted, so the people who run it could read it."
	}
	return line + fmt.Sprintf(" Kept %d days. /story privacy says more; /story forget erases everything.", t.retentionDays)
}

func (t texts) help() string {
	return strings.Join([]string{
		"storybot — a private pause for the story you're telling yourself.",
		"/story [what happened] — a full pause (about two minutes), in our DM; /story pause works too",
		"/story quick [story] — story, other stories, next step: under a minute",
		"/story reframe [story] — question a story more deeply",
		"/story history [n | word] — your last n journal entries, or the ones that mention a word",
		"/story followups — your pending check-backs (cancel one; off or on for all)",
		"/story checkin weekdays 09:00 — a DM check-in (also daily, mon,wed,fri, off, pause until 2026-12-31)",
		"/story digest weekly — a Sunday-evening summary of your week (off to stop)",
		"/story tz <zone> — your time zone, like Europe/Berlin",
		"/story practices — your practices (pause or stop one); /story practices library — the built-in ones",
		"/story coach invite|assign|progress|list|unassign @name — for coaches; /story coach revoke ends your coaching link; /story coach ask @coach asks a coach to invite you",
		"/story export — all your data as a file; /story forget — erase all of it",
		"/story privacy — what is stored and who can see it",
		"/story sos — grounding and crisis resources, any time; /story safety-plan — write down what helps, in a calm moment",
		"In a dialogue: type back, skip or stop at any step.",
	}, "\n")
}

func (t texts) privacy() string {
	return strings.Join([]string{
		"What storybot keeps about you:",
		"- Your open dialogue, until you finish it or for 7 idle days.",
		fmt.Sprintf("- Journal entries you choose to save, for %d days.", t.retentionDays),
		"- Your check-in and digest schedules, and your time zone.",
		"- Check-backs you asked for on next steps, and how they went (kept with the journal entry).",
		fmt.Sprintf("- If you work with a coach: the link, the practices they assigned, what you marked done, and your notes (for %d days).", t.retentionDays),
		fmt.Sprintf("- Your safety plan, if you write one, for %d days after you last wrote it. No coach ever sees it.", t.retentionDays),
		"Who can see it through storybot: only you. Nothing is ever posted in a shared channel. A coach you accept sees only practice completion and notes you choose to share — never your journal or dialogues.",
		"Who else could reach it: " + t.operators(),
		"Your words are never written to logs.",
		"/story export sends you all of it as a file; /story forget erases all of it.",
	}, "\n")
}

// formatHistory renders journal entries, newest first, in the user's time zone, with the
// user's own words verbatim.
func formatHistory(entries []flows.Entry, loc *time.Location) string {
	if len(entries) == 0 {
		return "Your journal is empty. Finish a /story pause and choose Save to journal to keep one."
	}
	var b strings.Builder
	if len(entries) == 1 {
		b.WriteString("Your last journal entry:")
	} else {
		fmt.Fprintf(&b, "Your last %d journal entries:", len(entries))
	}
	writeEntries(&b, entries, loc)
	return b.String()
}

// writeEntries writes entries as history shows them: date and kind, then the user's words.
func writeEntries(b *strings.Builder, entries []flows.Entry, loc *time.Location) {
	for _, en := range entries {
		b.WriteString("\n\n")
		b.WriteString(en.Created.In(loc).Format("Mon 2 Jan 2006, 15:04"))
		b.WriteString(" — " + flowTitle(en.Flow))
		line := func(label, text string) {
			if text != "" {
				fmt.Fprintf(b, "\n%s: %s", label, text)
			}
		}
		line("What happened", en.What)
		line("Story", en.Story)
		line("Other stories", strings.Join(en.Others, " / "))
		line("To learn", en.Learn)
		line("Turned around", en.Turnaround)
		line("Fair story", en.KinderStory) // kinder_story in entries written before the Reframe asked for a fair one
		line("Next step", en.Next)
		if en.CheckBack != nil && en.FollowUp == nil {
			line("Check back", en.CheckBack.In(loc).Format("Mon 2 Jan, 15:04"))
		}
		if shift := strengthShift(en); shift != "" {
			line("Feeling", shift)
		}
		if fu := en.FollowUp; fu != nil && fu.Outcome != "" {
			line("Followed up", followupLine(*fu, loc))
			line("Found out", fu.FoundOut)
		}
	}
}

// followupLine says how a check-back went: the outcome, when, and how true the first story
// turned out.
func followupLine(fu flows.FollowUp, loc *time.Location) string {
	var s string
	switch fu.Outcome {
	case flows.OutcomeDone:
		s = "done"
	case flows.OutcomeChangedMind:
		s = "changed my mind"
	case flows.OutcomeNotYet:
		s = "not yet"
		if fu.Again != nil && fu.Asked < flows.MaxFollowupAsks {
			s += ", asking again " + fu.Again.In(loc).Format("Mon 2 Jan, 15:04")
		}
	default:
		s = fu.Outcome
	}
	if !fu.At.IsZero() {
		s += " (" + fu.At.In(loc).Format("Mon 2 Jan") + ")"
	}
	if fu.HowTrue != nil {
		s += fmt.Sprintf("; the first story was %d/10 true", *fu.HowTrue)
	}
	return s
}

func flowTitle(f flows.Flow) string {
	switch f {
	case flows.FlowQuick:
		return "quick pause"
	case flows.FlowReframe:
		return "reframe"
	}
	return "pause"
}

func strengthShift(en flows.Entry) string {
	switch {
	case en.StrengthBefore != nil && en.StrengthAfter != nil:
		return fmt.Sprintf("%s %d → %d", en.Feeling, *en.StrengthBefore, *en.StrengthAfter)
	case en.StrengthBefore != nil:
		return fmt.Sprintf("%s %d", en.Feeling, *en.StrengthBefore)
	case en.StrengthAfter != nil:
		return fmt.Sprintf("%s, then %d", en.Feeling, *en.StrengthAfter)
	}
	return en.Feeling
}
