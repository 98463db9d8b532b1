package flows

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/storybot/storybot/internal/cputime"
)

// TestSuggestTrapsHardCases pins the cases a flat word list gets wrong, each both ways: the
// plan and the rule, the guess and the fact, the negated and the plain.
func TestSuggestTrapsHardCases(t *testing.T) {
	tests := []struct {
		text string
		want string // a trap that must be suggested, "" for no suggestion at all
		not  string // a trap that must not be suggested
	}{
		// Plan vs rule.
		{"I should ask Sam.", "", ""},
		{"I should have asked Sam.", "should-statements", ""},
		{"I have to leave at five.", "", ""},
		{"I have to be perfect at this.", "should-statements", ""},
		{"I must remember to book the room.", "", ""},
		{"I must never make a mistake.", "should-statements", ""},
		{"He should know this by now.", "should-statements", ""},
		{"You should try the soup.", "", ""},
		{"We should grab lunch next week.", "", ""},
		{"I shouldn't feel this nervous.", "should-statements", ""},
		{"Should I ask her?", "", ""},
		// "must be": a kind guess, a logistic fact, or a conclusion.
		{"She must be busy.", "", ""},
		{"It must be hard for her too.", "", ""},
		{"I must be the one who fixes it.", "should-statements", ""},
		// Plan vs prediction.
		{"I'm going to ask her.", "", ""},
		{"I'm going to mess this up.", "fortune-telling", ""},
		{"It's going to rain later.", "", ""},
		{"This meeting is going to be a disaster.", "fortune-telling", ""},
		{"I'll send the draft tomorrow.", "", ""},
		{"They won't sign the contract.", "fortune-telling", ""},
		// Guess about a mind vs fact.
		{"They will think I'm a fraud.", "mind-reading", "fortune-telling"},
		{"They think I'm a fraud.", "mind-reading", "labelling"},
		{"They think the bus is late.", "", ""},
		{"She yelled at me.", "", ""},
		{"She's annoyed with me.", "mind-reading", ""},
		{"He doesn't hate me, he's just busy.", "", ""},
		{"He hates me.", "mind-reading", ""},
		{"They laughed at my joke.", "", ""},
		{"They're laughing at me.", "mind-reading", ""},
		{"I should let my partner know I'll be late.", "", ""},
		// Negated vs not.
		{"It's not a disaster.", "", ""},
		{"It's a disaster.", "catastrophising", ""},
		{"I don't think it's my fault.", "", ""},
		{"It's my fault.", "personalising", ""},
		{"I'm not an idiot, I just made a mistake.", "", ""},
		{"I'm an idiot.", "labelling", ""},
		{"It isn't the end of the world.", "", ""},
		{"It's not always like this.", "", ""},
		{"It's always like this, nobody ever listens.", "overgeneralising", ""},
		// Words that only sound like traps.
		{"The worst part was the coffee.", "", ""},
		{"Such a good meeting.", "", ""},
		{"She's such a kind person.", "", ""},
		{"I always take the train to work.", "", ""},
		{"I always get blamed for this.", "overgeneralising", ""},
		{"Everyone got the invite.", "", ""},
		{"Everyone ignores me.", "overgeneralising", ""},
		{"It's on me to book the venue this time.", "", ""},
		{"That one's on me.", "personalising", ""},
		{"He blamed the weather for the delay.", "", ""},
		{"It's all his fault.", "blaming", ""},
		{"We compared notes after the meeting.", "", ""},
		{"Compared to Sam I'm so slow.", "comparing", ""},
		{"I got lucky with the weather.", "", ""},
		{"I got the job, but it was just luck.", "disqualifying-positive", ""},
		{"I feel nervous, so I'm going to go over my notes.", "", ""},
		{"I feel stupid, so I must be stupid.", "emotional-reasoning", ""},
		// Quotes are someone else's words.
		{`He said "you always do this" and walked out.`, "", ""},
		{`She told me “you should have known”.`, "", ""},
		{"The customer said the product is a disaster.", "", ""},
		// Typos and no apostrophes.
		{"im such an idiot", "labelling", ""},
		{"theyll think im lazy", "mind-reading", ""},
		{"ill ask sam tomorrow", "", ""},
	}
	for _, tt := range tests {
		got := SuggestTraps(tt.text)
		ids := trapIDs(got)
		switch {
		case tt.want == "" && tt.not == "" && len(got) != 0:
			t.Errorf("SuggestTraps(%q) = %v, want none", tt.text, describeSuggestions(got))
		case tt.want != "" && !hasID(ids, tt.want):
			t.Errorf("SuggestTraps(%q) = %v, want %s among them", tt.text, describeSuggestions(got), tt.want)
		}
		if tt.not != "" && hasID(ids, tt.not) {
			t.Errorf("SuggestTraps(%q) = %v, want no %s", tt.text, describeSuggestions(got), tt.not)
		}
	}
}

