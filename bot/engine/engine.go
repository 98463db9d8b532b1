package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Config configures an Engine. Dialogues, Profiles and Sender are required.
type Config struct {
	Machine   *flows.Machine
	Dialogues bot.DialogueStore
	Profiles  bot.ProfileStore
	// Sender delivers messages; the engine wraps it in a Guard.
	Sender  bot.Sender
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics // may be nil
	// RetentionDays is shown in the welcome and privacy texts.
	RetentionDays int
	// Encrypted says whether reflection text is encrypted at rest (for the privacy text).
	Encrypted bool
	// Erasers erase everything about a user for /story forget: every store that keeps
	// anything keyed by or naming the user must be here.
	Erasers []bot.Eraser
	// ExportParts add sections to /story export beyond profile, dialogue and journal.
	ExportParts []bot.ExportPart
	// Schedules keeps check-ins and digests; nil: /story checkin and digest are off.
	Schedules bot.ScheduleStore
	// Coaching keeps coach links, practices and notes; nil: the coach commands and
	// /story practices are off. Its eraser and export part go in Erasers and ExportParts.
	Coaching bot.CoachStore
	// Zones finds a user's zone in their platform profile when they have set none; may be nil.
	Zones bot.ZoneFinder
	// Plans keeps safety plans; nil: /story safety-plan is off and /story sos shows no plan.
	// Its data is erased by the store's own Eraser (in Erasers).
	Plans bot.PlanStore
	// Mergers move data kept under an event's alias into the person's one reference
	// (bot.Event.Alias); every store keyed by user should be here, like Erasers.
	Mergers []bot.Merger
	// WorkspaceJobs stops a workspace's scheduled jobs when the platform says it is gone;
	// nil: nothing to stop.
	WorkspaceJobs WorkspaceJobs
	// Coaches limits who may coach (STORYBOT_COACHES): user IDs or platform:workspace:user
	// references. Empty: anyone may.
	Coaches []string
}

// WorkspaceJobs removes every scheduled job of one workspace.
type WorkspaceJobs interface {
	ForgetWorkspaceJobs(ctx context.Context, platform, workspace string) (int, error)
}

// Engine turns events into dialogue steps and replies. It is safe for concurrent use:
// events of one user are handled one at a time, in arrival order, within a process; across
// processes the store's atomic turns keep the state consistent.
type Engine struct {
	machine   *flows.Machine
	dialogues bot.DialogueStore
	profiles  bot.ProfileStore
	out       *bot.Guard
	now       func() time.Time
	log       *slog.Logger
	metrics   *Metrics
	texts     texts

	erasers     []bot.Eraser
	exportParts []bot.ExportPart
	schedules   bot.ScheduleStore
	coaching    bot.CoachStore
	coaches     []string
	zones       bot.ZoneFinder
	plans       bot.PlanStore

	mergers       []bot.Merger
	merged        mergedSet
	workspaceJobs WorkspaceJobs

	locks userLocks
}

