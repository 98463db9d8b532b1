// Package flows holds storybot's dialogues — Pause, Quick pause and Reframe — as pure,
// platform-neutral state machines.
//
// A dialogue is a State that encodes to JSON (it is kept in Redis between turns), stepped by
// Machine.Step with one Input at a time, producing the next State and the Replies to show.
// Nothing here does I/O, reads a clock (the time arrives in the Input), or knows a platform:
// the same State is driven by Slack, Discord and the terminal console.
package flows

import "time"

// StateVersion is the version of the State encoding. Bump it when State changes shape in a
// way older code cannot read, and teach Machine.Step to upgrade older states.
//
// Version 2 added steps (the rumble, the check-back, the reframe's belief ratings, trap list,
// turnaround, example and next step) and fields; a version 1 state reads as it always did.
const StateVersion = 2

// MaxAnswerRunes is the longest answer accepted, in characters. Longer answers are refused
// with a request to shorten them, and the dialogue stays where it was.
const MaxAnswerRunes = 3000

// ParkAfter is how long a dialogue may sit idle before it is parked: the next input is met
// with "continue where you left off, or start fresh?".
const ParkAfter = 30 * time.Minute

// Flow names a dialogue.
type Flow int

// The dialogues.
const (
	FlowNone     Flow = iota // no dialogue open
	FlowPause                // the full story check
	FlowQuick                // story, other stories, next step
	FlowReframe              // the four questions and the thought record
	FlowCheckin              // a scheduled check-in: one question with four choices
	FlowFollowup             // a check-back on a saved next step: did it happen?
)

// Step is one prompt of a dialogue. Steps are stored in Redis by number: append new steps at
// the end of the list, never reorder.
type Step int

// The steps of every dialogue.
const (
	StepNone Step = iota

	// Pause (and Quick, which uses StepStory, StepOthers, StepNext and StepSummary).
	StepWhat          // what's happening, as a camera would record it
	StepStory         // "The story I'm telling myself is…"
	StepFeeling       // the feeling, by button or word
	StepFeelingOther  // the word for "other"
	StepStrength      // the feeling's strength, 0–10, skippable
	StepFacts         // what do I know for sure?
	StepOthers        // what else could be true?
	StepNext          // one next step
	StepStrengthAfter // the strength again, 0–10, skippable
	StepSummary       // save / discard / go deeper

	// Reframe.
	StepReframeStory      // the story (carried over, or typed)
	StepReframeTrue       // is it true?
	StepReframeAbsolutely // can you absolutely know it's true?
	StepReframeReact      // how do you react when you believe it?
	StepReframeTraps      // confirm, pick or decline the suggested thinking traps
	StepReframeWithout    // who would you be without the story? a kinder, more accurate story
	StepReframeSummary    // save / discard

	// Between dialogues.
	StepResumeOffer // continue where you left off, or start fresh?

	// Check-in.
	StepCheckin // "What story are you carrying today?"

	// Added in state version 2; numbers above are unchanged.
	StepRumble             // pause: what more do I need to learn? (optional)
	StepCheckBack          // pause, quick and reframe: when shall I check back?
	StepReframeBelief      // how much do you believe the story, 0–10 (skippable)
	StepReframeTrapList    // the full list of thinking traps, on request
	StepReframeTurnaround  // the story turned around: pick one, or write your own
	StepReframeExample     // one example of how the turnaround could be as true
	StepReframeNext        // one next step
	StepReframeBeliefAfter // the belief again, 0–10 (skippable)

	// Follow-up (follow-through on a saved next step).
	StepFollowupAsk   // "On Tuesday you planned: “…” Did it happen?" Done / Not yet / Changed my mind
	StepFollowupFound // what did you find out? (optional)
	StepFollowupTrue  // looking back, how true was the first story, 0–10? (optional)
	StepFollowupAgain // not yet: shall I ask once more tomorrow?
)

// Input is one thing the user did: start a dialogue, type a line, or press a button.
// Exactly one of Start, Text and Choice is set. Now is the time of the input; flows never
// reads a clock.
type Input struct {
	Now    time.Time
	Start  *Start // a command that opens a dialogue
	Text   string // a typed line
	Choice string // the ID of a pressed button (a Choice.ID)
	// Location is the user's time zone, for reading "tomorrow" or "at 16:00" at the
	// check-back step (State.WantsLocation says when it matters). Nil means UTC.
	Location *time.Location
}

