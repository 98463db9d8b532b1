package bot

import (
	"context"
	"errors"
	"time"

	"github.com/storybot/storybot/flows"
)

// This file holds the data model of coaching (SPEC.md, Micro-practices); the engine (package
// engine) implements the behaviour.
//
// Consent and ownership: a link between a coach and a client is kept on the client's side
// (the client's consent is the source of truth); the coach's side keeps only an index of
// link IDs. Practices, their completions and notes are the client's data, under the client's
// keys. Every coach action reads the client's side and checks, for the coach of the event
// (never an ID from a button), that an accepted link exists, in the coach's own workspace.

// LinkState is where a coaching link stands.
type LinkState string

// The link states. Only LinkAccepted lets a coach assign or see anything.
const (
	LinkPending  LinkState = "pending"  // invited, not yet answered
	LinkAccepted LinkState = "accepted" // the client consented
	LinkDeclined LinkState = "declined" // coach side only: the client said no
	LinkRevoked  LinkState = "revoked"  // coach side only: the client ended the link
	LinkExpired  LinkState = "expired"  // coach side only: the invitation was not answered in time
	LinkGone     LinkState = "gone"     // coach side only: the client erased their data
)

// ReinviteCooldown is how long a coach may not invite someone again after they declined or
// ended the link, unless that person asks the coach to (/story coach ask): no nagging.
const ReinviteCooldown = 30 * 24 * time.Hour

// UnplacedWorkspace is the workspace of platforms whose user keys name none (Discord):
// there, a coach command that names a client needs an Event.Place.
const UnplacedWorkspace = "dm"

// InviteTTL is how long an invitation may wait for an answer.
const InviteTTL = 7 * 24 * time.Hour

// CoachLink is one coach–client link, as kept on the client's side.
type CoachLink struct {
	ID       string    `json:"id"`
	Coach    UserRef   `json:"coach"`
	Client   UserRef   `json:"client"`
	State    LinkState `json:"state"` // LinkPending or LinkAccepted
	Invited  time.Time `json:"invited"`
	Accepted time.Time `json:"accepted,omitzero"`
}

// Expired reports whether a pending link's invitation has lapsed at now.
func (l CoachLink) Expired(now time.Time) bool {
	return l.State == LinkPending && now.Sub(l.Invited) > InviteTTL
}

// CoachEntry is one line of a coach's index of clients. When the client erases their
// data, Client is zeroed and State is LinkGone: the coach's side then names nobody.
type CoachEntry struct {
	LinkID string    `json:"link"`
	Client UserRef   `json:"client,omitzero"`
	State  LinkState `json:"state"`
	Since  time.Time `json:"since"` // when State began
}

// PracticeStatus is whether a practice's reminders run.
type PracticeStatus string

// The practice statuses.
const (
	PracticeActive  PracticeStatus = "active"
	PracticePaused  PracticeStatus = "paused"  // by the client, until they resume
	PracticeStopped PracticeStatus = "stopped" // by the client, for good
)

// Completion is one answer of the client to a practice.
type Completion struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // "done" or "not_today"
}

// MaxCompletions bounds the completions kept per practice (the counters keep counting).
const MaxCompletions = 400

// Practice is a practice assigned to a client, kept on the client's side.
//
// Counting: every reminder opens a slot, which the next reminder closes. A slot closed
// without Done counts as missed ("Not today" is not Done, so it counts as missed too, and
// is also counted on its own). The assignment message opens a first slot that is not a
// reminder, so it never counts as missed. Done counts once per slot. The streak is the
// number of slots in a row with Done, up to the current one; a missed slot resets it when
// the next reminder closes it.
type Practice struct {
	ID      string         `json:"id"`                // unique among the client's practices
	LinkID  string         `json:"link"`              // the link it was assigned under
	Library string         `json:"library,omitempty"` // built-in practice ID; empty: free text
	Text    string         `json:"text,omitempty"`    // the coach's own words, for free text
	Cadence Schedule       `json:"cadence"`
	Until   time.Time      `json:"until,omitzero"` // last local date of reminders (midnight UTC)
	Status  PracticeStatus `json:"status"`

	Assigned     time.Time    `json:"assigned"`
	StatusSince  time.Time    `json:"status_since,omitzero"`
	Done         int          `json:"done"`
	Missed       int          `json:"missed"`
	NotToday     int          `json:"not_today"`
	Streak       int          `json:"streak"`
	LastDone     time.Time    `json:"last_done,omitzero"`
	Reminders    int          `json:"reminders"`
	LastReminder time.Time    `json:"last_reminder,omitzero"`
	SlotReminder bool         `json:"slot_reminder,omitempty"` // the open slot came from a reminder
	SlotDone     bool         `json:"slot_done,omitempty"`     // the open slot has its Done
	Completions  []Completion `json:"completions,omitempty"`
}

