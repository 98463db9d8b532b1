package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/flows"
)

func TestThemes(t *testing.T) {
	e := func(what, story, next string) flows.Entry {
		return flows.Entry{Flow: flows.FlowPause, What: what, Story: story, Next: next}
	}
	tests := []struct {
		name    string
		entries []flows.Entry
		self    []string
		want    []Theme
	}{
		{
			name: "a name in two stories",
			entries: []flows.Entry{
				e("In standup Sam looked away.", "Sam thinks my work is sloppy.", "Ask Sam for ten minutes"),
				e("", "The launch will flop and Sam's team will blame me.", ""),
				e("", "Nobody read my draft.", ""),
			},
			want: []Theme{{Word: "Sam", Entries: 2, Person: true}},
		},
		{
			name: "stop words never count, however often",
			entries: []flows.Entry{
				e("", "They always think that I should have known.", ""),
				e("", "They always think that I should have known better.", ""),
			},
			want: []Theme{{Word: "better", Entries: 1}}[:0],
		},
		{
			name: "days, months and times of day are not themes",
			entries: []flows.Entry{
				e("Sam moved my 1:1 to Thursday again", "Sam doesn't care", "Ask on Monday morning"),
				e("", "Priya will hate the March plan", "Share one idea in Thursday's 1:1 on Monday morning"),
			},
			want: []Theme{{Word: "1:1", Entries: 2}}[:0],
		},
		{
			name: "a word from a single entry never counts, even repeated",
			entries: []flows.Entry{
				e("deadline deadline deadline", "The deadline is impossible.", ""),
				e("", "Priya ignored me.", ""),
			},
		},
		{
			name: "the user's own name never counts",
			entries: []flows.Entry{
				e("", "Alex, you idiot, you missed the budget again.", ""),
				e("", "Alex always misses the budget.", ""),
			},
			self: []string{"Alex"},
			want: []Theme{{Word: "budget", Entries: 2}},
		},
		{
			name: "numbers, short words and case",
			entries: []flows.Entry{
				e("", "The Q3 numbers at 10 am: Budget is off by 20%.", ""),
				e("", "the budget review is at 10 and HR is in it", ""),
			},
			want: []Theme{{Word: "budget", Entries: 2}},
		},
		{
			name: "most entries first, names before words on a tie",
			entries: []flows.Entry{
				e("", "the deadline slipped and Priya frowned", ""),
				e("", "the deadline again, and Priya", ""),
				e("", "deadline", ""),
			},
			want: []Theme{{Word: "deadline", Entries: 3}, {Word: "Priya", Entries: 2, Person: true}},
		},
		{name: "empty journal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Themes(tt.entries, tt.self, 5)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Themes(%s) = %+v, want %+v", tt.name, got, tt.want)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	var got []string
	for _, tok := range tokenize("Sam’s follow-up: don't ask Sam's boss, O'Neil!") {
		got = append(got, tok.text)
	}
	want := []string{"Sam", "follow-up", "don't", "ask", "Sam", "boss", "O'Neil"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tokenize = %q, want %q", got, want)
	}
}

// TestDigestThemeTruth: how true the stories that name a recurring person turned out, once
// two answers say; a name only in a next step does not make a story about them.
func TestDigestThemeTruth(t *testing.T) {
	now := time.Date(2026, 3, 8, 18, 0, 0, 0, time.UTC)
	n := func(v int) *int { return &v }
	answered := func(daysAgo int, story, next string, howTrue int) flows.Entry {
		at := now.Add(-time.Duration(daysAgo) * 24 * time.Hour)
		return flows.Entry{Flow: flows.FlowQuick, Created: at, Story: story, Next: next,
			FollowUp: &flows.FollowUp{Outcome: flows.OutcomeDone, HowTrue: n(howTrue), At: at.Add(time.Hour)}}
	}
	entries := []flows.Entry{
		answered(1, "Sam thinks I'm slow", "Ask Priya", 1),
		answered(12, "Sam ignored my idea", "Share it again", 2),
		answered(20, "The launch will flop", "Ask Sam and Priya", 9),
		answered(25, "Priya is annoyed", "Ask her", 4),
	}
	got := DigestFor(entries, now, nil)
	if want := "Looking back, your stories about Sam this month turned out 1.5 out of 10 true (2 answers)."; !strings.Contains(got, want) {
		t.Errorf("Digest lacks %q:\n%s", want, got)
	}
	if strings.Contains(got, "stories about Priya") {
		t.Errorf("Digest says how true stories about Priya were, from one story about her:\n%s", got)
	}
	// One answer is not a pattern.
	if got := DigestFor(entries[:2:2][:1], now, nil); strings.Contains(got, "stories about") {
		t.Errorf("Digest from one answer:\n%s", got)
	}
}

// TestDigestInsights: a week with follow-up outcomes, a month with a recurring name, traps
// only when confirmed.
func TestDigestInsights(t *testing.T) {
	now := time.Date(2026, 3, 8, 18, 0, 0, 0, time.UTC)
	n := func(v int) *int { return &v }
	entries := []flows.Entry{ // newest first
		{Flow: flows.FlowQuick, Created: now.Add(-2 * time.Hour), Story: "Sam thinks I'm slow", Next: "Ask Sam for ten minutes",
			FollowUp: &flows.FollowUp{Outcome: flows.OutcomeDone, HowTrue: n(2), At: now.Add(-time.Hour)}},
		{Flow: flows.FlowQuick, Created: now.Add(-30 * time.Hour), Story: "they all think the launch will flop", Next: "Send the draft",
			FollowUp: &flows.FollowUp{Outcome: flows.OutcomeNotYet, At: now.Add(-20 * time.Hour)}},
		{Flow: flows.FlowReframe, Created: now.Add(-40 * time.Hour), Story: "x", Traps: []string{"fortune-telling"}, Next: "Breathe",
			FollowUp: &flows.FollowUp{Outcome: flows.OutcomeDone, HowTrue: n(5), At: now.Add(-10 * time.Hour)}},
		{Flow: flows.FlowPause, Created: now.Add(-20 * 24 * time.Hour), Story: "Sam ignored my message", Next: "old"},
	}
	got := DigestFor(entries, now, []string{"U123"})
	for _, want := range []string{
		"2 pauses and 1 reframe this week", "Next steps you chose: 3; done so far: 2", "Ask Sam for ten minutes — done", "Send the draft — not yet",
		"3.5 out of 10 true on average (2 answers)", "What keeps coming back this month: Sam (2 stories)", "fortune telling (1)",
	} {
		if !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			t.Errorf("Digest lacks %q:\n%s", want, got)
		}
	}
	// "they all think the launch will flop" suggests traps the user never confirmed.
	if strings.Contains(got, "mind reading") || strings.Contains(got, "all-or-nothing") {
		t.Errorf("Digest counts traps the user did not confirm:\n%s", got)
	}
	if strings.Contains(got, "old") {
		t.Errorf("Digest lists a next step from three weeks ago:\n%s", got)
	}
}
