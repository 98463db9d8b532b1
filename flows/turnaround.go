package flows

import (
	"strings"
	"unicode"
)

// Turnarounds, after Byron Katie's The Work: the story turned around to the self, to the
// other person, and to its opposite, built from the user's own words by swapping pronouns
// and negatedWords. The rules are deliberately narrow: a turnaround is offered only when every
// change it needs is one the rules know; otherwise the user is asked to try one, which is
// better than a broken sentence.

// Turnaround is one way to turn a story around.
type Turnaround struct {
	Kind string `json:"kind"` // "self", "other" or "opposite"
	Text string `json:"text"`
}

// The kinds of turnaround, in the order they are offered.
const (
	TurnSelf     = "self"
	TurnOther    = "other"
	TurnOpposite = "opposite"
)

// tword is one word of a story with the punctuation around it.
type tword struct {
	pre, word, post string
}

func (t tword) low() string { return strings.ToLower(strings.ReplaceAll(t.word, "’", "'")) }

func splitWords(s string) []tword {
	var out []tword
	for _, f := range strings.Fields(s) {
		i := strings.IndexFunc(f, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
		if i < 0 {
			out = append(out, tword{pre: f})
			continue
		}
		j := strings.LastIndexFunc(f, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
		_, size := firstRune(f[j:])
		out = append(out, tword{pre: f[:i], word: f[i : j+size], post: f[j+size:]})
	}
	return out
}

func firstRune(s string) (rune, int) {
	for _, r := range s {
		return r, len(string(r))
	}
	return 0, 0
}

func joinWords(ts []tword) string {
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.pre+t.word+t.post == "" {
			continue
		}
		parts = append(parts, t.pre+t.word+t.post)
	}
	return strings.Join(parts, " ")
}

// who is the person a story is about: the forms its pronouns take.
type who struct {
	subj, obj, poss, refl string
	plural                bool
	words                 int // how many tokens the subject takes at the start of the story
}

var thirdPronouns = map[string]who{
	"he":   {subj: "he", obj: "him", poss: "his", refl: "himself", words: 1},
	"she":  {subj: "she", obj: "her", poss: "her", refl: "herself", words: 1},
	"they": {subj: "they", obj: "them", poss: "their", refl: "themselves", plural: true, words: 1},
}

// roleWords are words for people a story at work or at home is often about.
var roleWords = map[string]bool{
	"manager": true, "boss": true, "lead": true, "colleague": true, "colleagues": true, "coworker": true,
	"coworkers": true, "co-worker": true, "client": true, "customer": true, "partner": true, "director": true,
	"ceo": true, "cto": true, "cfo": true, "vp": true, "teammate": true, "teammates": true, "report": true,
	"peer": true, "peers": true, "mentor": true, "coach": true, "friend": true, "friends": true, "wife": true,
	"husband": true, "mother": true, "father": true, "mom": true, "mum": true, "dad": true, "sister": true,
	"brother": true, "son": true, "daughter": true, "pm": true, "designer": true, "engineer": true,
	"founder": true, "cofounder": true, "co-founder": true, "stakeholder": true, "stakeholders": true,
	"investor": true, "interviewer": true, "recruiter": true, "reviewer": true, "supervisor": true,
	"landlord": true, "neighbour": true, "neighbor": true, "kids": true, "kid": true, "parents": true,
	"team": false, // a group: not one person to talk to
}

// notNameWords are capitalised words that start sentences but are not people.
var notNameWords = map[string]bool{
	"i": true, "i'm": true, "i've": true, "i'll": true, "i'd": true, "the": true, "a": true, "an": true,
	"my": true, "our": true, "this": true, "that": true, "these": true, "those": true, "it": true, "it's": true,
	"everyone": true, "everybody": true, "nobody": true, "no": true, "someone": true, "somebody": true,
	"we": true, "we're": true, "you": true, "your": true, "maybe": true, "today": true, "nothing": true,
	"everything": true, "all": true, "there": true, "what": true, "why": true, "if": true, "when": true,
	"honestly": true, "probably": true, "clearly": true, "obviously": true, "again": true, "now": true,
	"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true,
	"sunday": true, "january": true, "february": true, "march": true, "april": true, "may": true, "june": true,
	"july": true, "august": true, "september": true, "october": true, "november": true, "december": true,
	"ok": true, "okay": true, "yes": true, "so": true, "but": true, "and": true, "because": true, "he": true,
	"she": true, "they": true, "people": true, "management": true, "leadership": true,
}

var auxWords = map[string]bool{
	"is": true, "isn't": true, "was": true, "wasn't": true, "has": true, "hasn't": true, "does": true,
	"doesn't": true, "did": true, "didn't": true, "will": true, "won't": true, "can": true, "can't": true,
	"would": true, "wouldn't": true, "should": true, "shouldn't": true, "could": true, "couldn't": true,
	"must": true, "might": true, "never": true, "always": true, "just": true, "really": true, "are": true,
	"aren't": true, "were": true, "weren't": true, "don't": true, "do": true, "have": true, "haven't": true,
	"thinks": true, "wants": true, "hates": true, "likes": true, "knows": true, "said": true, "told": true,
}

// verbLike reports whether w reads like the verb after a subject: an auxiliary, a present
// tense "-s" form, a past tense "-ed" form or a negation.
func verbLike(w string) bool {
	return auxWords[w] || strings.HasSuffix(w, "n't") || len(w) > 3 && (strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "ed"))
}

