package flows

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// classifySafetyRef is ClassifySafety as it was before it was made cheaper (at 23a5095),
// kept as the reference the fast one must agree with in every field of its result: on the
// whole corpus with variations (TestClassifySafetySameAsReference) and under the fuzzer
// (FuzzClassifySafetySameAsReference). It shares only data with the code under test: the
// rules' expressions and flags, and the word lists (wordForms, tokenPairs, realWords,
// fuzzyKeys, negators, …). Its rules run without the prefilter, which only ever skips
// expressions that cannot match.
func classifySafetyRef(text string) Safety {
	if utf8.RuneCountInString(text) > maxSafetyRunes {
		r := []rune(text)
		text = string(r[:maxSafetyRunes/2]) + "\n" + string(r[len(r)-maxSafetyRunes/2:])
	}
	norm := normalizeSafetyRef(text)
	if norm == "" {
		return Safety{}
	}
	hits := findHitsRef(norm)
	if len(hits) == 0 {
		return Safety{}
	}
	// Idioms and everyday uses override the bare crisis phrase they contain.
	for i := range hits {
		h := &hits[i]
		if h.rule.tier != SafetyCrisis && h.rule.tier != SafetyAmbiguous {
			continue
		}
		for _, o := range hits {
			if o.rule.cover && o.rule.tier < h.rule.tier && o.start <= h.start && h.end <= o.end && (o.start < h.start || h.end < o.end || o.rule != h.rule) {
				h.tier = -1 // covered
				break
			}
		}
	}
	for i := range hits {
		h := &hits[i]
		if h.tier != SafetyCrisis {
			continue
		}
		switch {
		case h.rule.negatable && negatedRef(norm[:h.start]):
			h.tier, h.name = SafetyAmbiguous, h.name+"/negated"
		case h.rule.person && thirdPersonRef(norm[:h.start]):
			h.tier, h.name = SafetyAmbiguous, h.name+"/third-person"
		case quotedByOtherRef(norm[:h.start]):
			h.tier, h.name = SafetyAmbiguous, h.name+"/quoted"
		}
	}
	var out Safety
	for _, h := range hits {
		if h.tier > out.Tier {
			out = Safety{Tier: h.tier}
		}
		if h.tier == out.Tier && h.tier > SafetyNone {
			out.Rules = append(out.Rules, h.name)
			out.Words = append(out.Words, norm[h.start:h.end])
		}
	}
	return out
}

type hitRef struct {
	rule       *safetyRule
	start, end int
	tier       SafetyTier
	name       string
}

// findHitsRef matches every rule against norm, sentence by sentence.
func findHitsRef(norm string) []hitRef {
	var hits []hitRef
	off := 0
	for off < len(norm) {
		end := strings.Index(norm[off:], " . ")
		if end < 0 {
			end = len(norm)
		} else {
			end += off
		}
		sentence := norm[off:end]
		for i := range safetyRules {
			r := &safetyRules[i]
			for _, m := range r.re.FindAllStringSubmatchIndex(sentence, -1) {
				// Group 1 is the phrase itself; the rest of the match is context.
				hits = append(hits, hitRef{rule: r, start: off + m[2], end: off + m[3], tier: r.tier, name: r.name})
			}
		}
		off = end + len(" . ")
	}
	return hits
}

func negatedRef(before string) bool {
	ws := strings.Fields(before)
	for i, n := len(ws)-1, 0; i >= 0 && n < 5; i, n = i-1, n+1 {
		w := ws[i]
		if negators[w] {
			return true
		}
		if !negationFillers[w] {
			return false
		}
	}
	return false
}

func thirdPersonRef(before string) bool {
	ws := strings.Fields(before)
	for i, n := len(ws)-1, 0; i >= 0 && n < 8; i, n = i-1, n+1 {
		w := ws[i]
		if w == "," || w == "." {
			return false
		}
		if firstPersonWords[w] {
			return false
		}
		if thirdPersonWords[w] {
			return true
		}
	}
	return false
}

func quotedByOtherRef(before string) bool {
	i := strings.LastIndex(before, quoteOpen)
	if i < 0 || strings.Contains(before[i:], quoteClose) {
		return false
	}
	ws := strings.Fields(before[:i])
	for j, n := len(ws)-1, 0; j >= 0 && n < 4; j, n = j-1, n+1 {
		if speechVerbs[ws[j]] {
			return j == 0 || !firstPersonWords[ws[j-1]]
		}
	}
	return false
}

