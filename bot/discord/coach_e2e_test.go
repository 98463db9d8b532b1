package discord

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
)

// userOpt is a USER option naming id (Discord's user picker).
func userOpt(id string) map[string]any {
	return map[string]any{"name": "user", "type": 6, "value": id}
}

// coachCommand builds /story coach <sub>. The users named by USER options are resolved as
// Discord does: with their member data when member is true (they belong to the guild).
func (e *env) coachCommand(user, guild, sub string, member bool, opts ...map[string]any) map[string]any {
	o := map[string]any{"name": sub, "type": 1}
	if len(opts) > 0 {
		o["options"] = opts
	}
	data := map[string]any{"id": "cmd", "name": "story", "type": 1, "options": []any{
		map[string]any{"name": "coach", "type": 2, "options": []any{o}},
	}}
	users, members := map[string]any{}, map[string]any{}
	for _, op := range opts {
		if op["type"] == 6 {
			id := op["value"].(string)
			users[id] = map[string]any{"id": id, "username": id}
			if member {
				members[id] = map[string]any{"roles": []any{}, "joined_at": "2026-01-01T00:00:00Z"}
			}
		}
	}
	if len(users) > 0 {
		data["resolved"] = map[string]any{"users": users, "members": members}
	}
	return e.interaction(2, user, guild, data)
}

// press clicks the button of msg (a recorded DM to user) whose custom_id starts with
// prefix, waits until the adapter has handled it, and returns the custom_id.
func (e *env) press(t *testing.T, user string, msg call, prefix string) string {
	t.Helper()
	for _, id := range customIDs(msg.Body) {
		if strings.HasPrefix(id, prefix) {
			if r := response(t, e.post(t, e.click(user, "", id, msg.Body))); r["type"] != 7.0 {
				t.Fatalf("pressing %s answered %v, want an update (7)", id, r)
			}
			e.idle()
			return id
		}
	}
	t.Fatalf("no button %s… on %q (buttons %v)", prefix, content(msg), customIDs(msg.Body))
	return ""
}

