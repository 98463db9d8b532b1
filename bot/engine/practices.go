package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// This file holds practices: assigning and removing them (coach), the coach's progress
// view, the client's list with pause and stop, Done / Not today / Add a note, notes and
// their sharing, and the reminders.

// staleReminder is how late a reminder may still go out; older ones are dropped, never
// sent in a burst (SPEC.md).
const staleReminder = 2 * time.Hour

// noteWait is how long "Add a note" waits for the note.
const noteWait = 30 * time.Minute

// practiceChoices are the answers offered with a practice.
func practiceChoices(id string) []flows.Choice {
	return []flows.Choice{
		{ID: prefixPractice + "done:" + id, Label: "Done"},
		{ID: prefixPractice + "skip:" + id, Label: "Not today"},
		{ID: prefixPractice + "note:" + id, Label: "Add a note"},
	}
}

// nextReminder is p's first reminder strictly after after, in loc; zero when p is not
// active or its end date is passed.
func nextReminder(p bot.Practice, after time.Time, loc *time.Location) time.Time {
	if p.Status != bot.PracticeActive {
		return time.Time{}
	}
	n := p.Cadence.Next(after, loc)
	if n.IsZero() || !p.Until.IsZero() {
		if n.IsZero() {
			return n
		}
		y, m, d := p.Until.Date()
		if !n.Before(time.Date(y, m, d+1, 0, 0, 0, 0, loc)) {
			return time.Time{}
		}
	}
	return n
}

// zoneText names the client's zone for reminder times, and says UTC when none is set.
func zoneText(tz string) string {
	if tz == "" {
		return "your time (I'm using UTC for you — set your zone with /story tz Europe/Berlin)"
	}
	return "your time (" + tz + ")"
}

