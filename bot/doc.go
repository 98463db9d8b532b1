// Package bot is storybot's shared vocabulary: what every other part of storybot speaks,
// and the only part of storybot that adapters and storage may see.
//
// It holds the inbound events (event.go) and the commands and their parser (command.go); the
// outbound messages and the Guard every message passes through, which lets out only what is
// private to its user (outbound.go); the store interfaces the engine consumes (store.go,
// jobs.go, coaching.go, dedupe.go's EventLeases and OnceTurner); schedules and jobs
// (schedule.go); the coaching types (coaching.go); the platform-event dedupe every adapter
// uses (dedupe.go) and the bounded pool that runs the work after an acknowledgement
// (work.go). It imports the standard library and flows, nothing else.
//
// # Which package is for what
//
//   - flows: the dialogues as pure state machines, the safety classifier and the thinking-trap
//     detector. No I/O, no clock, no platform.
//   - bot (this package): the vocabulary above.
//   - bot/engine: the behaviour. It turns bot events into flow steps and replies, holds the
//     features (check-ins, follow-ups, coaching, practices, data rights), the scheduler and
//     the metrics. Only cmd and tests wire it.
//   - bot/slack, bot/discord, bot/console: the adapters. Each translates its platform's
//     requests into bot events for the engine (through a small Handler interface of its own)
//     and renders bot messages for its platform (Block Kit, Discord components, a numbered
//     list in the terminal).
//   - storage: Redis; the implementations of the store interfaces named here.
//   - internal/wiring: the engine wired over the stores, the lines serve and the tests share.
//   - cmd/storybot: configuration and wiring; the only place where concrete types from
//     different packages meet.
//
// An adapter may import bot, flows, its own platform SDK and the small internal helpers
// (internal/backoff, internal/lru); never bot/engine, storage, another adapter or prometheus.
// Storage may import bot and flows; never the engine or an adapter. bot/deps_test.go checks
// this with go list.
//
// # Replicas are interchangeable
//
// Any replica may receive any request of any user, so no per-user state that can change
// lives only in one process. What a later request of the same user would read — whether they
// were welcomed, their zone, their dialogue, a pending question, a coaching link, whether an
// event was already handled — is in Redis, read in the round trips a turn already makes. A
// process may cache only facts that never change (a user's DM channel ID), with a bound.
// What is held in memory is the work of a request in flight (a lock that orders one user's
// events, a modal waiting for its answer, a Discord interaction token while its own
// interaction's work runs, a reply waiting for the platform's rate limit); it ends with that
// request, and no other replica needs it.
package bot
