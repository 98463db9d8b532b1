// Package walker answers storybot's prompts with plausible replies, so that replica tests and
// the soak tool can walk a whole Pause or quick pause to the journal whatever optional steps
// the dialogue has, without replaying a fixed script that breaks when a step is added.
package walker

import "strings"

// Answer returns a reply to the bot's last prompt of a Pause or quick pause.
func Answer(prompt string) string {
	p := strings.ToLower(prompt)
	switch {
	case strings.Contains(p, "save it to your journal") || strings.Contains(p, "save to journal"):
		return "Save to journal"
	case strings.Contains(p, "start fresh"):
		return "Start fresh"
	case strings.Contains(p, "what else"):
		return "They had another meeting."
	case strings.Contains(p, "0–10") || strings.Contains(p, "0-10") || strings.Contains(p, "0 to 10"):
		return "5"
	case strings.Contains(p, "feeling"):
		return "anxious"
	case strings.Contains(p, "what's happening"):
		return "Sam closed the laptop while I was talking."
	case strings.Contains(p, "check back"):
		return "No check-back"
	case strings.Contains(p, "story i'm telling myself"):
		return "They think I'm slow."
	case strings.Contains(p, "next step"):
		return "Ask them after the call."
	}
	return "Not sure yet."
}
