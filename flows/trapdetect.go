package flows

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is the thinking-trap detector's machinery: it turns a story into sentences of
// normalised words, runs the rules in traprules.go over them, and ranks what they find.
//
// Why this shape: a flat phrase list cannot tell "I should ask Sam" (a plan) from "I should
// have known" (a rule), or "She must be busy" (a kind guess) from "I must never fail" (a
// rule). The rules here see a little grammar instead — who the subject is, the modal and
// tense, negation, questions, quoted speech — and every suggestion keeps the user's own words
// that triggered it, so a hint can always say why. Precision comes first: a wrong hint in the
// middle of a meeting costs trust, a missing one costs little.

// Suggestion is a thinking trap that a story may show, with the words that suggested it.
type Suggestion struct {
	Trap
	// Because is the user's words that suggested the trap, exactly as written.
	Because string
	// Score ranks suggestions: higher is surer. It is in (0, 1].
	Score float64
}

// MaxSuggestions is the most traps SuggestTraps returns.
const MaxSuggestions = 2

// minScore is the least score a suggestion needs to be shown.
const minScore = 0.6

// SuggestTraps returns at most two thinking traps that text may show, best first, each with
// the words that suggested it. It returns nil when nothing is likely enough: better no hint
// than a wrong one. It is pure, deterministic and fast (well under a millisecond for a
// 3,000-character answer).
func SuggestTraps(text string) []Suggestion {
	if len(text) > 4*MaxAnswerRunes*utf8.UTFMax {
		text = text[:4*MaxAnswerRunes*utf8.UTFMax] // bound the work for any input
	}
	best := map[string]*found{}
	var top [MaxSuggestions]float64 // the best scores so far, highest first
	active := make([]bool, len(trapRules))
	for _, sn := range sentences(trapTokens(text)) {
		clear(active)
		for _, t := range sn.toks {
			for _, i := range ruleAnchors[t.w] {
				active[i] = true
			}
		}
		for i := range trapRules {
			r := &trapRules[i]
			if !active[i] || (sn.question && !r.ask) || (r.also != nil && !sn.hasAny(r.also)) {
				continue
			}
			// A rule that cannot change the outcome is not worth running: it is no surer than
			// what its trap already has, or than the last of the best two.
			if f := best[r.trap]; (f != nil && f.s.Score >= r.weight) || top[MaxSuggestions-1] >= r.weight {
				continue
			}
			if !r.re.MatchString(sn.norm) {
				continue // cheaper than finding where, and most rules do not match
			}
			loc := r.re.FindStringSubmatchIndex(sn.norm)
			first, last, ok := sn.span(loc[0], loc[1])
			if !ok || (!r.negOK && sn.negated(first)) || (!r.notInside && sn.hasNot(first, last)) {
				continue
			}
			if r.check != nil && !r.check(sn, first, last) {
				continue
			}
			from := first
			if len(loc) >= 4 && loc[2] >= 0 {
				// The rule marks the words worth showing with its one capturing group.
				if f, l, ok := sn.span(loc[2], loc[3]); ok {
					from, last = f, l
				}
			}
			if r.subject != nil {
				if from, ok = r.subject(sn, first); !ok {
					continue
				}
			}
			from, to := sn.toks[from].from, sn.toks[last].to
			f := best[r.trap]
			switch {
			case f == nil:
				t, _ := trapByID(r.trap)
				best[r.trap] = &found{s: Suggestion{Trap: t, Because: text[from:to], Score: r.weight}, at: from}
			case r.weight > f.s.Score:
				f.s.Because, f.s.Score, f.at = text[from:to], r.weight, from
			}
			top = topScores(best)
		}
	}
	if len(best) == 0 {
		return nil
	}
	all := make([]found, 0, len(best))
	for _, f := range best {
		if f.s.Score >= minScore {
			all = append(all, *f)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].s.Score != all[j].s.Score {
			return all[i].s.Score > all[j].s.Score
		}
		if all[i].at != all[j].at {
			return all[i].at < all[j].at
		}
		return all[i].s.ID < all[j].s.ID
	})
	var out []Suggestion
	for _, f := range all {
		if len(out) == MaxSuggestions {
			break
		}
		out = append(out, f.s)
	}
	return out
}

// found is a trap found so far, with where its words start in the text, to break ties by
// order.
type found struct {
	s  Suggestion
	at int
}

