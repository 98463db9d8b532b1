package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// This file is follow-through: the check-back on a saved next step. A saved entry with a
// check-back time gets a follow-up job (one per entry) on the scheduler; when it comes due,
// Deliver starts the follow-up dialogue in the user's DM, and every answer the dialogue
// returns (Reply.Outcome) is written onto the journal entry. /story followups lists,
// cancels, and switches them off and on.

// followupScanEntries bounds the journal read that finds pending check-backs. Check-backs are
// at most about a week out, so they belong to the newest entries.
const followupScanEntries = 200

// againHour is when "ask once more tomorrow" comes: 09:00 local, like "Tomorrow".
const againHour = 9

// choiceCancelPrefix starts the ID of a "Cancel" button of /story followups; the entry ID
// follows. It is engine-level, like the forget confirmation: no dialogue is touched.
const choiceCancelPrefix = "fu-cancel:"

// scheduleFollowup puts the follow-up job of a just-saved entry, when it asked for a
// check-back and the user has not switched them off. A failure is logged: the entry itself
// was saved, and the user is not bothered with an error about a reminder.
func (e *Engine) scheduleFollowup(ctx context.Context, u bot.UserRef, en flows.Entry) {
	if e.schedules == nil || en.CheckBack == nil || en.CheckBack.IsZero() || en.ID == "" || strings.TrimSpace(en.Next) == "" {
		return
	}
	p, _, err := e.profiles.Profile(ctx, u)
	if err != nil {
		e.metrics.storeError("followup")
		e.log.ErrorContext(ctx, "store failed", "op", "followup", "user", u.String(), "err", err)
		return
	}
	if p.NoFollowups {
		return
	}
	due := *en.CheckBack
	if now := e.now(); due.Before(now) {
		due = now
	}
	if err := e.schedules.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: en.ID}, due); err != nil {
		e.metrics.storeError("followup")
		e.log.ErrorContext(ctx, "store failed", "op", "followup", "user", u.String(), "err", err)
		return
	}
	e.metrics.followup("scheduled")
}

// offersCheckBack reports whether a dialogue of flow f can lead to a check-back offer.
func offersCheckBack(f flows.Flow) bool {
	switch f {
	case flows.FlowNone, flows.FlowPause, flows.FlowQuick, flows.FlowReframe, flows.FlowCheckin:
		return true
	}
	return false
}

// noCheckBacks reads the user's /story followups preference for a dialogue that is
// starting: flows gets it on the Start, and the dialogue's state carries it, so no answer in
// the middle of a dialogue reads the profile for it. A failed read offers the check-back
// (scheduleFollowup reads the preference again before it puts a job).
func (e *Engine) noCheckBacks(ctx context.Context, u bot.UserRef) bool {
	no, _ := e.startPrefs(ctx, u)
	return no
}

// startPrefs reads what starting a dialogue needs of the user's profile, in one round trip:
// the /story followups preference (see noCheckBacks) and whether the user was greeted.
// Unread, it offers check-backs and leaves the welcome to its own check.
func (e *Engine) startPrefs(ctx context.Context, u bot.UserRef) (noCheckBacks, welcomed bool) {
	p, _, err := e.profiles.Profile(ctx, u)
	if err != nil {
		e.metrics.storeError("profile")
		e.log.WarnContext(ctx, "check-back preference not read; offering check-backs", "user", u.String(), "err", err)
		return false, false
	}
	return p.NoFollowups, p.Welcomed
}

// followupPending reports whether en still waits for a check-back answer: never answered,
// or "Not yet" with one more check-back asked for.
func followupPending(en flows.Entry) bool {
	fu := en.FollowUp
	return fu == nil || fu.Outcome == "" || fu.Outcome == flows.OutcomeNotYet && fu.Again != nil && fu.Asked < flows.MaxFollowupAsks
}