// NewEngine returns an engine; it panics if a required part is missing, since that is a
// wiring mistake, not a runtime condition.
func NewEngine(cfg Config) *Engine {
	if cfg.Dialogues == nil || cfg.Profiles == nil || cfg.Sender == nil {
		panic("engine: NewEngine needs Dialogues, Profiles and Sender")
	}
	if cfg.Machine == nil {
		cfg.Machine = flows.New(flows.Config{})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetentionDays == 0 {
		cfg.RetentionDays = 180
	}
	var onRefused func(string)
	if cfg.Metrics != nil {
		onRefused = cfg.Metrics.refused
	}
	return &Engine{
		machine:   cfg.Machine,
		dialogues: cfg.Dialogues,
		profiles:  cfg.Profiles,
		out:       bot.NewGuard(cfg.Sender, cfg.Logger, onRefused),
		now:       cfg.Now,
		log:       cfg.Logger,
		metrics:   cfg.Metrics,
		texts:     texts{retentionDays: cfg.RetentionDays, encrypted: cfg.Encrypted},

		erasers:     cfg.Erasers,
		exportParts: cfg.ExportParts,
		schedules:   cfg.Schedules,
		coaching:    cfg.Coaching,
		coaches:     cfg.Coaches,
		zones:       cfg.Zones,
		plans:       cfg.Plans,

		mergers:       cfg.Mergers,
		workspaceJobs: cfg.WorkspaceJobs,
	}
}

// Handle handles one event. Replies that could not be delivered are reported in the
// returned error; the user's state is never left half-changed.
func (e *Engine) Handle(ctx context.Context, ev bot.Event) error {
	if ev.User.Platform == "" || ev.User.User == "" {
		return errors.New("engine: event without a user")
	}
	start := e.now()
	held, err := e.locks.lock(ctx, ev.User)
	if err != nil {
		return err
	}
	defer held.unlock()
	e.metrics.event(ev)
	defer e.metrics.handled(ev, start, e.now)
	e.adopt(ctx, ev)
	err = e.dispatch(ctx, ev)
	if err == nil {
		return nil
	}
	var stale *bot.StaleSnapshotError
	if errors.As(err, &stale) {
		// The turn started from this process's memory of the dialogue (bot.Guesser), and
		// the store found a coaching marker set, which may make the line a note instead of
		// an answer: nothing was written, the event is claimed now, and it is answered
		// again from what the store read.
		ev.Snapshot = stale.Snapshot
		err = e.dispatch(ctx, ev)
	}
	return err
}

// turnNotMine reports whether a failed turn's error means the turn was not this handler's to
// answer, and what to return then: a turn from this process's memory of the dialogue whose
// event is another process's or was answered before (nothing written, nothing to say), or
// one whose memory was out of date in a way that changes the line's meaning (Handle answers
// it again).
func turnNotMine(err error) (bool, error) {
	var stale *bot.StaleSnapshotError
	switch {
	case errors.Is(err, bot.ErrEventHeld), errors.Is(err, bot.ErrEventHandled):
		return true, nil
	case errors.As(err, &stale):
		return true, err
	}
	return false, nil
}

// dispatch answers ev, under the user's lock.
func (e *Engine) dispatch(ctx context.Context, ev bot.Event) error {
	if ev.Kind == bot.EventText && strings.TrimSpace(ev.Text) == "" {
		// A message the bot cannot read (an image alone): say so once, change nothing.
		return e.ephemeral(ctx, ev, TextTextOnly)
	}

	if handled, err := e.homeChoice(ctx, ev); handled {
		return err
	}
	if ev.Kind == bot.EventText && ev.Snapshot == nil && e.coaching != nil {
		// A typed line needs the coaching marker and, usually, the dialogue: read both in one
		// round trip, which the turn then starts from (its commit is the only other one).
		// The adapter's claim usually read them already (ev.Snapshot).
		if st, ok := e.dialogues.(bot.SnapshotTurner); ok {
			snap, err := st.Snapshot(ctx, ev.User)
			if err != nil {
				// Coaching must not stand in the way of a pause, and the store's trouble is
				// told by the turn: go on as if no marker were set.
				e.log.WarnContext(ctx, "snapshot read failed", "user", ev.User.String(), "err", err)
				snap = &bot.Snapshot{}
			}
			ev.Snapshot = snap
		}
	}
	if handled, err := e.coachEvent(ctx, ev); handled {
		return err
	}
	if handled, err := e.cancelFollowupChoice(ctx, ev); handled {
		return err
	}
	if answer, yes := forgetAnswer(ev); answer {
		if handled, err := e.answerForget(ctx, ev, yes); handled {
			return err
		}
	}
	switch ev.Kind {
	case bot.EventCommand:
		return e.command(ctx, ev)
	case bot.EventText:
		return e.turn(ctx, ev, flows.Input{Text: ev.Text})
	case bot.EventChoice:
		return e.turn(ctx, ev, flows.Input{Choice: ev.Choice})
	case bot.EventForm:
		return e.form(ctx, ev)
	case bot.EventHome:
		return e.homeOpened(ctx, ev)
	}
	return fmt.Errorf("engine: unknown event kind %d", ev.Kind)
}

func (e *Engine) command(ctx context.Context, ev bot.Event) error {
	// Safety first: the raw text of every command is read before it is parsed.
	if handled, err := e.commandCrisis(ctx, ev); handled {
		return err
	}
	cmd := ev.Command
	if cmd == nil {
		parsed, err := bot.ParseCommand(ev.Text)
		var perr *bot.ParseError
		if errors.As(err, &perr) {
			if perr.DidYouMean != "" {
				// A typo gets its one line of help, not the whole list.
				return e.ephemeral(ctx, ev, perr.Msg)
			}
			return e.ephemeral(ctx, ev, perr.Msg+"\n\n"+e.texts.help())
		}
		if err != nil {
			return err
		}
		cmd = &parsed
	}
	switch cmd.Name {
	case bot.CmdCheckin, bot.CmdDigest, bot.CmdPractices:
		// These may write to the user's DM: the first time, the welcome comes first.
		// (Dialogues, history and export send it with their own messages; answers that stay
		// ephemeral, like help or the coach's commands, need no greeting.)
		if err := e.welcome(ctx, ev); err != nil {
			return err
		}
	}
	switch cmd.Name {
	case bot.CmdHelp:
		return e.ephemeral(ctx, ev, e.texts.help())
	case bot.CmdPrivacy:
		return e.ephemeral(ctx, ev, e.texts.privacy())
	case bot.CmdQuick:
		if ev.Trigger != "" && !ev.InDM {
			return e.openForm(ctx, ev, cmd.Text)
		}
		return e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flows.FlowQuick, Text: cmd.Text, Request: ev.Request}})
	case bot.CmdPause, bot.CmdReframe:
		flow := map[bot.CommandName]flows.Flow{bot.CmdPause: flows.FlowPause, bot.CmdReframe: flows.FlowReframe}[cmd.Name]
		return e.turn(ctx, ev, flows.Input{Start: &flows.Start{Flow: flow, Text: cmd.Text, Request: ev.Request}})
	case bot.CmdHistory:
		if cmd.Word != "" {
			return e.historyWord(ctx, ev, cmd.Word)
		}
		return e.history(ctx, ev, cmd.N)
	case bot.CmdFollowups:
		return e.followupsCommand(ctx, ev, cmd)
	case bot.CmdTZ:
		return e.timezone(ctx, ev, cmd.Zone)
	case bot.CmdCheckin:
		return e.checkinCommand(ctx, ev, cmd)
	case bot.CmdDigest:
		return e.digestCommand(ctx, ev, cmd.Digest)
	case bot.CmdExport:
		return e.export(ctx, ev)
	case bot.CmdForget:
		return e.askForget(ctx, ev)
	case bot.CmdCoachInvite, bot.CmdCoachAssign, bot.CmdCoachProgress, bot.CmdCoachList, bot.CmdCoachUnassign, bot.CmdCoachRevoke, bot.CmdCoachAsk, bot.CmdPractices:
		return e.coachCommand(ctx, ev, cmd)
	case bot.CmdSOS:
		return e.sos(ctx, ev)
	case bot.CmdSafetyPlan:
		return e.safetyPlanCommand(ctx, ev)
	}
	return fmt.Errorf("engine: command %v has no handler", cmd.Name)
}