func (e *Engine) coachAssign(ctx context.Context, ev bot.Event, cmd *bot.Command) error {
	coach := ev.User
	var lib bot.LibraryEntry
	if cmd.Practice != "" {
		var ok bool
		if lib, ok = bot.LibraryPractice(cmd.Practice); !ok {
			return e.ephemeral(ctx, ev, fmt.Sprintf("I don't know the practice “%s”. /story practices library lists the built-in ones; or put your own words in quotes.", bot.Truncate(cmd.Practice, 40)))
		}
	}
	client, _, _, err := e.authorize(ctx, coach, cmd.Target, "assign a practice")
	if err != nil {
		return e.refuse(ctx, ev, "coach assign", err)
	}
	tz, err := e.zoneOf(ctx, client)
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach assign", err)
	}
	loc := (bot.Job{TZ: tz}).Location()
	now := e.now()
	p := bot.Practice{Library: lib.ID, Cadence: cmd.Schedule, Until: cmd.Until, Status: bot.PracticeActive, Assigned: now, StatusSince: now}
	if lib.ID == "" {
		p.Text = cmd.Text
	}
	if p.Ended(now, loc) {
		return e.ephemeral(ctx, ev, "That end date has already passed. Pick a date from today on, like until "+now.In(loc).AddDate(0, 1, 0).Format("2006-01-02")+".")
	}
	err = e.coaching.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		l, ok := linkOf(*d, coach, now)
		if !ok || l.State != bot.LinkAccepted {
			return bot.ErrNoCoachLink
		}
		p.LinkID = l.ID
		base := lib.ID
		if base == "" {
			base = "own"
		}
		p.ID = base
		if base == "own" {
			p.ID = "own-1"
		}
		for n := 2; ; n++ {
			if _, taken := d.Practices[p.ID]; !taken {
				break
			}
			p.ID = base + "-" + strconv.Itoa(n)
		}
		d.Practices[p.ID] = p
		return nil
	})
	if errors.Is(err, bot.ErrNoCoachLink) {
		return e.ephemeral(ctx, ev, fmt.Sprintf("%s isn't connected with you any more, so I didn't assign it. I haven't contacted them.", mention(client)))
	}
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach assign", err)
	}
	if err := e.reschedulePractices(ctx, client); err != nil {
		e.log.WarnContext(ctx, "practice reschedule failed", "user", client.String(), "err", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s gave you a practice: %s.\n", mention(coach), p.Title())
	if lib.ID != "" {
		b.WriteString(lib.Instruction + "\nWhy it helps: " + lib.Why + "\n")
	}
	if e.schedules == nil {
		b.WriteString("Reminders aren't switched on in this storybot.")
	} else {
		fmt.Fprintf(&b, "Reminders: %s, %s", p.Cadence, zoneText(tz))
		if cmd.DefaultTime {
			b.WriteString(" (no time was set, so 09:00)")
		}
		if !p.Until.IsZero() {
			fmt.Fprintf(&b, ", until %s", p.Until.Format("Mon 2 Jan"))
		}
		b.WriteString(".")
		if n := nextReminder(p, now, loc); !n.IsZero() {
			fmt.Fprintf(&b, " The first is %s.", n.In(loc).Format("Mon 2 Jan at 15:04"))
		}
	}
	b.WriteString("\nWhenever you've done it, press Done. /story practices lets you pause or stop it.")
	m := bot.Message{To: bot.Destination{Kind: bot.DestDM, User: client}, Kind: flows.ReplyPrompt, Text: b.String(), Choices: practiceChoices(p.ID)}
	if err := e.offer(ctx, m); err != nil {
		return fmt.Errorf("engine: send practice to %s: %w", client, err)
	}
	note := ""
	if cmd.DefaultTime {
		note = fmt.Sprintf(" No time was given, so reminders come at %02d:00 in their time zone; add one, like %s 08:30, to change it.", bot.DefaultHour, p.Cadence.DaysString())
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("Assigned “%s” (id %s) to %s: %s, their time. They've had a DM with it.%s", p.Title(), p.ID, mention(client), p.Cadence, note))
}

func (e *Engine) coachUnassign(ctx context.Context, ev bot.Event, target, id string) error {
	coach := ev.User
	client, _, _, err := e.authorize(ctx, coach, target, "change their practices")
	if err != nil {
		return e.refuse(ctx, ev, "coach unassign", err)
	}
	now := e.now()
	var (
		removed bot.Practice
		found   bool
	)
	err = e.coaching.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		l, ok := linkOf(*d, coach, now)
		if !ok || l.State != bot.LinkAccepted {
			return bot.ErrNoCoachLink
		}
		removed, found = d.Practices[id]
		if !found || removed.LinkID != l.ID {
			found = false
			return nil
		}
		delete(d.Practices, id)
		return nil
	})
	if errors.Is(err, bot.ErrNoCoachLink) {
		return e.ephemeral(ctx, ev, fmt.Sprintf("%s isn't connected with you any more. I haven't contacted them.", mention(client)))
	}
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach unassign", err)
	}
	if !found {
		return e.ephemeral(ctx, ev, fmt.Sprintf("%s has no practice “%s” from you. /story coach progress %s shows the ids.", mention(client), bot.Truncate(id, 40), mention(client)))
	}
	if err := e.reschedulePractices(ctx, client); err != nil {
		e.log.WarnContext(ctx, "practice reschedule failed", "user", client.String(), "err", err)
	}
	if err := e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: client}, Kind: flows.ReplyInfo,
		Text: fmt.Sprintf("%s took “%s” off your practices; its reminders have stopped.", mention(coach), removed.Title())}); err != nil {
		e.log.WarnContext(ctx, "unassign notice failed", "user", client.String(), "err", err)
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("Removed “%s” from %s's practices; its reminders have stopped.", removed.Title(), mention(client)))
}