// topScores returns the best scores found, highest first.
func topScores(best map[string]*found) [MaxSuggestions]float64 {
	var top [MaxSuggestions]float64
	for _, f := range best {
		sc := f.s.Score
		for k := range top {
			if sc > top[k] {
				copy(top[k+1:], top[k:])
				top[k] = sc
				break
			}
		}
	}
	return top
}

// trapRule is one clause-level rule: a regular expression over a sentence's normalised words
// (see trapTokens), with the words that must be present before it is worth running. When the
// expression has a capturing group, its words are the ones shown as the reason; otherwise
// the whole match is.
type trapRule struct {
	trap    string
	weight  float64
	anchors []string // run only when the sentence has one of these words,
	also    []string // and, when set, one of these too
	re      *regexp.Regexp
	ask     bool // also applies in a question ("Why can't I be as calm as her?")
	negOK   bool // a "not" just before the match does not cancel it
	// notInside lets a "not" appear inside the match; otherwise such a match ("he does not
	// hate me" for "he … hates me") is dropped.
	notInside bool
	// check, when set, vets a match from its first to its last token.
	check func(sn *sentence, first, last int) bool
	// subject, when set, finds the subject before a match that starts at its verb, and says
	// whether it is one the rule is about; the reason then starts at the subject.
	subject func(sn *sentence, first int) (int, bool)
}

// token is one normalised word of a story and where it came from.
type token struct {
	w        string // normalised: lower case, contractions expanded, "@" for a name
	from, to int    // byte offsets of the original word in the story
}

// sentence is a run of tokens ending at . ! ? ; or a line break. norm is its words joined by
// single spaces, with a space before the first and after the last, so rules can match whole
// words with spaces; pos[i] is where token i starts in norm.
type sentence struct {
	toks     []token
	norm     string
	pos      []int
	question bool
}

// hasNot reports whether a "not" is among tokens first..last.
func (sn *sentence) hasNot(first, last int) bool {
	for _, t := range sn.toks[first : last+1] {
		if t.w == "not" {
			return true
		}
	}
	return false
}

// hasAny reports whether the sentence has one of the words ws.
func (sn *sentence) hasAny(ws []string) bool {
	for _, w := range ws {
		if sn.has(w) {
			return true
		}
	}
	return false
}

// has reports whether the sentence has the word w.
func (sn *sentence) has(w string) bool {
	for _, t := range sn.toks {
		if t.w == w {
			return true
		}
	}
	return false
}

// ruleAnchors maps each anchor word to the rules it wakes.
var ruleAnchors = func() map[string][]int {
	m := map[string][]int{}
	for i, r := range trapRules {
		for _, a := range r.anchors {
			m[a] = append(m[a], i)
		}
	}
	return m
}()

// span returns the first and last token inside norm[a:b], trimmed of the spaces and
// punctuation a rule's match may include at its edges.
func (sn *sentence) span(a, b int) (first, last int, ok bool) {
	first, last = -1, -1
	for i, p := range sn.pos {
		end := p + len(sn.toks[i].w)
		if p >= a && end <= b && isWord(sn.toks[i].w) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last, first >= 0
}

// negated reports whether the clause around token i says the opposite: a "not" or "no" in
// the two words before it, or a clause that opens by doubting ("I don't think", "I'm not
// sure", "I can't know").
func (sn *sentence) negated(i int) bool {
	start := i
	for start > 0 && isWord(sn.toks[start-1].w) {
		start--
	}
	for j := i - 1; j >= start && j >= i-2; j-- {
		switch sn.toks[j].w {
		case "not", "no", "hardly":
			return true
		}
	}
	clause := wordsOf(sn.toks[start:i])
	for _, h := range doubts {
		if strings.HasPrefix(clause, h) {
			return true
		}
	}
	return false
}

// doubts open a clause that holds its story loosely.
var doubts = []string{"i do not think ", "i am not sure ", "i can not know ", "i do not know ", "i doubt ",
	"i do not believe ", "not sure ", "no way to know "}

func wordsOf(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.w)
		b.WriteByte(' ')
	}
	return b.String()
}

func isWord(w string) bool {
	return w != "" && w != "," && w != "." && w != "?"
}