// errRepeatedStart aborts, unsaved, the turn of a start whose request started the open
// dialogue (flows.Start.Request).
var errRepeatedStart = errors.New("repeated start")

// turn steps the user's dialogue with in and sends the replies to their DM (see deliver).
// A user the bot has not met gets the welcome first. Only a turn that starts a dialogue or
// finds none open asks the store about the welcome: a user in the middle of a dialogue has
// been greeted (forget erases the dialogue with the welcome mark), so the common turn costs
// no extra round trip and no replica needs to remember anything.
func (e *Engine) turn(ctx context.Context, ev bot.Event, in flows.Input) error {
	in.Now = e.now()
	welcomed := false // known from the profile read below; false: ask the store
	if in.Start != nil && offersCheckBack(in.Start.Flow) {
		// Read once, as the dialogue starts; its state carries it to the next-step answer.
		// The same read says whether the user was greeted, which spares the welcome's own
		// round trip for everyone but newcomers.
		st := *in.Start
		if ev.Snapshot != nil && ev.Snapshot.Prefs != nil {
			// The event's claim read them (a slash command's, usually): no round trip.
			st.NoCheckBack, welcomed = ev.Snapshot.Prefs.NoFollowups, ev.Snapshot.Prefs.Welcomed
		} else {
			st.NoCheckBack, welcomed = e.startPrefs(ctx, ev.User)
		}
		in.Start = &st
	}
	ts := &turnStep{e: e, ctx: ctx, user: ev.User, in: in}
	step := ts.step
	var err error
	snapTurner, _ := e.dialogues.(bot.SnapshotTurner)
	once, _ := e.dialogues.(bot.OnceTurner)
	switch {
	case snapTurner != nil && (ev.ID != "" || ev.Snapshot != nil):
		// The turn starts from the dialogue the event's claim read (no read of its own;
		// when that read is stale the store reads again), and its commit records the event's
		// ID and marks the event done: the lease has nothing left to write.
		var from *bot.DialogueRead
		if ev.Snapshot != nil {
			from = ev.Snapshot.Dialogue
		}
		var applied bool
		applied, err = snapTurner.TurnFrom(ctx, ev.User, ev.ID, from, step)
		if err == nil && applied && ev.ID != "" {
			ev.Snapshot.SetDone()
		}
		if err == nil && !applied {
			e.log.InfoContext(ctx, "event already applied", "user", ev.User.String(), "event", ev.ID)
			return e.askAgain(ctx, ev)
		}
	case once != nil && ev.ID != "":
		// The commit records the event's ID: a redelivery or replay of an event already
		// applied (its first handler died after the commit, or a signed request was sent
		// twice) changes nothing and says nothing twice.
		var applied bool
		applied, err = once.TurnOnce(ctx, ev.User, ev.ID, step)
		if err == nil && !applied {
			e.log.InfoContext(ctx, "event already applied", "user", ev.User.String(), "event", ev.ID)
			return e.askAgain(ctx, ev)
		}
	default:
		err = e.dialogues.Turn(ctx, ev.User, step)
	}
	if errors.Is(err, errRepeatedStart) {
		e.log.InfoContext(ctx, "repeated start ignored", "user", ev.User.String())
		return nil
	}
	replies, wasOpen := ts.replies, ts.wasOpen
	if err != nil {
		if stop, serr := turnNotMine(err); stop {
			return serr
		}
		if sent, cerr := e.crisisDespiteStore(ctx, ev, in); sent {
			return cerr
		}
		return e.storeTrouble(ctx, ev, "turn", err)
	}
	msgs := make([]bot.Message, 0, len(replies)+1)
	saved := false
	for _, r := range replies {
		if r.Remind > 0 {
			e.snooze(ctx, ev.User, r.Remind)
		}
		if r.Save != nil {
			e.scheduleFollowup(ctx, ev.User, *r.Save) // the store set its ID
			saved = true
		}
		if r.Outcome != nil {
			e.recordOutcome(ctx, ev.User, *r.Outcome)
		}
		e.metrics.reply(r.Kind)
		e.metrics.safety(r.Safety)
		msgs = append(msgs, bot.Message{Kind: r.Kind, Text: r.Text, Choices: r.Choices})
	}
	if saved {
		// The home lists the newest entries: after the replies, show the new one there.
		defer e.refreshHome(ctx, ev.User)
	}
	if ev.Modal && ev.Route != "" {
		// A button in a modal (or in the answer to one) is answered there.
		return e.sendModal(ctx, ev, msgs)
	}
	if ev.Kind == bot.EventCommand && hasCrisis(replies) {
		// The crisis answer to a command comes where the user is looking, at once, not
		// behind a pointer to the DM, and with no welcome before it.
		return e.sendInPlace(ctx, ev, msgs)
	}
	if (in.Start != nil || !wasOpen) && !hasCrisis(replies) && !welcomed {
		if msgs, err = e.withWelcome(ctx, ev.User, msgs); err != nil {
			// The turn is saved; the greeting can wait for the next time.
			e.log.WarnContext(ctx, "welcome check failed", "user", ev.User.String(), "err", err)
		}
	}
	pointer := ""
	if in.Start != nil {
		pointer = pointerDialogue
	}
	if err := e.deliver(ctx, ev, pointer, msgs...); err != nil {
		// The turn is saved and its replies did not all go out: the next answer gets the
		// open prompt again.
		e.missed(ctx, ev.User)
		return err
	}
	return nil
}