// deliverFollowup starts the follow-up dialogue about j.Entry in the user's DM. Nothing is
// sent when the entry is gone (expired, erased), already answered, or the user switched
// follow-ups off; ErrBusy when the user is in the middle of another dialogue (the scheduler
// tries again once it closes or parks).
func (e *Engine) deliverFollowup(ctx context.Context, j bot.Job) error {
	u := j.User
	en, ok, err := e.dialogues.Entry(ctx, u, j.Entry)
	if err != nil {
		return fmt.Errorf("engine: deliver follow-up to %s: %w", u, err)
	}
	if !ok || !followupPending(en) || strings.TrimSpace(en.Next) == "" {
		e.metrics.followup("dropped")
		return nil
	}
	p, _, err := e.profiles.Profile(ctx, u)
	if err != nil {
		return fmt.Errorf("engine: deliver follow-up to %s: %w", u, err)
	}
	if p.NoFollowups {
		e.metrics.followup("dropped")
		return nil
	}
	loc := time.UTC
	if p.TZ != "" {
		if l, err := time.LoadLocation(p.TZ); err == nil {
			loc = l
		}
	}
	about := flows.Entry{ID: en.ID, Flow: en.Flow, Created: en.Created.In(loc), Next: en.Next, FollowUp: en.FollowUp}
	in := flows.Input{Now: e.now(), Start: &flows.Start{Flow: flows.FlowFollowup, Entry: &about}}
	if err := e.startScheduled(ctx, u, in, "follow-up"); err != nil {
		return err
	}
	e.metrics.followup("sent")
	return nil
}

// recordOutcome writes a follow-up answer onto its journal entry and, when the user asked
// for one more check-back, schedules it for tomorrow morning in their zone. A failure is
// logged and counted; the dialogue itself has moved on.
func (e *Engine) recordOutcome(ctx context.Context, u bot.UserRef, o flows.Outcome) {
	fu := o.FollowUp
	if o.Again {
		loc := e.location(ctx, u)
		t := tomorrowAt(e.now(), loc, againHour)
		fu.Again = &t
	}
	var answered string
	ok, err := e.dialogues.UpdateEntry(ctx, u, o.EntryID, func(en *flows.Entry) error {
		answered = ""
		if old := en.FollowUp; old == nil || old.Outcome != fu.Outcome || old.Asked != fu.Asked {
			answered = fu.Outcome
		}
		v := fu
		en.FollowUp = &v
		return nil
	})
	if err != nil {
		e.metrics.storeError("followup_outcome")
		e.log.ErrorContext(ctx, "store failed", "op", "followup_outcome", "user", u.String(), "err", err)
		return
	}
	if !ok {
		return // the entry is gone: nothing to keep the answer on
	}
	if answered != "" {
		e.metrics.followupAnswered(answered)
	}
	if o.Again && e.schedules != nil {
		if err := e.schedules.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: o.EntryID}, *fu.Again); err != nil {
			e.metrics.storeError("followup")
			e.log.ErrorContext(ctx, "store failed", "op", "followup", "user", u.String(), "err", err)
			return
		}
		e.metrics.followup("scheduled")
	}
}

// tomorrowAt is hour:00 local on the day after now's local day (DST-safe: a wall-clock
// time that does not exist moves to the first valid instant after it).
func tomorrowAt(now time.Time, loc *time.Location, hour int) time.Time {
	l := now.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, hour, 0, 0, 0, loc)
}

// pendingFollowup is one check-back still to come.
type pendingFollowup struct {
	Entry flows.Entry
	Due   time.Time
}

// pendingFollowups lists the user's check-backs still to come, soonest first.
func (e *Engine) pendingFollowups(ctx context.Context, u bot.UserRef) ([]pendingFollowup, error) {
	entries, err := e.dialogues.Journal(ctx, u, followupScanEntries)
	if err != nil {
		return nil, err
	}
	return e.pendingAmong(ctx, u, entries)
}

