package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// The user's home (SPEC.md, "Platform-native, for the meeting"): on platforms that have one
// (Slack's App Home tab), a page of the bot's own that only its user sees. It is published
// when the user opens it, after a turn that saved a journal entry (only for a user who has
// opened it at least once: see refreshHome) and after /story forget (then empty). It shows
// Start a pause and Quick pause, the next check-in, pending check-backs and the newest
// entries by date and kind — never the user's words: a home is often on a screen shared in
// a meeting. An entry's words come only when the user presses its Show button, in their DM.
//
// Cost: one open reads the profile, the journal index and its newest entries (one MGET),
// the check-in job and the pending check-backs of those entries (one pipeline): all keys of
// this user, no scan; the first open of a user the bot knows also marks their profile
// (bot.Profile.HomeOpened). A save costs a user who never opened their home one profile
// read and nothing more. Platforms without a home build nothing (bot.HomeShower).

const (
	// homeEntries is how many entries the home lists.
	homeEntries = 3
	// homeScanEntries bounds the journal read for a home: the newest entries are listed, and
	// pending check-backs, at most about a week out, are looked for among them.
	homeScanEntries = 30
	// homeZoneTimeout bounds asking the platform for the zone of a user who has none saved.
	homeZoneTimeout = time.Second
)

// Home wording.
const (
	textHomeIntro     = "A private pause for the story you're telling yourself. Only you can see this page."
	textHomeEmpty     = "Your journal is empty. Pauses you save are listed here by date, without their words."
	textHomeDown      = "I can't read your journal right now — nothing was lost. Open this tab again in a minute."
	textHomeEntryGone = "That entry isn't in your journal any more (erased, or past its retention), so there's nothing to show."
)

var (
	choiceHomePause = flows.Choice{ID: bot.ChoiceHomePause, Label: "Start a pause"}
	choiceHomeQuick = flows.Choice{ID: bot.ChoiceHomeQuick, Label: "Quick pause"}
)

// showsHome reports whether u's platform shows a home at all.
func (e *Engine) showsHome(u bot.UserRef) bool { return e.out.ShowsHome(u) }

// homeOpened publishes the home of the user who opened it: one publish per open. It marks
// the user's profile (HomeOpened), so that their saves from now on republish it, whichever
// replica handles them; a user the bot never met gets no profile for opening it.
func (e *Engine) homeOpened(ctx context.Context, ev bot.Event) error {
	if !e.showsHome(ev.User) {
		return nil
	}
	loc, p, known, err := e.homeLocation(ctx, ev.User)
	var v bot.HomeView
	if err == nil {
		if known && !p.HomeOpened {
			e.markHomeOpened(ctx, ev.User, true)
		}
		v, err = e.homeView(ctx, ev.User, loc)
	}
	if err != nil {
		// Nothing the user typed is at stake: the home says so kindly, and the error is logged.
		e.metrics.storeError("home")
		e.log.ErrorContext(ctx, "store failed", "op", "home", "user", ev.User.String(), "err", err)
		v = e.emptyHome()
		v.EntriesTitle = textHomeDown
	}
	return e.publishHome(ctx, ev.User, v)
}

// markHomeOpened records that u has seen their home (bot.ProfileStore.MarkHomeOpened). A
// failure is logged: the home is published anyway, and the next open marks it.
func (e *Engine) markHomeOpened(ctx context.Context, u bot.UserRef, ifKnown bool) {
	if _, err := e.profiles.MarkHomeOpened(ctx, u, ifKnown); err != nil {
		e.metrics.storeError("home")
		e.log.WarnContext(ctx, "home-opened mark not saved", "user", u.String(), "err", err)
	}
}