// otherSubject finds the other person a story starts with: a pronoun (they, he, she), a role
// with my/our/the ("my manager"), or a name followed by a verb ("Sam ignored me").
func otherSubject(ts []tword) (who, bool) {
	if len(ts) < 2 {
		return who{}, false
	}
	w0 := ts[0].low()
	if p, ok := thirdPronouns[w0]; ok {
		return p, true
	}
	for _, c := range []string{"he's", "she's", "they're", "they've", "he'd", "she'd", "they'd", "he'll", "she'll", "they'll"} {
		if w0 == c {
			p := thirdPronouns[strings.SplitN(c, "'", 2)[0]]
			return p, true
		}
	}
	if (w0 == "my" || w0 == "our" || w0 == "the") && len(ts) > 2 && roleWords[ts[1].low()] && ts[1].post == "" {
		name := strings.ToLower(ts[0].word) + " " + ts[1].word
		plural := strings.HasSuffix(ts[1].low(), "s") && ts[1].low() != "boss"
		p := who{subj: name, obj: name, poss: name + "'s", words: 2, plural: plural}
		if plural {
			p.poss = name + "'"
		}
		return p, true
	}
	if looksLikeName(ts[0]) && ts[0].post == "" && verbLike(ts[1].low()) {
		n := ts[0].word
		return who{subj: n, obj: n, poss: n + "'s", words: 1}, true
	}
	return who{}, false
}

// looksLikeName reports whether a word looks like a person's name: capitalised, letters only,
// not a common sentence starter.
func looksLikeName(t tword) bool {
	r := []rune(t.word)
	if len(r) < 2 || !unicode.IsUpper(r[0]) || notNameWords[t.low()] {
		return false
	}
	for _, c := range r[1:] {
		if !unicode.IsLetter(c) && c != '-' {
			return false
		}
	}
	return true
}

// AboutOther reports whether a story is about another person, so that the pause can offer a
// way to say it out loud to them: a pronoun for someone else (he, she, they, them…), a role
// ("my manager", "the client") or a name ("Sam").
func AboutOther(story string) bool {
	ts := splitWords(story)
	if _, ok := otherSubject(ts); ok {
		return true
	}
	for i, t := range ts {
		w := t.low()
		switch w {
		case "he", "she", "they", "them", "him", "his", "their", "theirs", "himself", "herself",
			"themselves", "he's", "she's", "they're", "they've", "they'll", "he'll", "she'll", "he'd", "she'd", "they'd":
			return true
		case "her":
			return true
		}
		if i > 0 && roleWords[w] {
			if p := ts[i-1].low(); p == "my" || p == "our" || p == "the" || p == "his" || p == "her" || p == "their" {
				return true
			}
		}
		// A capitalised word mid-sentence that is not "I": a name.
		if i > 0 && !strings.ContainsAny(ts[i-1].post, ".!?") && looksLikeName(t) {
			return true
		}
		// A name with 's, anywhere: "Sam's ignoring me", "Priya's email".
		if base, ok := strings.CutSuffix(strings.ReplaceAll(t.word, "’", "'"), "'s"); ok && looksLikeName(tword{word: base}) {
			return true
		}
	}
	return false
}