func (e *Engine) coachProgress(ctx context.Context, ev bot.Event, target string) error {
	coach := ev.User
	client, data, link, err := e.authorize(ctx, coach, target, "show their progress")
	if err != nil {
		return e.refuse(ctx, ev, "coach progress", err)
	}
	notes, err := e.coaching.Notes(ctx, client)
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach progress", err)
	}
	var ps []bot.Practice
	for _, p := range data.Practices {
		if p.LinkID == link.ID {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Assigned.Before(ps[j].Assigned) })
	if len(ps) == 0 {
		return e.ephemeral(ctx, ev, fmt.Sprintf("%s has no practices from you yet. Give one with /story coach assign %s <practice> <cadence>.", mention(client), mention(client)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Practices of %s (connected since %s):", mention(client), dateText(link.Accepted))
	for _, p := range ps {
		fmt.Fprintf(&b, "\n\n%s — %s\nAssigned %s · %s, their time", p.ID, p.Title(), dateText(p.Assigned), p.Cadence)
		if !p.Until.IsZero() {
			fmt.Fprintf(&b, " · until %s", p.Until.Format("Mon 2 Jan"))
		}
		switch p.Status {
		case bot.PracticePaused:
			fmt.Fprintf(&b, " · paused by them since %s", dateText(p.StatusSince))
		case bot.PracticeStopped:
			fmt.Fprintf(&b, " · stopped by them on %s", dateText(p.StatusSince))
		}
		fmt.Fprintf(&b, "\nDone %d · missed %d · current streak %d", p.Done, p.Missed, p.Streak)
		if !p.LastDone.IsZero() {
			fmt.Fprintf(&b, " · last done %s", dateText(p.LastDone))
		}
		first := true
		for _, n := range notes {
			// Only notes the client shared, on this practice, under this very link, and
			// never one with crisis language, whatever its flag says.
			if !n.Shared || n.Practice != p.ID || n.LinkID != link.ID || !shareable(n) {
				continue
			}
			if first {
				b.WriteString("\nNotes they shared:")
				first = false
			}
			fmt.Fprintf(&b, "\n- %s: %s", dateText(n.Created), n.Text)
		}
	}
	b.WriteString("\n\nMissed counts reminders that got no Done before the next reminder.")
	return e.ephemeral(ctx, ev, b.String())
}

// clientPractices lists the user's practices with pause, resume and stop.
func (e *Engine) clientPractices(ctx context.Context, ev bot.Event) error {
	u := ev.User
	data, err := e.coaching.ClientData(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "practices", err)
	}
	tz, err := e.zoneOf(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "practices", err)
	}
	if len(data.Practices) == 0 {
		return e.ephemeral(ctx, ev, "You have no practices. A coach you accept can give you some; /story practices library shows the built-in ones.")
	}
	ps := make([]bot.Practice, 0, len(data.Practices))
	for _, p := range data.Practices {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Assigned.Before(ps[j].Assigned) })
	loc := (bot.Job{TZ: tz}).Location()
	now := e.now()
	var (
		b       strings.Builder
		choices []flows.Choice
	)
	b.WriteString("Your practices:")
	for _, p := range ps {
		from := "your coach"
		if l, ok := data.Links[p.LinkID]; ok {
			from = mention(l.Coach)
		}
		fmt.Fprintf(&b, "\n\n%s — %s (from %s)\n%s, %s", p.ID, p.Title(), from, p.Cadence, zoneText(tz))
		if !p.Until.IsZero() {
			fmt.Fprintf(&b, ", until %s", p.Until.Format("Mon 2 Jan"))
		}
		switch {
		case p.Status == bot.PracticeStopped:
			b.WriteString(". Stopped.")
		case p.Status == bot.PracticePaused:
			b.WriteString(". Paused.")
			choices = append(choices, flows.Choice{ID: prefixPractice + "resume:" + p.ID, Label: "Resume " + p.ID})
		case p.Ended(now, loc):
			b.WriteString(". Finished.")
		default:
			b.WriteString(".")
			if n := nextReminder(p, now, loc); !n.IsZero() && e.schedules != nil {
				fmt.Fprintf(&b, " Next reminder %s.", n.In(loc).Format("Mon 2 Jan at 15:04"))
			}
			choices = append(choices,
				flows.Choice{ID: prefixPractice + "pause:" + p.ID, Label: "Pause " + p.ID},
				flows.Choice{ID: prefixPractice + "stop:" + p.ID, Label: "Stop " + p.ID})
		}
		fmt.Fprintf(&b, " Done %d, streak %d.", p.Done, p.Streak)
	}
	if len(choices) > 0 {
		b.WriteString("\n\nPause holds a practice's reminders until you resume it; stop ends it. Your coach sees that you paused or stopped, nothing more.")
	}
	return e.offer(ctx, bot.Message{To: e.inPlace(ev), Kind: flows.ReplyPrompt, Text: b.String(), Choices: choices})
}