// trapTokens splits a story into normalised tokens. Words keep their letters, digits,
// apostrophes and inner hyphens; ’ becomes '; contractions are expanded ("I'm" → "i am",
// "won't" → "will not", "theyll" → "they will") with every part pointing at the original word;
// a capitalised word that reads as someone's name becomes "@"; quoted speech ("…", “…”)
// becomes one word "q", since words in quotes are someone else's; punctuation that ends a
// clause becomes "," and the end of a sentence "." or "?".
func trapTokens(text string) []token {
	out := make([]token, 0, len(text)/5+4) // words run about five bytes with their space
	sentenceStart := true
	quoted := false
	quoteFrom := 0
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == '"' || r == '“' || r == '”' || r == '«' || r == '»':
			if quoted {
				out = append(out, token{w: "q", from: quoteFrom, to: i + n})
				sentenceStart = false
			} else {
				quoteFrom = i
			}
			quoted = !quoted
			i += n
		case quoted:
			i += n
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			j := i + n
			for j < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[j:])
				if unicode.IsLetter(r2) || unicode.IsDigit(r2) {
					j += n2
					continue
				}
				if r2 == '\'' || r2 == '’' || r2 == '-' {
					r3, _ := utf8.DecodeRuneInString(text[j+n2:])
					if unicode.IsLetter(r3) {
						j += n2
						continue
					}
				}
				break
			}
			word := text[i:j]
			out = appendWord(out, word, i, j, sentenceStart, text[j:])
			sentenceStart = false
			i = j
		case r == '.' || r == '!' || r == ';' || r == '\n' || r == '…':
			out = append(out, token{w: ".", from: i, to: i + n})
			sentenceStart = true
			i += n
		case r == '?':
			out = append(out, token{w: "?", from: i, to: i + n})
			sentenceStart = true
			i += n
		case r == ',' || r == ':' || r == '—' || r == '–' || r == '(' || r == ')':
			out = append(out, token{w: ",", from: i, to: i + n})
			i += n
		case r == '-' && i > 0 && i+1 < len(text) && text[i-1] == ' ' && text[i+1] == ' ':
			out = append(out, token{w: ",", from: i, to: i + n})
			i += n
		default:
			i += n
		}
	}
	return out
}

// appendWord adds one word as one or more normalised tokens.
func appendWord(out []token, word string, from, to int, sentenceStart bool, rest string) []token {
	lw := strings.ToLower(strings.ReplaceAll(word, "’", "'"))
	add := func(ws ...string) []token {
		for _, w := range ws {
			out = append(out, token{w: w, from: from, to: to})
		}
		return out
	}
	if isName(word, lw, sentenceStart, rest) {
		return add("@")
	}
	if ex, ok := bareContractions[lw]; ok {
		if lw != "ill" || sentenceStart || (len(out) > 0 && !isWord(out[len(out)-1].w)) {
			return add(strings.Fields(ex)...)
		}
	}
	if k := strings.IndexByte(lw, '\''); k > 0 {
		base, tail := lw[:k], lw[k+1:]
		switch tail {
		case "t":
			switch base {
			case "won":
				return add("will", "not")
			case "can":
				return add("can", "not")
			case "shan":
				return add("shall", "not")
			case "ain":
				return add("is", "not")
			}
			if strings.HasSuffix(base, "n") {
				return add(base[:len(base)-1], "not")
			}
		case "m":
			return add(base, "am")
		case "re":
			return add(base, "are")
		case "ve":
			return add(base, "have")
		case "ll":
			return add(base, "will")
		case "d":
			return add(base, "would")
		case "s":
			if pronounIs[base] {
				return add(base, "is")
			}
		}
	}
	return add(lw)
}

// bareContractions are contractions typed without their apostrophe, which would otherwise
// hide "I", "not" or "will" from the rules. "ill" counts only at the start of a clause
// ("ill ask sam"), since it is also a word.
var bareContractions = map[string]string{
	"im": "i am", "ive": "i have", "ill": "i will", "dont": "do not", "doesnt": "does not",
	"didnt": "did not", "cant": "can not", "cannot": "can not", "wont": "will not", "isnt": "is not",
	"wasnt": "was not", "arent": "are not", "werent": "were not", "shouldnt": "should not",
	"couldnt": "could not", "wouldnt": "would not", "havent": "have not", "hasnt": "has not",
	"mustnt": "must not", "theyre": "they are", "theyll": "they will", "theyve": "they have",
	"youre": "you are", "youll": "you will", "thats": "that is", "whats": "what is", "shes": "she is",
	"hes": "he is", "itll": "it will", "gonna": "going to", "wanna": "want to", "gotta": "got to",
	"shouldve": "should have", "couldve": "could have", "wouldve": "would have", "noone": "no one",
	"everyones": "everyone is", "nobodys": "nobody is",
}

