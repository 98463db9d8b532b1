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
