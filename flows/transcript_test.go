package flows

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/internal/transcript"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// transcriptStart is the fake clock's first reading; each input moves it on one minute.
var transcriptStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestTranscripts replays every testdata/*.txtar transcript through Machine.Step and
// PlainText, and compares the whole file.
//
// A transcript is a txtar archive: a comment saying what it shows, then a file
// "transcript". In it:
//
//	> text              the user types text
//	> /story …          a command: /story [what happened], /story quick [story], /story pause [text],
//	                    /story reframe [story]
//	> [choice:ID]       the user presses the button with that ID
//	> [long:N]          the user sends N characters (the multi-byte "ö")
//	> [checkin]         a scheduled check-in arrives
//	> [followup] step   a follow-up arrives about a pause saved at the start with that next step
//	> [followup2] step  the same, the second time (after "Not yet" and "Yes, tomorrow")
//	# wait 31m          the clock moves on (a time.Duration)
//	# followups off     dialogues started from now on carry Start.NoCheckBack (the caller
//	                    read /story followups off); "# followups on" ends it
//	< line              a line of the bot's reply (PlainText); a blank line ends a reply
//	= kind              the reply's kind, when it is not a prompt
//	= save {…}          the journal entry the reply saves, as JSON
//	= remind in 1h0m0s  the reply asks for one more check-in later (snooze)
//	= safety check      the reply's place in the safety protocol (check, crisis, sos, …)
//	= save plan {…}     the safety plan the reply saves, as JSON
//	= outcome {…}       the follow-up answer the reply records on the entry, as JSON
//
// "> /story sos" shows Machine.SOS with the plan the transcript saved last, if any.
//
// Only the ">" and "#" lines are read; everything else is written by the test.
func TestTranscripts(t *testing.T) {
	paths, err := transcript.Paths("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no transcripts in testdata")
	}
	for _, path := range paths {
		f, err := transcript.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f.Name, func(t *testing.T) {
			got := replay(t, f.Script)
			if *update {
				if err := f.Rewrite(got); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != f.Script {
				t.Errorf("%s differs (run go test ./flows -update and review the diff):\n%s", path, lineDiff(f.Script, got))
			}
		})
	}
}

// replay runs the script's inputs and writes the transcript they produce.
func replay(tb testing.TB, script string) string {
	tb.Helper()
	m := New(Config{})
	var s State
	var plan *SafetyPlan // the last safety plan saved, for /story sos
	noCheckBack := false // "# followups off"
	now := transcriptStart
	var out bytes.Buffer
	for _, ln := range strings.Split(script, "\n") {
		switch {
		case strings.HasPrefix(ln, "# wait "):
			d, err := time.ParseDuration(strings.TrimPrefix(ln, "# wait "))
			if err != nil {
				tb.Fatalf("bad wait line %q: %v", ln, err)
			}
			now = now.Add(d)
			fmt.Fprintf(&out, "%s\n\n", ln)
		case ln == "# followups off" || ln == "# followups on":
			noCheckBack = ln == "# followups off"
			fmt.Fprintf(&out, "%s\n\n", ln)
		case strings.HasPrefix(ln, "#"):
			fmt.Fprintf(&out, "%s\n\n", ln)
		case ln == "> /story sos":
			now = now.Add(time.Minute)
			fmt.Fprintf(&out, "%s\n", ln)
			writeReply(tb, &out, m.SOS(plan))
			out.WriteString("\n")
		case strings.HasPrefix(ln, ">"):
			now = now.Add(time.Minute)
			in := parseInput(tb, strings.TrimSpace(strings.TrimPrefix(ln, ">")))
			in.Now = now
			if in.Start != nil {
				st := *in.Start
				st.NoCheckBack = noCheckBack
				in.Start = &st
			}
			next, replies, err := m.Step(s, in)
			if err != nil {
				tb.Fatalf("Step(%v, %q) = error %v, want none", s.Step, ln, err)
			}
			checkState(tb, next, in)
			s = next
			fmt.Fprintf(&out, "%s\n", ln)
			for _, r := range replies {
				if r.SavePlan != nil {
					plan = r.SavePlan
				}
				writeReply(tb, &out, r)
				out.WriteString("\n")
			}
		}
	}
	return out.String()
}

// parseInput turns a "> " line into an Input.
func parseInput(tb testing.TB, t string) Input {
	tb.Helper()
	in, err := transcript.ParseInput(t)
	if err != nil {
		tb.Fatal(err)
	}
	switch in.Kind {
	case transcript.Command:
		switch in.Sub {
		case "":
			return Input{Start: &Start{Flow: FlowPause}}
		case "quick":
			return Input{Start: &Start{Flow: FlowQuick, Text: in.Text}}
		case "pause":
			return Input{Start: &Start{Flow: FlowPause, Text: in.Text}}
		case "safety-plan":
			return Input{Start: &Start{Flow: FlowSafetyPlan}}
		case "reframe":
			return Input{Start: &Start{Flow: FlowReframe, Text: in.Text}}
		}
		// Anything after /story that is not a subcommand is what happened (bot.ParseCommand
		// does the same; the transcripts use no other subcommands).
		return Input{Start: &Start{Flow: FlowPause, Text: strings.TrimSpace(in.Sub + " " + in.Text)}}
	case transcript.Checkin:
		return Input{Start: &Start{Flow: FlowCheckin}}
	case transcript.Choice:
		return Input{Choice: in.Text}
	case transcript.Long:
		return Input{Text: strings.Repeat("ö", in.N)}
	case transcript.Followup:
		e := &Entry{ID: "1772442000000-0001abcd", Flow: FlowQuick, Created: transcriptStart, Next: in.Text}
		if in.N == 2 {
			again := transcriptStart.Add(24 * time.Hour)
			e.FollowUp = &FollowUp{Outcome: OutcomeNotYet, At: transcriptStart, Again: &again, Asked: 1}
		}
		return Input{Start: &Start{Flow: FlowFollowup, Entry: e}}
	}
	return Input{Text: in.Text}
}

// writeReply writes one reply as "< " lines and "= " notes.
func writeReply(tb testing.TB, out *bytes.Buffer, r Reply) {
	tb.Helper()
	for _, l := range strings.Split(PlainText(r), "\n") {
		if l == "" {
			out.WriteString("<\n")
			continue
		}
		fmt.Fprintf(out, "< %s\n", l)
	}
	if r.Kind != ReplyPrompt {
		fmt.Fprintf(out, "= %v\n", r.Kind)
	}
	if r.Save != nil {
		j, err := json.Marshal(r.Save)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(out, "= save %s\n", j)
	}
	if r.Remind > 0 {
		fmt.Fprintf(out, "= remind in %v\n", r.Remind)
	}
	if r.Safety != SafetyEventNone {
		fmt.Fprintf(out, "= safety %v\n", r.Safety)
	}
	if r.SavePlan != nil {
		j, err := json.Marshal(r.SavePlan)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(out, "= save plan %s\n", j)
	}
	if r.Outcome != nil {
		j, err := json.Marshal(r.Outcome)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(out, "= outcome %s\n", j)
	}
}

// lineDiff shows the first differing lines of want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return "(no line differs)"
}
