package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/storage/redistest"
)

// TestCoachAuthorizationEveryPath runs the coach commands that name a client through every
// way they arrive — a parsed slash command (Command set), raw command text (typed "/story
// coach …" in a DM, or a Slack slash command the adapter could not parse), and on Discord
// with and without a server the adapter checked — on both platforms, and against the
// rules: STORYBOT_COACHES, not oneself, a shared place, and an accepted link. A refusal
// sends nothing to anyone but the coach.
func TestCoachAuthorizationEveryPath(t *testing.T) {
	url := redistest.Start(t)
	type path struct {
		name string
		ev   func(text string, cmd bot.Command) bot.Event
	}
	paths := []path{
		{"parsed command", func(_ string, cmd bot.Command) bot.Event {
			return bot.Event{Kind: bot.EventCommand, Command: &cmd, Route: "r"}
		}},
		{"typed in the DM", func(text string, _ bot.Command) bot.Event {
			return bot.Event{Kind: bot.EventCommand, Text: text, InDM: true}
		}},
		{"raw command text", func(text string, _ bot.Command) bot.Event {
			return bot.Event{Kind: bot.EventCommand, Text: text, Route: "r"}
		}},
		{"in a server", func(text string, _ bot.Command) bot.Event {
			return bot.Event{Kind: bot.EventCommand, Text: text, Route: "r", Place: "g1"}
		}},
	}
	n := 0
	for _, platform := range []string{"slack", "discord"} {
		ws := "T1"
		if platform == "discord" {
			ws = bot.UnplacedWorkspace
		}
		for _, p := range paths {
			for _, verb := range []string{"invite", "progress", "assign", "unassign"} {
				for _, rule := range []string{"not listed", "self", "no link", "ok"} {
					n++
					name := fmt.Sprintf("%s/%s/%s/%s", platform, p.name, verb, rule)
					t.Run(name, func(t *testing.T) {
						coach := bot.UserRef{Platform: platform, Workspace: ws, User: fmt.Sprintf("coach%d", n)}
						client := bot.UserRef{Platform: platform, Workspace: ws, User: fmt.Sprintf("client%d", n)}
						listed := []string{coach.User}
						if rule == "not listed" {
							listed = []string{"someone-else"}
						}
						r := newCoachRig(t, url, listed)
						target := client.User
						if rule == "self" {
							target = coach.User
						}
						args := map[string]string{"invite": "", "progress": "", "assign": " name-the-story daily 09:00", "unassign": " name-the-story"}[verb]
						text := "coach " + verb + " @" + target + args
						cmd, err := bot.ParseCommand(text)
						if err != nil {
							t.Fatal(err)
						}
						msgs := r.handle(coach, p.ev(text, cmd))
						needsPlace := platform == "discord" && p.name != "in a server"
						var want string
						switch {
						case rule == "not listed":
							want = "not on that list"
						case rule == "self":
							want = "yourself"
							if verb != "invite" {
								want = "That's you"
							}
						case needsPlace:
							want = "inside a server you share"
						case rule == "no link" && verb != "invite":
							want = "not " // "You're not <@client>'s coach"
						case verb == "invite":
							want = "Invitation sent"
						default:
							want = "not "
						}
						mustContain(t, name, to(msgs, coach), want)
						reachedClient := len(to(msgs, client)) > 0
						if wantReach := verb == "invite" && rule != "not listed" && rule != "self" && !needsPlace; reachedClient != wantReach {
							t.Errorf("%s: the client was contacted: %v, want %v:\n%s", name, reachedClient, wantReach, texts(msgs))
						}
					})
				}
			}
		}
	}
}

// TestCoachReinviteCooldown: after a decline, and after a revoke, the same coach cannot
// invite the same client for 30 days and is told so plainly; the client asking the coach
// (/story coach ask) lifts it at once; after 30 days it lapses by itself.
func TestCoachReinviteCooldown(t *testing.T) {
	r := newCoachRig(t, redistest.Start(t), nil)
	coach := bot.UserRef{Platform: "slack", Workspace: "T1", User: "UCOOLCOACH"}
	client := bot.UserRef{Platform: "slack", Workspace: "T1", User: "UCOOLCLIENT"}
	invite := func() []bot.Message { return r.cmd(coach, "coach invite @"+client.User) }

	msgs := invite()
	decline := choiceID(t, to(msgs, client), "Decline")
	mustContain(t, "decline", r.choose(client, decline), "can't invite you again for 30 days", "/story coach ask")

	for i := range 5 { // five tries: no invitation reaches the client
		msgs := invite()
		if len(to(msgs, client)) > 0 {
			t.Fatalf("re-invite %d after a decline reached the client:\n%s", i+1, texts(msgs))
		}
		mustContain(t, "re-invite", to(msgs, coach), "won't invite them again for 30 days", "/story coach ask", "I haven't contacted them")
	}

	// The client asks: the coach is told how, and may invite at once.
	msgs = r.cmd(client, "coach ask @"+coach.User)
	mustContain(t, "ask (client)", to(msgs, client), "I've asked")
	mustContain(t, "ask (coach)", to(msgs, coach), "would like you to be their coach", "/story coach invite")
	if again := r.cmd(client, "coach ask @"+coach.User); len(to(again, coach)) > 0 {
		t.Errorf("a second ask reached the coach again:\n%s", texts(again))
	}
	msgs = invite()
	accept := choiceID(t, to(msgs, client), "Accept")
	mustContain(t, "accept", r.choose(client, accept), "You've accepted")

	// A revoke starts the cooldown again; it lapses after 30 days.
	mustContain(t, "revoke", r.cmd(client, "coach revoke"), "no longer your coach")
	if msgs := invite(); len(to(msgs, client)) > 0 || !strings.Contains(texts(msgs), "30 days") {
		t.Errorf("re-invite after a revoke:\n%s", texts(msgs))
	}
	r.clock.Add(bot.ReinviteCooldown + time.Hour)
	msgs = invite()
	if len(to(msgs, client)) != 1 {
		t.Fatalf("re-invite after 30 days did not reach the client:\n%s", texts(msgs))
	}

	// Forget by the client scrubs the coach's index of every link they ended.
	mustContain(t, "decline 2", r.choose(client, choiceID(t, to(msgs, client), "Decline")), "Declined")
	r.cmd(client, "forget")
	r.choose(client, "forget:yes")
	if dump := dumpRedis(t, r.url); strings.Contains(dump, client.User) {
		t.Errorf("after the client's forget Redis still names them:\n%s", dump)
	}
}