// turnStep is the step of Engine.turn, with what it reads and what it leaves for the turn
// to send: one allocation for all of it (a closure over the same would make one for each
// variable it changes).
type turnStep struct {
	e    *Engine
	ctx  context.Context
	user bot.UserRef
	in   flows.Input

	loc     *time.Location // looked up once, and only when the step reads a time
	replies []flows.Reply  // the committed step's
	wasOpen bool
}

// step is the turn's bot.TurnFunc.
func (t *turnStep) step(cur flows.State) (flows.State, *flows.Entry, error) {
	e, ctx, in := t.e, t.ctx, t.in
	if cur.WantsLocation() {
		if t.loc == nil {
			l, err := e.zone(ctx, t.user)
			if err != nil {
				return cur, nil, err
			}
			t.loc = l
		}
		in.Location = t.loc
	}
	next, rs, err := e.machine.Step(cur, in)
	if err != nil {
		return cur, nil, err
	}
	if len(rs) == 0 && in.Start != nil && in.Start.Request != "" {
		// The same request again while the dialogue it started is open: it was
		// answered. Nothing is written (a write would also make every replica's
		// remembered copy stale).
		return cur, nil, errRepeatedStart
	}
	switch {
	case askedUnseen(cur, in) && !safetyReply(rs):
		// The user may never have seen the question this text would answer.
		p, err := e.machine.Prompt(cur)
		if err != nil {
			return cur, nil, err
		}
		next, rs = cur, []flows.Reply{{Kind: flows.ReplyInfo, Text: TextMissedPrompt}, p}
		next.Unseen = time.Time{}
	case next.Open() && cur.Unseen.After(in.Now):
		next.Unseen = cur.Unseen // replies still on their way: their queue clears it
	default:
		next.Unseen = time.Time{}
	}
	var save *flows.Entry
	for _, r := range rs {
		if r.Save != nil {
			save = r.Save
		}
	}
	if err := e.savePlans(ctx, t.user, rs); err != nil {
		return cur, nil, err
	}
	t.replies, t.wasOpen = rs, cur.Open()
	return next, save, nil
}