// Start asks to open a dialogue, with optional inline text from the command
// ("/story pause they ignored my point" carries "they ignored my point").
type Start struct {
	Flow Flow   `json:"flow"`
	Text string `json:"text,omitempty"`
	// Entry is the journal entry a FlowFollowup asks about: its ID, Created (in the user's
	// zone: the prompt names that day), Next and FollowUp so far.
	Entry *Entry `json:"entry,omitempty"`
	// NoCheckBack is the user's preference (/story followups off), which the caller reads
	// when a dialogue starts: the dialogue, and any it leads to, offers no check-back.
	NoCheckBack bool `json:"no_check_back,omitempty"`
	// Request names the request that asks for this start (a short hash of a slash command's
	// identity: the platform's trigger and signature time), so that the same request again
	// while the dialogue it started is open changes nothing (Machine.Step). Empty: every
	// start is new.
	Request string `json:"request,omitempty"`
}

// ReplyKind tells an adapter what a reply is, so it can render it well; every reply also
// reads well as plain text.
type ReplyKind int

// The kinds of reply.
const (
	ReplyPrompt  ReplyKind = iota // a question that waits for an answer
	ReplyInfo                     // a statement: acknowledgements, "stopped", "saved"
	ReplySummary                  // a dialogue's summary
	ReplyProblem                  // the input could not be taken: too long, not a choice, …
	ReplyCrisis                   // the safety message: never shown to a coach, never logged
)

// Choice is a button. ID is what a button press sends back; Label is what the user sees and
// may also type. Typing the choice's 1-based number works too.
type Choice struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Reply is one message to the user.
type Reply struct {
	Kind    ReplyKind
	Text    string
	Choices []Choice
	// Save, when set, is a finished dialogue the user chose to keep: the caller writes it to
	// the journal in the same atomic operation that saves the State.
	Save *Entry
	// Remind, when positive, asks the caller to send the check-in again once, this long
	// from now ("Snooze 1 h"); the schedule itself is unchanged.
	Remind time.Duration
	// Safety says what the reply is in the safety protocol, for metrics; SafetyEventNone
	// for every other reply.
	Safety SafetyEvent
	// SavePlan, when set, is a safety plan the user finished: the caller stores it in place
	// of any earlier one, encrypted like the journal.
	SavePlan *SafetyPlan
	// Outcome, when set, is a follow-up answer: the caller records it on the journal entry
	// it names (and, when Again is asked for, schedules the one more check-back).
	Outcome *Outcome
}

// Outcome is what a follow-up learned about one journal entry's next step.
type Outcome struct {
	EntryID  string   `json:"entry_id"`
	FollowUp FollowUp `json:"follow_up"`
	// Again asks for one more check-back tomorrow (after a first "Not yet").
	Again bool `json:"again,omitempty"`
}

// The outcomes of a follow-up. They are stored: never change them.
const (
	OutcomeDone        = "done"
	OutcomeNotYet      = "not_yet"
	OutcomeChangedMind = "changed_mind"
)

// FollowUp is what the user told a check-back about the entry's next step.
type FollowUp struct {
	Outcome  string    `json:"outcome"`             // OutcomeDone, OutcomeNotYet or OutcomeChangedMind
	FoundOut string    `json:"found_out,omitempty"` // what they found out, their words
	HowTrue  *int      `json:"how_true,omitempty"`  // how true the first story was, 0–10
	At       time.Time `json:"at"`                  // when they answered
	// Again is when one more check-back was asked for (after a first "Not yet").
	Again *time.Time `json:"again,omitempty"`
	// Asked counts the check-backs sent for the entry (1, or 2 after "ask again").
	Asked int `json:"asked,omitempty"`
}