// Turnarounds builds the turnarounds of a story that the rules can build well, in the order
// self, other, opposite. It may return none.
func Turnarounds(story string) []Turnaround {
	story = strings.TrimSpace(story)
	if story == "" || strings.ContainsAny(strings.TrimRight(story, ".!?…"), ".!?;,:") {
		return nil // one clause only: the rules do not follow a second one
	}
	curly := strings.Contains(story, "’")
	ts := splitWords(strings.TrimRight(story, ".!…"))
	if len(ts) < 2 || len(ts) > 25 {
		return nil
	}
	var out []Turnaround
	add := func(kind string, built []tword, ok bool) {
		if !ok {
			return
		}
		t := asSentence(joinWords(built), curly)
		if strings.EqualFold(t, asSentence(joinWords(ts), curly)) {
			return
		}
		for _, o := range out {
			if strings.EqualFold(o.Text, t) {
				return
			}
		}
		out = append(out, Turnaround{Kind: kind, Text: t})
	}
	if p, ok := otherSubject(ts); ok {
		built, ok := toSelf(ts, p)
		add(TurnSelf, built, ok)
		built, ok = toOther(ts, p)
		add(TurnOther, built, ok)
	}
	built, ok := opposite(ts)
	add(TurnOpposite, built, ok)
	return out
}

// sentence capitalises the first letter, ends with a full stop and uses the story's
// apostrophes.
func asSentence(s string, curly bool) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	s = string(r)
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	if curly {
		s = strings.ReplaceAll(s, "'", "’")
	}
	return s
}

// firstPersonVerb turns the verb after a third-person subject into the form that goes with
// "I": "thinks" → "think", "is" → "am", "doesn't" → "don't". ok is false when the rules do
// not know the word.
func firstPersonVerb(w string, plural bool) (string, bool) {
	switch w {
	case "is", "are":
		return "am", true
	case "isn't", "aren't":
		return "am not", true
	case "was", "were":
		return "was", true
	case "wasn't", "weren't":
		return "wasn't", true
	case "has", "have":
		return "have", true
	case "hasn't", "haven't":
		return "haven't", true
	case "does", "do":
		return "do", true
	case "doesn't", "don't":
		return "don't", true
	}
	if sameForAll[w] || strings.HasSuffix(w, "ed") || pastForms[w] {
		return w, true
	}
	if plural {
		return w, true // "they think" → "I think"
	}
	if base, ok := presentBase(w); ok {
		return base, true
	}
	return "", false
}

// sameForAll are verbs whose form is the same for every person.
var sameForAll = map[string]bool{
	"can": true, "can't": true, "cannot": true, "will": true, "won't": true, "would": true, "wouldn't": true,
	"should": true, "shouldn't": true, "could": true, "couldn't": true, "must": true, "might": true,
	"did": true, "didn't": true,
}

var pastForms = map[string]bool{
	"said": true, "told": true, "thought": true, "made": true, "left": true, "took": true, "gave": true,
	"forgot": true, "got": true, "went": true, "saw": true, "knew": true, "put": true, "cut": true,
	"let": true, "felt": true, "kept": true, "sent": true, "spoke": true, "wrote": true, "ran": true,
}

// presentBase turns a third-person present verb into its base: "thinks" → "think",
// "misses" → "miss", "tries" → "try".
func presentBase(w string) (string, bool) {
	switch {
	case len(w) < 3 || !strings.HasSuffix(w, "s") || strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "'s"):
		return "", false
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y", true
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zzes"):
		return w[:len(w)-2], true
	case strings.HasSuffix(w, "oes"):
		return w[:len(w)-2], true
	}
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return "", false
		}
	}
	return w[:len(w)-1], true
}

// subjectToI replaces the other person at the start of ts with "I", the verb agreeing.
func subjectToI(ts []tword, p who) ([]tword, int, bool) {
	out := []tword{{word: "I"}}
	i := p.words
	w0 := ts[0].low()
	if strings.Contains(w0, "'") { // "she's", "they're", "he'll"
		_, rest, _ := strings.Cut(w0, "'")
		switch rest {
		case "s", "re":
			out[0].word = "I'm"
		case "ve":
			out[0].word = "I've"
		case "ll":
			out[0].word = "I'll"
		case "d":
			out[0].word = "I'd"
		default:
			return nil, 0, false
		}
		out[0].post = ts[0].post
		return out, 1, true
	}
	if i >= len(ts) {
		return nil, 0, false
	}
	// Adverbs between subject and verb stay: "she always interrupts" → "I always interrupt".
	for i < len(ts)-1 && (ts[i].low() == "always" || ts[i].low() == "never" || ts[i].low() == "just" || ts[i].low() == "really" || ts[i].low() == "clearly" || ts[i].low() == "obviously") {
		out = append(out, ts[i])
		i++
	}
	v, ok := firstPersonVerb(ts[i].low(), p.plural)
	if !ok {
		return nil, 0, false
	}
	if v == "am" && len(out) == 1 {
		out[0].word, v = "I'm", ""
	} else if v == "am not" && len(out) == 1 {
		out[0].word, v = "I'm", "not"
	}
	if v != "" {
		out = append(out, tword{pre: ts[i].pre, word: v, post: ts[i].post})
	} else {
		out[0].post = ts[i].post
	}
	return out, i + 1, true
}