// askAgain answers an event whose turn was already applied by a handler that died before it
// marked the event done, so its replies may never have gone out: the open prompt is asked
// again (a repeated question is better than silence). With no dialogue open it says
// nothing.
func (e *Engine) askAgain(ctx context.Context, ev bot.Event) error {
	st, ok, err := e.dialogues.Dialogue(ctx, ev.User)
	if err != nil || !ok || !st.Open() {
		return err
	}
	r, err := e.machine.Prompt(st)
	if err != nil {
		return fmt.Errorf("engine: ask again: %w", err)
	}
	return e.deliver(ctx, ev, "", bot.Message{Kind: r.Kind, Text: r.Text, Choices: r.Choices})
}

// welcome sends the welcome on its own, to a user the bot has not met before, for commands
// whose answers may come in the DM later.
func (e *Engine) welcome(ctx context.Context, ev bot.Event) error {
	w, err := e.welcomeMessage(ctx, ev.User)
	if err != nil {
		return e.storeTrouble(ctx, ev, "welcome", err)
	}
	if w == nil {
		return nil
	}
	return e.deliver(ctx, ev, "", *w)
}

// storeTrouble tells the user, in the same private place, that nothing was lost, and
// returns the error for the adapter to log. The message never includes the error text.
func (e *Engine) storeTrouble(ctx context.Context, ev bot.Event, op string, err error) error {
	e.metrics.storeError(op)
	e.log.ErrorContext(ctx, "store failed", "op", op, "user", ev.User.String(), "err", err)
	msg := bot.Message{To: e.inPlace(ev), Kind: flows.ReplyProblem, Text: TextStoreDown}
	// A hanging Redis may have used up ctx's time; the notice still deserves its own.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
	defer cancel()
	if sendErr := e.out.Send(sendCtx, msg); sendErr != nil {
		return errors.Join(fmt.Errorf("engine: %s: %w", op, err), fmt.Errorf("engine: send outage notice: %w", sendErr))
	}
	return fmt.Errorf("engine: %s: %w: %w", op, bot.ErrUserTold, err)
}

