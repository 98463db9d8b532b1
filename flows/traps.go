package flows

import "strings"

// Trap is a thinking trap: a common pattern that makes a story feel truer than it is.
type Trap struct {
	ID      string // stable id, kept in Entry.Traps and Entry.SuggestedTraps
	Name    string // its name in a sentence: "This might be mind reading."
	Explain string // one plain sentence saying what it is
	Hint    string // a curious question that opens another story
}

// Label is the trap's name as a button label: "Mind reading".
func (t Trap) Label() string {
	if t.Name == "" {
		return ""
	}
	return strings.ToUpper(t.Name[:1]) + t.Name[1:]
}

// trapDef is a trap with the other names a user might type for it.
type trapDef struct {
	trap    Trap
	aliases []string
}

// trapDefs are the twelve traps, in the order of the choices at the traps step. Ids are
// stored in journals: never change one. New traps go at the end, so that the numbers users
// type for the first eight keep their meaning.
var trapDefs = []trapDef{
	{
		trap: Trap{ID: "all-or-nothing", Name: "all-or-nothing thinking",
			Explain: "Seeing it as all good or all bad, with nothing in between.",
			Hint:    "What would the middle ground look like?"},
		aliases: []string{"all or nothing", "black and white", "black and white thinking", "black-and-white thinking"},
	},
	{
		trap: Trap{ID: "mind-reading", Name: "mind reading",
			Explain: "Guessing what others think, as if you could hear it.",
			Hint:    "What else could they be thinking?"},
		aliases: []string{"mindreading", "mind-reading"},
	},
	{
		trap: Trap{ID: "fortune-telling", Name: "fortune telling",
			Explain: "Predicting how it will turn out, as if it were already decided.",
			Hint:    "What else could happen?"},
		aliases: []string{"fortune-telling", "fortunetelling", "predicting"},
	},
	{
		trap: Trap{ID: "catastrophising", Name: "catastrophising",
			Explain: "Jumping to the worst outcome and treating it as likely.",
			Hint:    "What's the most likely outcome, rather than the worst?"},
		aliases: []string{"catastrophizing", "catastrophe", "catastrophic thinking"},
	},
	{
		trap: Trap{ID: "should-statements", Name: "should statements",
			Explain: "Rules about how you or others must be, which turn into pressure or blame.",
			Hint:    "What would it sound like as a wish instead of a rule?"},
		aliases: []string{"should statement", "shoulds", "should", "should-statements"},
	},
	{
		trap: Trap{ID: "labelling", Name: "labelling",
			Explain: "Summing up a whole person, you or someone else, in one word.",
			Hint:    "What did the person actually do, apart from the label?"},
		aliases: []string{"labeling", "name calling", "name-calling"},
	},
	{
		trap: Trap{ID: "personalising", Name: "personalising",
			Explain: "Taking something on as your fault or about you, when other things played a part.",
			Hint:    "What else could have played a part?"},
		aliases: []string{"personalizing", "personalisation", "personalization", "blaming myself"},
	},
	{
		trap: Trap{ID: "overgeneralising", Name: "overgeneralising",
			Explain: "Turning one moment into a rule: always, never, everyone.",
			Hint:    "When has it gone differently?"},
		aliases: []string{"overgeneralizing", "overgeneralisation", "overgeneralization", "over generalising",
			"over-generalising", "generalising", "generalizing"},
	},
	{
		trap: Trap{ID: "emotional-reasoning", Name: "emotional reasoning",
			Explain: "Taking a feeling as proof: I feel it, so it must be true.",
			Hint:    "If the feeling were quieter, what would the facts say?"},
		aliases: []string{"emotional reasoning", "feelings as facts", "feeling as fact", "emotional-reasoning"},
	},
	{
		trap: Trap{ID: "disqualifying-positive", Name: "disqualifying the positive",
			Explain: "Waving away what went well, as luck or politeness, so only the bad counts.",
			Hint:    "What if the good part counted too?"},
		aliases: []string{"disqualifying positive", "discounting the positive", "discounting positives",
			"disqualifying the positives", "discounting"},
	},
	{
		trap: Trap{ID: "blaming", Name: "blaming",
			Explain: "Putting all of it on someone else, so nothing is left to do but be angry.",
			Hint:    "What part of this could be yours to change?"},
		aliases: []string{"blame", "blaming others", "other-blaming"},
	},
	{
		trap: Trap{ID: "comparing", Name: "comparing",
			Explain: "Measuring yourself against someone else's best and coming up short.",
			Hint:    "What would you see if you compared yourself with you a year ago?"},
		aliases: []string{"comparison", "comparisons", "comparing myself", "unfair comparison", "unfair comparisons"},
	},
}

// Traps returns the twelve thinking traps storybot knows, in a fixed order (the order of the
// choices at the traps step).
func Traps() []Trap {
	ts := make([]Trap, len(trapDefs))
	for i, d := range trapDefs {
		ts[i] = d.trap
	}
	return ts
}

// trapByID returns the trap with the given id.
func trapByID(id string) (Trap, bool) {
	for _, d := range trapDefs {
		if d.trap.ID == id {
			return d.trap, true
		}
	}
	return Trap{}, false
}

// Spotted is the name the dialogues have used for a suggestion; it is the same type.
type Spotted = Suggestion

// SpotTraps is SuggestTraps under its older name, kept so that callers need not change.
func SpotTraps(text string) []Spotted { return SuggestTraps(text) }

// trapIDs returns the ids of the suggested traps, or nil.
func trapIDs(sp []Suggestion) []string {
	var ids []string
	for _, s := range sp {
		ids = append(ids, s.ID)
	}
	return ids
}

// matchTrap finds the trap a user named: by id, name, label or a common alias.
func matchTrap(text string) (string, bool) {
	t := loose(text)
	for _, d := range trapDefs {
		if t == loose(d.trap.ID) || t == loose(d.trap.Name) {
			return d.trap.ID, true
		}
		for _, a := range d.aliases {
			if t == loose(a) {
				return d.trap.ID, true
			}
		}
	}
	return "", false
}
