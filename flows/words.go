package flows

import (
	"regexp"
	"sort"
	"strings"
)

// phraseRegexp compiles a list of phrases into one case-insensitive regular expression that
// matches any of them as whole words. Inside a phrase, a space matches any run of spaces or
// hyphens ("self harm" matches "self-harm"), and an apostrophe matches both ' and ’.
// Longer phrases are tried first, so the reported match is the most specific one.
func phraseRegexp(phrases []string) *regexp.Regexp {
	ps := append([]string(nil), phrases...)
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) })
	alts := make([]string, 0, len(ps))
	for _, p := range ps {
		words := strings.Fields(p)
		for i, w := range words {
			w = regexp.QuoteMeta(w)
			words[i] = strings.ReplaceAll(w, "'", "['’]")
		}
		alts = append(alts, strings.Join(words, `[\s-]+`))
	}
	return regexp.MustCompile(`(?i)\b(?:` + strings.Join(alts, "|") + `)\b`)
}

// crisisPhrases is the crisis language that stops any dialogue. It errs on the side of
// caution: a false alarm costs a kind message, a miss costs far more.
var crisisPhrases = []string{
	"kill myself", "killing myself", "suicide", "suicidal", "end my life", "ending my life",
	"take my own life", "take my life", "want to die", "wanna die", "wish i was dead",
	"wish i were dead", "want to be dead", "self harm", "selfharm", "self harming",
	"harm myself", "harming myself", "hurt myself", "hurting myself", "cut myself",
	"cutting myself", "no reason to live", "nothing to live for", "better off dead",
	"better off without me", "end it all", "don't want to be alive", "don't want to live",
	"not worth living", "unalive", "overdose",
}

var crisisRe = phraseRegexp(crisisPhrases)

// IsCrisis reports whether text contains crisis language (self-harm, suicide). Matching is
// by whole words and phrases, case-insensitive.
func IsCrisis(text string) bool {
	return crisisRe.MatchString(text)
}