// toSelf turns the story around to the self: "Sam doesn't listen to me" → "I don't listen
// to myself".
func toSelf(ts []tword, p who) ([]tword, bool) {
	out, i, ok := subjectToI(ts, p)
	if !ok {
		return nil, false
	}
	for _, t := range ts[i:] {
		if t.low() == "me" {
			t.word = "myself"
		}
		out = append(out, t)
	}
	return out, true
}

// toOther swaps the user and the other person: "Sam doesn't listen to me" → "I don't listen
// to Sam"; "they think I'm slow" → "I think they're slow".
func toOther(ts []tword, p who) ([]tword, bool) {
	out, i, ok := subjectToI(ts, p)
	if !ok {
		return nil, false
	}
	rest := ts[i:]
	for j := 0; j < len(rest); j++ {
		t := rest[j]
		w := t.low()
		next := ""
		if j+1 < len(rest) {
			next = rest[j+1].low()
		}
		switch w {
		case "me":
			t.word = p.obj
		case "my":
			t.word = p.poss
		case "mine":
			return nil, false
		case "myself":
			if p.refl == "" {
				return nil, false
			}
			t.word = p.refl
		case "i'm", "i've", "i'll", "i'd":
			_, c, _ := strings.Cut(w, "'")
			t.word = contract(p, c)
			if t.word == "" {
				return nil, false
			}
		case "i":
			v, ok := thirdPersonVerb(next, p.plural)
			if !ok {
				return nil, false
			}
			t.word = p.subj
			out = append(out, t)
			j++
			t = rest[j]
			t.word = v
		case p.obj, p.poss, p.subj, p.refl, "him", "her", "them", "their", "he", "she", "they":
			// The other person further on would have to become the user: too easy to get
			// wrong ("her" is both), so the rules leave this story to the user.
			return nil, false
		}
		out = append(out, t)
	}
	return out, true
}

// contract is the other person's form of I'm, I've, I'll, I'd.
func contract(p who, c string) string {
	switch c {
	case "m":
		switch {
		case p.plural && p.words == 1 && thirdPronouns[p.subj].subj != "":
			return p.subj + "'re"
		case p.plural:
			return p.subj + " are"
		case p.words == 1 && thirdPronouns[p.subj].subj != "":
			return p.subj + "'s"
		default:
			return p.subj + " is"
		}
	case "ve":
		if p.plural {
			return p.subj + "'ve"
		}
		return p.subj + " has"
	case "ll":
		return p.subj + " will"
	case "d":
		return p.subj + " would"
	}
	return ""
}

// thirdPersonVerb turns the verb after an embedded "I" into the other person's form:
// "am" → "is", "don't" → "doesn't"; past and sameForAll forms stay.
func thirdPersonVerb(w string, plural bool) (string, bool) {
	switch w {
	case "am":
		if plural {
			return "are", true
		}
		return "is", true
	case "was":
		if plural {
			return "were", true
		}
		return w, true
	case "have":
		if plural {
			return w, true
		}
		return "has", true
	case "do", "don't", "haven't":
		if plural {
			return w, true
		}
		return map[string]string{"do": "does", "don't": "doesn't", "haven't": "hasn't"}[w], true
	}
	if sameForAll[w] || strings.HasSuffix(w, "ed") || pastForms[w] {
		return w, true
	}
	return "", false
}

// negatedWords maps a negated word to its affirmative, for the opposite.
var negatedWords = map[string]string{
	"doesn't": "does", "don't": "do", "didn't": "did", "isn't": "is", "aren't": "are",
	"wasn't": "was", "weren't": "were", "won't": "will", "can't": "can", "cannot": "can",
	"shouldn't": "should", "haven't": "have", "hasn't": "has", "wouldn't": "would",
	"couldn't": "could", "nobody": "somebody", "nothing": "something", "noone": "someone",
}

