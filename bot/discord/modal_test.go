package discord

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storybot/storybot/flows"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Payload shapes in this file follow Discord's documentation, "Receiving and Responding",
// Interaction Object (https://discord.com/developers/docs/interactions/receiving-and-responding):
// a MODAL_SUBMIT (type 5) carries data.custom_id and data.components, action rows (type 1)
// of text inputs (type 4) with custom_id and value; a message command (type 2, data.type 3)
// carries data.target_id and data.resolved.messages; outside a guild an interaction has
// `user`, not `member`, with `context` 1 (bot DM) or 2 (private channel) and
// `authorizing_integration_owners` naming the installation ("1": the user, for a user
// install). Cross-checked against discord-api-types' APIModalSubmission and
// ModalSubmitActionRowComponent.

// quickSubmit is the quick modal's submission with the given field values.
func (e *env) quickSubmit(user, guild string, values map[string]string) map[string]any {
	var rows []any
	for _, in := range quickInputs {
		rows = append(rows, map[string]any{"type": 1, "components": []any{
			map[string]any{"type": 4, "custom_id": in.field, "value": values[in.field]},
		}})
	}
	return e.interaction(5, user, guild, map[string]any{"custom_id": quickModalID, "components": rows})
}

// lastInPlace waits for the newest message on an interaction token that contains want.
func (e *env) lastInPlace(t *testing.T, token, want string) call {
	t.Helper()
	var found call
	waitFor(t, "in place: "+want, func() bool {
		for _, c := range e.fake.callsTo("", "webhooks/app/"+token, "") {
			if strings.Contains(content(c), want) {
				found = c
			}
		}
		return found.Path != ""
	})
	return found
}

// TestQuickModal: /story quick in a server opens the modal, prefilled; its submission gets
// the summary in place with Save and Discard, and Save keeps it in the journal.
func TestQuickModal(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-modal"
	e.welcomed(t, user)
	r := response(t, e.post(t, e.command(user, "g1", "quick", strOpt("story", "they think I'm slow"))))
	if r["type"] != 9.0 {
		t.Fatalf("/story quick in a server answered %v, want a modal (9)", r)
	}
	data := r["data"].(map[string]any)
	rows := data["components"].([]any)
	if data["custom_id"] != quickModalID || len(rows) != 5 {
		t.Fatalf("modal = %v, want %q with 5 rows", data, quickModalID)
	}
	first := rows[0].(map[string]any)["components"].([]any)[0].(map[string]any)
	if first["type"] != 4.0 || first["value"] != "they think I'm slow" {
		t.Errorf("first input = %v, want a text input prefilled with the story", first)
	}

	sub := e.quickSubmit(user, "g1", map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy",
		flows.FieldNext: "Ask Sam when we can pick it up", flows.FieldFeeling: "anxious", flows.FieldCheckBack: "tomorrow",
	})
	r = response(t, e.post(t, sub))
	if r["type"] != 5.0 || r["data"].(map[string]any)["flags"] != 64.0 {
		t.Fatalf("modal submit answered %v, want deferred and ephemeral", r)
	}
	summary := e.lastInPlace(t, sub["token"].(string), "Here's your quick pause")
	for _, want := range []string{"they were busy", "Ask Sam when we can pick it up", "anxious", "I'll check back"} {
		if !strings.Contains(content(summary), want) {
			t.Errorf("summary %q lacks %q", content(summary), want)
		}
	}
	if ids := customIDs(summary.Body); strings.Join(ids, " ") != "m:save m:discard" {
		t.Fatalf("summary buttons = %v, want m:save m:discard", ids)
	}
	if n := len(e.fake.dmPosts(user)); n != 0 {
		t.Errorf("the modal's quick pause posted %d DMs, want none", n)
	}

	click := e.click(user, "g1", "m:save", summary.Body)
	r = response(t, e.post(t, click))
	if r["type"] != 7.0 {
		t.Errorf("Save answered %v, want an update (7)", r)
	}
	e.lastInPlace(t, click["token"].(string), "Saved to your journal")
	entries, err := e.store.Journal(t.Context(), userRef(user), 5)
	if err != nil || len(entries) != 1 || entries[0].Next != "Ask Sam when we can pick it up" || entries[0].Feeling != "anxious" || entries[0].CheckBack == nil {
		t.Fatalf("journal = %+v, %v; want the quick pause with its check-back", entries, err)
	}
}

