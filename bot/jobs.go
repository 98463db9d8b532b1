package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ScheduleStore keeps users' scheduled jobs: the side the engine uses for /story checkin,
// /story digest, /story tz and the snooze.
type ScheduleStore interface {
	// PutJob creates or replaces the user's job of j.Kind, next due at due (which must not
	// be zero). A delivery of the job's previous occurrence that is in flight is abandoned
	// unless it already started sending.
	PutJob(ctx context.Context, j Job, due time.Time) error
	// Job returns the user's job of kind k and its next due time; a job not scheduled is
	// (zero, zero, false, nil).
	Job(ctx context.Context, u UserRef, k JobKind) (Job, time.Time, bool, error)
	// DeleteJob removes the user's job of kind k; removing a missing job is not an error.
	// It does not reach follow-ups (DeleteFollowups does).
	DeleteJob(ctx context.Context, u UserRef, k JobKind) error
	// FollowupsDue returns when the pending follow-ups of the given journal entries are
	// due; entries with no follow-up pending are absent from the map.
	FollowupsDue(ctx context.Context, u UserRef, entries []string) (map[string]time.Time, error)
	// DeleteFollowups cancels the follow-ups of the given entries; cancelling one that is
	// not pending is not an error. A delivery in flight is abandoned unless it already
	// started sending.
	DeleteFollowups(ctx context.Context, u UserRef, entries ...string) error
}

// Claim is a job a scheduler took from the due set. It belongs to that scheduler until it
// calls Finish or Retry, or until Lease passes and a reaper hands the job to another.
type Claim struct {
	Job Job
	// Due is when the job was due to be tried; lateness is measured from it.
	Due time.Time
	// Occurrence names the scheduled occurrence; MarkSent marks it sent, once.
	Occurrence time.Time
	// Sent is true when this occurrence was already marked sent (a replica crashed between
	// marking and finishing): it must not be sent again.
	Sent bool
	// Lease is when the claim lapses; it is also the claim's token.
	Lease time.Time
	// Token is opaque to the scheduler: the store's proof that the claim is still its own.
	Token int64
	// ID is opaque to the scheduler: the store's name for the claimed job, which MarkSent,
	// Finish and Retry act on (a job stored under an older ID format keeps that ID).
	ID string
}

// JobQueue is the scheduler's side of the schedule store. Every method is atomic in the
// store, so any number of schedulers may share one queue.
type JobQueue interface {
	// Claim takes up to n jobs due at or before now, in due order, and leases them until
	// lease. A job is claimed by one caller at a time.
	Claim(ctx context.Context, now time.Time, n int, lease time.Time) ([]Claim, error)
	// MarkSent marks c's occurrence as sent before it is sent. It reports false, and the
	// caller must not send, when the occurrence was already marked, the claim lapsed and was
	// taken over, or the user changed or erased the job since the claim.
	MarkSent(ctx context.Context, c Claim) (bool, error)
	// Finish ends c: the job is next due at next, or removed when next is zero. It does
	// nothing when the claim is no longer the caller's.
	Finish(ctx context.Context, c Claim, next time.Time) error
	// Retry ends c without finishing the occurrence: it is due again at at. With unmark, a
	// mark MarkSent set is removed (the send failed and did not happen).
	Retry(ctx context.Context, c Claim, at time.Time, unmark bool) error
	// Reap returns up to n jobs whose lease ended before now to the due set, due at their
	// lease's end, and reports how many.
	Reap(ctx context.Context, now time.Time, n int) (int, error)
}

// Availability tells whether a user wants messages now. The Slack adapter implements it
// with dnd.info; a platform without Do Not Disturb needs none.
type Availability interface {
	// AvailableAt returns when u can next be messaged: the zero time or a time not after
	// now means now. An error is logged and the message goes out (fail open).
	AvailableAt(ctx context.Context, u UserRef) (time.Time, error)
}

// RateLimitError is what a Sender returns (or wraps) when the platform refused a message for
// its rate limit: the message was not delivered and may be sent again after RetryAfter.
type RateLimitError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited, retry after %v: %v", e.RetryAfter, e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// ErrBusy is returned by Engine.Deliver when the user is in the middle of a dialogue: the
// check-in is not sent now (nothing interrupts them); the scheduler tries it again until
// the dialogue closes or parks, or the check-in is too late.
var ErrBusy = errors.New("user is in a dialogue")