// noticeTimeout bounds sending the outage notice, which may start after the event's own
// deadline has passed.
const noticeTimeout = 5 * time.Second

// inPlace is where to answer the event privately without moving the user: the DM for DM
// events, an ephemeral reply for commands and clicks elsewhere.
func (e *Engine) inPlace(ev bot.Event) bot.Destination {
	if ev.InDM || ev.Route == "" {
		return bot.Destination{Kind: bot.DestDM, User: ev.User}
	}
	return bot.Destination{Kind: bot.DestEphemeral, User: ev.User, Route: ev.Route}
}

func (e *Engine) ephemeral(ctx context.Context, ev bot.Event, text string) error {
	return e.out.Send(ctx, bot.Message{To: e.inPlace(ev), Kind: flows.ReplyInfo, Text: text})
}

func (e *Engine) history(ctx context.Context, ev bot.Event, n int) error {
	if n == 0 {
		n = 5
	}
	entries, err := e.dialogues.Journal(ctx, ev.User, n)
	if err != nil {
		return e.storeTrouble(ctx, ev, "history", err)
	}
	loc := e.location(ctx, ev.User)
	msgs, err := e.withWelcome(ctx, ev.User, []bot.Message{{Kind: flows.ReplyInfo, Text: formatHistory(entries, loc)}})
	if err != nil {
		return e.storeTrouble(ctx, ev, "welcome", err)
	}
	return e.deliver(ctx, ev, pointerHistory, msgs...)
}

func (e *Engine) timezone(ctx context.Context, ev bot.Event, zone string) error {
	p, err := e.profileWithZone(ctx, ev.User)
	if err != nil {
		return e.storeTrouble(ctx, ev, "profile", err)
	}
	if zone == "" {
		cur := p.TZ
		if cur == "" {
			return e.ephemeral(ctx, ev, "I'm using UTC for you. Set your zone with /story tz Europe/Berlin (any IANA zone name).")
		}
		return e.ephemeral(ctx, ev, "Your time zone is "+cur+". Change it with /story tz <zone>.")
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return e.ephemeral(ctx, ev, "I don't know the time zone “"+bot.Truncate(zone, 40)+"”. Use an IANA name like Europe/Berlin, America/New_York or Asia/Kolkata.")
	}
	p.TZ, p.TZFromPlatform = loc.String(), false
	if err := e.profiles.SaveProfile(ctx, ev.User, p); err != nil {
		return e.storeTrouble(ctx, ev, "profile", err)
	}
	if err := e.rezone(ctx, ev.User, p.TZ); err != nil {
		return e.storeTrouble(ctx, ev, "reschedule", err)
	}
	return e.ephemeral(ctx, ev, "Got it — your time zone is now "+loc.String()+".")
}

// profileWithZone loads u's profile; when it has no time zone yet and the platform profile
// has one (Slack), that zone is saved first (never over one set with /story tz). Nothing is
// remembered in the process: after /story forget the profile is empty and the platform is
// asked again, by whichever replica needs the zone.
func (e *Engine) profileWithZone(ctx context.Context, u bot.UserRef) (bot.Profile, error) {
	p, _, err := e.profiles.Profile(ctx, u)
	if err != nil || p.TZ != "" || e.zones == nil {
		return p, err
	}
	zctx, cancel := context.WithTimeout(ctx, zoneLookupTimeout)
	defer cancel()
	tz, err := e.zones.PlatformZone(zctx, u)
	if err != nil {
		e.log.WarnContext(ctx, "time zone: platform look-up failed", "user", u.String(), "err", err)
		return p, nil
	}
	if tz == "" {
		return p, nil
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		e.log.WarnContext(ctx, "time zone: the platform sent an unknown zone", "user", u.String())
		return p, nil
	}
	if _, err := e.profiles.SetPlatformTZ(ctx, u, tz); err != nil {
		return p, fmt.Errorf("engine: save platform zone: %w", err)
	}
	p.TZ, p.TZFromPlatform = tz, true
	return p, nil
}