// pronounIs are the words whose "'s" is "is" rather than a possessive.
var pronounIs = map[string]bool{
	"it": true, "he": true, "she": true, "that": true, "this": true, "there": true, "what": true,
	"who": true, "everyone": true, "everybody": true, "nobody": true, "everything": true,
	"nothing": true, "here": true, "where": true, "somebody": true, "someone": true, "one": true,
}

// isName guesses whether a capitalised word is someone's name (or a team's: "Finance"), so
// rules about other people can see "Priya doesn't like me". Inside a sentence any capitalised
// word but "I" counts; at its start only one that a person-like verb follows, since every
// sentence starts with a capital.
func isName(word, lw string, sentenceStart bool, rest string) bool {
	r, _ := utf8.DecodeRuneInString(word)
	if !unicode.IsUpper(r) {
		return false
	}
	if len(word) > 1 && strings.ToUpper(word) == word && strings.ToLower(word) != word && !sentenceStart {
		return true // "IT", "HR": a team
	}
	if len(word) > 1 && strings.ToUpper(word) == word && strings.ToLower(word) != word {
		return nameVerbs[nextWord(rest)]
	}
	if !unicode.IsUpper(r) || lw == "i" || strings.ContainsRune(lw, '\'') || bareContractions[lw] != "" || pronounIs[lw] {
		return false
	}
	if notNames[lw] {
		return false
	}
	if !sentenceStart {
		return true
	}
	return nameVerbs[nextWord(rest)]
}

// nextWord returns the word at the start of rest, lower case.
func nextWord(rest string) string {
	next := strings.ToLower(strings.TrimLeft(rest, " "))
	if k := strings.IndexFunc(next, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' }); k >= 0 {
		next = next[:k]
	}
	return strings.ReplaceAll(next, "’", "'")
}

// notNames are capitalised words that are never a person.
var notNames = map[string]bool{
	"the": true, "a": true, "an": true, "my": true, "our": true, "his": true, "her": true, "their": true,
	"your": true, "he": true, "she": true, "they": true, "we": true, "you": true, "it": true, "this": true,
	"that": true, "everyone": true, "everybody": true, "nobody": true, "people": true, "nothing": true,
	"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true,
	"sunday": true, "tomorrow": true, "today": true, "yesterday": true,
}

// nameVerbs follow a name at the start of a sentence: "Sam is", "Priya doesn't".
var nameVerbs = map[string]bool{
	"is": true, "was": true, "does": true, "doesn't": true, "did": true, "didn't": true, "thinks": true,
	"hates": true, "has": true, "had": true, "never": true, "always": true, "will": true, "won't": true,
	"seems": true, "wants": true, "made": true, "makes": true, "ruined": true, "said": true, "says": true,
	"broke": true, "caused": true, "dropped": true, "messed": true, "can't": true, "isn't": true,
	"wasn't": true, "doesnt": true, "didnt": true, "knows": true, "believes": true, "got": true,
	"gets": true, "asked": true, "told": true, "took": true, "takes": true, "likes": true, "keeps": true,
	"must": true, "should": true, "just": true, "really": true, "probably": true,
}

// sentences groups tokens into sentences.
func sentences(toks []token) []*sentence {
	var out []*sentence
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i].w != "." && toks[i].w != "?" {
			continue
		}
		end := i
		if i < len(toks) {
			end = i + 1
		}
		if end > start {
			out = append(out, newSentence(toks[start:end]))
		}
		start = end
	}
	return out
}

func newSentence(ts []token) *sentence {
	sn := &sentence{toks: ts, pos: make([]int, len(ts))}
	var b strings.Builder
	n := 1
	for _, t := range ts {
		n += len(t.w) + 1
	}
	b.Grow(n)
	b.WriteByte(' ')
	for i, t := range ts {
		sn.pos[i] = b.Len()
		b.WriteString(t.w)
		b.WriteByte(' ')
	}
	sn.norm = b.String()
	sn.question = len(ts) > 0 && ts[len(ts)-1].w == "?"
	return sn
}