// practiceAction handles the client's answers to a practice. Only the event user's own
// practices can be reached: the ID is looked up under their keys.
func (e *Engine) practiceAction(ctx context.Context, ev bot.Event, action, id string) error {
	u := ev.User
	now := e.now()
	if action == "note" {
		data, err := e.coaching.ClientData(ctx, u)
		if err != nil {
			return e.storeTrouble(ctx, ev, "practice note", err)
		}
		if _, ok := data.Practices[id]; !ok {
			return e.ephemeral(ctx, ev, "That practice has ended, so there's nothing to add a note to.")
		}
		if err := e.coaching.SetPending(ctx, u, bot.CoachPending{NoteFor: id, At: now}); err != nil {
			return e.storeTrouble(ctx, ev, "practice note", err)
		}
		return e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyPrompt,
			Text: "Type your note. It stays private unless you choose to share it. (Type cancel to leave it.)"})
	}
	var (
		p     bot.Practice
		found bool
		again bool
	)
	err := e.coaching.UpdateClient(ctx, u, func(d *bot.ClientData) error {
		p, found = d.Practices[id]
		again = false
		if !found {
			return nil
		}
		switch action {
		case "done":
			if p.Status == bot.PracticeStopped {
				return nil
			}
			if p.SlotDone {
				again = true
				return nil
			}
			p.SlotDone = true
			p.Done++
			p.Streak++
			p.LastDone = now
			p.Completions = appendCompletion(p.Completions, bot.Completion{At: now, Kind: "done"})
		case "skip":
			p.NotToday++
			p.Completions = appendCompletion(p.Completions, bot.Completion{At: now, Kind: "not_today"})
		case "pause":
			if p.Status == bot.PracticeActive {
				p.Status, p.StatusSince = bot.PracticePaused, now
			}
		case "resume":
			if p.Status == bot.PracticePaused {
				p.Status, p.StatusSince = bot.PracticeActive, now
			}
		case "stop":
			if p.Status != bot.PracticeStopped {
				p.Status, p.StatusSince = bot.PracticeStopped, now
			}
		default:
			found = false
			return nil
		}
		d.Practices[id] = p
		return nil
	})
	if err != nil {
		return e.storeTrouble(ctx, ev, "practice", err)
	}
	if !found {
		return e.ephemeral(ctx, ev, "That practice has ended. /story practices shows the ones you have.")
	}
	e.clearOffer(ctx, u)
	switch action {
	case "done":
		if p.Status == bot.PracticeStopped {
			return e.ephemeral(ctx, ev, "You stopped “"+p.Title()+"”, so I didn't count that.")
		}
		if again {
			return e.ephemeral(ctx, ev, "Already marked done for this one — it counts once until the next reminder.")
		}
		return e.offer(ctx, bot.Message{To: e.inPlace(ev), Kind: flows.ReplyPrompt,
			Text:    fmt.Sprintf("Marked done: %s. Streak: %d. Want to add a note?", p.Title(), p.Streak),
			Choices: []flows.Choice{{ID: prefixPractice + "note:" + p.ID, Label: "Add a note"}}})
	case "skip":
		return e.ephemeral(ctx, ev, "Okay, not today. The next reminder comes as planned.")
	}
	if err := e.reschedulePractices(ctx, u); err != nil {
		e.log.WarnContext(ctx, "practice reschedule failed", "user", u.String(), "err", err)
	}
	switch action {
	case "pause":
		return e.ephemeral(ctx, ev, fmt.Sprintf("Paused “%s”: no reminders until you resume it in /story practices.", p.Title()))
	case "resume":
		return e.ephemeral(ctx, ev, fmt.Sprintf("Resumed “%s”. Reminders come as before.", p.Title()))
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("Stopped “%s”. No more reminders for it.", p.Title()))
}

func appendCompletion(cs []bot.Completion, c bot.Completion) []bot.Completion {
	cs = append(cs, c)
	if len(cs) > bot.MaxCompletions {
		cs = cs[len(cs)-bot.MaxCompletions:]
	}
	return cs
}