// refreshHome publishes u's home again after their journal changed (a saved entry), if
// they have ever opened it: most users never look at the tab, and building a home costs
// four reads and a platform call on every save. One who never did costs one profile read;
// their first open builds the home from scratch anyway. A failure is logged: the save
// itself is done, and the home is read afresh on the next open.
func (e *Engine) refreshHome(ctx context.Context, u bot.UserRef) {
	if !e.showsHome(u) {
		return
	}
	p, _, err := e.profiles.Profile(ctx, u)
	if err != nil {
		e.metrics.storeError("home")
		e.log.WarnContext(ctx, "home not refreshed", "user", u.String(), "err", err)
		return
	}
	if !p.HomeOpened {
		return
	}
	loc, err := e.homeZone(ctx, u, p)
	if err != nil {
		e.metrics.storeError("home")
		e.log.WarnContext(ctx, "home not refreshed", "user", u.String(), "err", err)
		return
	}
	v, err := e.homeView(ctx, u, loc)
	if err != nil {
		e.metrics.storeError("home")
		e.log.WarnContext(ctx, "home not refreshed", "user", u.String(), "err", err)
		return
	}
	if err := e.publishHome(ctx, u, v); err != nil {
		e.log.WarnContext(ctx, "home not refreshed", "user", u.String(), "err", err)
	}
}

// homeZone is zone for a user whose profile p was just read: no second read when it has a
// zone. (Without one, zone asks the platform and keeps its answer, as a dialogue would: u
// just saved an entry, so their profile exists anyway.)
func (e *Engine) homeZone(ctx context.Context, u bot.UserRef, p bot.Profile) (*time.Location, error) {
	if p.TZ == "" && e.zones == nil {
		return time.UTC, nil
	}
	if p.TZ == "" {
		return e.zone(ctx, u)
	}
	loc, err := time.LoadLocation(p.TZ)
	if err != nil {
		return time.UTC, nil
	}
	return loc, nil
}

// clearHome publishes u's empty home after /story forget. It reads nothing: everything is
// erased, and a read could only bring the user's id back into the store.
func (e *Engine) clearHome(ctx context.Context, u bot.UserRef) {
	if !e.showsHome(u) {
		return
	}
	if err := e.publishHome(ctx, u, e.emptyHome()); err != nil {
		e.log.WarnContext(ctx, "home not cleared", "user", u.String(), "err", err)
	}
}

func (e *Engine) publishHome(ctx context.Context, u bot.UserRef, v bot.HomeView) error {
	err := e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestHome, User: u}, Kind: flows.ReplyInfo, Home: &v})
	if err != nil {
		e.metrics.sendError(u.Platform)
		return fmt.Errorf("engine: publish home of %s: %w", u, err)
	}
	return nil
}

// emptyHome is a home with nothing of the user's in it.
func (e *Engine) emptyHome() bot.HomeView {
	return bot.HomeView{
		Intro:        textHomeIntro,
		Actions:      []flows.Choice{choiceHomePause, choiceHomeQuick},
		EntriesTitle: textHomeEmpty,
		Privacy:      e.texts.homePrivacy(),
	}
}

// homeView builds u's home from their own keys, with dates in loc. It writes nothing:
// opening a home must not create data about a user who never used the bot.
func (e *Engine) homeView(ctx context.Context, u bot.UserRef, loc *time.Location) (bot.HomeView, error) {
	v := e.emptyHome()
	entries, err := e.dialogues.Journal(ctx, u, homeScanEntries)
	if err != nil {
		return v, fmt.Errorf("engine: home journal: %w", err)
	}
	if e.schedules != nil {
		j, next, ok, err := e.schedules.Job(ctx, u, bot.JobCheckin)
		if err != nil {
			return v, fmt.Errorf("engine: home check-in: %w", err)
		}
		if ok && !next.IsZero() {
			v.Checkin = "Next check-in: " + next.In(j.Location()).Format("Mon 2 Jan at 15:04") + " (" + j.Checkin.Schedule.String() + ")"
		}
		pending, err := e.pendingAmong(ctx, u, entries)
		if err != nil {
			return v, fmt.Errorf("engine: home check-backs: %w", err)
		}
		for _, p := range pending {
			v.Checkbacks = append(v.Checkbacks, p.Due.In(loc).Format("Mon 2 Jan at 15:04")+" — how the next step of your "+
				flowTitle(p.Entry.Flow)+" of "+p.Entry.Created.In(loc).Format("Mon 2 Jan")+" went")
		}
	}
	if len(entries) > 0 {
		n := min(len(entries), homeEntries)
		v.EntriesTitle = fmt.Sprintf("Your last %d journal entries (Show sends one's words to our DM):", n)
		if n == 1 {
			v.EntriesTitle = "Your last journal entry (Show sends its words to our DM):"
		}
		for _, en := range entries[:n] {
			v.Entries = append(v.Entries, bot.HomeEntry{
				Label: en.Created.In(loc).Format("Mon 2 Jan 2006, 15:04") + " — " + capitalize(flowTitle(en.Flow)),
				Show:  flows.Choice{ID: bot.ChoiceHomeShowPrefix + en.ID, Label: "Show"},
			})
		}
	}
	return v, nil
}

