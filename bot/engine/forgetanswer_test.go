package engine

import (
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
)

// forgetAnswerRef is forgetAnswer's typed branch as it was written first (lower, trim,
// compare): forgetAnswer now skips long texts without copying them, and must agree.
func forgetAnswerRef(text string) (answer, yes bool) {
	t := strings.Trim(strings.ToLower(strings.TrimSpace(text)), ".!)")
	switch t {
	case strings.ToLower(choiceForgetYes.Label), "1", "yes", "y", "erase", "erase it", "yes, erase everything":
		return true, true
	case strings.ToLower(choiceForgetNo.Label), "2", "no", "n", "keep", "keep it", "cancel":
		return true, false
	}
	return false, false
}

var forgetAnswerTexts = []string{
	"Erase everything", "  YES!!! ", "Keep My Data)", "yes, erase everything", "Yes, Erase Everything...",
	"2", "1.", "no thanks", "n", "Cancel!", "They might just be busy today.", "", "!!!", "ERASE IT",
	"\u212Aeep", "KEEP\u0130T", "yes, erase everything and more", "\xffyes", "keep it\xff",
}

func TestForgetAnswer(t *testing.T) {
	for _, text := range forgetAnswerTexts {
		gotA, gotY := forgetAnswer(bot.Event{Kind: bot.EventText, Text: text})
		wantA, wantY := forgetAnswerRef(text)
		if gotA != wantA || gotY != wantY {
			t.Errorf("forgetAnswer(%q) = %v, %v, want %v, %v", text, gotA, gotY, wantA, wantY)
		}
	}
	if a, y := forgetAnswer(bot.Event{Kind: bot.EventText, Text: "Yes, erase everything."}); !a || !y {
		t.Errorf("forgetAnswer(the yes label typed) = %v, %v, want true, true", a, y)
	}
}

func FuzzForgetAnswer(f *testing.F) {
	for _, text := range forgetAnswerTexts {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		gotA, gotY := forgetAnswer(bot.Event{Kind: bot.EventText, Text: text})
		wantA, wantY := forgetAnswerRef(text)
		if gotA != wantA || gotY != wantY {
			t.Fatalf("forgetAnswer(%q) = %v, %v, want %v, %v", text, gotA, gotY, wantA, wantY)
		}
	})
}
