package flows

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var (
	showTrapMisses = flag.Bool("traps.misses", false, "list the training sentences the trap detector gets wrong")
	trapTuning     = flag.Bool("traps.tuning", false, "score the training part only, while rules are being tuned")
)

// The floors the detector must keep on both parts of the corpus (SPEC.md: precision first).
const (
	floorPrecision = 0.85 // of all suggestions, the share that are right
	floorHit       = 0.65 // of the sentences with a trap, the share given at least one right one
	ceilNoTrap     = 0.08 // of the sentences with no trap, the share given any suggestion
)

// corpusLine is one labelled sentence of testdata/traps.
type corpusLine struct {
	file   string
	line   int
	labels map[string]bool // empty for "none"
	text   string
	held   bool // in the held-out fifth
}

// loadTrapCorpus reads every testdata/traps/*.txt file. Every 5th sentence of a file is held
// out.
func loadTrapCorpus(tb testing.TB) []corpusLine {
	tb.Helper()
	return loadTrapFiles(tb, filepath.Join("testdata", "traps", "*.txt"))
}

// loadTrapFiles reads the labelled sentences of the files that match pattern.
func loadTrapFiles(tb testing.TB, pattern string) []corpusLine {
	tb.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		tb.Fatalf("no corpus files in testdata/traps: %v", err)
	}
	known := map[string]bool{}
	for _, t := range Traps() {
		known[t.ID] = true
	}
	var out []corpusLine
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n, k := 0, 0
		for sc.Scan() {
			n++
			ln := strings.TrimSpace(sc.Text())
			if ln == "" || strings.HasPrefix(ln, "#") {
				continue
			}
			labels, text, ok := strings.Cut(ln, "|")
			if !ok || strings.TrimSpace(text) == "" {
				tb.Fatalf("%s:%d: want labels|sentence, got %q", file, n, ln)
			}
			k++
			cl := corpusLine{file: filepath.Base(file), line: n, labels: map[string]bool{}, text: text, held: k%5 == 0}
			for _, l := range strings.Split(labels, ",") {
				l = strings.TrimSpace(l)
				switch {
				case l == "none" && labels == "none":
				case known[l]:
					cl.labels[l] = true
				default:
					tb.Fatalf("%s:%d: unknown label %q", file, n, l)
				}
			}
			out = append(out, cl)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// trapScore is how the detector did on part of the corpus.
type trapScore struct {
	tp, fp, fn          map[string]int
	suggested, right    int
	trapLines, hitLines int
	noneLines, noneHit  int
}

func (s trapScore) precision() float64 { return ratio(s.right, s.suggested) }
func (s trapScore) hit() float64       { return ratio(s.hitLines, s.trapLines) }
func (s trapScore) noTrap() float64    { return ratio(s.noneHit, s.noneLines) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func scoreTraps(lines []corpusLine, misses func(corpusLine, []Suggestion)) trapScore {
	s := trapScore{tp: map[string]int{}, fp: map[string]int{}, fn: map[string]int{}}
	for _, cl := range lines {
		got := SuggestTraps(cl.text)
		hit, wrong := false, false
		seen := map[string]bool{}
		for _, g := range got {
			seen[g.ID] = true
			s.suggested++
			if cl.labels[g.ID] {
				s.right++
				s.tp[g.ID]++
				hit = true
			} else {
				s.fp[g.ID]++
				wrong = true
			}
		}
		for l := range cl.labels {
			if !seen[l] {
				s.fn[l]++
			}
		}
		if len(cl.labels) == 0 {
			s.noneLines++
			if len(got) > 0 {
				s.noneHit++
			}
		} else {
			s.trapLines++
			if hit {
				s.hitLines++
			}
		}
		if misses != nil && (wrong || (len(cl.labels) > 0 && !hit)) {
			misses(cl, got)
		}
	}
	return s
}

func (s trapScore) table(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: precision %.2f (%d/%d), a right suggestion on %.2f of trap sentences (%d/%d), any suggestion on %.2f of no-trap sentences (%d/%d)\n",
		name, s.precision(), s.right, s.suggested, s.hit(), s.hitLines, s.trapLines, s.noTrap(), s.noneHit, s.noneLines)
	fmt.Fprintf(&b, "  %-24s %9s %6s\n", "trap", "precision", "recall")
	for _, t := range Traps() {
		tp, fp, fn := s.tp[t.ID], s.fp[t.ID], s.fn[t.ID]
		fmt.Fprintf(&b, "  %-24s %4.2f %4d %4.2f %4d\n", t.ID, ratio(tp, tp+fp), tp+fp, ratio(tp, tp+fn), tp+fn)
	}
	return b.String()
}

// TestTrapCorpus measures the detector on the labelled corpus, on the training part and on
// the held-out fifth, prints per-trap precision and recall, and fails below the floors.
func TestTrapCorpus(t *testing.T) {
	lines := loadTrapCorpus(t)
	var train, held []corpusLine
	perTrap := map[string]int{}
	none := 0
	for _, cl := range lines {
		if cl.held {
			held = append(held, cl)
		} else {
			train = append(train, cl)
		}
		for l := range cl.labels {
			perTrap[l]++
		}
		if len(cl.labels) == 0 {
			none++
		}
	}
	for _, tr := range Traps() {
		if perTrap[tr.ID] < 40 {
			t.Errorf("corpus has %d sentences for %s, want at least 40", perTrap[tr.ID], tr.ID)
		}
	}
	if none < 200 {
		t.Errorf("corpus has %d no-trap sentences, want at least 200", none)
	}
	var misses func(corpusLine, []Suggestion)
	if *showTrapMisses {
		misses = func(cl corpusLine, got []Suggestion) {
			var want, gave []string
			for l := range cl.labels {
				want = append(want, l)
			}
			sort.Strings(want)
			for _, g := range got {
				gave = append(gave, fmt.Sprintf("%s(%q %.2f)", g.ID, g.Because, g.Score))
			}
			t.Logf("%s:%d %q want %v got %v", cl.file, cl.line, cl.text, want, gave)
		}
	}
	// The fresh set was written after the rules were first frozen, in other words than the
	// corpus. Its first score, before any change, was precision 0.89, a right suggestion on
	// 0.73 of trap sentences, none on no-trap ones; the rules were then widened with its
	// misses in mind, so it is no longer independent and is kept as one more check.
	fresh := loadTrapFiles(t, filepath.Join("testdata", "traps", "fresh", "*.txt"))
	for _, part := range []struct {
		name  string
		lines []corpusLine
		miss  func(corpusLine, []Suggestion)
	}{
		{"training", train, misses},
		{"held-out", held, nil}, // never listed: the rules are not tuned on it
		{"fresh", fresh, nil},
	} {
		if *trapTuning && part.name != "training" {
			continue
		}
		s := scoreTraps(part.lines, part.miss)
		t.Log("\n" + s.table(part.name))
		if s.precision() < floorPrecision {
			t.Errorf("%s precision = %.3f, want at least %.2f", part.name, s.precision(), floorPrecision)
		}
		if s.hit() < floorHit {
			t.Errorf("%s share of trap sentences with a right suggestion = %.3f, want at least %.2f", part.name, s.hit(), floorHit)
		}
		if s.noTrap() > ceilNoTrap {
			t.Errorf("%s share of no-trap sentences with a suggestion = %.3f, want at most %.2f", part.name, s.noTrap(), ceilNoTrap)
		}
	}
}