// TestQuickModalCheckBacksOff: after /story followups off the modal has no check-back
// input, and a check-back submitted anyway is ignored; /story followups on brings it back.
func TestQuickModalCheckBacksOff(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-modal-off"
	e.welcomed(t, user)
	rowIDs := func(r map[string]any) []string {
		t.Helper()
		if r["type"] != 9.0 {
			t.Fatalf("/story quick in a server answered %v, want a modal (9)", r)
		}
		var ids []string
		for _, row := range r["data"].(map[string]any)["components"].([]any) {
			ids = append(ids, row.(map[string]any)["components"].([]any)[0].(map[string]any)["custom_id"].(string))
		}
		return ids
	}
	off := e.command(user, "g1", "followups", strOpt("set", "off"))
	e.post(t, off)
	e.lastInPlace(t, off["token"].(string), "Check-backs are off")
	ids := rowIDs(response(t, e.post(t, e.command(user, "g1", "quick"))))
	if strings.Join(ids, " ") != "story other next feeling" {
		t.Errorf("modal inputs with check-backs off = %v, want no check_back", ids)
	}
	sub := e.quickSubmit(user, "g1", map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy",
		flows.FieldNext: "Ask Sam when we can pick it up", flows.FieldCheckBack: "tomorrow",
	})
	e.post(t, sub)
	summary := e.lastInPlace(t, sub["token"].(string), "Here's your quick pause")
	if strings.Contains(content(summary), "check back") {
		t.Errorf("summary with check-backs off = %q, want no check-back", content(summary))
	}
	on := e.command(user, "g1", "followups", strOpt("set", "on"))
	e.post(t, on)
	e.lastInPlace(t, on["token"].(string), "Check-backs are on")
	if ids := rowIDs(response(t, e.post(t, e.command(user, "g1", "quick")))); len(ids) != 5 || ids[4] != flows.FieldCheckBack {
		t.Errorf("modal inputs with check-backs on = %v, want check_back last", ids)
	}
}

// TestQuickModalProblems: an answer that cannot be taken is named in place, the form's
// fields one by one; nothing is kept.
func TestQuickModalProblems(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-modal-bad"
	e.welcomed(t, user)
	// Discord enforces required inputs, but spaces pass it; the length limit is ours.
	sub := e.quickSubmit(user, "g1", map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "   ",
		flows.FieldNext: strings.Repeat("x", flows.MaxAnswerRunes+1), flows.FieldCheckBack: "when pigs fly",
	})
	response(t, e.post(t, sub))
	got := content(e.lastInPlace(t, sub["token"].(string), "What else could be true"))
	for _, want := range []string{"empty", "3,001", "Check back"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	entries, _ := e.store.Journal(t.Context(), userRef(user), 5)
	st, _, _ := e.store.Dialogue(t.Context(), userRef(user))
	if len(entries) != 0 || st.Open() {
		t.Errorf("after problems: journal %v, dialogue %+v; want nothing kept", entries, st)
	}
}

// TestQuickModalCrisis: crisis language in any field of the modal is the crisis answer, in
// place; nothing is kept.
func TestQuickModalCrisis(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-modal-crisis"
	e.welcomed(t, user)
	sub := e.quickSubmit(user, "g1", map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy",
		flows.FieldNext: "i want to end my life tonight",
	})
	response(t, e.post(t, sub))
	c := e.lastInPlace(t, sub["token"].(string), "emergency")
	if ids := customIDs(c.Body); len(ids) != 0 {
		t.Errorf("crisis answer has buttons %v, want none", ids)
	}
	entries, _ := e.store.Journal(t.Context(), userRef(user), 5)
	st, _, _ := e.store.Dialogue(t.Context(), userRef(user))
	if len(entries) != 0 || st.Open() {
		t.Errorf("after the crisis answer: journal %v, dialogue %+v; want nothing kept", entries, st)
	}
}