func hasID(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func describeSuggestions(ss []Suggestion) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID+"("+s.Because+")")
	}
	return out
}

// TestSuggestTrapsExplains checks what every suggestion promises: at most two, best first,
// each with the user's own words, verbatim.
func TestSuggestTrapsExplains(t *testing.T) {
	text := "Nobody ever listens to me, I’m such an idiot and it's my fault."
	got := SuggestTraps(text)
	if len(got) != MaxSuggestions {
		t.Fatalf("SuggestTraps(%q) = %v, want %d suggestions", text, describeSuggestions(got), MaxSuggestions)
	}
	for i, s := range got {
		if s.Because == "" || !strings.Contains(text, s.Because) {
			t.Errorf("SuggestTraps(%q)[%d].Because = %q, want words from the text", text, i, s.Because)
		}
		if s.Score < minScore || s.Score > 1 || (i > 0 && s.Score > got[i-1].Score) {
			t.Errorf("SuggestTraps(%q)[%d].Score = %v, want in [%v, 1] and not above the one before", text, i, s.Score, minScore)
		}
		if tr, ok := trapByID(s.ID); !ok || tr != s.Trap {
			t.Errorf("SuggestTraps(%q)[%d].Trap = %+v, want a trap of Traps()", text, i, s.Trap)
		}
	}
	if got := SuggestTraps("I’m such an idiot"); len(got) != 1 || got[0].Because != "I’m such an idiot" {
		t.Errorf("SuggestTraps(curly apostrophe) = %v, want the words exactly as typed", describeSuggestions(got))
	}
	if again := SuggestTraps(text); !reflect.DeepEqual(again, got) {
		t.Errorf("SuggestTraps is not deterministic: %v, then %v", describeSuggestions(got), describeSuggestions(again))
	}
	if got := SpotTraps(text); !reflect.DeepEqual(got, SuggestTraps(text)) {
		t.Errorf("SpotTraps(%q) = %v, want the same as SuggestTraps", text, describeSuggestions(got))
	}
	for _, empty := range []string{"", "   ", "?!.,", "\"unclosed quote they think I'm lazy", plainAnswer()} {
		if got := SuggestTraps(empty); len(got) != 0 {
			t.Errorf("SuggestTraps(%q) = %v, want none", empty, describeSuggestions(got))
		}
	}
}

func TestTraps(t *testing.T) {
	ts := Traps()
	if len(ts) != 12 {
		t.Fatalf("len(Traps()) = %d, want 12", len(ts))
	}
	// The first eight ids are stored in journals and typed by number: they never change.
	first := []string{"all-or-nothing", "mind-reading", "fortune-telling", "catastrophising",
		"should-statements", "labelling", "personalising", "overgeneralising"}
	for i, id := range first {
		if ts[i].ID != id {
			t.Errorf("Traps()[%d].ID = %q, want %q", i, ts[i].ID, id)
		}
	}
	seen := map[string]bool{}
	for _, tr := range ts {
		if tr.ID == "" || tr.Name == "" || tr.Explain == "" || !strings.HasSuffix(tr.Hint, "?") || seen[tr.ID] {
			t.Errorf("Traps() has incomplete or repeated trap %+v", tr)
		}
		seen[tr.ID] = true
		if tr.Name != strings.ToLower(tr.Name[:1])+tr.Name[1:] {
			t.Errorf("Traps() name %q should read inside a sentence (lower case)", tr.Name)
		}
		for _, s := range []string{tr.Name, tr.ID, tr.Label()} {
			if got, ok := matchTrap(s); !ok || got != tr.ID {
				t.Errorf("matchTrap(%q) = %q, %v, want %q, true", s, got, ok, tr.ID)
			}
		}
	}
	for _, r := range trapRules {
		if !seen[r.trap] {
			t.Errorf("a rule suggests unknown trap %q", r.trap)
		}
	}
}

// longAnswer is a 3,000-character answer full of trap-like words.
func longAnswer() string {
	var b strings.Builder
	parts := []string{
		"They always ignore me in meetings and I think they believe I'm useless. ",
		"I should have known better, it's my fault the launch was a complete disaster. ",
		"I'm going to ask Sam tomorrow, but she'll probably say no and then I'll never get promoted. ",
		"Everyone else is further ahead than me; I feel like a fraud, so I must be one. ",
		"He made me look stupid and it's all his fault. ",
	}
	for i := 0; b.Len() < MaxAnswerRunes; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()[:MaxAnswerRunes]
}

