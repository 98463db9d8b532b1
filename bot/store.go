package bot

import (
	"context"
	"errors"
	"time"

	"github.com/storybot/storybot/flows"
)

// UserRef names one user of one workspace (Slack team) or guild on one platform. Every piece
// of private data is keyed by it. Discord DMs have no guild: Workspace is "dm" there, so a
// user's data is the same wherever they invoke the bot from.
type UserRef struct {
	Platform  string `json:"platform"`  // "slack", "discord", "console"
	Workspace string `json:"workspace"` // Slack team ID, Discord guild ID or "dm"
	User      string `json:"user"`      // the platform's user ID
}

// String returns the ref as platform:workspace:user, for keys and log lines (IDs are not
// user text).
func (u UserRef) String() string { return u.Platform + ":" + u.Workspace + ":" + u.User }

// ErrConflict is returned by a DialogueStore when a turn kept losing races with other
// turns of the same user and gave up.
var ErrConflict = errors.New("dialogue changed concurrently")

// TurnFunc computes a user's next dialogue state from the stored one (the zero State when none
// is stored). It returns the entry to append to the journal, if any. It must be pure: a store
// may call it again with a fresher state when another turn won a race.
type TurnFunc func(current flows.State) (next flows.State, save *flows.Entry, err error)

// DialogueStore keeps dialogue state and the journal.
type DialogueStore interface {
	// Turn applies fn to the user's stored state and saves the result, together with the
	// entry fn returns, in one atomic operation: two turns of one user never lose an
	// update or apply one twice. An error from fn is returned as is and nothing is saved.
	Turn(ctx context.Context, u UserRef, fn TurnFunc) error
	// Journal returns the user's newest journal entries, newest first, at most n.
	Journal(ctx context.Context, u UserRef, n int) ([]flows.Entry, error)
	// Dialogue returns the user's stored dialogue without changing it; a user with none
	// has the zero State and false.
	Dialogue(ctx context.Context, u UserRef) (flows.State, bool, error)
	// Entry returns one journal entry by ID; an entry that does not exist (never saved,
	// expired, erased) is (zero, false, nil).
	Entry(ctx context.Context, u UserRef, id string) (flows.Entry, bool, error)
	// UpdateEntry applies fn to the stored entry and saves the result in one atomic
	// operation (a concurrent update is never lost), keeping its expiry. A missing entry
	// reports false and calls nothing; an error from fn is returned as is, nothing saved.
	// fn may be called more than once and must not change the entry's ID or Created.
	UpdateEntry(ctx context.Context, u UserRef, id string, fn func(*flows.Entry) error) (bool, error)
}

// PlanStore keeps each user's safety plan (/story safety-plan): their own words, kept like
// the journal (encrypted at rest, expiring with the retention period, exported, erased by
// /story forget) and never shown to anyone but them.
type PlanStore interface {
	// SafetyPlan returns the user's plan; a user with none has the zero plan and false.
	SafetyPlan(ctx context.Context, u UserRef) (flows.SafetyPlan, bool, error)
	// SavePlan replaces the user's plan. Saving the same plan twice is harmless.
	SavePlan(ctx context.Context, u UserRef, p flows.SafetyPlan) error
}

// Eraser erases one kind of data about a user, for /story forget. Forget must be
// idempotent: erasing what is already gone succeeds.
type Eraser interface {
	Forget(ctx context.Context, u UserRef) error
}

// Merger moves one kind of data kept under an old reference of a person into their current
// one: the one-time migration of data keyed by a team id that was not the person's own (see
// Event.Alias). Merging what is already merged, or an empty from, succeeds and changes
// nothing; where both refs hold a value, the one under to wins.
type Merger interface {
	Merge(ctx context.Context, from, to UserRef) error
}

// ExportPart contributes one named section to a user's data export (/story export).
// The value is encoded as JSON under its name.
type ExportPart interface {
	ExportPart(ctx context.Context, u UserRef) (name string, value any, err error)
}

