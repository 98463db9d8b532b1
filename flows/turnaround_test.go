package flows

import (
	"strings"
	"testing"
)

// TestTurnarounds runs the turnaround builder over stories people bring, the way they
// wrote them. An empty want means the rules must not offer that kind: a broken sentence is
// worse than asking the user to try one.
func TestTurnarounds(t *testing.T) {
	tests := []struct {
		story                 string
		self, other, opposite string
	}{
		{"Sam doesn't listen to me.", "I don't listen to myself.", "I don't listen to Sam.", "Sam does listen to me."},
		{"My manager doesn't trust me", "I don't trust myself.", "I don't trust my manager.", "My manager does trust me."},
		{"They think I'm slow", "I think I'm slow.", "I think they're slow.", "They think I'm not slow."},
		{"She thinks I'm incompetent.", "I think I'm incompetent.", "I think she's incompetent.", "She doesn't think I'm incompetent."},
		{"He ignored my point in standup.", "I ignored my point in standup.", "I ignored his point in standup.", ""},
		{"They think my project doesn't matter.", "I think my project doesn't matter.", "I think their project doesn't matter.", "They think my project does matter."},
		{"Sam hates me", "I hate myself.", "I hate Sam.", "Sam doesn't hate me."},
		{"My boss is angry with me.", "I'm angry with myself.", "I'm angry with my boss.", "My boss isn't angry with me."},
		{"The client doesn't respect my time.", "I don't respect my time.", "I don't respect the client's time.", "The client does respect my time."},
		{"They always ignore me in standups.", "I always ignore myself in standups.", "I always ignore them in standups.", ""},
		{"She's annoyed with me", "I'm annoyed with myself.", "I'm annoyed with her.", "She's not annoyed with me."},
		{"Priya never asks for my opinion.", "I never ask for my opinion.", "I never ask for Priya's opinion.", ""},
		{"They don't value my work", "I don't value my work.", "I don't value their work.", "They do value my work."},
		{"Everyone thinks I'm a fraud.", "", "", "Not everyone thinks I'm a fraud."},
		{"I'm an idiot.", "", "", "I'm not an idiot."},
		{"I'm not good enough.", "", "", "I'm good enough."},
		{"I'm going to get fired.", "", "", "I'm not going to get fired."},
		{"This launch is going to be a disaster.", "", "", "This launch isn't going to be a disaster."},
		{"I can't do anything right.", "", "", "I can do anything right."},
		{"Nobody listens to me.", "", "", "Somebody listens to me."},
		{"I should have caught that bug.", "", "", "I shouldn't have caught that bug."},
		{"I'll never get promoted.", "", "", ""},
		{"Everything I touch lately goes wrong.", "", "", ""},
		{"I'm an idiot, I should have caught that bug.", "", "", ""},
		{"She is angry with me because I missed her deadline.", "I'm angry with myself because I missed her deadline.", "", "She isn't angry with me because I missed her deadline."},
		{"My manager thinks I'm lazy because I always leave at five.", "I think I'm lazy because I always leave at five.", "", "My manager doesn't think I'm lazy because I always leave at five."},
		{"Sam’s team doesn’t care about deadlines", "", "", "Sam’s team does care about deadlines."},
		{"He doesn’t respect me", "I don’t respect myself.", "I don’t respect him.", "He does respect me."},
		{"ok", "", "", ""},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.story, func(t *testing.T) {
			got := map[string]string{}
			for _, ta := range Turnarounds(tt.story) {
				if _, dup := got[ta.Kind]; dup {
					t.Errorf("Turnarounds(%q) has two of kind %s", tt.story, ta.Kind)
				}
				got[ta.Kind] = ta.Text
			}
			for _, c := range []struct{ kind, want string }{{TurnSelf, tt.self}, {TurnOther, tt.other}, {TurnOpposite, tt.opposite}} {
				if got[c.kind] != c.want {
					t.Errorf("Turnarounds(%q)[%s] = %q, want %q", tt.story, c.kind, got[c.kind], c.want)
				}
			}
		})
	}
}

