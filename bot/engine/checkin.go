package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// This file holds the engine's half of scheduled messages: /story checkin and /story digest,
// the snooze, rescheduling when the time zone changes, and Deliver, through which the
// Scheduler sends check-ins and digests exactly like every other DM.

const textSchedulesOff = "Scheduled check-ins aren't switched on in this storybot."

// checkinCommand handles /story checkin in all its forms.
func (e *Engine) checkinCommand(ctx context.Context, ev bot.Event, cmd *bot.Command) error {
	if e.schedules == nil {
		return e.ephemeral(ctx, ev, textSchedulesOff)
	}
	u := ev.User
	tz, err := e.zoneOf(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "profile", err)
	}
	cur, _, exists, err := e.schedules.Job(ctx, u, bot.JobCheckin)
	if err != nil {
		return e.storeTrouble(ctx, ev, "schedule", err)
	}
	now := e.now()
	switch cmd.Checkin {
	case bot.CheckinShow:
		if !exists {
			return e.ephemeral(ctx, ev, "You have no check-ins. Set one with /story checkin weekdays 09:00 (or daily 08:15, or mon,wed,fri 16:30).")
		}
		return e.ephemeral(ctx, ev, e.describeCheckin(cur, now))
	case bot.CheckinOff:
		if err := e.schedules.DeleteJob(ctx, u, bot.JobCheckin); err != nil {
			return e.storeTrouble(ctx, ev, "schedule", err)
		}
		if err := e.schedules.DeleteJob(ctx, u, bot.JobSnooze); err != nil {
			return e.storeTrouble(ctx, ev, "schedule", err)
		}
		if !exists {
			return e.ephemeral(ctx, ev, "You had no check-ins, so nothing changed.")
		}
		return e.ephemeral(ctx, ev, "Check-ins are off. /story checkin weekdays 09:00 starts them again.")
	case bot.CheckinPauseUntil:
		if !exists {
			return e.ephemeral(ctx, ev, "You have no check-ins to pause. Set one with /story checkin weekdays 09:00.")
		}
		cur.Checkin.Until = cmd.Until
		cur.TZ = tz
		if !cmd.Until.After(now.AddDate(0, 0, -1)) {
			cur.Checkin.Until = time.Time{} // a date in the past: the pause is over
		}
	case bot.CheckinSet:
		cur = bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: cmd.Schedule}, TZ: tz}
	}
	next := cur.Next(now)
	if next.IsZero() {
		return e.ephemeral(ctx, ev, "That schedule has no days. Try /story checkin weekdays 09:00.")
	}
	if err := e.schedules.PutJob(ctx, cur, next); err != nil {
		return e.storeTrouble(ctx, ev, "schedule", err)
	}
	return e.ephemeral(ctx, ev, "Done. "+e.describeCheckin(cur, now))
}

// describeCheckin says what the schedule is and when the next check-in comes, in the
// user's local time, and how to set a zone when there is none.
func (e *Engine) describeCheckin(j bot.Job, now time.Time) string {
	loc := j.Location()
	var b strings.Builder
	fmt.Fprintf(&b, "Your check-ins: %s, %s time", j.Checkin.Schedule, zoneName(j.TZ))
	if !j.Checkin.Until.IsZero() && !j.Checkin.Until.Before(now.AddDate(0, 0, -1)) {
		fmt.Fprintf(&b, ", paused until %s", j.Checkin.Until.Format("Mon 2 Jan 2006"))
	}
	b.WriteString(".")
	if next := j.Next(now); !next.IsZero() {
		fmt.Fprintf(&b, " The next one is %s.", next.In(loc).Format("Mon 2 Jan at 15:04"))
	}
	if j.TZ == "" {
		b.WriteString(" I don't know your time zone, so that's UTC; /story tz Europe/Berlin (any IANA name) sets yours.")
	}
	b.WriteString(" /story checkin off stops them.")
	return b.String()
}

func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// zoneOf is the user's IANA zone from their profile, "" for UTC.
func (e *Engine) zoneOf(ctx context.Context, u bot.UserRef) (string, error) {
	p, err := e.profileWithZone(ctx, u)
	if err != nil {
		return "", err
	}
	if p.TZ == "" {
		return "", nil
	}
	if _, err := time.LoadLocation(p.TZ); err != nil {
		return "", nil
	}
	return p.TZ, nil
}

// digestCommand handles /story digest weekly | off | (show).
func (e *Engine) digestCommand(ctx context.Context, ev bot.Event, arg string) error {
	if e.schedules == nil {
		return e.ephemeral(ctx, ev, textSchedulesOff)
	}
	u := ev.User
	j, due, exists, err := e.schedules.Job(ctx, u, bot.JobDigest)
	if err != nil {
		return e.storeTrouble(ctx, ev, "schedule", err)
	}
	switch arg {
	case "":
		if !exists {
			return e.ephemeral(ctx, ev, "The weekly digest is off. /story digest weekly sends you one on Sunday evenings, made from your own journal only.")
		}
		return e.ephemeral(ctx, ev, fmt.Sprintf("The weekly digest is on: Sundays at 18:00, %s time. The next one is %s. /story digest off stops it.",
			zoneName(j.TZ), due.In(j.Location()).Format("Mon 2 Jan at 15:04")))
	case "off":
		if err := e.schedules.DeleteJob(ctx, u, bot.JobDigest); err != nil {
			return e.storeTrouble(ctx, ev, "schedule", err)
		}
		return e.ephemeral(ctx, ev, "The weekly digest is off.")
	}
	tz, err := e.zoneOf(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "profile", err)
	}
	j = bot.Job{Kind: bot.JobDigest, User: u, TZ: tz}
	next := j.Next(e.now())
	if err := e.schedules.PutJob(ctx, j, next); err != nil {
		return e.storeTrouble(ctx, ev, "schedule", err)
	}
	msg := fmt.Sprintf("Done. Your weekly digest comes on Sundays at 18:00, %s time, made from your own journal only. The first one is %s.",
		zoneName(tz), next.In(j.Location()).Format("Mon 2 Jan at 15:04"))
	if tz == "" {
		msg += " I'm using UTC for you — set your zone with /story tz Europe/Berlin."
	}
	return e.ephemeral(ctx, ev, msg)
}

