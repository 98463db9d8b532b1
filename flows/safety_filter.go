package flows

import (
	"bytes"
	"cmp"
	"regexp/syntax"
	"slices"
	"strings"
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

// litFilter is one rule's clauses.
type litFilter []litClause

// litClause is one clause: literals of which a match holds at least one, grouped by their
// first trigram (litTable.keys[id][0]). A sentence without a group's trigram holds none of
// its literals, so a clause is tested by its groups' trigrams, and a literal only when its
// group's trigram is in the sentence: almost every clause tested fails, and literals share
// trigrams ("kill myself", "killing myself"), so this is a few bit tests.
type litClause struct {
	ids    []int // the literals, as indexes into the shared literal table
	groups []litGroup
}

type litGroup struct {
	key uint16 // the trigram hash first in each literal's keys
	ids []int
}

// litTable interns the literals of all rules, so that one sentence checks each at most once.
type litTable struct {
	lits []string
	ids  map[string]int
	// For each literal: its bytes (the sentence searched is a []byte), the hashes of its
	// three-byte sequences, cheapest first (see finish), and the cost of the first.
	bytes   [][]byte
	keys    [][]uint16
	keyCost []float64
}

func (t *litTable) id(s string) int {
	if id, ok := t.ids[s]; ok {
		return id
	}
	t.ids[s] = len(t.lits)
	t.lits = append(t.lits, s)
	t.bytes = append(t.bytes, []byte(s))
	return len(t.lits) - 1
}

// finish orders each literal's trigrams, once all literals are in, by how likely a
// sentence without the literal is to hold the trigram anyway: its frequency in English
// (trigramFreq) times the number of literals that share it. A trigram of many literals
// (" myself" ends hundreds) is common in what people write to the bot, and tells the
// literals of a clause apart no better than it tells them from the sentence.
func (t *litTable) finish() {
	shared := make([]int, triBits)
	for _, lit := range t.lits {
		seen := map[uint16]bool{}
		for i := 0; i+2 < len(lit); i++ {
			if h := triHash(lit[i], lit[i+1], lit[i+2]); !seen[h] {
				seen[h] = true
				shared[h]++
			}
		}
	}
	t.keys = make([][]uint16, len(t.lits))
	t.keyCost = make([]float64, len(t.lits))
	for id, lit := range t.lits {
		type key struct {
			h    uint16
			cost float64
		}
		var ks []key
		for i := 0; i+2 < len(lit); i++ {
			h := triHash(lit[i], lit[i+1], lit[i+2])
			if !slices.ContainsFunc(ks, func(k key) bool { return k.h == h }) {
				ks = append(ks, key{h, trigramFreq(lit, i) * float64(shared[h])})
			}
		}
		slices.SortStableFunc(ks, func(a, b key) int { return cmp.Compare(a.cost, b.cost) })
		for _, k := range ks {
			t.keys[id] = append(t.keys[id], k.h)
		}
		t.keyCost[id] = ks[0].cost // every literal has minLiteral (3) bytes or more
	}
}

// safetyLits holds the literals of safetyRules' filters (filled by withFilters).
var safetyLits = &litTable{ids: map[string]int{}}

// ruleIndex finds, for one sentence, the rules worth checking with their filters, without
// visiting every rule's literals. Most sentences fail every rule's first (most selective)
// clause, and checking the clauses of 138 rules one literal at a time cost more than the
// expressions the filter saves. A literal can only occur in a sentence that holds each of
// its three-byte sequences, so each rule is filed under the first three-byte sequence
// (litTable.finish) of every literal of one of its clauses (indexClause); the rules
// filed under the sentence's own three-byte sequences are the candidates, and only they go
// through mayMatch (litCheck.reset finds them). A rule with no clause is always a
// candidate. Hash collisions only add candidates.
type ruleIndex struct {
	// The rules filed under trigram hash h are rules[start[h]:start[h+1]], ascending. (One
	// flat table rather than a slice per hash: it is read for every sentence, and small.)
	start [triBits + 1]uint16
	rules []uint8
	// filed has bit h set when some rule is filed under h: a sentence's trigrams mostly have
	// none, and this table is an eighth of start's size, so it stays in the nearest cache.
	filed  [triBits / 64]uint64
	always ruleSet // rules with no filter
}

// maxSafetyRules bounds the rules a ruleSet (and a uint8) holds.
const maxSafetyRules = 256

// ruleSet is a set of rule indexes.
type ruleSet [maxSafetyRules / 64]uint64

func (s *ruleSet) add(i int) { s[i/64] |= 1 << (i % 64) }

// safetyIndex is the index of safetyRules (filled by withFilters).
var safetyIndex = &ruleIndex{}

// index files rules in x.
func (x *ruleIndex) index(rules []safetyRule) {
	if len(rules) > maxSafetyRules {
		panic("flows: more safety rules than maxSafetyRules")
	}
	var byTri [triBits][]uint8
	for i, r := range rules {
		if len(r.filter) == 0 {
			x.always.add(i)
			continue
		}
		for _, g := range r.filter[indexClause(r.filter)].groups {
			h := g.key
			if l := byTri[h]; len(l) == 0 || l[len(l)-1] != uint8(i) {
				byTri[h] = append(l, uint8(i))
			}
		}
	}
	for h, l := range byTri {
		if len(l) > 0 {
			x.filed[h/64] |= 1 << (h % 64)
		}
		x.rules = append(x.rules, l...)
		if len(x.rules) > 1<<16-1 {
			panic("flows: safety rule index too large")
		}
		x.start[h+1] = uint16(len(x.rules))
	}
}

// indexClause picks the clause of f to file its rule under: the one least likely to be
// met by chance, by the summed cost of its literals' first trigrams (litTable.finish).
func indexClause(f litFilter) int {
	best, bestCost := 0, 0.0
	for i, clause := range f {
		cost := 0.0
		for _, id := range clause.ids {
			cost += safetyLits.keyCost[id]
		}
		if i == 0 || cost < bestCost {
			best, bestCost = i, cost
		}
	}
	return best
}

// withFilters fills in each rule's filter.
func withFilters(rules []safetyRule) []safetyRule {
	for i := range rules {
		re, err := syntax.Parse(rules[i].re.String(), syntax.Perl)
		if err != nil {
			panic("flows: safety rule " + rules[i].name + ": " + err.Error()) // compiled already: cannot happen
		}
		for _, c := range requiredLiterals(re) {
			var cl litClause
			for _, s := range c {
				cl.ids = append(cl.ids, safetyLits.id(s))
			}
			rules[i].filter = append(rules[i].filter, cl)
		}
	}
	safetyLits.finish()
	for i := range rules {
		f := rules[i].filter
		for j := range f {
			cl := &f[j]
			for _, id := range cl.ids {
				k := safetyLits.keys[id][0]
				g := slices.IndexFunc(cl.groups, func(g litGroup) bool { return g.key == k })
				if g < 0 {
					g = len(cl.groups)
					cl.groups = append(cl.groups, litGroup{key: k})
				}
				cl.groups[g].ids = append(cl.groups[g].ids, id)
			}
		}
		// Cheapest clause first: a sentence is usually rejected by the first.
		slices.SortStableFunc(f, func(a, b litClause) int { return len(a.groups) - len(b.groups) })
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
// and almost all of those are ruled out without a search: the sentence's three-byte
// sequences are kept in a hashed bit set, and a literal with a sequence not in it cannot
// occur. Its least common sequences are tested first, so one bit test usually says no.
type litCheck struct {
	sentence []byte
	tris     [triBits / 64]uint64
	// known remembers what has found for this sentence, as gen<<1 | found (an older gen:
	// not yet searched): rules share literals ("myself" is in dozens of them), and each is
	// searched for once. A new sentence costs no clearing, only gen++.
	gen   uint32
	known []uint32
}

// next starts the memory of a new sentence.
func (c *litCheck) next() {
	c.gen++
	if c.gen >= 1<<31 || len(c.known) != len(safetyLits.lits) {
		c.gen = 1
		c.known = make([]uint32, len(safetyLits.lits))
	}
}

// triBits is the size of the bit set of three-byte sequences: a sentence of a hundred bytes
// sets about 1% of it, and a collision only costs a search.
const (
	triLog  = 13
	triBits = 1 << triLog
)

// triHash spreads three bytes over triBits (multiplicative hashing: the top bits of the
// product depend on every input bit).
func triHash(a, b, c byte) uint16 {
	return uint16((uint32(a)<<16 | uint32(b)<<8 | uint32(c)) * 0x9E3779B1 >> (32 - triLog))
}

// reset makes c check sentence, and returns the rules worth checking in it: those of
// safetyIndex filed under its trigrams, and those without a filter.
func (c *litCheck) reset(sentence []byte) ruleSet {
	c.sentence = sentence
	c.tris = [triBits / 64]uint64{}
	c.next()
	x := safetyIndex
	cand := x.always
	for i := 0; i+2 < len(sentence); i++ {
		h := triHash(sentence[i], sentence[i+1], sentence[i+2])
		w, bit := h/64, uint64(1)<<(h%64)
		if c.tris[w]&bit != 0 {
			continue // seen in this sentence: its rules are in already
		}
		c.tris[w] |= bit
		if x.filed[w]&bit == 0 {
			continue
		}
		for _, r := range x.rules[x.start[h]:x.start[h+1]] {
			cand.add(int(r))
		}
	}
	return cand
}

func (c *litCheck) has(id int) bool {
	if v := c.known[id]; v>>1 == c.gen {
		return v&1 == 1
	}
	found := c.search(id)
	v := c.gen << 1
	if found {
		v |= 1
	}
	c.known[id] = v
	return found
}

// search reports whether the sentence holds literal id.
func (c *litCheck) search(id int) bool {
	for _, h := range safetyLits.keys[id] {
		if c.tris[h/64]&(1<<(h%64)) == 0 {
			return false
		}
	}
	return bytes.Contains(c.sentence, safetyLits.bytes[id])
}

// mayMatch reports whether the sentence being checked could match f's rule: it holds a
// string of every clause.
func (f litFilter) mayMatch(c *litCheck) bool {
	for _, clause := range f {
		if !c.holdsAny(clause) {
			return false
		}
	}
	return true
}

// holdsAny reports whether the sentence holds a literal of clause.
func (c *litCheck) holdsAny(clause litClause) bool {
	for _, g := range clause.groups {
		if c.tris[g.key/64]&(1<<(g.key%64)) == 0 {
			continue
		}
		for _, id := range g.ids {
			if c.has(id) {
				return true
			}
		}
	}
	return false
}

// trigramFreq estimates how common the three bytes at lit[i:] are in English text, as the
// product of their single frequencies: crude, but it ranks "kms" and "uic" far below "the"
// and "in ", and only speed depends on it (any trigram of a literal is a sound test).
func trigramFreq(lit string, i int) float64 {
	return byteFreq(lit[i]) * byteFreq(lit[i+1]) * byteFreq(lit[i+2])
}

// byteFreq is a byte's share of English text, in percent: letters by their usual table,
// spaces about one character in six, anything else rare.
func byteFreq(b byte) float64 {
	if b >= 'a' && b <= 'z' {
		return letterFreq[b-'a']
	}
	if b == ' ' {
		return 18
	}
	return 0.5
}

var letterFreq = [26]float64{
	8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.8, 4.0, 2.4, // a–m
	6.7, 7.5, 1.9, 0.1, 6.0, 6.3, 9.1, 2.8, 1.0, 2.4, 0.15, 2.0, 0.07, // n–z
}
