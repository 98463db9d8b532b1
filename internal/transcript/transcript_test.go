package transcript

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	script := "> /story quick They stare\n< First line\n<\n< Third\n= prompt\n\n< Second reply\n\n# wait 31m\n\n> [choice:save]\n< Saved.\n= info\n\n> [long:4]\n> [checkin]\n> hello there\n"
	steps, err := Parse(script)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Line: "> /story quick They stare", Input: Input{Kind: Command, Sub: "quick", Text: "They stare", Raw: "/story quick They stare"}, Replies: []string{"First line\n\nThird", "Second reply"}},
		{Line: "# wait 31m", Wait: 31 * time.Minute},
		{Line: "> [choice:save]", Input: Input{Kind: Choice, Text: "save", Raw: "[choice:save]"}, Replies: []string{"Saved."}},
		{Line: "> [long:4]", Input: Input{Kind: Long, N: 4, Raw: "[long:4]"}},
		{Line: "> [checkin]", Input: Input{Kind: Checkin, Raw: "[checkin]"}},
		{Line: "> hello there", Input: Input{Kind: Text, Text: "hello there", Raw: "hello there"}},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", steps, want)
	}
	if _, err := Parse("> [long:x]\n"); err == nil {
		t.Error("Parse of a bad long line = nil error, want one")
	}
	if _, err := Parse("# wait soon\n"); err == nil {
		t.Error("Parse of a bad wait = nil error, want one")
	}
}

func TestLoadEveryGoldenTranscript(t *testing.T) {
	paths, err := Paths("../../flows/testdata")
	if err != nil || len(paths) == 0 {
		t.Fatalf("Paths = %d, %v; want the golden transcripts", len(paths), err)
	}
	for _, p := range paths {
		f, err := Load(p)
		if err != nil {
			t.Errorf("Load(%s) = %v", p, err)
			continue
		}
		if len(f.Steps) == 0 {
			t.Errorf("%s: no steps", p)
		}
	}
}

func TestParseCheckBacks(t *testing.T) {
	steps, err := Parse("# followups off\n\n> /story quick\n\n# followups on\n\n# followups maybe\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.CheckBacks)
	}
	if strings.Join(got, ",") != "off,,on," {
		t.Errorf("CheckBacks of the steps = %q, want off, none, on, none", got)
	}
}