// Entry is a finished dialogue as kept in the user's journal. Text fields hold the user's
// own words, verbatim.
type Entry struct {
	ID      string    `json:"id,omitempty"` // assigned by the store
	Flow    Flow      `json:"flow"`
	Created time.Time `json:"created"`

	What           string   `json:"what,omitempty"`
	Story          string   `json:"story,omitempty"`
	Feeling        string   `json:"feeling,omitempty"`
	StrengthBefore *int     `json:"strength_before,omitempty"`
	Facts          string   `json:"facts,omitempty"`
	Others         []string `json:"others,omitempty"`
	Next           string   `json:"next,omitempty"`
	StrengthAfter  *int     `json:"strength_after,omitempty"`

	// Learn is the rumble: what more the user needs to learn (pause).
	Learn string `json:"learn,omitempty"`
	// CheckBack is when the user asked to be asked whether the next step happened, in
	// their time zone when they chose it; nil for no check-back.
	CheckBack *time.Time `json:"check_back,omitempty"`

	BeliefBefore *int     `json:"belief_before,omitempty"` // reframe: belief in the story, 0–10
	IsTrue       string   `json:"is_true,omitempty"`
	Absolutely   string   `json:"absolutely,omitempty"`
	Reaction     string   `json:"reaction,omitempty"`
	Traps        []string `json:"traps,omitempty"` // thinking-trap IDs the user confirmed
	// SuggestedTraps are the thinking-trap IDs the bot offered the user for the story (one in
	// a pause, up to two in a reframe; best first), kept apart from Traps: a suggestion the
	// user did not confirm is only a guess, and insights count confirmed traps only.
	SuggestedTraps []string `json:"suggested_traps,omitempty"`
	Turnaround     string   `json:"turnaround,omitempty"`
	Example        string   `json:"example,omitempty"` // how the turnaround could be as true
	// KinderStory is the story that is fair to everyone, the user included. (Its name and
	// key are kept from when it was asked as "a kinder story", so old entries read the same.)
	KinderStory string `json:"kinder_story,omitempty"`
	BeliefAfter *int   `json:"belief_after,omitempty"`
	// FollowUp is what the check-back learned; nil until the user answered one.
	FollowUp *FollowUp `json:"follow_up,omitempty"`
}

// State is a user's dialogue between turns. The zero State has no dialogue open.
type State struct {
	Version int       `json:"v"`
	Flow    Flow      `json:"flow,omitempty"`
	Step    Step      `json:"step,omitempty"`
	Trail   []Step    `json:"trail,omitempty"`   // the steps behind this one, for "back"
	Entry   Entry     `json:"entry"`             // the answers so far
	Hints   []string  `json:"hints,omitempty"`   // trap IDs suggested from the story
	Updated time.Time `json:"updated,omitempty"` // time of the last input, for parking
	// HintAnswered is set when the user answered the thinking-trap hint itself ("yes, that
	// fits") instead of giving another story: the question is then asked without the hint.
	HintAnswered bool `json:"hint_answered,omitempty"`
	// Turnarounds are the turnarounds offered at StepReframeTurnaround, built from the
	// story when it was asked, so a button press picks the sentence the user saw.
	Turnarounds []Turnaround `json:"turnarounds,omitempty"`
	// Deeper is set on a reframe started by "Go deeper" from a pause that was saved first,
	// so stopping it can say truthfully what was and was not saved.
	Deeper bool `json:"deeper,omitempty"`
	// NoCheckBack comes from the Start: the user switched check-backs off, so the step
	// after the next step is not the check-back. A dialogue this one leads to (a check-in's
	// pause, "Go deeper") inherits it.
	NoCheckBack bool `json:"no_check_back,omitempty"`
	// Request is the Start.Request that started this dialogue, if any.
	Request string `json:"request,omitempty"`

	// While Step is StepResumeOffer: the step to go back to, and what to start instead.
	Parked  Step   `json:"parked,omitempty"`
	Pending *Start `json:"pending,omitempty"`

	// Check, when set, is the safety check question waiting for an answer, with the input
	// that raised it (safety_flow.go); the dialogue stays exactly where it was.
	Check *SafetyCheck `json:"check,omitempty"`
	// Plan holds the safety plan's answers while that dialogue is open.
	Plan *SafetyPlan `json:"plan,omitempty"`

	// Unseen, when set, says the replies of an earlier turn may not have reached the user:
	// they waited in a platform adapter's queue (a rate limit) that should have sent them
	// by this time, or were given up. The machine never reads or sets it; the engine does,
	// so that a message typed after this time while it is still set gets the open prompt
	// again instead of being taken as the answer to a question the user never saw.
	Unseen time.Time `json:"unseen,omitzero"`
}

// Open reports whether a dialogue is in progress (parked or not).
func (s State) Open() bool { return s.Flow != FlowNone }

// WantsLocation reports whether the next input's Location matters: only the check-back step
// reads times (or a form held by the check question, which carries a check-back), so a
// caller may skip looking up the user's time zone on every other turn.
func (s State) WantsLocation() bool {
	return s.Step == StepCheckBack || (s.Check != nil && s.Check.Form != nil)
}
