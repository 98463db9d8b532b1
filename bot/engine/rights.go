package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// ExportSchema names the version of the /story export document. Change it whenever a
// field's meaning changes or a reader would miss something that matters; every v1 field
// keeps its name and meaning. v2 adds the journal entries' check_back and follow_up, and
// the pending check-backs ("followups").
const ExportSchema = "storybot.export/v2"

// forgetWindow is how long a /story forget waits for its confirmation.
const forgetWindow = 15 * time.Minute

// The forget confirmation's choices. They are engine-level, not a dialogue, so an open
// dialogue is left as it is when the user cancels.
var (
	choiceForgetYes = flows.Choice{ID: "forget:yes", Label: "Erase everything"}
	choiceForgetNo  = flows.Choice{ID: "forget:no", Label: "Keep my data"}
)

// maxExportEntries bounds the journal read for an export; retention keeps real journals
// far below it.
const maxExportEntries = 100000

// forgetAnswer reports whether ev could answer a forget confirmation, and how: the
// buttons, or typed, their labels, their numbers as the plain-text rendering shows them
// ("1" erases, "2" keeps), or yes/no. Whether a question is pending is checked after, only
// for these few words, so ordinary answers cost no extra read. While it is pending the
// confirmation is its own small step: these words answer it and never reach an open
// dialogue (where "2" could be a feeling).
func forgetAnswer(ev bot.Event) (answer, yes bool) {
	switch ev.Kind {
	case bot.EventChoice:
		switch ev.Choice {
		case choiceForgetYes.ID:
			return true, true
		case choiceForgetNo.ID:
			return true, false
		}
	case bot.EventText:
		// Trimming before lowering is the same (only '.', '!' and ')' lower to themselves),
		// and lowering keeps the count of runes: a longer text, as nearly every answer in a
		// dialogue is, cannot be one of the words, and is not copied to find out.
		t := strings.Trim(strings.TrimSpace(ev.Text), ".!)")
		if utf8.RuneCountInString(t) > forgetWordRunes {
			return false, false
		}
		t = strings.ToLower(t)
		switch {
		case slices.Contains(forgetYesWords, t):
			return true, true
		case slices.Contains(forgetNoWords, t):
			return true, false
		}
	}
	return false, false
}

// The words that answer a forget confirmation, lower case, and the longest, in runes.
var (
	forgetYesWords  = []string{strings.ToLower(choiceForgetYes.Label), "1", "yes", "y", "erase", "erase it", "yes, erase everything"}
	forgetNoWords   = []string{strings.ToLower(choiceForgetNo.Label), "2", "no", "n", "keep", "keep it", "cancel"}
	forgetWordRunes = func() int {
		n := 0
		for _, w := range append(slices.Clone(forgetYesWords), forgetNoWords...) {
			n = max(n, utf8.RuneCountInString(w))
		}
		return n
	}()
)

// askForget asks the user to confirm erasing everything.
func (e *Engine) askForget(ctx context.Context, ev bot.Event) error {
	p, _, err := e.profiles.Profile(ctx, ev.User)
	if err != nil {
		return e.storeTrouble(ctx, ev, "forget", err)
	}
	p.ForgetAsked = e.now()
	if err := e.profiles.SaveProfile(ctx, ev.User, p); err != nil {
		return e.storeTrouble(ctx, ev, "forget", err)
	}
	return e.out.Send(ctx, bot.Message{
		To:      e.inPlace(ev),
		Kind:    flows.ReplyPrompt,
		Text:    "This erases everything storybot keeps about you: journal, open pause, check-ins, coaching links and practices. It can't be undone. Erase everything?",
		Choices: []flows.Choice{choiceForgetYes, choiceForgetNo},
	})
}

// answerForget handles the answer to askForget. handled is false when no confirmation is
// pending, so the event goes on to the dialogue as usual.
func (e *Engine) answerForget(ctx context.Context, ev bot.Event, yes bool) (handled bool, err error) {
	p, _, err := e.profiles.Profile(ctx, ev.User)
	if err != nil {
		return true, e.storeTrouble(ctx, ev, "forget", err)
	}
	if p.ForgetAsked.IsZero() || e.now().Sub(p.ForgetAsked) > forgetWindow {
		if ev.Kind == bot.EventChoice {
			return true, e.ephemeral(ctx, ev, "That question has expired. Type /story forget to ask again.")
		}
		return false, nil
	}
	if !yes {
		p.ForgetAsked = time.Time{}
		if err := e.profiles.SaveProfile(ctx, ev.User, p); err != nil {
			return true, e.storeTrouble(ctx, ev, "forget", err)
		}
		return true, e.ephemeral(ctx, ev, "Kept — nothing was erased.")
	}
	if err := e.forget(ctx, ev.User); err != nil {
		return true, e.storeTrouble(ctx, ev, "forget", err)
	}
	if a := ev.Alias; a.User != "" && a != ev.User {
		// Whatever an earlier storybot kept under another team id of this person goes too.
		if err := e.forget(ctx, a); err != nil {
			return true, e.storeTrouble(ctx, ev, "forget", err)
		}
	}
	e.clearHome(ctx, ev.User)
	return true, e.ephemeral(ctx, ev, "Done — everything storybot kept about you is erased. If you come back, you'll start fresh.")
}

