package flows

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// normalizeSafetyRef is normalizeSafety as it was before it was made faster: the
// reference the fast one must agree with, on the corpus and under the fuzzer.
func normalizeSafetyRef(text string) string {
	toks := tokenizeRef(text)
	toks = mergeTokensRef(toks)
	for i, t := range toks {
		toks[i] = fuzzyKeyRef(t)
	}
	// Drop boundary tokens at the start and repeated ones.
	out := toks[:0]
	for _, t := range toks {
		if (t == "," || t == ".") && (len(out) == 0 || out[len(out)-1] == "," || out[len(out)-1] == ".") {
			if len(out) > 0 && t == "." {
				out[len(out)-1] = "."
			}
			continue
		}
		out = append(out, t)
	}
	for len(out) > 0 && (out[len(out)-1] == "," || out[len(out)-1] == ".") {
		out = out[:len(out)-1]
	}
	return strings.Join(out, " ")
}

// leet reads digits and signs written inside words as the letters they stand for.
var leetRef = map[rune]rune{'1': 'i', '!': 'i', '3': 'e', '0': 'o', '4': 'a', '@': 'a', '$': 's', '5': 's', '7': 't'}

// tokenize splits text into lower-case word tokens and boundary tokens.
func tokenizeRef(text string) []string {
	rs := []rune(text)
	var toks []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			toks = append(toks, collapseRunsRef(cur))
			cur = cur[:0]
		}
	}
	inQuote := false
	isLetter := func(i int) bool { return i >= 0 && i < len(rs) && unicode.IsLetter(rs[i]) }
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r):
			cur = append(cur, unicode.ToLower(r))
		case unicode.IsDigit(r) && len(cur) == 0 && !isLetter(i+1):
			// A number on its own ("300 kms"): kept as a token.
			j := i
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			if i == 0 || !unicode.IsDigit(rs[i-1]) {
				toks = append(toks, string(rs[i:j]))
			}
		case unicode.IsDigit(r) && i > 0 && unicode.IsDigit(rs[i-1]):
			// The rest of a number, already taken.
		case leetRef[r] != 0 && (isLetter(i-1) && (isLetter(i+1) || i+1 < len(rs) && leetRef[rs[i+1]] != 0 && isLetter(i+2))):
			cur = append(cur, leetRef[r])
		case leetRef[r] != 0 && unicode.IsDigit(r) && isLetter(i+1) && len(cur) == 0:
			cur = append(cur, leetRef[r])
		case r == '\'' || r == '’' || r == '‘' || r == '`' || r == 'ʼ':
			// Apostrophes vanish inside words: don't → dont.
			if len(cur) == 0 || !isLetter(i+1) {
				flush()
			}
		case r == '"' || r == '“' || r == '”' || r == '«' || r == '»' || r == '„':
			flush()
			open := r == '“' || r == '«' || r == '„' || r == '"' && !inQuote
			if r == '”' || r == '»' {
				open = false
			}
			inQuote = open
			if open {
				toks = append(toks, quoteOpen)
			} else {
				toks = append(toks, quoteClose)
			}
		case r == '.' || r == '!' || r == '?' || r == ';' || r == '\n' || r == '…':
			flush()
			toks = append(toks, ".")
		case r == ',' || r == ':' || r == '—' || r == '–' || r == '(' || r == ')' || r == '[' || r == ']':
			flush()
			toks = append(toks, ",")
		case r == '-' && len(cur) > 0 && isLetter(i+1):
			// self-harm → self harm
			flush()
		default:
			flush()
		}
	}
	flush()
	return toks
}

// collapseRuns shortens runs of three or more of the same letter to one: "diiiie" → "die".
func collapseRunsRef(rs []rune) string {
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		n := j - i
		if n >= 3 {
			n = 1
		}
		for k := 0; k < n; k++ {
			b.WriteRune(rs[i])
		}
		i = j - 1
	}
	return b.String()
}

// mergeTokensRef is the reference mergeTokens: it applies wordForms and tokenPairs.
func mergeTokensRef(toks []string) []string {
	var out []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if i+1 < len(toks) {
			if m, ok := tokenPairs[[2]string{t, toks[i+1]}]; ok {
				out = append(out, strings.Fields(m)...)
				i++
				continue
			}
		}
		if m, ok := wordForms[t]; ok {
			out = append(out, strings.Fields(m)...)
			continue
		}
		out = append(out, t)
	}
	return out
}

// TestNormalizeSafetyReference checks the fast normalizeSafety against the reference on
// the corpus, the test phrases and awkward text.
func TestNormalizeSafetyReference(t *testing.T) {
	train, held := loadCorpus(t)
	texts := append([]string(nil), normalizeSeeds...)
	for _, l := range append(train, held...) {
		texts = append(texts, l.text, strings.ToUpper(l.text), l.text+". "+l.text)
	}
	for _, text := range texts {
		if got, want := normalizeSafety(text), normalizeSafetyRef(text); got != want {
			t.Errorf("normalizeSafety(%q) = %q, want %q", text, got, want)
		}
	}
}

var normalizeSeeds = []string{
	"", " ", ".", ", . ,", "I want to kill myself", "I'm not suicidal, just tired", "She said \"kms\" and laughed",
	"“quoted” «guillemets» „low” '' ’ ‘ ` ʼ", "k!ll mys3lf 4ever 300 kms 1 2 3", "\xff\xfe invalid utf8 suicide\x00",
	"diiiiie nooooo my self un alive i am self-harm wanna no 1 noone", "İSTANBUL ǅemal ΣΑΣ straße", "a1b 12ab ab12 1!1 @home $5 h@te",
	"end. it. all!!! ??? … — – ( ) [ ] ; :", "can not will not do not i m", "selfharm selfharming myslef kilingg",
	strings.Repeat("kill myself to ", 300),
}

func FuzzNormalizeSafety(f *testing.F) {
	for _, s := range normalizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := normalizeSafety(text), normalizeSafetyRef(text); got != want {
			t.Fatalf("normalizeSafety(%q) = %q, want %q", text, got, want)
		}
		norm := []byte(normalizeSafety(text))
		if a, b := findHits(norm, new(litCheck)), findHits(norm, nil); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("findHits(%q) with filter = %v, without = %v", norm, a, b)
		}
		for _, b := range [][]byte{norm, []byte(text)} {
			if got, want := indexSentenceBreak(b), bytes.Index(b, []byte(sentenceBreak)); got != want {
				t.Fatalf("indexSentenceBreak(%q) = %d, want %d", b, got, want)
			}
		}
	})
}

// normalizeSafety is the normalised text as a string, for tests.
func normalizeSafety(text string) string {
	var sc safetyScratch
	return string(sc.normalize(text))
}