// zoneLookupTimeout bounds asking the platform for a zone; the user's request goes on
// without one (UTC) rather than wait.
const zoneLookupTimeout = 2 * time.Second

// zone is the user's time zone, UTC when none is set or the name is unreadable; unlike
// location it reports a store failure, since a check-back time must not silently be UTC.
func (e *Engine) zone(ctx context.Context, u bot.UserRef) (*time.Location, error) {
	p, err := e.profileWithZone(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("engine: load profile for time zone: %w", err)
	}
	if p.TZ == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(p.TZ)
	if err != nil {
		return time.UTC, nil
	}
	return loc, nil
}

// location is the user's time zone, UTC when unknown or unreadable.
func (e *Engine) location(ctx context.Context, u bot.UserRef) *time.Location {
	p, err := e.profileWithZone(ctx, u)
	if err != nil || p.TZ == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(p.TZ)
	if err != nil {
		return time.UTC
	}
	return loc
}

// userLocks serializes the events of one user within this process, so replies go out in
// the order the user acted and turns rarely conflict in the store. Waiters are served first
// come, first served (a sync.Mutex does not promise that), and a waiter whose context ends
// gives up its place: a stuck turn never holds the user's later events past their deadline.
// It is keyed by the user's reference itself, and hands out its release as a value, so that
// taking a lock allocates nothing in the usual case (no key string, no closure; an emptied
// userLock is kept for the next user).
type userLocks struct {
	mu    sync.Mutex
	locks map[bot.UserRef]*userLock
	free  []*userLock
}

type userLock struct {
	held    bool
	waiters []chan struct{} // closed to hand the lock over, in arrival order
}

// maxFreeUserLocks bounds the emptied userLocks kept for reuse.
const maxFreeUserLocks = 64

// heldLock is a lock userLocks.lock took; unlock releases it.
type heldLock struct {
	l   *userLocks
	key bot.UserRef
	ul  *userLock
}

func (h heldLock) unlock() { h.l.unlock(h.key, h.ul) }

func (l *userLocks) lock(ctx context.Context, key bot.UserRef) (heldLock, error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[bot.UserRef]*userLock)
	}
	ul := l.locks[key]
	if ul == nil {
		if n := len(l.free); n > 0 {
			ul = l.free[n-1]
			l.free[n-1] = nil
			l.free = l.free[:n-1]
		} else {
			ul = &userLock{}
		}
		l.locks[key] = ul
	}
	h := heldLock{l: l, key: key, ul: ul}
	if !ul.held {
		ul.held = true
		l.mu.Unlock()
		return h, nil
	}
	ch := make(chan struct{})
	ul.waiters = append(ul.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return h, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, w := range ul.waiters {
		if w == ch {
			ul.waiters = append(ul.waiters[:i], ul.waiters[i+1:]...)
			l.mu.Unlock()
			return heldLock{}, fmt.Errorf("engine: wait for the user's previous event: %w", ctx.Err())
		}
	}
	l.mu.Unlock()
	// The lock was handed over just as ctx ended: pass it on.
	h.unlock()
	return heldLock{}, fmt.Errorf("engine: wait for the user's previous event: %w", ctx.Err())
}

func (l *userLocks) unlock(key bot.UserRef, ul *userLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(ul.waiters) > 0 {
		next := ul.waiters[0]
		ul.waiters[0] = nil
		ul.waiters = ul.waiters[1:]
		close(next) // held stays true: the lock passes straight to the next in line
		return
	}
	ul.held = false
	delete(l.locks, key)
	if len(l.free) < maxFreeUserLocks {
		ul.waiters = ul.waiters[:0]
		l.free = append(l.free, ul)
	}
}