// takeNote stores the typed line as a note on the pending practice, private, and asks
// whether to share it.
func (e *Engine) takeNote(ctx context.Context, ev bot.Event, pend bot.CoachPending) error {
	u := ev.User
	now := e.now()
	text := strings.TrimSpace(ev.Text)
	if now.Sub(pend.At) > noteWait {
		if err := e.coaching.SetPending(ctx, u, bot.CoachPending{}); err != nil {
			return e.storeTrouble(ctx, ev, "practice note", err)
		}
		return e.turn(ctx, ev, flows.Input{Text: ev.Text})
	}
	switch strings.ToLower(text) {
	case "cancel", "stop", "skip":
		if err := e.coaching.SetPending(ctx, u, bot.CoachPending{}); err != nil {
			return e.storeTrouble(ctx, ev, "practice note", err)
		}
		return e.ephemeral(ctx, ev, "Okay, no note.")
	case "":
		return e.ephemeral(ctx, ev, "Type your note, or cancel to leave it.")
	}
	tier := noteSafety(text)
	if tier == flows.SafetyCrisis {
		// Not kept, never shared: the crisis answer, which says nothing was saved, comes
		// first and whatever the store does (turn answers it even when Redis is down).
		err := e.turn(ctx, ev, flows.Input{Text: text})
		if perr := e.coaching.SetPending(ctx, u, bot.CoachPending{}); perr != nil {
			e.log.WarnContext(ctx, "clear pending note failed", "user", u.String(), "err", perr)
		}
		return err
	}
	if n := len([]rune(text)); n > flows.MaxAnswerRunes {
		return e.ephemeral(ctx, ev, fmt.Sprintf("That's %d characters — I can take up to %d. Could you shorten it? Your note is still waiting.", n, flows.MaxAnswerRunes))
	}
	data, err := e.coaching.ClientData(ctx, u)
	if err != nil {
		return e.storeTrouble(ctx, ev, "practice note", err)
	}
	p, ok := data.Practices[pend.NoteFor]
	if !ok {
		if err := e.coaching.SetPending(ctx, u, bot.CoachPending{}); err != nil {
			return e.storeTrouble(ctx, ev, "practice note", err)
		}
		return e.ephemeral(ctx, ev, "That practice has ended in the meantime, so I didn't keep the note.")
	}
	note := bot.Note{ID: newID(), Practice: p.ID, LinkID: p.LinkID, Created: now, Text: text}
	if err := e.coaching.AddNote(ctx, u, note); err != nil {
		return e.storeTrouble(ctx, ev, "practice note", err)
	}
	if err := e.coaching.SetPending(ctx, u, bot.CoachPending{}); err != nil {
		return e.storeTrouble(ctx, ev, "practice note", err)
	}
	if tier != flows.SafetyNone {
		return e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyInfo, Text: textNotePrivate})
	}
	coach := "your coach"
	if l, ok := data.Links[p.LinkID]; ok && l.State == bot.LinkAccepted {
		coach = mention(l.Coach)
	}
	return e.offer(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Kind: flows.ReplyPrompt,
		Text: "Saved — private, for you only. Keep it private, or share it with " + coach + "?",
		Choices: []flows.Choice{
			{ID: prefixNote + "private:" + note.ID, Label: "Keep private"},
			{ID: prefixNote + "share:" + note.ID, Label: "Share with coach"},
		}})
}

func (e *Engine) shareNote(ctx context.Context, ev bot.Event, id string, shared bool) error {
	if shared {
		notes, err := e.coaching.Notes(ctx, ev.User)
		if err != nil {
			return e.storeTrouble(ctx, ev, "practice note", err)
		}
		for _, n := range notes {
			if n.ID == id && !shareable(n) {
				e.clearOffer(ctx, ev.User)
				return e.ephemeral(ctx, ev, textNoteNotShared)
			}
		}
	}
	ok, err := e.coaching.ShareNote(ctx, ev.User, id, shared)
	if err != nil {
		return e.storeTrouble(ctx, ev, "practice note", err)
	}
	e.clearOffer(ctx, ev.User)
	switch {
	case !ok:
		return e.ephemeral(ctx, ev, "That note is no longer here.")
	case shared:
		return e.ephemeral(ctx, ev, "Shared with your coach. They'll see it with your progress.")
	}
	return e.ephemeral(ctx, ev, "Kept private — only you can see it.")
}

