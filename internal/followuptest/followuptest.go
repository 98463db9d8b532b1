// Package followuptest replays the follow-up lines of flows' golden transcripts
// ("> [followup] next step", "> [followup2] next step") through a real store and engine, the
// way the scheduler would: the adapters' transcript tests share it so that every platform
// sets up a follow-up alike.
package followuptest

import (
	"context"
	"fmt"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Planned is when the transcripts' entries were saved: the transcripts' start.
var Planned = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Deliverer is what the scheduler calls (engine.Engine).
type Deliverer interface {
	Deliver(ctx context.Context, j bot.Job) error
}

// Deliver saves a quick pause for u whose next step is next, planned at Planned (for ask 2,
// already answered "Not yet" with one more check-back asked for), and delivers its
// follow-up.
func Deliver(ctx context.Context, st bot.DialogueStore, d Deliverer, u bot.UserRef, next string, ask int) error {
	e := &flows.Entry{Flow: flows.FlowQuick, Created: Planned, Story: "a story", Next: next}
	if ask == 2 {
		again := Planned.Add(24 * time.Hour)
		e.FollowUp = &flows.FollowUp{Outcome: flows.OutcomeNotYet, At: Planned, Again: &again, Asked: 1}
	}
	err := st.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) { return cur, e, nil })
	if err != nil {
		return fmt.Errorf("save the entry: %w", err)
	}
	return d.Deliver(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: e.ID})
}

// SetCheckBacks applies a transcript's "# followups off|on" line to u's profile, as /story
// followups off|on does (without its reply, which the transcripts do not show).
func SetCheckBacks(ctx context.Context, ps bot.ProfileStore, u bot.UserRef, setting string) error {
	p, _, err := ps.Profile(ctx, u)
	if err != nil {
		return fmt.Errorf("read the profile: %w", err)
	}
	p.NoFollowups = setting == "off"
	if err := ps.SaveProfile(ctx, u, p); err != nil {
		return fmt.Errorf("save the profile: %w", err)
	}
	return nil
}