// homeLocation is u's zone for the home's dates: the saved one, else the platform's (asked
// briefly, not saved: opening a home writes nothing), else UTC; with the profile it read and
// whether there is one.
func (e *Engine) homeLocation(ctx context.Context, u bot.UserRef) (*time.Location, bot.Profile, bool, error) {
	p, known, err := e.profiles.Profile(ctx, u)
	if err != nil {
		return time.UTC, p, false, fmt.Errorf("engine: home profile: %w", err)
	}
	tz := p.TZ
	if tz == "" && e.zones != nil {
		zctx, cancel := context.WithTimeout(ctx, homeZoneTimeout)
		tz, err = e.zones.PlatformZone(zctx, u)
		cancel()
		if err != nil {
			tz = ""
		}
	}
	if tz == "" || tz == "Local" {
		return time.UTC, p, known, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC, p, known, nil
	}
	return loc, p, known, nil
}

// homeChoice handles a home button. handled is false for every other event.
func (e *Engine) homeChoice(ctx context.Context, ev bot.Event) (handled bool, err error) {
	if ev.Kind != bot.EventChoice || !bot.IsHomeChoice(ev.Choice) {
		return false, nil
	}
	// A press on the home shows it is open (perhaps since before the user had a profile, when
	// opening it marked nothing): what they save from here on republishes it.
	e.markHomeOpened(ctx, ev.User, false)
	switch {
	case ev.Choice == bot.ChoiceHomePause:
		return true, e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flows.FlowPause}})
	case ev.Choice == bot.ChoiceHomeQuick:
		if ev.Trigger != "" && !ev.InDM {
			return true, e.openForm(ctx, ev, "")
		}
		return true, e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flows.FlowQuick}})
	case strings.HasPrefix(ev.Choice, bot.ChoiceHomeShowPrefix):
		return true, e.showEntry(ctx, ev, strings.TrimPrefix(ev.Choice, bot.ChoiceHomeShowPrefix))
	}
	// A button of a home this build no longer draws: draw the current one.
	e.refreshHome(ctx, ev.User)
	return true, nil
}

// showEntry sends one journal entry's words to the user's DM: the home lists entries only by
// date and kind.
func (e *Engine) showEntry(ctx context.Context, ev bot.Event, id string) error {
	en, ok, err := e.dialogues.Entry(ctx, ev.User, id)
	if err != nil {
		return e.storeTrouble(ctx, ev, "show_entry", err)
	}
	if !ok {
		e.refreshHome(ctx, ev.User) // the home still listed it: show what is there now
		return e.deliver(ctx, ev, "", bot.Message{Kind: flows.ReplyInfo, Text: textHomeEntryGone})
	}
	en.ID = id
	var b strings.Builder
	b.WriteString("From your journal:")
	writeEntries(&b, []flows.Entry{en}, e.location(ctx, ev.User))
	return e.deliver(ctx, ev, "", bot.Message{Kind: flows.ReplyInfo, Text: b.String()})
}

// capitalize upper-cases the first letter of an ASCII title.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