// Profile is what the bot remembers about a user outside dialogues.
type Profile struct {
	Welcomed bool   `json:"welcomed,omitempty"` // the first-use welcome was shown
	TZ       string `json:"tz,omitempty"`       // IANA zone; empty: platform default
	// TZFromPlatform is true when TZ came from the platform profile, not from /story tz.
	TZFromPlatform bool `json:"tz_from_platform,omitempty"`
	// ForgetAsked is when the user last asked /story forget and has not yet confirmed or
	// cancelled; zero otherwise. The confirmation counts only shortly after.
	ForgetAsked time.Time `json:"forget_asked,omitzero"`
	// NoFollowups is true after /story followups off: no check-back is offered or sent.
	NoFollowups bool `json:"no_followups,omitempty"`
	// HomeOpened is true once the user has opened their home (Slack's App Home tab): only
	// then is it republished after a save. Only MarkHomeOpened sets it; SaveProfile keeps
	// it, so a save racing an open on another replica never loses it; erasure clears it.
	// Profiles stored before it existed read false: the next open sets it.
	HomeOpened bool `json:"home_opened,omitempty"`
}

// ProfileStore keeps profiles.
type ProfileStore interface {
	// Profile returns the user's profile; a user never seen has the zero Profile and false.
	Profile(ctx context.Context, u UserRef) (Profile, bool, error)
	// SaveProfile replaces the user's profile, except that a HomeOpened already recorded
	// stays (see Profile.HomeOpened).
	SaveProfile(ctx context.Context, u UserRef, p Profile) error
	// MarkWelcomed records that the user has seen the welcome, and reports whether this
	// call was the first to do so (exactly one of several racing callers gets true).
	MarkWelcomed(ctx context.Context, u UserRef) (first bool, err error)
	// SetPlatformTZ records the zone from the platform's profile, only if the user has no
	// zone yet (atomically: it never overwrites one set with /story tz), and reports
	// whether it did.
	SetPlatformTZ(ctx context.Context, u UserRef, tz string) (bool, error)
	// MarkHomeOpened records that the user has opened their home (Profile.HomeOpened) and
	// reports whether it is recorded now. With ifKnown it records nothing, and reports
	// false, for a user who has no profile: merely opening a home must not create data
	// about someone the bot never met.
	MarkHomeOpened(ctx context.Context, u UserRef, ifKnown bool) (bool, error)
}

// ZoneFinder reads a user's time zone from their platform profile (Slack's users.info tz).
// An empty zone and nil mean the platform has none for them.
type ZoneFinder interface {
	PlatformZone(ctx context.Context, u UserRef) (string, error)
}

// PlatformZones routes a zone look-up to the finder of the user's platform; platforms
// without one (Discord, the console) have no profile zone.
type PlatformZones map[string]ZoneFinder

var _ ZoneFinder = PlatformZones(nil)

// PlatformZone asks the finder of u's platform, if any.
func (p PlatformZones) PlatformZone(ctx context.Context, u UserRef) (string, error) {
	f, ok := p[u.Platform]
	if !ok {
		return "", nil
	}
	return f.PlatformZone(ctx, u)
}

// Deduper remembers IDs of platform events already handled, so that retried or duplicated
// deliveries are handled once.
type Deduper interface {
	// FirstSeen records id and reports whether no earlier call recorded it within ttl.
	FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error)
}

// Pinger reports whether the store answers (for /readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// ErrUserGone is returned (wrapped) by a Sender when the platform says the user no longer
// exists or was deactivated (Slack user_not_found, account_inactive; Discord Unknown User):
// the engine then cancels that user's schedules. Their data stays until retention or forget.
var ErrUserGone = errors.New("the platform says this user is gone")

// WorkspaceHandler is told when a platform says a workspace is gone: the app was
// uninstalled or its tokens revoked. The engine implements it and stops that workspace's
// scheduled jobs; an adapter calls it when its handler has it.
type WorkspaceHandler interface {
	WorkspaceGone(ctx context.Context, platform string, workspaces []string) error
}
