// Package discord is storybot's Discord adapter: it receives /story application commands,
// button clicks and modal submissions on the interactions endpoint (or over the gateway),
// and the user's typed answers as direct messages over the gateway; it translates them into
// bot events, and delivers the engine's messages privately: in the user's DM with the bot,
// or as ephemeral interaction responses and follow-ups when the DM is closed.
//
// Every REST call, the gateway lookup included, goes to Config.APIURL through a rewriting
// transport, is bounded by a context and retried at most a few times on 429. Every
// interaction and DM is deduplicated by its ID (Config.Dedupe), so several replicas
// connected to the gateway handle each exactly once.
//
// Like every adapter it imports bot, flows and discordgo (and internal/backoff,
// internal/lru), never the engine, storage or another adapter: the engine decides where a
// message goes (the DM first; the event's own interaction when the DM cannot be opened,
// bot.ErrNoDM); the adapter translates and renders. It holds no per-user state that can
// change: the DM channel cache holds a fact that never changes (bounded); an interaction
// token is known only while the work of its own interaction runs.
package discord
