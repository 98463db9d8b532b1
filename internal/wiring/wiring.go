// Package wiring connects the engine to the Redis stores the way `storybot serve` does.
// It exists so that serve, console and the engine's test rig build the engine from the same
// lines: a store added to serve is then also in every engine test, and a test cannot pass
// on a wiring that production does not run.
//
// It is the one place besides cmd where the engine and storage meet; nothing under bot/ or
// storage/ may import it.
package wiring

import (
	"log/slog"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage"
)

// Options are the parts of the engine's configuration that are not stores: they come from
// the process's configuration (cmd) or from a test.
type Options struct {
	Sender  bot.Sender       // where messages go; the engine wraps it in the guard
	Now     func() time.Time // the clock: give the store the same one (storage.Config.Now)
	Logger  *slog.Logger
	Metrics *engine.Metrics // may be nil
	// CrisisText replaces the crisis resources (STORYBOT_CRISIS_TEXT); empty: the default.
	CrisisText    string
	RetentionDays int  // shown in the welcome and privacy texts
	Encrypted     bool // whether the store encrypts at rest (for the privacy text)
	Coaches       []string
	Zones         bot.ZoneFinder // may be nil
}

// Engine returns the engine configuration serve runs over st: st is every store the engine
// uses, and every store that keeps something about a user erases, exports and merges it.
func Engine(st *storage.Store, o Options) engine.Config {
	return engine.Config{
		Machine:       flows.New(flows.Config{CrisisResources: o.CrisisText}),
		Dialogues:     st,
		Profiles:      st,
		Sender:        o.Sender,
		Now:           o.Now,
		Logger:        o.Logger,
		Metrics:       o.Metrics,
		RetentionDays: o.RetentionDays,
		Encrypted:     o.Encrypted,
		Erasers:       []bot.Eraser{st, st.Coaching()},
		ExportParts:   []bot.ExportPart{st.Coaching()},
		Mergers:       []bot.Merger{st, st.Coaching()},
		WorkspaceJobs: st,
		Coaching:      st.Coaching(),
		Coaches:       o.Coaches,
		Schedules:     st,
		Zones:         o.Zones,
		Plans:         st,
	}
}

// Scheduler returns the scheduler configuration serve runs: jobs from st, delivered by eng,
// held while avail says the user is away (nil: never held). Tests set the timing fields
// (Tick, Pace, Lease) on the result.
func Scheduler(st *storage.Store, eng *engine.Engine, avail bot.Availability, o Options) engine.SchedulerConfig {
	return engine.SchedulerConfig{
		Queue:        st,
		Deliver:      eng,
		Availability: avail,
		Now:          o.Now,
		Logger:       o.Logger,
		Metrics:      o.Metrics,
	}
}
