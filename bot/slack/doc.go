// Package slack is storybot's Slack adapter: it receives slash commands, interactions and
// Events API callbacks over HTTP (or over Socket Mode), verifies them, acknowledges them at
// once, translates them into bot events for the engine, and delivers the engine's messages
// through the Slack Web API — only ever to the user's own DM with the bot, or ephemerally to
// the user who invoked it.
//
// Inbound, every HTTP request is checked against the app's signing secret before anything
// is parsed or stored, and the work after the acknowledgement runs asynchronously with its
// own timeout, on a context that outlives the request; Run drains that work on shutdown.
// Outbound, DM channels are opened with conversations.open (cached per user) and
// double-checked to be DMs, choices render as Block Kit buttons with a plain-text fallback,
// and rate limits are honoured with a bounded retry.
//
// Like every adapter it imports bot, flows and slack-go (and internal/backoff, internal/lru),
// never the engine, storage or another adapter: the engine decides where a message goes;
// the adapter translates and renders. It holds no per-user state that can change: the DM
// channel cache holds a fact that never changes (bounded); the user's zone, welcome and
// dialogue are the engine's, in Redis; what is in memory is the work in flight (a modal's
// answer being awaited, replies paced to a DM channel's rate limit).
package slack