// TestTurnaroundsKeepTheUsersWords checks that every turnaround of a story is built from its
// words: only pronouns, "I"-forms of verbs and negations change.
func TestTurnaroundsKeepTheUsersWords(t *testing.T) {
	changeable := map[string]bool{"i": true, "i'm": true, "me": true, "myself": true, "my": true, "not": true}
	for _, story := range []string{"Sam doesn't listen to me.", "The client doesn't respect my time.", "They think I'm slow"} {
		words := map[string]bool{}
		for _, w := range splitWords(story) {
			words[w.low()] = true
		}
		for _, ta := range Turnarounds(story) {
			for _, w := range splitWords(ta.Text) {
				lw := w.low()
				if !words[lw] && !changeable[lw] && !strings.Contains(lw, "'") && !strings.HasSuffix(lw, "s") && !words[lw+"s"] {
					switch lw {
					case "do", "does", "don't", "doesn't", "am", "is", "isn't", "they're", "them", "their", "him", "her", "his", "sam", "client's":
					default:
						t.Errorf("Turnarounds(%q) %s = %q brings in %q", story, ta.Kind, ta.Text, w.word)
					}
				}
			}
		}
	}
}

// TestAboutOther checks the rule that decides whether the pause offers a way to say the
// story out loud to someone: stories about another person do, stories about oneself, a
// thing or a crowd do not.
func TestAboutOther(t *testing.T) {
	tests := []struct {
		story string
		want  bool
	}{
		{"They think my project doesn't matter.", true},
		{"they ignored my point in standup", true},
		{"He thinks I'm slow", true},
		{"She's annoyed with me and I'll have to redo everything.", true},
		{"Sam doesn't respect me", true},
		{"Sam’s ignoring me", true},
		{"I think Priya is angry with me", true},
		{"My manager doesn't trust me", true},
		{"The client hates our design", true},
		{"our CEO thinks engineering is slow", true},
		{"Her silence means I messed up", true},
		{"I'm worried Jo will say no", true},
		{"I'm an idiot.", false},
		{"I'm going to get fired.", false},
		{"I always mess up demos", false},
		{"The project is doomed", false},
		{"Everyone is bored by my update.", false},
		{"Nobody cares about my work", false},
		{"This launch is going to be a disaster.", false},
		{"I'll never be good enough for this team", false},
		{"Everything I touch lately goes wrong.", false},
		{"Monday will be a mess", false},
		{"Honestly I'm failing at this", false},
		{"I'm falling behind everyone.", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := AboutOther(tt.story); got != tt.want {
			t.Errorf("AboutOther(%q) = %v, want %v", tt.story, got, tt.want)
		}
	}
}

// TestStoryClause checks the story as it reads after "The story I'm making up is that".
func TestStoryClause(t *testing.T) {
	tests := []struct{ story, want string }{
		{"They think my project doesn't matter.", "they think my project doesn't matter"},
		{"Sam doesn't respect me!", "Sam doesn't respect me"},
		{"I'm not good enough…", "I'm not good enough"},
		{"My manager thinks I'm lazy", "my manager thinks I'm lazy"},
		{"She's annoyed with me.", "she's annoyed with me"},
	}
	for _, tt := range tests {
		if got := storyClause(tt.story); got != tt.want {
			t.Errorf("storyClause(%q) = %q, want %q", tt.story, got, tt.want)
		}
	}
}

// FuzzTurnarounds checks that no story panics the builder, that every turnaround is one
// non-empty sentence of a known kind, and that the say-it-out-loud rule never panics.
func FuzzTurnarounds(f *testing.F) {
	for _, seed := range []string{"Sam doesn't listen to me.", "They think I'm slow", "I'm an idiot.", "Nobody listens to me.",
		"She's annoyed with me", "’", "I I I", "my manager", "He", "no one cares", "not not", "I'm"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, story string) {
		_ = AboutOther(story)
		_ = storyClause(story)
		for _, ta := range Turnarounds(story) {
			if ta.Text == "" || turnaroundLabels[ta.Kind] == "" {
				t.Fatalf("Turnarounds(%q) = %+v", story, ta)
			}
		}
	})
}
