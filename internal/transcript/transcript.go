// Package transcript reads the golden dialogue transcripts of flows/testdata, so that flows,
// the Slack adapter and the Discord adapter replay one script the same way.
//
// A transcript is a txtar archive: a comment saying what it shows, then a file named
// "transcript" of blocks separated by blank lines:
//
//	> input          what the user did: a typed line, "/story …", [choice:ID], [checkin], [long:N],
//	                 [followup] next step, [followup2] next step
//	< reply line     the bot's reply, one line each ("<" alone is an empty line)
//	= note           what the reply is or does (kind, save, remind), for flows' own check
//	# comment        a comment; "# wait 31m" moves the clock; "# followups off" (or "on") sets
//	                 the user's check-back preference, as /story followups off would, for
//	                 the dialogues started after it
//
// Each block after an input is one reply.
package transcript

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/tools/txtar"
)

// Step is one input and the replies it gets, or a comment (Input empty) with its wait.
type Step struct {
	Line  string        // the whole "> …" or "# …" line
	Input Input         // the parsed input; zero for a comment
	Wait  time.Duration // for "# wait D"
	// CheckBacks is "off" or "on" for "# followups off|on"; empty otherwise.
	CheckBacks string
	Replies    []string // each reply's text, its lines joined by "\n"
}

// Kind is what an input line does.
type Kind int

// The kinds of input.
const (
	None    Kind = iota // a comment
	Command             // "/story …": Sub is the first word after /story, Text the rest
	Text                // a typed line
	Choice              // [choice:ID]: a button press
	Checkin             // [checkin]: the scheduler delivers a check-in
	Long                // [long:N]: a typed line of N runes
	// Followup is "[followup] next step" or "[followup2] next step": the scheduler delivers
	// the follow-up of a quick pause saved at the transcript's start with that next step
	// (Text), for the first time (N 1) or the second, after "Not yet" and "Yes, tomorrow"
	// (N 2).
	Followup
)

// Input is a parsed "> " line.
type Input struct {
	Kind Kind
	Sub  string // Command: the first word after /story ("" for /story alone)
	Text string // Command: the rest after Sub; Text: the line; Choice: the ID
	N    int    // Long: how many runes
	Raw  string // the line without "> "
}

// ParseInput parses what follows "> ".
func ParseInput(s string) (Input, error) {
	s = strings.TrimSpace(s)
	in := Input{Raw: s}
	switch {
	case s == "/story" || strings.HasPrefix(s, "/story "):
		rest := strings.TrimSpace(strings.TrimPrefix(s, "/story"))
		in.Kind = Command
		in.Sub, in.Text, _ = strings.Cut(rest, " ")
		in.Text = strings.TrimSpace(in.Text)
	case s == "[checkin]":
		in.Kind = Checkin
	case strings.HasPrefix(s, "[followup] "):
		in.Kind, in.N, in.Text = Followup, 1, strings.TrimSpace(strings.TrimPrefix(s, "[followup] "))
	case strings.HasPrefix(s, "[followup2] "):
		in.Kind, in.N, in.Text = Followup, 2, strings.TrimSpace(strings.TrimPrefix(s, "[followup2] "))
	case strings.HasPrefix(s, "[choice:") && strings.HasSuffix(s, "]"):
		in.Kind, in.Text = Choice, strings.TrimSuffix(strings.TrimPrefix(s, "[choice:"), "]")
	case strings.HasPrefix(s, "[long:") && strings.HasSuffix(s, "]"):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, "[long:"), "]"))
		if err != nil || n < 0 {
			return Input{}, fmt.Errorf("transcript: bad long line %q", s)
		}
		in.Kind, in.N = Long, n
	default:
		in.Kind, in.Text = Text, s
	}
	return in, nil
}

// Parse reads the steps of a transcript file's text.
func Parse(script string) ([]Step, error) {
	var steps []Step
	var cur []string
	flush := func() {
		if cur != nil && len(steps) > 0 {
			s := &steps[len(steps)-1]
			s.Replies = append(s.Replies, strings.Join(cur, "\n"))
		}
		cur = nil
	}
	for n, ln := range strings.Split(script, "\n") {
		switch {
		case strings.HasPrefix(ln, ">"):
			flush()
			in, err := ParseInput(strings.TrimPrefix(ln, ">"))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			steps = append(steps, Step{Line: ln, Input: in})
		case strings.HasPrefix(ln, "#"):
			flush()
			st := Step{Line: ln}
			if d, ok := strings.CutPrefix(ln, "# wait "); ok {
				w, err := time.ParseDuration(strings.TrimSpace(d))
				if err != nil {
					return nil, fmt.Errorf("transcript: line %d: bad wait %q: %w", n+1, d, err)
				}
				st.Wait = w
			}
			if ln == "# followups off" || ln == "# followups on" {
				st.CheckBacks = strings.TrimPrefix(ln, "# followups ")
			}
			steps = append(steps, st)
		case ln == "<" || strings.HasPrefix(ln, "< "):
			cur = append(cur, strings.TrimPrefix(strings.TrimPrefix(ln, "<"), " "))
		case strings.TrimSpace(ln) == "":
			flush()
		}
	}
	flush()
	return steps, nil
}

// File is one transcript file.
type File struct {
	Path    string
	Name    string // the file name without .txtar
	Archive *txtar.Archive
	Script  string // the "transcript" section
	Steps   []Step
}

// Load reads and parses one transcript file.
func Load(path string) (File, error) {
	a, err := txtar.ParseFile(path)
	if err != nil {
		return File{}, fmt.Errorf("transcript: %w", err)
	}
	f := File{Path: path, Name: strings.TrimSuffix(filepath.Base(path), ".txtar"), Archive: a}
	found := false
	for _, af := range a.Files {
		if af.Name == "transcript" {
			f.Script, found = string(af.Data), true
		}
	}
	if !found {
		return File{}, fmt.Errorf("transcript: %s has no transcript section", path)
	}
	if f.Steps, err = Parse(f.Script); err != nil {
		return File{}, fmt.Errorf("transcript: %s: %w", path, err)
	}
	return f, nil
}

// Rewrite replaces the transcript section of f's file with script (for -update).
func (f File) Rewrite(script string) error {
	f.Archive.Files = []txtar.File{{Name: "transcript", Data: []byte(script)}}
	return os.WriteFile(f.Path, txtar.Format(f.Archive), 0o644)
}

// Paths lists the transcript files in dir.
func Paths(dir string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, "*.txtar"))
}
