package flows

import (
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
	return rules
}

// requiredLiterals returns clauses of strings such that every match of re contains, for
// each clause, at least one of its strings. Clauses with a string shorter than minLiteral
// are left out.
func requiredLiterals(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil // the rules are lower-case; a case-folded literal would need care
		}
		if s := string(re.Rune); len(s) >= minLiteral {
			return [][]string{{s}}
		}
		return nil
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
		return nil
	case syntax.OpConcat:
		// Adjacent literals are one required string (" " then "km" is " km").
		var out [][]string
		var run []rune
		flush := func() {
			if len(run) > 0 {
				out = append(out, requiredLiterals(&syntax.Regexp{Op: syntax.OpLiteral, Rune: run})...)
				run = nil
			}
		}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0 {
				run = append(run, sub.Rune...)
				continue
			}
			flush()
			out = append(out, requiredLiterals(sub)...)
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

// litCheck answers, for one sentence, whether each literal occurs in it, checking each at
// most once.
type litCheck struct {
	sentence string
	state    []int8 // 0 unknown, 1 present, -1 absent
}

func (c *litCheck) reset(sentence string) {
	c.sentence = sentence
	if c.state == nil {
		c.state = make([]int8, len(safetyLits.lits))
	} else {
		clear(c.state)
	}
}

func (c *litCheck) has(id int) bool {
	switch c.state[id] {
	case 1:
		return true
	case -1:
		return false
	}
	if strings.Contains(c.sentence, safetyLits.lits[id]) {
		c.state[id] = 1
		return true
	}
	c.state[id] = -1
	return false
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