// forget runs every eraser. It is idempotent, so a retry after a partial failure finishes
// the job.
func (e *Engine) forget(ctx context.Context, u bot.UserRef) error {
	var errs []error
	for _, er := range e.erasers {
		if err := er.Forget(ctx, u); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("engine: forget %s: %w", u, err)
	}
	e.log.InfoContext(ctx, "user data erased", "user_platform", u.Platform)
	return nil
}

// export sends the user's complete data to their DM as a JSON file.
func (e *Engine) export(ctx context.Context, ev bot.Event) error {
	doc, err := e.exportDocument(ctx, ev.User)
	if err != nil {
		return e.storeTrouble(ctx, ev, "export", err)
	}
	name := "storybot-export-" + e.now().UTC().Format("2006-01-02") + ".json"
	msgs, err := e.withWelcome(ctx, ev.User, []bot.Message{{
		Kind: flows.ReplyInfo,
		Text: "Here's everything storybot keeps about you, as a JSON file (schema " + ExportSchema + ", described in storybot's README).",
		File: &bot.File{Name: name, Content: doc},
	}})
	if err != nil {
		return e.storeTrouble(ctx, ev, "welcome", err)
	}
	return e.deliver(ctx, ev, pointerExport, msgs...)
}

// exportDocument builds the export: fixed sections from the engine's own stores, then one
// section per ExportPart.
func (e *Engine) exportDocument(ctx context.Context, u bot.UserRef) ([]byte, error) {
	profile, _, err := e.profiles.Profile(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("engine: export profile: %w", err)
	}
	profile.ForgetAsked = time.Time{}
	state, open, err := e.dialogues.Dialogue(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("engine: export dialogue: %w", err)
	}
	journal, err := e.dialogues.Journal(ctx, u, maxExportEntries)
	if err != nil {
		return nil, fmt.Errorf("engine: export journal: %w", err)
	}
	if journal == nil {
		journal = []flows.Entry{}
	}
	doc := map[string]any{
		"schema":      ExportSchema,
		"exported_at": e.now().UTC(),
		"user":        u,
		"profile":     profile,
		"journal":     journal,
	}
	if open && state.Open() {
		doc["open_dialogue"] = state
	}
	if e.plans != nil {
		plan, ok, err := e.plans.SafetyPlan(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("engine: export safety plan: %w", err)
		}
		if ok {
			doc["safety_plan"] = plan
		}
	}
	if e.schedules != nil {
		schedules, err := e.exportSchedules(ctx, u)
		if err != nil {
			return nil, err
		}
		doc["schedules"] = schedules
		pending, err := e.pendingFollowups(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("engine: export follow-ups: %w", err)
		}
		fus := make([]exportedFollowup, len(pending))
		for i, p := range pending {
			fus[i] = exportedFollowup{Entry: p.Entry.ID, Due: p.Due.UTC()}
		}
		doc["followups"] = fus
	}
	for _, part := range e.exportParts {
		name, v, err := part.ExportPart(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("engine: export %s: %w", name, err)
		}
		doc[name] = v
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("engine: encode export: %w", err)
	}
	return out, nil
}

// exportedFollowup is one pending check-back in the export: the journal entry it asks
// about (its next step is there) and when.
type exportedFollowup struct {
	Entry string    `json:"entry_id"`
	Due   time.Time `json:"due"`
}

// exportedSchedule is one scheduled job in the export.
type exportedSchedule struct {
	Kind     string    `json:"kind"`               // checkin, snooze, digest, practice
	Schedule string    `json:"schedule,omitempty"` // "weekdays 09:00"; empty for one-off jobs
	Paused   string    `json:"paused_until,omitempty"`
	TZ       string    `json:"tz,omitempty"`
	Next     time.Time `json:"next"`
}

func (e *Engine) exportSchedules(ctx context.Context, u bot.UserRef) ([]exportedSchedule, error) {
	out := []exportedSchedule{}
	for _, k := range bot.JobKinds {
		j, next, ok, err := e.schedules.Job(ctx, u, k)
		if err != nil {
			return nil, fmt.Errorf("engine: export schedules: %w", err)
		}
		if !ok {
			continue
		}
		es := exportedSchedule{Kind: k.String(), TZ: j.TZ, Next: next.UTC()}
		switch k {
		case bot.JobCheckin:
			es.Schedule = j.Checkin.Schedule.String()
		case bot.JobDigest:
			es.Schedule = "weekly " + bot.DigestSchedule.String()
		}
		if !j.Checkin.Until.IsZero() {
			es.Paused = j.Checkin.Until.Format("2006-01-02")
		}
		out = append(out, es)
	}
	return out, nil
}