// reschedulePractices puts the client's reminder job at the earliest next reminder of
// their active practices, or removes it when there is none.
func (e *Engine) reschedulePractices(ctx context.Context, client bot.UserRef) error {
	if e.schedules == nil {
		return nil
	}
	data, err := e.coaching.ClientData(ctx, client)
	if err != nil {
		return err
	}
	tz, err := e.zoneOf(ctx, client)
	if err != nil {
		return err
	}
	return e.putReminderJob(ctx, client, data, tz, e.now())
}

func (e *Engine) putReminderJob(ctx context.Context, client bot.UserRef, data bot.ClientData, tz string, now time.Time) error {
	j := bot.Job{Kind: bot.JobPractice, User: client, TZ: tz}
	loc := j.Location()
	var (
		due  time.Time
		from bot.Practice
	)
	for _, p := range data.Practices {
		if _, linked := data.Links[p.LinkID]; !linked {
			continue
		}
		if n := nextReminder(p, now, loc); !n.IsZero() && (due.IsZero() || n.Before(due)) {
			due, from = n, p
		}
	}
	if due.IsZero() {
		return e.schedules.DeleteJob(ctx, client, bot.JobPractice)
	}
	// The job carries the cadence of the earliest practice, so a scheduler that must skip
	// an occurrence still has a valid time to come back at.
	j.Checkin = bot.Checkin{Schedule: from.Cadence}
	return e.schedules.PutJob(ctx, j, due)
}

// deliverPractices sends the client's due practice reminders, counts the slots they
// close, and schedules the next reminder. The caller holds the client's lock. The job is
// rescheduled before anything is sent, so a failed send never stops future reminders.
func (e *Engine) deliverPractices(ctx context.Context, j bot.Job) error {
	if e.coaching == nil {
		return nil
	}
	client := j.User
	tz, err := e.zoneOf(ctx, client)
	if err != nil {
		return fmt.Errorf("engine: deliver practices to %s: %w", client, err)
	}
	loc := (bot.Job{TZ: tz}).Location()
	now := e.now()
	var due []bot.Practice
	var after bot.ClientData
	err = e.coaching.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		due = due[:0]
		for id, p := range d.Practices {
			if _, linked := d.Links[p.LinkID]; !linked {
				continue
			}
			if l := d.Links[p.LinkID]; l.State != bot.LinkAccepted {
				continue
			}
			since := p.Assigned
			if p.LastReminder.After(since) {
				since = p.LastReminder
			}
			n := nextReminder(p, since, loc)
			if n.IsZero() || n.After(now) {
				continue
			}
			if now.Sub(n) > staleReminder {
				// Too late to be useful: skip it without counting a slot.
				p.LastReminder = now
				d.Practices[id] = p
				continue
			}
			if p.SlotReminder && !p.SlotDone {
				p.Missed++
				p.Streak = 0
			}
			p.SlotReminder, p.SlotDone = true, false
			p.Reminders++
			p.LastReminder = now
			d.Practices[id] = p
			due = append(due, p)
		}
		after = *d
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: deliver practices to %s: %w", client, err)
	}
	if e.schedules != nil {
		if err := e.putReminderJob(ctx, client, after, tz, now); err != nil {
			return fmt.Errorf("engine: reschedule practices of %s: %w", client, err)
		}
	}
	sort.Slice(due, func(i, k int) bool { return due[i].ID < due[k].ID })
	for _, p := range due {
		var b strings.Builder
		fmt.Fprintf(&b, "Time for your practice: %s.", p.Title())
		if lib, ok := bot.LibraryPractice(p.Library); ok {
			b.WriteString("\n" + lib.Instruction)
		}
		b.WriteString("\nDone, not today, or a note?")
		m := bot.Message{To: bot.Destination{Kind: bot.DestDM, User: client}, Kind: flows.ReplyPrompt, Text: b.String(), Choices: practiceChoices(p.ID)}
		if len(due) == 1 {
			err = e.offer(ctx, m)
		} else {
			// Several at once: typed labels would be ambiguous, so buttons only.
			e.clearOffer(ctx, client)
			err = e.out.Send(ctx, m)
		}
		if err != nil {
			return fmt.Errorf("engine: deliver practice reminder to %s: %w", client, err)
		}
	}
	return nil
}