// TestMessageCommand: "Pause on this message" starts a Pause in the DM whose what-happened
// quotes the message, mentions readable.
func TestMessageCommand(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-msgcmd"
	e.welcomed(t, user)
	i := e.interaction(2, user, "g1", map[string]any{
		"id": "cmd-msg", "name": MessageCommandName, "type": 3, "target_id": "m-target",
		"resolved": map[string]any{"messages": map[string]any{"m-target": map[string]any{
			"id": "m-target", "channel_id": "guild-channel", "type": 0,
			"content":  "<@222> we're behind again <:sigh:123456>",
			"author":   map[string]any{"id": "333", "username": "lee", "global_name": "Lee"},
			"mentions": []any{map[string]any{"id": "222", "username": "sam"}},
		}}},
	})
	r := response(t, e.post(t, i))
	if r["type"] != 5.0 {
		t.Fatalf("message command answered %v, want deferred (5)", r)
	}
	e.lastDM(t, user, "story I'm telling myself")
	st, _, err := e.store.Dialogue(t.Context(), userRef(user))
	if err != nil || st.Flow != flows.FlowPause || st.Entry.What != "@Lee wrote: “@sam we're behind again :sigh:”" {
		t.Fatalf("dialogue = %+v, %v; want a pause quoting the message readably", st.Entry, err)
	}
}

// TestUserInstallGroupDM: a user-installed /story in a DM between two people (context 2,
// `user` not `member`) answers ephemerally and goes on in the user's own DM with the bot;
// nothing is posted in the conversation between the two.
func TestUserInstallGroupDM(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-userinstall"
	e.welcomed(t, user)
	i := e.interaction(2, user, "", map[string]any{"id": "cmd", "name": "story", "type": 1, "options": []any{
		map[string]any{"name": "pause", "type": 1, "options": []any{strOpt("text", "Sam left the call")}},
	}})
	i["context"], i["channel_id"] = 2, "private-dm-between-two"
	i["authorizing_integration_owners"] = map[string]any{"1": user}
	i["channel"] = map[string]any{"id": "private-dm-between-two", "type": 1}
	r := response(t, e.post(t, i))
	if r["type"] != 5.0 || r["data"].(map[string]any)["flags"] != 64.0 {
		t.Fatalf("user-install command answered %v, want deferred and ephemeral", r)
	}
	e.lastDM(t, user, "story I'm telling myself")
	e.lastInPlace(t, i["token"].(string), "sent you a DM")
	for _, c := range e.fake.callsTo("", "channels/private-dm-between-two", "") {
		t.Errorf("posted in the conversation between two people: %s %s", c.Method, c.Path)
	}
	// The quick pause there is the modal too.
	q := e.interaction(2, user, "", map[string]any{"id": "cmd", "name": "story", "type": 1, "options": []any{map[string]any{"name": "quick", "type": 1}}})
	q["context"], q["channel_id"] = 2, "private-dm-between-two"
	if r := response(t, e.post(t, q)); r["type"] != 9.0 {
		t.Errorf("/story quick in a private channel answered %v, want the modal", r)
	}
	if n := len(e.fake.callsTo(http.MethodPost, "channels/private-dm-between-two", "")); n != 0 {
		t.Errorf("%d posts in the private channel, want none", n)
	}
}

// TestRegistrationGolden: what `storybot discord register` sends, as a golden file.
func TestRegistrationGolden(t *testing.T) {
	got, err := json.MarshalIndent(Commands(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "commands.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot/discord -run Golden -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("Commands() differs from %s; run with -update and review the diff", path)
	}
	var cmds []map[string]any
	_ = json.Unmarshal(got, &cmds)
	for _, c := range cmds {
		if it, _ := json.Marshal(c["integration_types"]); string(it) != "[0,1]" {
			t.Errorf("%v integration_types = %s, want [0,1]", c["name"], it)
		}
		if cx, _ := json.Marshal(c["contexts"]); string(cx) != "[0,1,2]" {
			t.Errorf("%v contexts = %s, want [0,1,2]", c["name"], cx)
		}
	}
	if len(cmds) != 2 || cmds[1]["type"] != 3.0 || cmds[1]["name"] != MessageCommandName {
		t.Errorf("commands = %d, want /story and the message command (type 3)", len(cmds))
	}
}
