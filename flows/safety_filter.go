package flows

import (
	"math/bits"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
)

// The safety rules' prefilter. Running 138 regular expressions over every sentence a user
// writes cost more CPU than everything else in a dialogue turn, and almost every sentence
// can match none of them. Each rule is compiled once into the substrings any match of it
// must contain, as a conjunction of clauses: every clause names strings of which at least
// one occurs in the match ("myself", and one of "kill", "end", "hang", …). A sentence missing
// every string of some clause cannot match the rule, so its expression does not run.
//
// The clauses are derived from the rule's own parsed expression, not written by hand, so
// the filter cannot drift from the rules: a literal must occur; a concatenation needs what
// each part needs; an alternation needs one clause of each branch (so the union of one
// clause per branch, and nothing if any branch needs nothing); anything optional or
// repeated from zero needs nothing. Dropping a clause only weakens the filter, never
// wrongly rejects a sentence; TestSafetyFilter checks on the corpus that results are the
// same with and without it.

// minLiteral is the shortest string worth checking: shorter ones (" ", "i") occur in
// nearly every sentence, so clauses holding one are dropped.
const minLiteral = 3

// litFilter is one rule's clauses, as indexes into the shared literal table.
type litFilter [][]int

// litTable interns the literals of all rules, so that one sentence checks each at most once.
type litTable struct {
	lits []string
	ids  map[string]int
}

func (t *litTable) id(s string) int {
	if id, ok := t.ids[s]; ok {
		return id
	}
	t.ids[s] = len(t.lits)
	t.lits = append(t.lits, s)
	return len(t.lits) - 1
}

// safetyLits holds the literals of safetyRules' filters (filled by withFilters).
var safetyLits = &litTable{ids: map[string]int{}}

// ruleIndex finds, for one sentence, the rules worth checking with their filters, without
// visiting every rule's literals. Most sentences fail every rule's first (most selective)
// clause, and checking the clauses of 138 rules one literal at a time cost more than the
// expressions the filter saves. A literal can only occur in a sentence that holds each of
// its two-byte sequences, so each rule is filed under the first two bytes of every literal
// of its first clause; the rules filed under the sentence's own two-byte sequences
// are the candidates, and only they go through mayMatch. A rule with no clause is always a
// candidate. Hash collisions only add candidates.
type ruleIndex struct {
	// The rules filed under pair hash h are rules[start[h]:start[h+1]], ascending. (One
	// flat table rather than a slice per hash: it is read for every sentence, and small.)
	start  [pairBits + 1]uint16
	rules  []uint8
	always ruleSet // rules with no filter
}

// maxSafetyRules bounds the rules a ruleSet (and a uint8) holds.
const maxSafetyRules = 256

// ruleSet is a set of rule indexes.
type ruleSet [maxSafetyRules / 64]uint64

func (s *ruleSet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s *ruleSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// safetyIndex is the index of safetyRules (filled by withFilters).
var safetyIndex = &ruleIndex{}

// index files rules in x.
func (x *ruleIndex) index(rules []safetyRule) {
	if len(rules) > maxSafetyRules {
		panic("flows: more safety rules than maxSafetyRules")
	}
	var byPair [pairBits][]uint8
	for i, r := range rules {
		if len(r.filter) == 0 {
			x.always.add(i)
			continue
		}
		for _, id := range r.filter[0] {
			lit := safetyLits.lits[id]
			h := pairHash(lit[0], lit[1])
			if l := byPair[h]; len(l) == 0 || l[len(l)-1] != uint8(i) {
				byPair[h] = append(l, uint8(i))
			}
		}
	}
	for h, l := range byPair {
		x.rules = append(x.rules, l...)
		if len(x.rules) > 1<<16-1 {
			panic("flows: safety rule index too large")
		}
		x.start[h+1] = uint16(len(x.rules))
	}
}

// candidates returns the rules whose first clause may hold in the sentence c was reset
// to, and the rules without a filter.
func (x *ruleIndex) candidates(c *litCheck) ruleSet {
	out := x.always
	for w, word := range c.pairs {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			h := w*64 + b
			for _, r := range x.rules[x.start[h]:x.start[h+1]] {
				out.add(int(r))
			}
		}
	}
	return out
}

