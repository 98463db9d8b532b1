package flows

import (
	"math/rand/v2"
	"regexp/syntax"
	"strings"
	"testing"
)

// TestSafetyFilterSound generates text that each rule's expression matches, by walking the
// expression (random branches, repeats, characters), and checks that the filter lets every
// such sentence through: a filter that wrongly rejected one would silence a crisis rule.
func TestSafetyFilterSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range safetyRules {
		r := &safetyRules[i]
		re, err := syntax.Parse(r.re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		for range 300 {
			var b strings.Builder
			sample(rng, re, &b)
			// Some context around the phrase, as in a real sentence.
			s := "so " + b.String() + " today"
			if !r.re.MatchString(s) {
				continue // an anchor or boundary the walk did not honour
			}
			var lc litCheck
			lc.reset([]byte(s))
			if !r.filter.mayMatch(&lc) {
				t.Errorf("rule %s matches %q but its filter rejects it", r.name, s)
			}
		}
	}
}

// sample writes a random string of re's language to b (anchors write nothing).
func sample(rng *rand.Rand, re *syntax.Regexp, b *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return
		}
		p := rng.IntN(len(re.Rune) / 2)
		lo, hi := re.Rune[2*p], re.Rune[2*p+1]
		hi = min(hi, lo+25) // negated classes span all of Unicode
		b.WriteRune(lo + rng.Int32N(hi-lo+1))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('x')
	case syntax.OpCapture:
		sample(rng, re.Sub[0], b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			sample(rng, s, b)
		}
	case syntax.OpAlternate:
		sample(rng, re.Sub[rng.IntN(len(re.Sub))], b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 2
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+2 {
				hi = lo + 2
			}
		}
		for range lo + rng.IntN(hi-lo+1) {
			sample(rng, re.Sub[0], b)
		}
	}
}
