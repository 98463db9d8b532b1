package bot

import ()

// LibraryEntry is a built-in practice a coach may assign by ID.
type LibraryEntry struct {
	ID          string
	Title       string
	Instruction string // one line: what to do
	Why         string // one line: why it helps
}

// library is the built-in practices, in the order /story practices library lists them.
// The wording follows SPEC.md's voice: warm, brief, plain text, no advice beyond the
// practice itself.
var library = []LibraryEntry{
	{"name-the-story", "Name the story",
		"When something stings, finish the sentence: “The story I'm telling myself is…”",
		"Calling a story a story puts a little space between you and it."},
	{"facts-vs-story", "Facts vs story",
		"Write down what a camera would have recorded, then the story you added to it.",
		"Seeing the two side by side shows how much of the sting is the story."},
	{"three-other-explanations", "Three other explanations",
		"For one story today, find three other explanations that could also be true.",
		"A mind that has other options loosens its grip on the first one."},
	{"pause-before-replying", "Pause before replying",
		"Before answering something that annoyed you, take three slow breaths.",
		"Three breaths are often enough to answer the person rather than the story."},
	{"where-do-i-feel-it", "Where do I feel it?",
		"When a strong feeling comes, notice where it sits in your body and name it.",
		"Noticing the body is a quick way back to the present moment."},
	{"one-curious-question", "One curious question",
		"In one tense conversation today, ask one question you don't know the answer to.",
		"Curiosity invites new facts, and new facts change stories."},
	{"five-minute-first-draft", "Five-minute first draft",
		"Set a timer for five minutes and write whatever is on your mind, unedited.",
		"Getting the messy draft out of your head makes it easier to look at."},
	{"self-compassion-sentence", "A self-compassion sentence",
		"When you're hard on yourself, say what you'd say to a friend in your place.",
		"Kindness toward yourself makes it easier to look honestly at what happened."},
}

// Library returns the built-in practices.
func Library() []LibraryEntry { return append([]LibraryEntry(nil), library...) }

// LibraryPractice returns the built-in practice with the given ID.
func LibraryPractice(id string) (LibraryEntry, bool) {
	for _, p := range library {
		if p.ID == id {
			return p, true
		}
	}
	return LibraryEntry{}, false
}
