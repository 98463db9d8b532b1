// Package engine is storybot's behaviour: it turns the events of package bot into flow
// steps and replies, and holds the features (check-ins, follow-ups, coaching, practices,
// data rights, the App Home), the scheduler and the metrics (the only package that speaks
// prometheus). It imports bot and flows; it reaches Redis only through the store interfaces
// of package bot. Adapters and storage never import it; cmd wires it (with internal/wiring,
// which its tests share).
//
// Three rules keep replicas interchangeable (DESIGN.md):
//   - No per-user state that can change lives only in one process. What the engine knows
//     about a user (welcomed, time zone, dialogue, pending questions, consent) is read from
//     the store, in the round trips a turn already makes; caches hold only facts that never
//     change, with a bound. In memory are only the requests in flight (the per-user locks
//     that order one replica's events of a user).
//   - The engine decides where a message goes: the DM first, then the pointer; the event's
//     private route when the DM cannot be opened (see deliver.go). Adapters translate and
//     render, nothing more.
//   - Acknowledged means done: every wait honours its context, and a turn is one atomic,
//     idempotent store operation.
package engine