// plainAnswer is a 3,000-character answer with many of the rules' words and no trap, so
// that no rule can be skipped: the slow case.
func plainAnswer() string {
	var b strings.Builder
	parts := []string{
		"I think the plan is late and everyone got the invite, so I should ask Sam what they think. ",
		"She must be busy; maybe it wasn't about me at all, and it's not the end of the world. ",
		"I'm going to talk to my manager tomorrow because the report must be in by Friday. ",
		"I feel nervous, so I'm going to go over my notes, and then I will book the room. ",
		"He said the slides were too long, and we compared notes after the meeting. ",
	}
	for i := 0; b.Len() < MaxAnswerRunes; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()[:MaxAnswerRunes]
}

func BenchmarkSuggestTraps(b *testing.B) {
	for _, bb := range []struct {
		name string
		text string
	}{{"traps", longAnswer()}, {"plain", plainAnswer()}} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.text)))
			b.ReportAllocs()
			c0, ok := cputime.Process()
			for i := 0; i < b.N; i++ {
				SuggestTraps(bb.text)
			}
			if c1, ok1 := cputime.Process(); ok && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func FuzzSuggestTraps(f *testing.F) {
	f.Add("They will think I'm a fraud.")
	f.Add("I should ask Sam, but I'm an idiot and it's all my fault.")
	f.Add(`He said "you always do this" — and “left”`)
	f.Add("im gonna fail lol, theyll hate me, its marks fault")
	f.Add("I’m’s can't’t --- ' ’ \" ? . , IT HR Sam.")
	f.Add(longAnswer())
	f.Fuzz(func(t *testing.T, text string) {
		got := SuggestTraps(text)
		if len(got) > MaxSuggestions {
			t.Fatalf("SuggestTraps(%q) gave %d suggestions, want at most %d", text, len(got), MaxSuggestions)
		}
		seen := map[string]bool{}
		for _, s := range got {
			if seen[s.ID] {
				t.Fatalf("SuggestTraps(%q) repeats %s", text, s.ID)
			}
			seen[s.ID] = true
			if s.Because == "" || !strings.Contains(text, s.Because) {
				t.Fatalf("SuggestTraps(%q).Because = %q, not words from the text", text, s.Because)
			}
			if utf8.ValidString(text) && !utf8.ValidString(s.Because) {
				t.Fatalf("SuggestTraps(%q).Because = %q cuts a character", text, s.Because)
			}
			if s.Score < minScore || s.Score > 1 {
				t.Fatalf("SuggestTraps(%q).Score = %v", text, s.Score)
			}
		}
	})
}

// TestEntrySuggestedTraps checks that the journal keeps what the bot suggested apart from
// what the user confirmed, and that entries saved before suggestions were kept still decode.
func TestEntrySuggestedTraps(t *testing.T) {
	s, _ := run(t, State{}, start(FlowReframe, "They think I'm lazy and it's all my fault"), text("skip"), text("skip"), text("skip"), text("skip"))
	if s.Step != StepReframeTraps {
		t.Fatalf("setup step = %v, want %v", s.Step, StepReframeTraps)
	}
	s, rs := run(t, s, text("none"), text("skip"), text("I did my part."), text("Ask what they need."), text("no"), choice("save"))
	if len(rs) == 0 || rs[len(rs)-1].Save == nil {
		t.Fatalf("replies = %v, want a saved reframe", rs)
	}
	e := rs[len(rs)-1].Save
	if want := []string{"mind-reading", "personalising"}; !reflect.DeepEqual(e.SuggestedTraps, want) || e.Traps != nil {
		t.Errorf("saved traps = suggested %v, confirmed %v; want suggested %v, confirmed none", e.SuggestedTraps, e.Traps, want)
	}
	b, err := json.Marshal(e)
	if err != nil || !strings.Contains(string(b), `"suggested_traps":["mind-reading","personalising"]`) || strings.Contains(string(b), `"traps"`) {
		t.Errorf("json.Marshal(entry) = %s, %v; want suggested_traps and no traps", b, err)
	}

	var old Entry
	if err := json.Unmarshal([]byte(`{"flow":3,"created":"2026-03-02T09:01:00Z","story":"s","traps":["labelling"]}`), &old); err != nil {
		t.Fatalf("decoding an entry saved before suggested_traps: %v", err)
	}
	if !reflect.DeepEqual(old.Traps, []string{"labelling"}) || old.SuggestedTraps != nil {
		t.Errorf("old entry = %+v, want its confirmed traps and no suggestions", old)
	}
}