// fuzzyKeyRef returns the key word t misspells, or t.
func fuzzyKeyRef(t string) string {
	if len(t) < 5 || realWords[t] {
		return t
	}
	for _, k := range fuzzyKeys {
		if t == k {
			return t
		}
	}
	for _, k := range fuzzyKeys {
		if d := len(t) - len(k); d < -1 || d > 1 {
			continue
		}
		if osa1Ref(t, k) {
			return k
		}
	}
	return t
}

// osa1Ref reports whether a and b are within one edit of each other.
func osa1Ref(a, b string) bool {
	if a == b {
		return true
	}
	la, lb := len(a), len(b)
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // swap
	case la == lb+1:
		return a[i+1:] == b[i:]
	case lb == la+1:
		return b[i+1:] == a[i:]
	}
	return false
}

// TestClassifySafetySameAsReference checks ClassifySafety against classifySafetyRef, every
// field of the result, on the whole labelled corpus (training and held-out parts), the test
// phrases, and variations of each sentence in case, punctuation, Unicode and whitespace.
func TestClassifySafetySameAsReference(t *testing.T) {
	texts := safetyVariationTexts(t)
	var tiers [3]int
	for _, text := range texts {
		got, want := ClassifySafety(text), classifySafetyRef(text)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ClassifySafety(%q) = %+v, reference %+v", text, got, want)
		}
		tiers[want.Tier]++
	}
	// The comparison means something only if every tier is well represented.
	t.Logf("%d texts; reference tiers: none %d, ambiguous %d, crisis %d", len(texts), tiers[0], tiers[1], tiers[2])
	for tier, n := range tiers {
		if n < len(texts)/20 {
			t.Errorf("only %d of %d texts are %v: the variations miss a tier", n, len(texts), SafetyTier(tier))
		}
	}
}

// safetyVariationTexts is the corpus, the test phrases and variations of each.
func safetyVariationTexts(tb testing.TB) []string {
	train, held := loadCorpus(tb)
	var base []string
	for _, l := range append(train, held...) {
		base = append(base, l.text)
	}
	base = append(base, walkAnswers...)
	texts := append([]string(nil), normalizeSeeds...)
	// Each sentence as it is, in capitals, and in eight of its variations picked at random
	// (the same on every run): all of them for every sentence would take a minute under
	// -race, which CI runs; the fuzz target tries the rest.
	rng := rand.New(rand.NewPCG(19, 2026))
	for i, s := range base {
		vs := safetyVariations(rng, s, base[(i+1)%len(base)])
		texts = append(texts, vs[:2]...)
		for _, j := range rng.Perm(len(vs) - 2)[:8] {
			texts = append(texts, vs[2+j])
		}
	}
	// A few longer than maxSafetyRunes, so the cut is compared too.
	for _, s := range base[:4] {
		texts = append(texts, strings.Repeat(s+" ", maxSafetyRunes/len(s)+2))
	}
	return texts
}

// safetyVariations returns s and forms of it the normaliser and the rules must treat alike
// in both implementations: case, punctuation, quotation, look-alike letters and digits,
// Unicode, whitespace, a neighbouring sentence, and small typing slips.
func safetyVariations(rng *rand.Rand, s, next string) []string {
	r := strings.NewReplacer
	out := []string{
		s,
		strings.ToUpper(s),
		strings.ToLower(s),
		titleCase(s),
		s + "!!!", s + "?", s + "...", s + " …", "(" + s + ")",
		`"` + s + `"`, "“" + s + "”", "«" + s + "»", `she said "` + s + `"`, `I wrote: "` + s + `"`,
		r("'", "’").Replace(s), r("'", "").Replace(s), r("'", "`").Replace(s),
		r(",", "", ".", "", "!", "", "?", "").Replace(s),
		r(" ", "  ").Replace(s), r(" ", "\t").Replace(s), r(" ", "\n").Replace(s), r(" ", "\u00a0").Replace(s),
		r(" ", ", ").Replace(s), r(" ", ". ").Replace(s), r(" ", "-").Replace(s),
		"  " + s + " \n ",
		r("i", "1", "e", "3", "o", "0", "s", "$", "a", "@").Replace(s),
		r("i", "ı", "e", "é", "a", "а").Replace(s), // dotless i, e acute, Cyrillic a
		r("I", "İ").Replace(s),
		r("ie", "iiiie", "ll", "llll", "o", "ooo").Replace(s),
		s + ". " + next, next + ". " + s, s + ", " + next,
		"I'm not sure. " + s, "not " + s, "my brother said " + s, "never " + s,
		"\xff" + s + "\x00",
	}
	// Typing slips: a letter dropped, doubled or swapped with its neighbour.
	if b := []byte(s); len(b) > 2 {
		i := rng.IntN(len(b) - 1)
		out = append(out,
			string(b[:i])+string(b[i+1:]),
			string(b[:i+1])+string(b[i:]),
			string(b[:i])+string(b[i+1])+string(b[i])+string(b[i+2:]))
	}
	return out
}