// affirmWords maps a verb to its negation, for the opposite of a story without one.
var affirmWords = map[string]string{
	"is": "isn't", "are": "aren't", "am": "am not", "was": "wasn't", "were": "weren't",
	"will": "won't", "can": "can't", "should": "shouldn't", "could": "couldn't", "would": "wouldn't",
	"does": "doesn't", "do": "don't", "did": "didn't",
	"i'm": "I'm not", "you're": "you're not", "we're": "we're not", "they're": "they're not",
	"he's": "he's not", "she's": "she's not", "it's": "it's not", "that's": "that's not",
	"i'll": "I won't", "they'll": "they won't", "he'll": "he won't", "she'll": "she won't", "it'll": "it won't",
	"we'll": "we won't",
}

// opposite turns the story to its opposite by one negation swap: the one negation taken out
// ("doesn't respect" → "does respect", "I'm not good enough" → "I'm good enough"), or, with
// none, one put into the first verb ("I'm an idiot" → "I'm not an idiot", "Sam hates me" →
// "Sam doesn't hate me").
func opposite(ts []tword) ([]tword, bool) {
	neg := -1
	for i, t := range ts {
		w := t.low()
		_, isNeg := negatedWords[w]
		if isNeg || w == "not" || w == "never" || w == "no" || w == "none" || w == "nor" || w == "neither" {
			if neg >= 0 {
				return nil, false // two negatedWords: the opposite is not one swap away
			}
			neg = i
		}
	}
	out := append([]tword(nil), ts...)
	if neg >= 0 {
		w := out[neg].low()
		switch {
		case w == "not" && neg > 0:
			// "I'm not good enough" → "I'm good enough"; "does not" → "does".
			return append(out[:neg:neg], out[neg+1:]...), true
		case w == "no" && neg+1 < len(out) && out[neg+1].low() == "one":
			out[neg].word = keepCase(out[neg].word, "some")
			return out, true
		case negatedWords[w] != "":
			out[neg].word = keepCase(out[neg].word, negatedWords[w])
			return out, true
		}
		return nil, false // "never", "no", "none": the opposite needs more than a swap
	}
	// No negation: negate the first verb after the subject, within the first few words.
	for i, t := range out {
		if i > 3 {
			break
		}
		w := t.low()
		if n, ok := affirmWords[w]; ok {
			if i == 0 {
				n = keepCase(t.word, n)
			}
			out[i].word = n
			return out, true
		}
		if w == "have" && i+1 < len(out) && out[i+1].low() == "to" {
			out[i].word = "don't have"
			return out, true
		}
		if i == 0 {
			continue
		}
		if _, ok := otherSubjectOrSelf(out[:i]); !ok {
			continue
		}
		if base, ok := presentBase(w); ok && !auxWords[base] {
			if s := out[0].low(); i == 1 && (s == "everyone" || s == "everybody") {
				// "Everyone doesn't think" reads as "nobody thinks": "Not everyone thinks".
				out[0].word = keepCase(out[0].word, "not "+s)
				return out, true
			}
			out[i].word = "doesn't " + base
			return out, true
		}
	}
	return nil, false
}

// otherSubjectOrSelf reports whether ts is a whole subject a present-tense verb may follow.
func otherSubjectOrSelf(ts []tword) (who, bool) {
	if len(ts) == 1 {
		w := ts[0].low()
		if w == "he" || w == "she" || w == "it" || w == "everyone" || w == "everybody" || w == "nobody" || w == "this" || w == "that" || looksLikeName(ts[0]) {
			return who{words: 1}, true
		}
	}
	if len(ts) == 2 && (ts[0].low() == "my" || ts[0].low() == "the" || ts[0].low() == "our") && !strings.HasSuffix(ts[1].low(), "s") {
		return who{words: 2}, true
	}
	return who{}, false
}

// keepCase gives repl the capital of orig's first letter.
func keepCase(orig, repl string) string {
	r := []rune(orig)
	if len(r) > 0 && unicode.IsUpper(r[0]) {
		rr := []rune(repl)
		rr[0] = unicode.ToUpper(rr[0])
		return string(rr)
	}
	return repl
}