// Title is the practice's short name.
func (p Practice) Title() string {
	if lp, ok := LibraryPractice(p.Library); ok {
		return lp.Title
	}
	return Truncate(p.Text, 80)
}

// Ended reports whether the practice's end date is behind the client at now, in loc.
func (p Practice) Ended(now time.Time, loc *time.Location) bool {
	if p.Until.IsZero() {
		return false
	}
	y, m, d := p.Until.Date()
	return !now.In(loc).Before(time.Date(y, m, d+1, 0, 0, 0, 0, loc))
}

// Note is a client's note on a practice: their own words, private unless Shared.
type Note struct {
	ID       string    `json:"id"`
	Practice string    `json:"practice"` // the practice ID
	LinkID   string    `json:"link"`     // the link of the practice: a shared note is shown to that coach only
	Created  time.Time `json:"created"`
	Shared   bool      `json:"shared"`
	Text     string    `json:"text"`
}

// ClientData is a client's side of coaching: their links and their practices, by ID.
type ClientData struct {
	Links     map[string]CoachLink
	Practices map[string]Practice
}

// CoachPending is what a user's next typed line may answer, outside the dialogue.
type CoachPending struct {
	// NoteFor, when set, is the practice the next typed line is a note for.
	NoteFor string `json:"note_for,omitempty"`
	// Offer is the choices of the last coaching message with buttons, so typing a label
	// works too; At is when it was sent.
	Offer []flows.Choice `json:"offer,omitempty"`
	At    time.Time      `json:"at"`
}

// ErrNoCoachLink is returned by an UpdateClient function to abort when the link it needs
// is gone (revoked, never accepted).
var ErrNoCoachLink = errors.New("no accepted coaching link")

// CoachStore keeps coaching links, practices, notes and the small pending markers.
type CoachStore interface {
	// ClientData returns u's client side: links and practices (empty maps when none).
	ClientData(ctx context.Context, u UserRef) (ClientData, error)
	// UpdateClient applies fn to u's client side and saves what it changed, atomically: a
	// concurrent change makes the store call fn again with fresh data. An error from fn is
	// returned as is and nothing is saved.
	UpdateClient(ctx context.Context, u UserRef, fn func(*ClientData) error) error
	// CoachEntries returns the coach's index of clients.
	CoachEntries(ctx context.Context, coach UserRef) ([]CoachEntry, error)
	// PutCoachEntry creates or replaces one entry of the coach's index.
	PutCoachEntry(ctx context.Context, coach UserRef, e CoachEntry) error
	// AddNote stores a note of u's; it expires with the journal retention.
	AddNote(ctx context.Context, u UserRef, n Note) error
	// ShareNote sets whether u's note id is shared; false when the note is gone.
	ShareNote(ctx context.Context, u UserRef, id string, shared bool) (bool, error)
	// Notes returns u's notes that have not expired, oldest first.
	Notes(ctx context.Context, u UserRef) ([]Note, error)
	// Pending returns u's pending marker; none is the zero value and false.
	Pending(ctx context.Context, u UserRef) (CoachPending, bool, error)
	// SetPending replaces u's pending marker (the zero value removes it).
	SetPending(ctx context.Context, u UserRef, p CoachPending) error
	// Ended returns, on client u's side, when each coach's link last ended by u's choice
	// (declined or revoked): the re-invite cooldown, and the coaches whose index names u.
	Ended(ctx context.Context, u UserRef) (map[UserRef]time.Time, error)
	// SetEnded records that u ended coach's link at at; the zero time records that u asked
	// coach to invite them (the cooldown is lifted, the record kept for erasure).
	SetEnded(ctx context.Context, u, coach UserRef, at time.Time) error
}
