package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/storybot/storybot/flows"
)

// Insights: the weekly digest, computed from the user's own journal only, and the theme
// finder behind "what keeps coming back".

// themeWindow is how far back "what keeps coming back" looks: the month's stories.
const themeWindow = 30 * 24 * time.Hour

// maxThemes bounds the themes the digest names.
const maxThemes = 5

// Digest is DigestFor with no names of the user's own to leave out.
func Digest(entries []flows.Entry, now time.Time) string { return DigestFor(entries, now, nil) }

// DigestFor writes the weekly digest from the user's own journal entries: the pauses of
// the 7 days before now, the average shift in feeling strength, the thinking traps the user
// confirmed (never the bot's unconfirmed guesses), the next steps chosen and how many
// happened, how true the first stories turned out (follow-up answers given this week), and
// what keeps coming back (people and words in two or more of the month's stories; self
// names the user, who is never a theme of their own stories).
func DigestFor(entries []flows.Entry, now time.Time, self []string) string {
	since := now.Add(-7 * 24 * time.Hour)
	var (
		pauses, reframes int
		shifts, shiftSum int
		traps            = map[string]int{}
		steps            []flows.Entry
		trueSum, trueN   int
		month            []flows.Entry
	)
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		en := entries[i]
		if en.Created.After(now) {
			continue
		}
		if !en.Created.Before(now.Add(-themeWindow)) {
			month = append(month, en)
		}
		if fu := en.FollowUp; fu != nil && fu.HowTrue != nil && !fu.At.Before(since) && !fu.At.After(now) {
			trueN++
			trueSum += *fu.HowTrue
		}
		if en.Created.Before(since) {
			continue
		}
		switch en.Flow {
		case flows.FlowPause, flows.FlowQuick:
			pauses++
		case flows.FlowReframe:
			reframes++
		}
		if en.StrengthBefore != nil && en.StrengthAfter != nil {
			shifts++
			shiftSum += *en.StrengthAfter - *en.StrengthBefore
		}
		for _, id := range en.Traps { // confirmed by the user only
			traps[id]++
		}
		if strings.TrimSpace(en.Next) != "" {
			steps = append(steps, en)
		}
	}
	themes := Themes(month, self, maxThemes)

	var b strings.Builder
	b.WriteString("Your week in stories.\n")
	if pauses+reframes == 0 {
		b.WriteString("No pauses this week — that's fine. /story is here when you want it.")
		if len(traps) == 0 && len(steps) == 0 && trueN == 0 && len(themes) == 0 {
			return b.String()
		}
		b.WriteString("\n")
	} else {
		var done []string
		if pauses > 0 {
			done = append(done, plural(pauses, "pause", "pauses"))
		}
		if reframes > 0 {
			done = append(done, plural(reframes, "reframe", "reframes"))
		}
		b.WriteString(strings.Join(done, " and ") + " this week.\n")
	}
	if shifts > 0 {
		avg := float64(shiftSum) / float64(shifts)
		switch {
		case avg < 0:
			fmt.Fprintf(&b, "On average the feeling eased by %.1f points (0–10) from start to end.\n", -avg)
		case avg > 0:
			fmt.Fprintf(&b, "On average the feeling grew by %.1f points (0–10) from start to end.\n", avg)
		default:
			b.WriteString("On average the feeling's strength stayed the same from start to end.\n")
		}
	}
	if len(traps) > 0 {
		b.WriteString("Thinking traps you recognised most: " + topTraps(traps) + ".\n")
	}
	if len(steps) > 0 {
		done := 0
		for _, en := range steps {
			if en.FollowUp != nil && en.FollowUp.Outcome == flows.OutcomeDone {
				done++
			}
		}
		fmt.Fprintf(&b, "Next steps you chose: %d; done so far: %d.\n", len(steps), done)
		for _, en := range steps {
			b.WriteString("• " + strings.TrimSpace(en.Next) + stepMark(en) + "\n")
		}
	}
	if trueN > 0 {
		fmt.Fprintf(&b, "Looking back, your first stories turned out %.1f out of 10 true on average (%s).\n",
			float64(trueSum)/float64(trueN), plural(trueN, "answer", "answers"))
	}
	if len(themes) > 0 {
		parts := make([]string, len(themes))
		for i, th := range themes {
			parts[i] = fmt.Sprintf("%s (%d stories)", th.Word, th.Entries)
		}
		b.WriteString("What keeps coming back this month: " + strings.Join(parts, ", ") + ".\n")
		for _, th := range themes[:min(len(themes), 2)] {
			if line := themeTruth(month, th); line != "" {
				b.WriteString(line + "\n")
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// themeTruth says how true the month's stories that name th (in what happened or the story
// itself, not the next step) turned out, looking back, when two or more answers say: the
// link between a recurring name and the stories told about it is the insight the user is
// least likely to have seen.
func themeTruth(month []flows.Entry, th Theme) string {
	ts := tokenize(th.Word)
	if len(ts) == 0 {
		return ""
	}
	want := ts[0].norm
	sum, n := 0, 0
	for _, en := range month {
		if en.FollowUp == nil || en.FollowUp.HowTrue == nil {
			continue
		}
		named := false
		for _, text := range []string{en.What, en.Story} {
			for _, t := range tokenize(text) {
				named = named || t.norm == want
			}
		}
		if named {
			sum += *en.FollowUp.HowTrue
			n++
		}
	}
	if n < 2 {
		return ""
	}
	return fmt.Sprintf("Looking back, your stories about %s this month turned out %.1f out of 10 true (%d answers).", th.Word, float64(sum)/float64(n), n)
}

// stepMark says how a next step went, when a follow-up asked.
func stepMark(en flows.Entry) string {
	if en.FollowUp == nil {
		return ""
	}
	switch en.FollowUp.Outcome {
	case flows.OutcomeDone:
		return " — done"
	case flows.OutcomeNotYet:
		return " — not yet"
	case flows.OutcomeChangedMind:
		return " — changed your mind"
	}
	return ""
}

// topTraps names the three most confirmed traps with their counts.
func topTraps(traps map[string]int) string {
	names := map[string]string{}
	for _, t := range flows.Traps() {
		names[t.ID] = t.Name
	}
	ids := make([]string, 0, len(traps))
	for id := range traps {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool {
		if traps[ids[a]] != traps[ids[b]] {
			return traps[ids[a]] > traps[ids[b]]
		}
		return ids[a] < ids[b]
	})
	if len(ids) > 3 {
		ids = ids[:3]
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		n := names[id]
		if n == "" {
			n = id
		}
		parts[i] = fmt.Sprintf("%s (%d)", n, traps[id])
	}
	return strings.Join(parts, ", ")
}

// Theme is a word or name that keeps coming back in a user's stories.
type Theme struct {
	Word    string // as the user wrote it most often ("Sam", "deadline")
	Entries int    // how many entries it appears in
	Person  bool   // written with a capital inside a sentence: likely a name
}

// Themes finds the words and names that appear in at least two entries' stories (what
// happened, the story, the next step), most entries first, names before words on a tie,
// at most n. Stop words, numbers, words under three letters and the user's own names (self,
// any case) never count; a word counts once per entry however often it is repeated.
func Themes(entries []flows.Entry, self []string, n int) []Theme {
	skip := map[string]bool{}
	for _, s := range self {
		for _, t := range tokenize(s) {
			skip[t.norm] = true
		}
	}
	type stat struct {
		entries int
		person  bool
		forms   map[string]int
	}
	stats := map[string]*stat{}
	for _, en := range entries {
		seen := map[string]bool{}
		for _, text := range []string{en.What, en.Story, en.Next} {
			for _, t := range tokenize(text) {
				if skip[t.norm] || stopWords[t.norm] || len([]rune(t.norm)) < 3 || isNumber(t.norm) {
					continue
				}
				st := stats[t.norm]
				if st == nil {
					st = &stat{forms: map[string]int{}}
					stats[t.norm] = st
				}
				st.forms[t.text]++
				if t.capitalMid {
					st.person = true
				}
				if !seen[t.norm] {
					seen[t.norm] = true
					st.entries++
				}
			}
		}
	}
	var out []Theme
	for _, st := range stats {
		if st.entries < 2 {
			continue
		}
		// The form the user wrote most; on a tie the plain lower-case one, then any fixed
		// choice (map order must not show).
		word, best := "", 0
		for f, c := range st.forms {
			if c > best || c == best && formBefore(f, word) {
				word, best = f, c
			}
		}
		out = append(out, Theme{Word: word, Entries: st.entries, Person: st.person})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Entries != b.Entries {
			return a.Entries > b.Entries
		}
		if a.Person != b.Person {
			return a.Person
		}
		return strings.ToLower(a.Word) < strings.ToLower(b.Word)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// token is one word of a text: as written (possessive cut off), folded for comparison, and
// whether it was capitalised in the middle of a sentence (a likely name).
type token struct {
	text       string
	norm       string
	capitalMid bool
}

// tokenize splits text into words: letters and digits, with apostrophes and hyphens
// inside a word kept ("don't", "follow-up"); a possessive "'s" is cut off ("Sam's" → Sam).
func tokenize(text string) []token {
	var out []token
	rs := []rune(text)
	sentenceStart := true
	for i := 0; i < len(rs); {
		r := rs[i]
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			if r == '.' || r == '!' || r == '?' || r == '\n' || r == ':' || r == '“' || r == '"' {
				sentenceStart = true
			}
			i++
			continue
		}
		j := i
		for j < len(rs) {
			c := rs[j]
			if unicode.IsLetter(c) || unicode.IsDigit(c) {
				j++
				continue
			}
			if (c == '\'' || c == '’' || c == '-') && j+1 < len(rs) && unicode.IsLetter(rs[j+1]) {
				j++
				continue
			}
			break
		}
		w := strings.ReplaceAll(string(rs[i:j]), "’", "'")
		if lw := strings.ToLower(w); strings.HasSuffix(lw, "'s") {
			w = w[:len(w)-2]
		}
		first := []rune(w)[0]
		out = append(out, token{text: w, norm: strings.ToLower(w), capitalMid: !sentenceStart && unicode.IsUpper(first) && w != "I"})
		sentenceStart = false
		i = j
	}
	return out
}

// formBefore orders two spellings of one word: lower case first, then bytewise.
func formBefore(a, b string) bool {
	al, bl := a == strings.ToLower(a), b == strings.ToLower(b)
	if al != bl {
		return al
	}
	return a < b
}

func isNumber(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return s != ""
}

// stopWords are words too common to be a theme: function words, pronouns, everyday verbs,
// the words of the pause itself ("story", "feel"), and days, months and times of day
// ("moved to Thursday", "by Friday morning" say when, not what keeps coming back).
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
a about above after again against all almost also always am an and any anyone anything are aren't
around as at away back be because been before being below between both but by can can't cannot
could couldn't did didn't do does doesn't doing don't done down during each either else enough even
ever every everyone everything few for from further get gets getting go goes going gone got had
hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself
his how how's i i'd i'll i'm i've if in into is isn't it it's its itself just know knew let let's
like likely made make makes many may maybe me might mine more most much must mustn't my myself
need needs never no nobody none nor not nothing now of off often on once one only or other others
our ours ourselves out over own please probably quite rather really right said same say says see
seem seems shall shan't she she'd she'll she's should shouldn't since so some somebody someone
something sometimes soon still such sure take tell than that that's the their theirs them
themselves then there there's these they they'd they'll they're they've thing things think
thinks thought this those though through to today tomorrow too told try trying under until up
upon us very want wants was wasn't way we we'd we'll we're we've well were weren't what what's
when when's where where's whether which while who who's whom why why's will with without won't
would wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves
ask asked feel feeling feels felt story stories telling yesterday week time lot bit
known better worse good bad again came come comes keep kept put give gave
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri
sat sun weekend weekday weekdays january february march april june july august september
october november december jan feb mar apr jun jul aug sep sept oct nov dec morning afternoon
evening tonight night noon day days hour hours minute minutes month months weeks next last
`) {
		m[w] = true
	}
	return m
}()