// pendingAmong lists the check-backs still to come on entries (read already), soonest first.
func (e *Engine) pendingAmong(ctx context.Context, u bot.UserRef, entries []flows.Entry) ([]pendingFollowup, error) {
	var ids []string
	byID := map[string]flows.Entry{}
	for _, en := range entries {
		if en.CheckBack != nil || en.FollowUp != nil && en.FollowUp.Again != nil {
			ids = append(ids, en.ID)
			byID[en.ID] = en
		}
	}
	due, err := e.schedules.FollowupsDue(ctx, u, ids)
	if err != nil {
		return nil, err
	}
	out := make([]pendingFollowup, 0, len(due))
	for id, t := range due {
		out = append(out, pendingFollowup{Entry: byID[id], Due: t})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Due.Equal(out[j].Due) {
			return out[i].Due.Before(out[j].Due)
		}
		return out[i].Entry.ID < out[j].Entry.ID
	})
	return out, nil
}

// followupsCommand handles /story followups [off | on | cancel n].
func (e *Engine) followupsCommand(ctx context.Context, ev bot.Event, cmd *bot.Command) error {
	if e.schedules == nil {
		return e.ephemeral(ctx, ev, textSchedulesOff)
	}
	u := ev.User
	switch cmd.Followups {
	case "off", "on":
		p, _, err := e.profiles.Profile(ctx, u)
		if err != nil {
			return e.storeTrouble(ctx, ev, "profile", err)
		}
		p.NoFollowups = cmd.Followups == "off"
		if err := e.profiles.SaveProfile(ctx, u, p); err != nil {
			return e.storeTrouble(ctx, ev, "profile", err)
		}
		if cmd.Followups == "on" {
			return e.ephemeral(ctx, ev, "Check-backs are on. When you pick a time for a next step, I'll ask how it went then.")
		}
		pending, err := e.pendingFollowups(ctx, u)
		if err != nil {
			return e.storeTrouble(ctx, ev, "followups", err)
		}
		ids := make([]string, len(pending))
		for i, p := range pending {
			ids[i] = p.Entry.ID
		}
		if err := e.schedules.DeleteFollowups(ctx, u, ids...); err != nil {
			return e.storeTrouble(ctx, ev, "followups", err)
		}
		for range ids {
			e.metrics.followup("cancelled")
		}
		msg := "Check-backs are off: I won't ask about next steps."
		if len(ids) > 0 {
			msg += fmt.Sprintf(" I cancelled %s.", plural(len(ids), "pending check-back", "pending check-backs"))
		}
		return e.ephemeral(ctx, ev, msg+" /story followups on turns them on again.")
	case "cancel":
		pending, err := e.pendingFollowups(ctx, u)
		if err != nil {
			return e.storeTrouble(ctx, ev, "followups", err)
		}
		if cmd.N < 1 || cmd.N > len(pending) {
			return e.ephemeral(ctx, ev, fmt.Sprintf("There's no check-back number %d. /story followups lists them.", cmd.N))
		}
		return e.cancelFollowup(ctx, ev, pending[cmd.N-1].Entry.ID)
	}
	pending, err := e.pendingFollowups(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "followups", err)
	}
	p, _, err := e.profiles.Profile(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "profile", err)
	}
	loc := e.location(ctx, u)
	if len(pending) == 0 {
		msg := "You have no check-backs coming. When you pick a time for a next step, I'll ask how it went then."
		if p.NoFollowups {
			msg = "Check-backs are off. /story followups on turns them on again."
		}
		return e.ephemeral(ctx, ev, msg)
	}
	var b strings.Builder
	b.WriteString("Your check-backs:")
	var choices []flows.Choice
	for i, pf := range pending {
		fmt.Fprintf(&b, "\n%d. %s — “%s”", i+1, pf.Due.In(loc).Format("Mon 2 Jan at 15:04"), bot.Truncate(pf.Entry.Next, 120))
		if len(choices) < 5 {
			choices = append(choices, flows.Choice{ID: choiceCancelPrefix + pf.Entry.ID, Label: fmt.Sprintf("Cancel %d", i+1)})
		}
	}
	b.WriteString("\n/story followups cancel 1 cancels the first; /story followups off stops them all.")
	return e.out.Send(ctx, bot.Message{To: e.inPlace(ev), Kind: flows.ReplyInfo, Text: b.String(), Choices: choices})
}

