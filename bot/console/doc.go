// Package console is storybot's terminal adapter: `storybot console` runs the same
// dialogues as Slack and Discord on standard input and output, and tests use it to drive the
// whole engine end to end.
//
// Like every adapter it imports only bot and flows: it translates lines into bot events for
// the engine and renders bot messages as text (choices as a numbered list). It keeps no
// per-user state of its own; terminals on one Redis reach each other through the store's
// mailbox (WithMailbox).
package console