// withFilters fills in each rule's filter.
func withFilters(rules []safetyRule) []safetyRule {
	for i := range rules {
		re, err := syntax.Parse(rules[i].re.String(), syntax.Perl)
		if err != nil {
			panic("flows: safety rule " + rules[i].name + ": " + err.Error()) // compiled already: cannot happen
		}
		for _, c := range requiredLiterals(re) {
			ids := make([]int, len(c))
			for j, s := range c {
				ids[j] = safetyLits.id(s)
			}
			rules[i].filter = append(rules[i].filter, ids)
		}
		// Most selective clause first: a sentence is usually rejected by the first.
		slices.SortStableFunc(rules[i].filter, func(a, b []int) int { return len(a) - len(b) })
	}
	safetyIndex.index(rules)
	return rules
}

// requiredLiterals returns clauses of strings such that every match of re contains, for
// each clause, at least one of its strings. Clauses with a string shorter than minLiteral
// are left out.
func requiredLiterals(re *syntax.Regexp) [][]string {
	out := structural(re)
	if set, ok := exactSet(re); ok {
		if c := clauseOf(set); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// structural is requiredLiterals from re's parts.
func structural(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		return nil // shorter than minLiteral, or case-folded (clauseOf said no)
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
		return nil
	case syntax.OpConcat:
		// Runs of parts with a small exact language are one required set of strings:
		// "(?:hurt|harm|cut) myself" needs one of "hurt myself", "harm myself", "cut myself".
		var out [][]string
		var run []string
		var parts []*syntax.Regexp
		flush := func() {
			if len(parts) == 0 {
				return
			}
			// The parts' own clauses too: fewer strings, so cheaper to check first.
			for _, p := range parts {
				out = append(out, requiredLiterals(p)...)
			}
			if len(parts) > 1 {
				if c := clauseOf(run); c != nil {
					out = append(out, c)
				}
			}
			run, parts = nil, nil
		}
		for _, sub := range re.Sub {
			set, ok := exactSet(sub)
			if !ok {
				flush()
				out = append(out, requiredLiterals(sub)...)
				continue
			}
			if len(parts) > 0 {
				if p, ok := product(run, set); ok {
					run, parts = p, append(parts, sub)
					continue
				}
				flush()
			}
			run, parts = set, []*syntax.Regexp{sub}
		}
		flush()
		return out
	case syntax.OpAlternate:
		var union []string
		for _, sub := range re.Sub {
			best := bestClause(requiredLiterals(sub))
			if best == nil {
				return nil // this branch needs nothing: neither does the alternation
			}
			union = append(union, best...)
		}
		return [][]string{minimalClause(union)}
	}
	// Star, Quest, character classes, anchors, empty matches: nothing is required.
	return nil
}

// maxExact bounds the strings of an exact language worked with.
const maxExact = 256

// exactSet returns every string re matches, when that is a small finite set: literals,
// alternations and concatenations of them, optional parts, small character classes.
// Anchors match the empty string (they only say where).
func exactSet(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch, syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true
	case syntax.OpCapture:
		return exactSet(re.Sub[0])
	case syntax.OpQuest:
		set, ok := exactSet(re.Sub[0])
		if !ok || len(set) >= maxExact {
			return nil, false
		}
		return append(set, ""), true
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(set) >= 16 {
					return nil, false
				}
				set = append(set, string(r))
			}
		}
		return set, len(set) > 0
	case syntax.OpAlternate:
		var set []string
		for _, sub := range re.Sub {
			s, ok := exactSet(sub)
			if !ok || len(set)+len(s) > maxExact {
				return nil, false
			}
			set = append(set, s...)
		}
		return set, true
	case syntax.OpConcat:
		set := []string{""}
		for _, sub := range re.Sub {
			s, ok := exactSet(sub)
			if !ok {
				return nil, false
			}
			if set, ok = product(set, s); !ok {
				return nil, false
			}
		}
		return set, true
	}
	return nil, false
}

