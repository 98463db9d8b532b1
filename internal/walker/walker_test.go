package walker

import "testing"

func TestAnswer(t *testing.T) {
	for prompt, want := range map[string]string{
		"Here's your quick pause.\nSave it to your journal?":                  "Save to journal",
		"You have a pause open. Continue where you left off, or start fresh?": "Start fresh",
		"You wrote “they think”. What else could be true?":                    "They had another meeting.",
		"How strong is the feeling right now, from 0 to 10? Or type skip.":    "5",
		"What are you feeling? Pick one, or type your own word.":              "anxious",
		"What's happening? One line, only what a camera would record.":        "Sam closed the laptop while I was talking.",
		"When shall I check back on how it went? Or type skip.":               "No check-back",
		"Finish this sentence: the story I'm telling myself is…":              "They think I'm slow.",
		"What's one next step — something you'll do or say?":                  "Ask them after the call.",
		"What more do I need to learn?":                                       "Not sure yet.",
	} {
		if got := Answer(prompt); got != want {
			t.Errorf("Answer(%q) = %q, want %q", prompt, got, want)
		}
	}
}