// snooze schedules one extra check-in after d ("Snooze 1 h"); the schedule is unchanged.
// A failure is logged: the user's answer itself was saved.
func (e *Engine) snooze(ctx context.Context, u bot.UserRef, d time.Duration) {
	if e.schedules == nil {
		return
	}
	j := bot.Job{Kind: bot.JobSnooze, User: u}
	if err := e.schedules.PutJob(ctx, j, e.now().Add(d)); err != nil {
		e.metrics.storeError("snooze")
		e.log.ErrorContext(ctx, "store failed", "op", "snooze", "user", u.String(), "err", err)
	}
}

// rezone moves the user's recurring jobs to a new zone: their next occurrences are
// recomputed at once. A snooze is an instant, not a time of day, so it stays.
func (e *Engine) rezone(ctx context.Context, u bot.UserRef, tz string) error {
	if e.schedules == nil {
		return nil
	}
	for _, k := range []bot.JobKind{bot.JobCheckin, bot.JobDigest} {
		j, _, ok, err := e.schedules.Job(ctx, u, k)
		if err != nil {
			return err
		}
		if !ok || j.TZ == tz {
			continue
		}
		j.TZ = tz
		if next := j.Next(e.now()); !next.IsZero() {
			if err := e.schedules.PutJob(ctx, j, next); err != nil {
				return err
			}
		}
	}
	if e.coaching != nil {
		// Practice reminders span several cadences: recompute them from the practices.
		return e.reschedulePractices(ctx, u)
	}
	return nil
}

var _ Deliverer = (*Engine)(nil)

// errBusyTurn aborts the check-in turn without saving when the user is mid-dialogue.
var errBusyTurn = errors.New("busy")

// Deliver sends one scheduled job to its user's DM through the outbound guard. A check-in
// opens the check-in dialogue (so its answers work by button and by typing); when the user
// is in the middle of another dialogue it returns ErrBusy and sends nothing.
func (e *Engine) Deliver(ctx context.Context, j bot.Job) error {
	held, err := e.locks.lock(ctx, j.User)
	if err != nil {
		return err
	}
	defer held.unlock()
	switch j.Kind {
	case bot.JobCheckin, bot.JobSnooze:
		err = e.deliverCheckin(ctx, j.User)
	case bot.JobDigest:
		err = e.deliverDigest(ctx, j)
	case bot.JobPractice:
		err = e.deliverPractices(ctx, j)
	case bot.JobFollowup:
		err = e.deliverFollowup(ctx, j)
	default:
		err = fmt.Errorf("engine: deliver unknown job kind %v", j.Kind)
	}
	if errors.Is(err, bot.ErrUserGone) {
		e.userGone(ctx, j.User)
	}
	return err
}

func (e *Engine) deliverCheckin(ctx context.Context, u bot.UserRef) error {
	// "Start a pause" there leads to a next step: the check-in carries the preference.
	st := &flows.Start{Flow: flows.FlowCheckin, NoCheckBack: e.noCheckBacks(ctx, u)}
	return e.startScheduled(ctx, u, flows.Input{Now: e.now(), Start: st}, "check-in")
}

// startScheduled opens a scheduled dialogue (a check-in, a follow-up) in u's DM: one atomic
// turn, refused with bot.ErrBusy when the flow will not interrupt the dialogue that is open
// (the scheduler then tries again later), then the replies.
func (e *Engine) startScheduled(ctx context.Context, u bot.UserRef, in flows.Input, what string) error {
	var replies []flows.Reply
	err := e.dialogues.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		next, rs, err := e.machine.Step(cur, in)
		if err != nil {
			return cur, nil, err
		}
		if len(rs) == 0 {
			return cur, nil, errBusyTurn
		}
		replies = rs
		return next, nil, nil
	})
	if errors.Is(err, errBusyTurn) {
		return bot.ErrBusy
	}
	if err != nil {
		return fmt.Errorf("engine: deliver %s to %s: %w", what, u, err)
	}
	for _, r := range replies {
		e.metrics.reply(r.Kind)
		m := bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: r.Kind, Text: r.Text, Choices: r.Choices}
		if err := e.out.Send(ctx, m); err != nil {
			return fmt.Errorf("engine: deliver %s to %s: %w", what, u, err)
		}
	}
	return nil
}

// digestEntries bounds the journal read for one digest.
const digestEntries = 200

func (e *Engine) deliverDigest(ctx context.Context, j bot.Job) error {
	entries, err := e.dialogues.Journal(ctx, j.User, digestEntries)
	if err != nil {
		return fmt.Errorf("engine: deliver digest to %s: %w", j.User, err)
	}
	// The user's own ID never counts as a theme (it can appear in a raw mention).
	text := DigestFor(entries, e.now(), []string{j.User.User})
	return e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: j.User}, Kind: flows.ReplyInfo, Text: text})
}