// TestCoachCycle runs coaching end to end through Discord: invite by user picker, accept
// by button, assign, a reminder from the scheduler, Done, a private and a shared note,
// progress for the coach, revoke. The private note never reaches the coach, and nothing
// goes to a guild channel.
func TestCoachCycle(t *testing.T) {
	e := newEnv(t, 1, false)
	const (
		coach, client = "u-coach", "u-client"
		guild         = "g-coaching"
		privateNote   = "PRIVATE-discord-note"
		sharedNote    = "SHARED-discord-note"
	)
	coachTokens := map[string]bool{}
	asCoach := func(sub string, opts ...map[string]any) string {
		t.Helper()
		tok := e.run(t, e.coachCommand(coach, guild, sub, true, opts...))
		coachTokens[tok] = true
		return e.inPlace(tok)
	}
	has := func(what, got, want string) {
		t.Helper()
		if !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", what, got, want)
		}
	}

	has("coach invite", asCoach("invite", userOpt(client)), "Invitation sent to <@"+client+">")
	invitation := e.lastDM(t, client, "would like to be your coach")
	has("invitation", content(invitation), "never see your journal")
	e.press(t, client, invitation, "c:coach:accept:")
	e.lastDM(t, coach, "accepted your invitation")

	has("coach assign", asCoach("assign", userOpt(client), strOpt("practice", "name-the-story"), strOpt("cadence", "daily 09:00")), "name-the-story")
	assigned := e.lastDM(t, client, "Name the story")
	if ids := customIDs(assigned.Body); strings.Join(ids, " ") != "c:practice:done:name-the-story c:practice:skip:name-the-story c:practice:note:name-the-story" {
		t.Errorf("assignment buttons = %v, want Done / Not today / Add a note", ids)
	}

	// The reminder, from a running scheduler at the client's 09:00 (UTC: no zone set).
	runScheduler(t, e, e.engines[0])
	_, due, ok, err := e.store.Job(context.Background(), userRef(client), bot.JobPractice)
	if err != nil || !ok {
		t.Fatalf("no reminder job: %v %v", ok, err)
	}
	e.clock.Set(due.Add(time.Second))
	reminder := e.lastDM(t, client, "Time for your practice: Name the story")

	e.press(t, client, reminder, "c:practice:done:")
	marked := e.lastDM(t, client, "Marked done")
	e.press(t, client, marked, "c:practice:note:")
	e.lastDM(t, client, "Type your note")
	e.dm(client, privateNote)
	ask := e.lastDM(t, client, "Keep it private, or share it")
	e.press(t, client, ask, "c:note:private:")
	e.lastDM(t, client, "Kept private")

	count := func(want string) int {
		n := 0
		for _, c := range e.fake.dmPosts(client) {
			if strings.Contains(content(c), want) {
				n++
			}
		}
		return n
	}
	e.press(t, client, reminder, "c:practice:note:")
	waitFor(t, "the second note prompt", func() bool { return count("Type your note") == 2 })
	e.dm(client, sharedNote)
	waitFor(t, "the second share question", func() bool { return count("Keep it private, or share it") == 2 })
	e.press(t, client, e.lastDM(t, client, "Keep it private, or share it"), "c:note:share:")
	e.lastDM(t, client, "Shared with your coach")

	progress := asCoach("progress", userOpt(client))
	has("progress", progress, "Done 1 · missed 0 · current streak 1")
	has("progress", progress, sharedNote)
	if strings.Contains(progress, privateNote) {
		t.Errorf("progress shows the private note: %q", progress)
	}

	tok := e.run(t, e.coachCommand(client, guild, "revoke", false))
	has("revoke", e.inPlace(tok), "no longer your coach")
	has("progress after revoke", asCoach("progress", userOpt(client)), "not <@"+client+">'s coach")

	e.fake.mu.Lock()
	calls := append([]call(nil), e.fake.calls...)
	e.fake.mu.Unlock()
	for _, c := range calls {
		toCoach := strings.HasPrefix(c.Path, "channels/dm-"+coach+"/")
		if tok, ok := strings.CutPrefix(c.Path, "webhooks/app/"); ok {
			tok, _, _ = strings.Cut(tok, "/")
			toCoach = toCoach || coachTokens[tok]
		}
		if toCoach && strings.Contains(content(c), privateNote) {
			t.Errorf("the private note reached the coach: %s %s %q", c.Method, c.Path, content(c))
		}
		if ch, ok := strings.CutPrefix(c.Path, "channels/"); ok && c.Method == http.MethodPost {
			if ch, _, _ = strings.Cut(ch, "/"); ch != "dm-"+coach && ch != "dm-"+client {
				t.Errorf("posted outside the two DMs: %s %s", c.Method, c.Path)
			}
		}
	}
}

// TestCoachGuildCheck runs the adapter's guild check end to end: a coach command from the
// DM, or naming someone outside the guild, is refused at once, privately, and neither the
// engine nor the named user hears of it.
func TestCoachGuildCheck(t *testing.T) {
	e := newEnv(t, 1, false)
	const coach, stranger = "u-coach-g", "u-stranger"
	callsBefore := e.fake.numCalls()
	for _, tt := range []struct {
		name    string
		payload map[string]any
		want    string
	}{
		{"from the DM", e.coachCommand(coach, "", "invite", false, userOpt(stranger)), "Coaching works inside a server you share with your client"},
		{"not a member", e.coachCommand(coach, "g1", "invite", false, userOpt(stranger)), "<@" + stranger + "> isn't a member of this server"},
		{"progress, not a member", e.coachCommand(coach, "g1", "progress", false, userOpt(stranger)), "isn't a member of this server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := response(t, e.post(t, tt.payload))
			data, _ := r["data"].(map[string]any)
			if r["type"] != 4.0 || data["flags"] != 64.0 || !strings.Contains(data["content"].(string), tt.want) {
				t.Errorf("answered %v, want an ephemeral message saying %q", r, tt.want)
			}
		})
	}
	e.idle()
	if n := e.handlers[0].n.Load(); n != 0 {
		t.Errorf("refused commands reached the engine %d times", n)
	}
	if n := e.fake.numCalls() - callsBefore; n != 0 {
		t.Errorf("refused commands made %d REST calls, want 0", n)
	}
	// The same invitation, inside a guild the stranger belongs to, goes through.
	tok := e.run(t, e.coachCommand(coach, "g1", "invite", true, userOpt(stranger)))
	if got := e.inPlace(tok); !strings.Contains(got, "Invitation sent") {
		t.Errorf("invite of a member answered %q", got)
	}
	e.lastDM(t, stranger, "would like to be your coach")
}

