package bot

import (
	"errors"
	"fmt"
	"time"
)

// Next returns the first occurrence of s strictly after after, in loc (UTC when nil). It
// is a pure function of its arguments: the scheduler and "/story checkin" both use it.
//
// Daylight-saving changes:
//   - A time of day that does not exist on a spring-forward day (02:30 in Europe/Berlin on
//     the last Sunday of March) is delivered at the first valid instant after the gap,
//     which is the transition itself (03:00 local). The check-in is late by the gap rather
//     than skipped or moved to the previous evening.
//   - A time of day that exists twice on a fall-back day (02:30 in Europe/Berlin on the
//     last Sunday of October) is delivered once, at its first occurrence (summer time):
//     occurrences are generated per calendar day, one per day.
//
// A schedule with no days returns the zero time.
func (s Schedule) Next(after time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	any := false
	for _, d := range s.Days {
		any = any || d
	}
	if !any {
		return time.Time{}
	}
	local := after.In(loc)
	y, m, d := local.Date()
	// Eight days always reach the same weekday a week later; one more for the case where
	// today's occurrence is before after.
	for i := 0; i <= 8; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, loc) // noon: never in a DST gap
		if !s.Days[day.Weekday()] {
			continue
		}
		t := wallClock(day.Year(), day.Month(), day.Day(), s.Hour, s.Minute, loc)
		if t.After(after) {
			return t
		}
	}
	return time.Time{} // unreachable with at least one day set
}

// wallClock returns the instant at which the clock on the wall in loc shows h:m on the given
// day. When that time does not exist (a spring-forward gap), it returns the first instant
// after the gap; when it exists twice (fall-back), the first of the two.
func wallClock(y int, mo time.Month, d, h, mi int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, h, mi, 0, 0, loc)
	if t.Hour() == h && t.Minute() == mi && t.Day() == d && t.Month() == mo {
		// Exists. For an ambiguous time, time.Date may pick either offset: take the earlier
		// instant if the hour before the zone change also shows h:m.
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			prev := start.Add(-time.Nanosecond)
			_, prevOff := prev.Zone()
			_, off := t.Zone()
			if prevOff > off { // fall-back: the earlier offset was larger
				alt := t.Add(-time.Duration(prevOff-off) * time.Second)
				if alt.Before(start) && alt.In(loc).Hour() == h && alt.In(loc).Minute() == mi {
					return alt
				}
			}
		}
		return t
	}
	// In a gap: the wall clock jumped over h:m. The gap ends at the start of the zone
	// period that follows; t lies on one side of it.
	start, end := t.ZoneBounds()
	shown := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	if shown.After(time.Date(y, mo, d, h, mi, 0, 0, time.UTC)) {
		// time.Date normalized forward, past the gap: t is in the later period.
		return start
	}
	return end
}

// Checkin is a user's check-in schedule.
type Checkin struct {
	Schedule Schedule
	// Until pauses the check-ins up to and including this date (midnight UTC, as
	// ParseDate returns it); zero: not paused.
	Until time.Time
}

// Next returns the first check-in strictly after after, in loc, honouring the pause: no
// check-in before the local day after Until.
func (c Checkin) Next(after time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if !c.Until.IsZero() {
		y, m, d := c.Until.Date()
		resume := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		if after.Before(resume) {
			// The first occurrence at or after local midnight of the day after.
			after = resume.Add(-time.Nanosecond)
		}
	}
	return c.Schedule.Next(after, loc)
}

// DigestSchedule is when the weekly digest goes out: Sundays at 18:00 local time.
var DigestSchedule = Schedule{Days: [7]bool{time.Sunday: true}, Hour: 18}

// JobKind is what a scheduled job delivers.
type JobKind byte

// The kinds of job. The values are stored (in job IDs): never change them.
const (
	JobCheckin JobKind = 'c' // the recurring check-in
	JobSnooze  JobKind = 's' // one extra check-in ("Snooze 1 h"), then gone
	JobDigest  JobKind = 'd' // the weekly digest
	// JobPractice is a client's practice reminders: one job per client, due at the
	// earliest next reminder of their active practices.
	JobPractice JobKind = 'p'
	// JobFollowup is the check-back on one journal entry's next step: one-off, one job per
	// entry (Job.Entry), so a user may have several. It is not in JobKinds: its jobs are
	// addressed by entry (ScheduleStore.FollowupsDue, DeleteFollowups).
	JobFollowup JobKind = 'f'
)

// JobKinds lists every kind of which a user has at most one job, for erasure and export.
var JobKinds = []JobKind{JobCheckin, JobSnooze, JobDigest, JobPractice}

func (k JobKind) String() string {
	switch k {
	case JobCheckin:
		return "checkin"
	case JobSnooze:
		return "snooze"
	case JobDigest:
		return "digest"
	case JobPractice:
		return "practice"
	case JobFollowup:
		return "followup"
	}
	return fmt.Sprintf("JobKind(%d)", byte(k))
}

// Job is one scheduled delivery to one user: at most one job of each kind per user.
type Job struct {
	Kind JobKind
	User UserRef
	// Checkin is the schedule of a JobCheckin.
	Checkin Checkin
	// TZ is the IANA zone the schedule is read in; empty: UTC.
	TZ string
	// Entry is the journal entry ID a JobFollowup is about; empty for every other kind.
	Entry string
}

// Location is the job's zone, UTC when empty or unknown.
func (j Job) Location() *time.Location {
	if j.TZ == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(j.TZ)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Next returns the job's next delivery strictly after after; the zero time for a one-off
// job, which is done after one delivery.
func (j Job) Next(after time.Time) time.Time {
	switch j.Kind {
	case JobCheckin:
		return j.Checkin.Next(after, j.Location())
	case JobDigest:
		return DigestSchedule.Next(after, j.Location())
	case JobPractice:
		// The cadence of the earliest practice: a valid time to come back at when an
		// occurrence is skipped; delivery then recomputes across all practices.
		return j.Checkin.Next(after, j.Location())
	}
	return time.Time{}
}

// ErrNoJob is returned for a job that is not scheduled.
var ErrNoJob = errors.New("no such job")