// product is every a followed by every b, if there are at most maxExact of them.
func product(a, b []string) ([]string, bool) {
	if len(a)*len(b) > maxExact {
		return nil, false
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out, true
}

// clauseOf makes a clause of an exact set, or returns nil when one of its strings is too
// short to be worth checking.
func clauseOf(set []string) []string {
	if len(set) == 0 {
		return nil
	}
	for _, s := range set {
		if len(s) < minLiteral {
			return nil
		}
	}
	return minimalClause(slices.Clone(set))
}

// bestClause picks the most selective clause: the one whose shortest string is longest,
// then the one with fewest strings.
func bestClause(clauses [][]string) []string {
	var best []string
	bestMin := 0
	for _, c := range clauses {
		m := len(c[0])
		for _, s := range c {
			m = min(m, len(s))
		}
		if best == nil || m > bestMin || m == bestMin && len(c) < len(best) {
			best, bestMin = c, m
		}
	}
	return best
}

// minimalClause drops duplicates and every string that contains another of the clause:
// wherever "killing" occurs, "kill" does.
func minimalClause(c []string) []string {
	slices.SortFunc(c, func(a, b string) int { return len(a) - len(b) })
	var out []string
	for _, s := range c {
		covered := false
		for _, o := range out {
			if strings.Contains(s, o) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, s)
		}
	}
	return out
}

// litCheck answers, for one sentence, whether a literal occurs in it. Most literals do not,
// and most of those are ruled out without a search: the sentence's two-byte sequences are
// kept in a small hashed bit set, and a literal with a two-byte sequence not in it cannot
// occur. (Checking every pair of the literal, not only its ends, costs a few bit tests and
// saves most of the searches.)
type litCheck struct {
	sentence string
	pairs    [pairBits / 64]uint64
	// memo, when set, remembers what has found for this sentence: rules share literals
	// ("myself" is in dozens of them), and each is searched for once.
	memo *litMemo
}

// litMemo is has's memory of one sentence: known[id] is gen<<1 | found for a literal
// searched for in this sentence (an older gen: not yet), so a new sentence costs no
// clearing.
type litMemo struct {
	gen   uint32
	known []uint32
}

// litMemos keeps spare memos (a few KB each) for findHits: memory only, no state.
var litMemos = sync.Pool{New: func() any { return &litMemo{known: make([]uint32, len(safetyLits.lits))} }}

// next starts the memory of a new sentence.
func (m *litMemo) next() {
	m.gen++
	if m.gen >= 1<<31 || len(m.known) != len(safetyLits.lits) {
		m.gen = 1
		m.known = make([]uint32, len(safetyLits.lits))
	}
}

// pairBits is the size of the bit set of two-byte sequences; collisions only cost a search.
const pairBits = 4096

func pairHash(a, b byte) uint { return (uint(a)*131 + uint(b)) % pairBits }

func (c *litCheck) reset(sentence string) {
	c.sentence = sentence
	c.pairs = [pairBits / 64]uint64{}
	if c.memo != nil {
		c.memo.next()
	}
	for i := 0; i+1 < len(sentence); i++ {
		h := pairHash(sentence[i], sentence[i+1])
		c.pairs[h/64] |= 1 << (h % 64)
	}
}

func (c *litCheck) hasPair(a, b byte) bool {
	h := pairHash(a, b)
	return c.pairs[h/64]&(1<<(h%64)) != 0
}

func (c *litCheck) has(id int) bool {
	if c.memo == nil {
		return c.search(safetyLits.lits[id])
	}
	if v := c.memo.known[id]; v>>1 == c.memo.gen {
		return v&1 == 1
	}
	found := c.search(safetyLits.lits[id])
	v := c.memo.gen << 1
	if found {
		v |= 1
	}
	c.memo.known[id] = v
	return found
}

// search reports whether the sentence holds lit (at least minLiteral bytes).
func (c *litCheck) search(lit string) bool {
	for i := 0; i+1 < len(lit); i++ {
		if !c.hasPair(lit[i], lit[i+1]) {
			return false
		}
	}
	return strings.Contains(c.sentence, lit)
}

// mayMatch reports whether the sentence being checked could match f's rule: it holds a
// string of every clause.
func (f litFilter) mayMatch(c *litCheck) bool {
	for _, clause := range f {
		ok := false
		for _, id := range clause {
			if c.has(id) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