// cancelFollowupChoice handles a "Cancel n" button of /story followups.
func (e *Engine) cancelFollowupChoice(ctx context.Context, ev bot.Event) (bool, error) {
	if ev.Kind != bot.EventChoice || !strings.HasPrefix(ev.Choice, choiceCancelPrefix) {
		return false, nil
	}
	if e.schedules == nil {
		return true, e.ephemeral(ctx, ev, textSchedulesOff)
	}
	return true, e.cancelFollowup(ctx, ev, strings.TrimPrefix(ev.Choice, choiceCancelPrefix))
}

func (e *Engine) cancelFollowup(ctx context.Context, ev bot.Event, id string) error {
	due, err := e.schedules.FollowupsDue(ctx, ev.User, []string{id})
	if err != nil {
		return e.storeTrouble(ctx, ev, "followups", err)
	}
	if _, ok := due[id]; !ok {
		return e.ephemeral(ctx, ev, "That check-back isn't pending any more, so nothing changed.")
	}
	if err := e.schedules.DeleteFollowups(ctx, ev.User, id); err != nil {
		return e.storeTrouble(ctx, ev, "followups", err)
	}
	e.metrics.followup("cancelled")
	en, ok, err := e.dialogues.Entry(ctx, ev.User, id)
	if err != nil || !ok {
		return e.ephemeral(ctx, ev, "Cancelled — I won't check back on that one.")
	}
	return e.ephemeral(ctx, ev, "Cancelled — I won't check back on “"+bot.Truncate(en.Next, 120)+"”.")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// historyScanEntries bounds the journal read of /story history <word>.
const historyScanEntries = 1000

// historyWord sends the entries that mention word (newest first, at most bot.MaxHistory)
// to the user's DM.
func (e *Engine) historyWord(ctx context.Context, ev bot.Event, word string) error {
	entries, err := e.dialogues.Journal(ctx, ev.User, historyScanEntries)
	if err != nil {
		return e.storeTrouble(ctx, ev, "history", err)
	}
	var found []flows.Entry
	for _, en := range entries {
		if mentions(en, word) {
			found = append(found, en)
			if len(found) == bot.MaxHistory {
				break
			}
		}
	}
	loc := e.location(ctx, ev.User)
	if !ev.InDM {
		if err := e.ephemeral(ctx, ev, "I've sent your history to our DM."); err != nil {
			return err
		}
	}
	var b strings.Builder
	w := bot.Truncate(word, 40)
	switch len(found) {
	case 0:
		b.WriteString("No journal entry mentions “" + w + "”.")
	case 1:
		b.WriteString("1 journal entry mentions “" + w + "”:")
	default:
		fmt.Fprintf(&b, "%d journal entries mention “%s”:", len(found), w)
	}
	writeEntries(&b, found, loc)
	return e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: ev.User}, Kind: flows.ReplyInfo, Text: b.String()})
}

// mentions reports whether any of the entry's words contain word as a whole word, ignoring
// case ("sam" finds "Sam's" and "SAM", not "same").
func mentions(en flows.Entry, word string) bool {
	w := strings.ToLower(strings.TrimSpace(word))
	if w == "" {
		return false
	}
	for _, t := range entryTexts(en) {
		for _, tok := range tokenize(t) {
			if tok.norm == w || strings.ToLower(tok.text) == w {
				return true
			}
		}
	}
	return false
}

// entryTexts are the fields of an entry that hold the user's words.
func entryTexts(en flows.Entry) []string {
	out := []string{en.What, en.Story, en.Facts, en.Next, en.IsTrue, en.Absolutely, en.Reaction, en.KinderStory}
	out = append(out, en.Others...)
	if en.FollowUp != nil {
		out = append(out, en.FollowUp.FoundOut)
	}
	return out
}