// FuzzClassifySafetySameAsReference compares ClassifySafety's whole result with
// classifySafetyRef's on any text.
func FuzzClassifySafetySameAsReference(f *testing.F) {
	for _, s := range normalizeSeeds {
		f.Add(s)
	}
	f.Add("They think I'm lazy and I'm killing myself to hit this target")
	f.Add("I'm not suicidal, just tired. My colleague is suicidal")
	f.Add(`@Sam wrote: “honestly kms this sprint”`)
	f.Add("I want to kill my self. ok. i w@nt t0 d1e")
	f.Add("nobody would miss me if I was gone, I bought a rope ladder")
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := ClassifySafety(text), classifySafetyRef(text); !reflect.DeepEqual(got, want) {
			t.Fatalf("ClassifySafety(%q) = %+v, reference %+v", text, got, want)
		}
	})
}

// titleCase capitalises the first letter of every word.
func titleCase(s string) string {
	b := []rune(s)
	for i, r := range b {
		if i == 0 || b[i-1] == ' ' {
			b[i] = unicode.ToUpper(r)
		}
	}
	return string(b)
}

// TestLastWords checks lastWords against strings.Fields read backwards.
func TestLastWords(t *testing.T) {
	for _, s := range []string{"", " ", "a", "  a  b\tc\u00a0d\u2028e  ", "i am not «", "x \xff y", "one two three four five six seven eight nine"} {
		all := strings.Fields(s)
		for n := range 10 {
			buf := make([]string, n)
			got := lastWords(s, buf)
			var want []string
			for i := len(all) - 1; i >= 0 && len(want) < n; i-- {
				want = append(want, all[i])
			}
			if !slices.Equal(got, want) {
				t.Errorf("lastWords(%q, %d) = %q, want %q", s, n, got, want)
			}
		}
	}
}

// TestFuzzyKeySameAsReference checks fuzzyKey against the reference on every word within
// one edit of a key word (and many within two), the real words, and the corpus's words:
// the letter-set test that skips most comparisons must never skip a misspelling.
func TestFuzzyKeySameAsReference(t *testing.T) {
	words := map[string]bool{}
	for _, k := range fuzzyKeys {
		for i, e := range oneEdits(k) {
			words[e] = true
			// Two edits away, a sample: near misses the letter-set test must turn down.
			if i%16 == 0 {
				for _, e2 := range oneEdits(e) {
					words[e2] = true
				}
			}
		}
	}
	for w := range realWords {
		words[w] = true
	}
	train, held := loadCorpus(t)
	for _, l := range append(train, held...) {
		for _, w := range strings.Fields(normalizeSafetyRef(l.text)) {
			words[w] = true
		}
	}
	misspelled := 0
	for w := range words {
		got := fuzzyKey([]byte(w))
		if got == "" {
			got = w
		} else {
			misspelled++
		}
		if want := fuzzyKeyRef(w); got != want {
			t.Errorf("fuzzyKey(%q) reads %q, reference %q", w, got, want)
		}
	}
	t.Logf("%d words, %d read as a key word", len(words), misspelled)
}

// oneEdits returns the strings one edit (deletion, insertion or substitution of a letter,
// swap of neighbours) from w, with some non-ASCII letters among those inserted.
func oneEdits(w string) []string {
	letters := "abcdefghijklmnopqrstuvwxyzé"
	var out []string
	for i := 0; i <= len(w); i++ {
		if i < len(w) {
			out = append(out, w[:i]+w[i+1:])
			if i+1 < len(w) {
				out = append(out, w[:i]+string(w[i+1])+string(w[i])+w[i+2:])
			}
		}
		for _, c := range letters {
			out = append(out, w[:i]+string(c)+w[i:])
			if i < len(w) {
				out = append(out, w[:i]+string(c)+w[i+1:])
			}
		}
	}
	return out
}
