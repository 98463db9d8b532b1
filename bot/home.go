package bot

import (
	"strings"

	"github.com/storybot/storybot/flows"
)

// A home is a page of the bot's own that only its user sees, on platforms that have one
// (Slack's App Home tab). The engine decides what it shows (HomeView) and when it is
// published (when the user opens it, after a save, after /story forget); an adapter renders
// it, or ignores it where the platform has no such page (Discord, the console).
//
// A home is often on screen in a meeting, so it never holds the user's words: entries are
// listed by date and kind, and their words come only when the user presses Show, in their DM.

// The choice IDs of a home's buttons. They are engine-level, like the forget confirmation:
// no dialogue is touched by pressing them.
const (
	ChoiceHomePause = "home:pause" // start a Pause in the DM
	ChoiceHomeQuick = "home:quick" // open the quick pause form (needs the click's trigger)
	// ChoiceHomeShowPrefix starts the ID of an entry's Show button; the entry ID follows.
	ChoiceHomeShowPrefix = "home:show:"
)

// IsHomeChoice reports whether id is the choice ID of a home button.
func IsHomeChoice(id string) bool { return strings.HasPrefix(id, "home:") }

// HomeView is what a user's home shows. Every string in it is the engine's wording, dates
// and kinds: none holds text the user wrote.
type HomeView struct {
	// Intro is the line at the top.
	Intro string
	// Actions are the buttons under it (Start a pause, Quick pause).
	Actions []flows.Choice
	// Checkin is the next check-in, "" when none is scheduled.
	Checkin string
	// Checkbacks are the pending check-backs, soonest first, by date and kind.
	Checkbacks []string
	// EntriesTitle heads the entries (or says there are none).
	EntriesTitle string
	// Entries are the newest journal entries, newest first, each with its Show button.
	Entries []HomeEntry
	// Privacy is the privacy line at the foot.
	Privacy string
}

// HomeEntry is one journal entry on a home: its date and kind, and the button that sends its
// words to the DM.
type HomeEntry struct {
	Label string
	Show  flows.Choice
}

// HomeShower is implemented by a Sender whose platform shows homes for some users. The
// engine asks it before building a home view, so platforms without one cost nothing.
type HomeShower interface {
	// ShowsHome reports whether u's platform shows a home.
	ShowsHome(u UserRef) bool
}

// ShowsHome implements HomeShower: the sender of u's platform decides.
func (p PlatformSenders) ShowsHome(u UserRef) bool {
	hs, ok := p[u.Platform].(HomeShower)
	return ok && hs.ShowsHome(u)
}

// ShowsHome implements HomeShower for the sender behind the guard.
func (g *Guard) ShowsHome(u UserRef) bool {
	hs, ok := g.next.(HomeShower)
	return ok && hs.ShowsHome(u)
}

var (
	_ HomeShower = PlatformSenders(nil)
	_ HomeShower = (*Guard)(nil)
)
