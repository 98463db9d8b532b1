package flows

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/cputime"
)

var showMisses = flag.Bool("safety.misses", false, "list the training sentences the safety classifier gets wrong")

// corpusLabels are the corpus files in testdata/safety and the tier each sentence should get.
var corpusLabels = []struct {
	file string
	want SafetyTier
}{
	{"crisis.txt", SafetyCrisis},
	{"ambiguous.txt", SafetyAmbiguous},
	{"everyday.txt", SafetyNone},
}

type labelled struct {
	text string
	want SafetyTier
}

// loadCorpus reads the labelled corpus and splits it: every fifth sentence of each file is
// held out. The split depends only on the files, so it is the same on every run.
func loadCorpus(tb testing.TB) (train, held []labelled) {
	tb.Helper()
	for _, c := range corpusLabels {
		f, err := os.Open(filepath.Join("testdata", "safety", c.file))
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			ln := strings.TrimSpace(sc.Text())
			if ln == "" || strings.HasPrefix(ln, "#") {
				continue
			}
			n++
			if n%5 == 0 {
				held = append(held, labelled{ln, c.want})
			} else {
				train = append(train, labelled{ln, c.want})
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return train, held
}

// TestSafetyCorpus measures the classifier on the labelled corpus, training and held-out
// parts separately, prints precision and recall per tier, and fails below the floors:
//   - no crisis sentence may be classified none (a miss is the failure that matters most);
//   - at least 85% of crisis sentences get the crisis answer;
//   - at most 3% of everyday sentences get the crisis answer, at most 10% the check question;
//   - at least 70% of ambiguous sentences get the check question.
func TestSafetyCorpus(t *testing.T) {
	train, held := loadCorpus(t)
	if len(train)+len(held) < 150+150+40 {
		t.Fatalf("corpus has %d sentences, want at least 340", len(train)+len(held))
	}
	for _, part := range []struct {
		name string
		set  []labelled
	}{{"train", train}, {"held-out", held}} {
		t.Run(part.name, func(t *testing.T) {
			var m [3][3]int // [want][got]
			for _, l := range part.set {
				got := ClassifySafety(l.text)
				m[l.want][got.Tier]++
				if l.want == SafetyCrisis && got.Tier == SafetyNone {
					t.Errorf("ClassifySafety(%q) = none, want crisis (at least ambiguous)", l.text)
				}
				if *showMisses && part.name == "train" && got.Tier != l.want {
					t.Logf("miss: %-9v got %-9v %v %q", l.want, got.Tier, got.Rules, l.text)
				}
			}
			t.Logf("%s: %d sentences; rows = labelled, columns = classified", part.name, len(part.set))
			t.Logf("%-10s %6s %10s %7s", "", "none", "ambiguous", "crisis")
			for w := SafetyNone; w <= SafetyCrisis; w++ {
				t.Logf("%-10v %6d %10d %7d", w, m[w][0], m[w][1], m[w][2])
			}
			for tier := SafetyNone; tier <= SafetyCrisis; tier++ {
				var predicted, actual int
				for x := SafetyNone; x <= SafetyCrisis; x++ {
					predicted += m[x][tier]
					actual += m[tier][x]
				}
				t.Logf("%-10v precision %s recall %s", tier, pct(m[tier][tier], predicted), pct(m[tier][tier], actual))
			}
			floor := func(what string, got, of int, ok func(float64) bool, bound string) {
				if of == 0 {
					return
				}
				if f := float64(got) / float64(of); !ok(f) {
					t.Errorf("%s: %s = %d/%d (%.1f%%), want %s", part.name, what, got, of, 100*f, bound)
				}
			}
			crisisN := m[SafetyCrisis][0] + m[SafetyCrisis][1] + m[SafetyCrisis][2]
			everyN := m[SafetyNone][0] + m[SafetyNone][1] + m[SafetyNone][2]
			ambN := m[SafetyAmbiguous][0] + m[SafetyAmbiguous][1] + m[SafetyAmbiguous][2]
			floor("crisis sentences answered as crisis", m[SafetyCrisis][SafetyCrisis], crisisN, func(f float64) bool { return f >= 0.85 }, ">= 85%")
			floor("everyday sentences answered as crisis", m[SafetyNone][SafetyCrisis], everyN, func(f float64) bool { return f <= 0.03 }, "<= 3%")
			floor("everyday sentences given the check question", m[SafetyNone][SafetyAmbiguous], everyN, func(f float64) bool { return f <= 0.10 }, "<= 10%")
			floor("ambiguous sentences given the check question", m[SafetyAmbiguous][SafetyAmbiguous], ambN, func(f float64) bool { return f >= 0.70 }, ">= 70%")
		})
	}
}

func pct(n, of int) string {
	if of == 0 {
		return "   n/a"
	}
	return fmt.Sprintf("%5.1f%%", 100*float64(n)/float64(of))
}

// TestClassifySafety pins behaviour the corpus states only in bulk: the reasons given,
// negation, quotation, third persons, misspellings and the idioms of SPEC.md.
func TestClassifySafety(t *testing.T) {
	tests := []struct {
		text string
		want SafetyTier
		rule string // a rule that must be among the reasons, when set
	}{
		{"I want to kill myself", SafetyCrisis, "self-kill"},
		{"i want to kil myself", SafetyCrisis, "self-kill"},
		{"I want to kill my self", SafetyCrisis, "self-kill"},
		{"thinking about suicde", SafetyCrisis, "suicide"},
		{"SUICIDAL", SafetyCrisis, "suicide"},
		{"su1c1dal again", SafetyCrisis, "suicide"},
		{"i want to diiiie", SafetyCrisis, "want-die"},
		{"kms", SafetyCrisis, "kms"},
		{"we drove 300 kms today", SafetyNone, ""},
		{"I dont want to live anymore", SafetyCrisis, "not-alive"},
		{"I don’t want to live anymore", SafetyCrisis, "not-alive"},
		{"I do not want to live anymore", SafetyCrisis, "not-alive"},
		{"nobody would miss me if I was gone", SafetyCrisis, "nobody-miss"},
		{"I bought a rope", SafetyCrisis, "means"},
		{"I bought a rope ladder", SafetyNone, ""},
		{"I'm writing goodbye letters", SafetyCrisis, "farewell"},
		{"I hurt myself last night", SafetyCrisis, "self-harm"},
		{"I hurt myself at the gym", SafetyNone, ""},
		{"cutting again", SafetyCrisis, "self-harm"},
		{"I'm not suicidal, just tired", SafetyAmbiguous, "suicide/negated"},
		{"I would never hurt myself", SafetyAmbiguous, "self-harm/negated"},
		{"I'm not okay, I want to die", SafetyCrisis, "want-die"},
		{"im not ok i want to die", SafetyCrisis, "want-die"},
		{"My colleague is suicidal", SafetyAmbiguous, "suicide/third-person"},
		{"She said \"I could just kms\" and laughed", SafetyAmbiguous, "kms/quoted"},
		{"The story is \"I'd be better off dead\"", SafetyCrisis, "better-off"},
		// "Pause on this message" quotes someone else's message this way (bot/discord): their
		// words ask the user the check question, they do not give the user the crisis answer.
		{"@Sam wrote: “honestly kms this sprint”", SafetyAmbiguous, "kms/quoted"},
		{"I wrote: “I want to die”", SafetyCrisis, "want-die"},
		{"I'm killing myself to hit this target", SafetyAmbiguous, "idiom/kill-myself"},
		{"I'm thinking about killing myself over this", SafetyCrisis, "think-death"},
		{"It's a suicide mission to ship by Friday", SafetyAmbiguous, "idiom/suicide"},
		{"I cut myself off mid-sentence", SafetyAmbiguous, "idiom/cut-myself"},
		{"I could die of embarrassment", SafetyAmbiguous, "could-die"},
		{"I don't want to be here anymore", SafetyAmbiguous, "not-here"},
		{"My laptop is about to die", SafetyNone, ""},
		{"Life is worth it", SafetyNone, ""},
		{"I'm billing myself for the hours", SafetyNone, ""},
		{"She overdoes the slides", SafetyNone, ""},
		{"This deadline is killing me", SafetyNone, ""},
		{"", SafetyNone, ""},
		{"   ...   ", SafetyNone, ""},
	}
	for _, tt := range tests {
		got := ClassifySafety(tt.text)
		if got.Tier != tt.want {
			t.Errorf("ClassifySafety(%q) = %v %v %q, want %v", tt.text, got.Tier, got.Rules, got.Words, tt.want)
			continue
		}
		if tt.rule != "" && !contains(got.Rules, tt.rule) {
			t.Errorf("ClassifySafety(%q).Rules = %v, want %q among them", tt.text, got.Rules, tt.rule)
		}
		if len(got.Rules) != len(got.Words) || (got.Tier == SafetyNone) != (len(got.Rules) == 0) {
			t.Errorf("ClassifySafety(%q) = %+v: want one word per rule, and reasons exactly when a tier is given", tt.text, got)
		}
		if IsCrisis(tt.text) != (tt.want == SafetyCrisis) {
			t.Errorf("IsCrisis(%q) = %v, want %v", tt.text, !(tt.want == SafetyCrisis), tt.want == SafetyCrisis)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestOSA1(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"suicde", "suicide", true}, {"siucide", "suicide", true}, {"suicidee", "suicide", true},
		{"suicida", "suicide", true}, {"sucde", "suicide", false}, {"myslef", "myself", true},
		{"a", "", true}, {"", "", true}, {"ab", "ba", true}, {"abc", "cab", false},
	}
	for _, tt := range tests {
		if got := osa1([]byte(tt.a), tt.b); got != tt.want {
			t.Errorf("osa1(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := osa1([]byte(tt.b), tt.a); got != tt.want {
			t.Errorf("osa1(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

// FuzzClassifySafety: any text, no panic, reasons consistent with the tier, and bounded
// time on an answer of the longest length accepted.
func FuzzClassifySafety(f *testing.F) {
	f.Add("I want to kill myself")
	f.Add("I'm not suicidal, just tired")
	f.Add("She said \"kms\" and laughed")
	f.Add("“quoted” «guillemets» „low” '' ’ ‘ ` ʼ")
	f.Add("k!ll mys3lf 4ever 300 kms 1 2 3")
	f.Add("\xff\xfe invalid utf8 suicide\x00")
	f.Add(strings.Repeat("kill myself to ", 300))
	f.Fuzz(func(t *testing.T, text string) {
		start := time.Now()
		got := ClassifySafety(text)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("ClassifySafety took %v on %d bytes", d, len(text))
		}
		if got.Tier < SafetyNone || got.Tier > SafetyCrisis {
			t.Fatalf("ClassifySafety(%q).Tier = %d", text, got.Tier)
		}
		if len(got.Rules) != len(got.Words) || (got.Tier == SafetyNone) != (len(got.Rules) == 0) {
			t.Fatalf("ClassifySafety(%q) = %+v: reasons do not fit the tier", text, got)
		}
	})
}

// TestClassifySafetyLongInput checks the time on the longest answer accepted, made of
// near-misses that keep many rules busy: one 3,000-character sentence is the worst case
// (about 30 ms on one core; a typical sentence takes 0.2 ms). The bound leaves room for
// -race, which is ten to twenty times slower, on a shared machine.
func TestClassifySafetyLongInput(t *testing.T) {
	text := strings.Repeat("im killing myself to not wake up until the ", MaxAnswerRunes/40)
	start := time.Now()
	ClassifySafety(text)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ClassifySafety on %d characters took %v, want well under 2s", len(text), d)
	}
}

func BenchmarkClassifySafety(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"short", "They think I'm lazy and I'm killing myself to hit this target"},
		{"3000", strings.Repeat("what happened in the meeting was hard. ", MaxAnswerRunes/40)},
		// A Pause's answers as the peer benchmark kit sends them.
		{"pause", "The story I'm telling myself is that she doesn't think my work matters."},
		// The worst case is many matches: each is checked for a negation, a third person and
		// a quotation before it.
		{"3000-crisis", strings.Repeat("i want to die. ", MaxAnswerRunes/15)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			c0, ok := cputime.Process()
			for i := 0; i < b.N; i++ {
				ClassifySafety(bc.text)
			}
			if c1, ok1 := cputime.Process(); ok && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
	// All the answers of one dm-e2e walk (walkAnswers, step_bench_test.go) per op: the mix
	// the peer kit's profile measures, short answers most of them.
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		c0, ok := cputime.Process()
		for i := 0; i < b.N; i++ {
			for _, text := range walkAnswers {
				ClassifySafety(text)
			}
		}
		if c1, ok1 := cputime.Process(); ok && ok1 {
			b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
		}
	})
}

// TestSafetyFilter checks that the keyword filter never changes a result: with and without
// it, every corpus sentence and test phrase gets the same hits.
func TestSafetyFilter(t *testing.T) {
	train, held := loadCorpus(t)
	texts := []string{"i want to die. i want to die", "kms. ok. fine", "“I could die”, she said. then: end it all"}
	for _, l := range append(train, held...) {
		texts = append(texts, l.text, strings.ToUpper(l.text), l.text+". "+l.text)
	}
	for _, text := range texts {
		norm := []byte(normalizeSafety(text))
		a, b := findHits(norm, new(litCheck)), findHits(norm, nil)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("findHits(%q) with filter = %v, without = %v", norm, a, b)
		}
	}
	for _, r := range safetyRules {
		if len(r.filter) == 0 {
			t.Errorf("rule %s /%s/ requires no string: its expression runs on every sentence", r.name, r.re)
		}
	}
}

// TestSafetyProbes are phrasings written after the corpus was scored, trying the classifier as
// a person in distress and as a leader venting would. Eleven of the distress ones first got
// "none"; the rules were extended for them, so they are no longer a blind measure, only a
// guard against going back. Each crisis one must get the crisis answer (being on a roof only
// asks); no everyday one may get anything.
func TestSafetyProbes(t *testing.T) {
	crisis := []string{
		"i'm going to end it tonight, sorry everyone", "I just want to die already", "ending my life seems like the only option",
		"honestly thinking of killing myself", "i wanna kms fr", "i want to unalive", "i've been self harming again",
		"i hurt myself on purpose last night", "I plan to take my life this weekend", "I have pills saved up", "goodbye everyone, this is it",
		"i wrote letters to my family saying goodbye", "i cant do life anymore", "i don't want to exist anymore", "I'm thinking about suicide a lot",
		"suicidal thoughts again today", "I want to sleep and never wake up", "everyone would be better off if i died", "my kids would be better off without me",
		"I'm so tired of living", "life has no meaning, I want out", "i want to kill my self", "i want to kill mysef", "i want to commit sucide", "thinking about sucide",
		"I bought rope today", "I'm standing on the roof right now", "I keep thinking about jumping off the bridge near work", "i will hang myself",
		"I want to be dead", "want to die", "wanna die", "I wish I could die", "I wish I would die in my sleep", "I'm a burden, they'd be better off without me",
		"i'm cutting myself again", "cut myself again tonight", "I self-harmed yesterday", "No one would care if I killed myself",
		"im gonna overdose", "the pills are in front of me", "I'm done, I'm going to end it", "it would be easier if I was dead",
		"nothing to live for anymore", "why am I even alive", "I dont see the point in living", "I hate being alive", "kill myself",
	}
	everyday := []string{
		"the build is dying again", "this bug is killing me", "I'm going to kill this presentation", "let's end the sprint here",
		"I'm done with this meeting", "I could kill for a coffee", "I'm dead on my feet", "he's going to murder me for this",
		"we're cutting the budget again", "they cut the team in half", "I cut my hand on the paper", "I want to end this call early",
		"the demo died halfway through", "we'll die on this hill if we keep pushing", "I hurt my wrist typing", "the pressure is killing me",
		"she's dying to hear the news", "I'm drowning in emails", "the project is on life support", "it's a dead end", "the plan is to ship Friday",
		"I'd rather not present tomorrow", "I want to disappear into my headphones", "I took the pills my doctor prescribed", "we jumped off the call early",
		"I'm killing it this quarter", "I'm going to end up doing it myself", "I feel like giving up on this project", "nobody reads my emails",
		"I want to quit", "this job is soul crushing", "I'm so over this", "I'm exhausted", "my manager hates me", "I'm a failure",
	}
	// Venting a leader might type mid-meeting: never the full stop (at most the question).
	venting := []string{
		"this meeting makes me want to die", "I want to die of embarrassment", "I could kill myself",
		"I'm going to die if this demo fails", "kill me, another reorg", "I'd rather be dead than work with him again",
		"I'm so dead if they find out", "my manager will kill me", "I'm dying here", "shoot me",
		"I'm going to throw myself under the bus for the team", "I nearly killed myself laughing",
		"I'm literally dying", "we are so dead", "I'm killing myself over these numbers",
		"this project will be the death of me", "I could just curl up and die", "I'm ready to end this project",
		"time to end it for today", "I hurt myself trying to lift the printer", "i want to die on this hill",
		"I'd kill for a weekend off", "I'm hanging by a thread", "at the end of my tether",
	}
	for _, s := range venting {
		if got := ClassifySafety(s); got.Tier == SafetyCrisis {
			t.Errorf("ClassifySafety(%q) = crisis %v, want at most the check question", s, got.Rules)
		}
	}
	crisis = append(crisis, "life makes me want to die every day", "I could kill myself tonight", "ugh I want to die")
	for _, s := range crisis {
		want := SafetyCrisis
		if strings.Contains(s, "roof") {
			want = SafetyAmbiguous
		}
		if got := ClassifySafety(s); got.Tier != want {
			t.Errorf("ClassifySafety(%q) = %v %v, want %v", s, got.Tier, got.Rules, want)
		}
	}
	for _, s := range everyday {
		if got := ClassifySafety(s); got.Tier != SafetyNone {
			t.Errorf("ClassifySafety(%q) = %v %v, want none", s, got.Tier, got.Rules)
		}
	}
}
