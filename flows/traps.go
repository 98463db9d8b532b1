package flows

import (
	"regexp"
	"sort"
	"strings"
)

// Trap is a thinking trap: a common pattern that makes a story feel truer than it is.
type Trap struct {
	ID      string // stable id, kept in Entry.Traps
	Name    string // its name in a sentence: "mind reading"
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

// Spotted is a thinking trap found in a text, with the words that suggested it, so the
// suggestion can be explained: "you wrote “they think”".
type Spotted struct {
	Trap
	Because string // the matched words, as the user wrote them
}

// trapDef is a trap with the word rules that suggest it and the other names a user might
// type for it.
type trapDef struct {
	trap    Trap
	phrases []string
	aliases []string
}

var trapDefs = []trapDef{
	{
		trap: Trap{ID: "all-or-nothing", Name: "all-or-nothing thinking",
			Explain: "Seeing it as all good or all bad, with nothing in between.",
			Hint:    "What would the middle ground look like?"},
		phrases: []string{"completely", "totally", "entirely", "perfect", "perfectly", "ruined",
			"everything", "nothing", "all or nothing", "black and white", "a complete", "a total", "100 percent"},
		aliases: []string{"all or nothing", "black and white", "black and white thinking", "black-and-white thinking"},
	},
	{
		trap: Trap{ID: "mind-reading", Name: "mind reading",
			Explain: "Guessing what others think, as if you could hear it.",
			Hint:    "What else could they be thinking?"},
		phrases: []string{"they think", "he thinks", "she thinks", "everyone thinks", "everybody thinks",
			"they all think", "must think", "thinks i'm", "thinks i am",
			"they know", "judging me", "hates me", "hate me", "doesn't like me", "don't like me",
			"doesn't respect me", "don't respect me", "doesn't care", "they don't care", "annoyed with me",
			"angry with me", "mad at me", "fed up with me", "sees me as", "see me as", "they believe",
			"he believes", "she believes", "wants me to fail", "they're thinking", "he's thinking",
			"she's thinking"},
		aliases: []string{"mindreading", "mind-reading"},
	},
	{
		trap: Trap{ID: "fortune-telling", Name: "fortune telling",
			Explain: "Predicting how it will turn out, as if it were already decided.",
			Hint:    "What else could happen?"},
		phrases: []string{"going to", "gonna", "will fail", "won't work", "will never", "never going to",
			"i'll never", "bound to", "what if", "doomed", "it'll", "they'll", "will go wrong",
			"will be a disaster", "won't get", "will think"},
		aliases: []string{"fortune-telling", "fortunetelling", "predicting"},
	},
	{
		trap: Trap{ID: "catastrophising", Name: "catastrophising",
			Explain: "Jumping to the worst outcome and treating it as likely.",
			Hint:    "What's the most likely outcome, rather than the worst?"},
		phrases: []string{"disaster", "disastrous", "catastrophe", "catastrophic", "terrible", "horrible",
			"awful", "the worst", "end of the world", "can't stand", "can't bear", "unbearable",
			"nightmare", "get fired", "be fired", "lose my job", "career is over", "it's over",
			"can't cope", "falling apart", "fall apart"},
		aliases: []string{"catastrophizing", "catastrophe", "catastrophic thinking"},
	},
	{
		trap: Trap{ID: "should-statements", Name: "should statements",
			Explain: "Rules about how you or others must be, which turn into pressure or blame.",
			Hint:    "What would it sound like as a wish instead of a rule?"},
		phrases: []string{"should", "shouldn't", "should have", "should've", "must", "mustn't",
			"ought to", "have to", "has to", "supposed to"},
		aliases: []string{"should statement", "shoulds", "should", "should-statements"},
	},
	{
		trap: Trap{ID: "labelling", Name: "labelling",
			Explain: "Summing up a whole person, you or someone else, in one word.",
			Hint:    "What did the person actually do, apart from the label?"},
		phrases: []string{"idiot", "stupid", "loser", "failure", "useless", "incompetent", "worthless",
			"pathetic", "fraud", "impostor", "imposter", "lazy", "jerk", "moron", "clueless",
			"not good enough", "such a"},
		aliases: []string{"labeling", "name calling", "name-calling"},
	},
	{
		trap: Trap{ID: "personalising", Name: "personalising",
			Explain: "Taking something on as your fault or about you, when other things played a part.",
			Hint:    "What else could have played a part?"},
		phrases: []string{"my fault", "because of me", "i caused", "i ruined", "i made them", "i made him",
			"i made her", "blame myself", "it's on me", "all on me", "about me", "at me", "it's me",
			"i let them down", "i let everyone down", "i let the team down", "to blame", "i'm responsible"},
		aliases: []string{"personalizing", "personalisation", "personalization", "blaming myself"},
	},
	{
		trap: Trap{ID: "overgeneralising", Name: "overgeneralising",
			Explain: "Turning one moment into a rule: always, never, everyone.",
			Hint:    "When has it gone differently?"},
		phrases: []string{"always", "never", "every time", "everyone", "everybody", "no one", "nobody",
			"all the time", "keeps happening", "again and again", "as usual", "typical", "every single"},
		aliases: []string{"overgeneralizing", "overgeneralisation", "overgeneralization", "over generalising",
			"over-generalising", "generalising", "generalizing"},
	},
}

var trapRes = func() []*regexp.Regexp {
	res := make([]*regexp.Regexp, len(trapDefs))
	for i, d := range trapDefs {
		res[i] = phraseRegexp(d.phrases)
	}
	return res
}()

// Traps returns the eight thinking traps storybot knows, in a fixed order (the order of the
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

// SpotTraps suggests the thinking traps that text may show, by simple word rules: whole
// words, case-insensitive, ' and ’ alike. Each trap appears at most once, with the first words
// that suggested it; the traps are ordered by where those words appear in text.
func SpotTraps(text string) []Spotted {
	type hit struct {
		at int
		s  Spotted
	}
	var hits []hit
	for i, re := range trapRes {
		loc := re.FindStringIndex(text)
		if loc == nil {
			continue
		}
		hits = append(hits, hit{loc[0], Spotted{Trap: trapDefs[i].trap, Because: text[loc[0]:loc[1]]}})
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	out := make([]Spotted, len(hits))
	for i, h := range hits {
		out[i] = h.s
	}
	return out
}

// trapIDs returns the ids of the spotted traps, or nil.
func trapIDs(sp []Spotted) []string {
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