func TestCoachRefusal(t *testing.T) {
	cmd := func(sub string, target string, resolved *discordgo.ApplicationCommandInteractionDataResolved) discordgo.ApplicationCommandInteractionData {
		var opts []*discordgo.ApplicationCommandInteractionDataOption
		if target != "" {
			opts = append(opts, &discordgo.ApplicationCommandInteractionDataOption{Name: "user", Type: discordgo.ApplicationCommandOptionUser, Value: target})
		}
		return discordgo.ApplicationCommandInteractionData{Name: "story", Resolved: resolved, Options: []*discordgo.ApplicationCommandInteractionDataOption{{
			Name: "coach", Type: discordgo.ApplicationCommandOptionSubCommandGroup,
			Options: []*discordgo.ApplicationCommandInteractionDataOption{{Name: sub, Type: discordgo.ApplicationCommandOptionSubCommand, Options: opts}},
		}}}
	}
	member := &discordgo.ApplicationCommandInteractionDataResolved{
		Users:   map[string]*discordgo.User{"u2": {ID: "u2"}},
		Members: map[string]*discordgo.Member{"u2": {}},
	}
	userOnly := &discordgo.ApplicationCommandInteractionDataResolved{Users: map[string]*discordgo.User{"u2": {ID: "u2"}}}
	pause := discordgo.ApplicationCommandInteractionData{Name: "story", Options: []*discordgo.ApplicationCommandInteractionDataOption{{Name: "pause", Type: discordgo.ApplicationCommandOptionSubCommand}}}
	notMember := "<@u2> isn't a member of this server"
	tests := []struct {
		name  string
		guild string
		d     discordgo.ApplicationCommandInteractionData
		want  string // "" allowed, else a part of the refusal
	}{
		{"invite a member", "g1", cmd("invite", "u2", member), ""},
		{"assign a member", "g1", cmd("assign", "u2", member), ""},
		{"progress of a member", "g1", cmd("progress", "u2", member), ""},
		{"unassign from a member", "g1", cmd("unassign", "u2", member), ""},
		{"invite from the DM", "", cmd("invite", "u2", userOnly), textCoachOutsideGuild},
		{"assign from the DM", "", cmd("assign", "u2", member), textCoachOutsideGuild},
		{"progress from the DM", "", cmd("progress", "u2", userOnly), textCoachOutsideGuild},
		{"unassign from the DM", "", cmd("unassign", "u2", userOnly), textCoachOutsideGuild},
		{"invite a non-member", "g1", cmd("invite", "u2", userOnly), notMember},
		{"assign a non-member", "g1", cmd("assign", "u2", userOnly), notMember},
		{"progress of a non-member", "g1", cmd("progress", "u2", userOnly), notMember},
		{"unassign from a non-member", "g1", cmd("unassign", "u2", userOnly), notMember},
		{"nothing resolved", "g1", cmd("invite", "u2", nil), notMember},
		{"another member resolved", "g1", cmd("invite", "u3", member), "<@u3> isn't a member"},
		{"no user given", "g1", cmd("invite", "", nil), ""},
		{"list from the DM", "", cmd("list", "", nil), ""},
		{"revoke from the DM", "", cmd("revoke", "", nil), ""},
		{"pause from the DM", "", pause, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := coachRefusal(tt.guild, tt.d)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("coachRefusal(%q, %s) = %q, want %q", tt.guild, tt.name, got, tt.want)
			}
		})
	}
}
