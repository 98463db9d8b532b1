package slack

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/storybot/storybot/flows"
)

// Payload shapes in this file follow Slack's reference pages: "View interaction payloads"
// (https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload: a
// view_submission with user, team, trigger_id and view, whose state.values are keyed by
// block_id then action_id, a plain_text_input carrying value and a static_select
// selected_option), "Block actions payloads" (a press inside a modal has container.type
// "view", view_id, and the view with its id and hash; no response_url), and "Shortcuts
// payloads" (https://docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload:
// type shortcut or message_action, callback_id, trigger_id; message_action adds channel,
// message (text, user, ts) and response_url). The state.values sample matches Slack's
// changelog "A full state on view submission and block actions" (2020-09).

// interact posts an interaction payload and returns the status and response body.
func (h *harness) interact(payload map[string]any) (int, string) {
	h.tb.Helper()
	b, _ := json.Marshal(payload)
	return h.post("/slack/interactions", "application/x-www-form-urlencoded", []byte(url.Values{"payload": {string(b)}}.Encode()), nil)
}

// interactRaw posts an interaction payload given as JSON and returns the status and body.
func (h *harness) interactRaw(payload json.RawMessage) (int, string) {
	h.tb.Helper()
	return h.post("/slack/interactions", "application/x-www-form-urlencoded", []byte(url.Values{"payload": {string(payload)}}.Encode()), nil)
}

// submitQuick submits the quick pause form with the given values (select fields by value).
func (h *harness) submitQuick(user string, values map[string]string) map[string]any {
	h.tb.Helper()
	code, body := h.interact(quickSubmission(user, values))
	if code != 200 {
		h.tb.Fatalf("view_submission: status %d %q", code, body)
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		h.tb.Fatalf("view_submission response %q: %v", body, err)
	}
	return resp
}

// quickSubmission is the view_submission payload of the quick pause form with values.
func quickSubmission(user string, values map[string]string) map[string]any {
	state := map[string]any{}
	for field, v := range values {
		switch field {
		case flows.FieldFeeling, flows.FieldCheckBack:
			state[field] = map[string]any{field: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": v, "text": map[string]any{"type": "plain_text", "text": v}}}}
		default:
			state[field] = map[string]any{field: map[string]any{"type": "plain_text_input", "value": v}}
		}
	}
	return map[string]any{
		"type": "view_submission", "team": map[string]any{"id": testTeam, "domain": "acme"},
		"user":       map[string]any{"id": user, "username": strings.ToLower(user), "team_id": testTeam},
		"api_app_id": "A1", "token": "legacy", "trigger_id": newTriggerID(),
		"view": map[string]any{
			"id": "VQUICK" + user, "team_id": testTeam, "type": "modal", "callback_id": quickCallbackID,
			"hash": "156772938.1827394", "private_metadata": "", "blocks": []any{},
			"state": map[string]any{"values": state},
		},
	}
}

// viewText is the plain text and the button values of a view (a JSON object).
func viewText(tb testing.TB, view any) (string, []string) {
	tb.Helper()
	b, _ := json.Marshal(view)
	var v struct {
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Value string `json:"value"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatal(err)
	}
	var text strings.Builder
	var values []string
	for _, blk := range v.Blocks {
		if blk.Text != nil {
			text.WriteString(blk.Text.Text)
		}
		for _, e := range blk.Elements {
			if e.Value != "" {
				values = append(values, e.Value)
			}
		}
	}
	return text.String(), values
}

// lastCall is the newest call of method.
func (h *harness) lastCall(method string) (call, bool) {
	calls := h.fake.snapshot()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Method == method {
			return calls[i], true
		}
	}
	return call{}, false
}

// TestQuickModal: /story quick in a channel opens the form with the story prefilled; the
// submission is answered in the HTTP response with the summary and Save/Discard; Save in
// the modal keeps it in the journal and updates the modal. Nothing goes to the DM or the
// channel.
func TestQuickModal(t *testing.T) {
	h := newHarness(t)
	const u = "UMODAL"
	if _, err := h.store.MarkWelcomed(t.Context(), userRef(testTeam, u)); err != nil {
		t.Fatal(err)
	}
	n := h.ncalls()
	h.slash(u, sharedChannel, "quick they think I'm slow")
	open, ok := h.lastCall("views.open")
	if !ok || open.TS == "" || !strings.Contains(open.Blocks, quickCallbackID) || !strings.Contains(open.Blocks, `"initial_value":"they think I'm slow"`) {
		t.Fatalf("views.open = %+v, want the quick form with the story prefilled", open)
	}
	resp := h.submitQuick(u, map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy",
		flows.FieldNext: "Ask Sam when we can pick it up", flows.FieldFeeling: "anxious", flows.FieldCheckBack: "checkback-tomorrow",
	})
	if resp["response_action"] != "update" {
		t.Fatalf("view_submission answered %v, want update", resp)
	}
	text, values := viewText(t, resp["view"])
	for _, want := range []string{"Here's your quick pause", "they were busy", "Ask Sam", "anxious", "I'll check back"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary view %q lacks %q", text, want)
		}
	}
	if strings.Join(values, " ") != "save discard" {
		t.Fatalf("summary buttons = %v, want save discard", values)
	}
	if got := h.replies(u, n); len(got) != 0 {
		t.Errorf("the modal's quick pause also said %q in the DM or channel", got)
	}

	code, _ := h.interact(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": testTeam}, "api_app_id": "A1",
		"user":       map[string]any{"id": u, "team_id": testTeam},
		"container":  map[string]any{"type": "view", "view_id": "VRESULT1"},
		"view":       map[string]any{"id": "VRESULT1", "type": "modal", "callback_id": resultCallbackID, "hash": "h-1", "blocks": []any{}, "state": map[string]any{"values": map[string]any{}}},
		"trigger_id": newTriggerID(),
		"actions":    []any{map[string]any{"type": "button", "action_id": choiceAction + "_0", "block_id": "choices_0", "value": "save", "text": map[string]any{"type": "plain_text", "text": "Save to journal"}, "action_ts": "1700000001.2"}},
	})
	if code != 200 {
		t.Fatalf("Save in the modal: status %d", code)
	}
	h.wait()
	upd, ok := h.lastCall("views.update")
	if !ok || upd.TS != "VRESULT1" || !strings.Contains(upd.Blocks, "Saved to your journal") {
		t.Fatalf("views.update = %+v, want the modal saying it was saved", upd)
	}
	entries, err := h.store.Journal(t.Context(), userRef(testTeam, u), 5)
	if err != nil || len(entries) != 1 || entries[0].Others[0] != "they were busy" || entries[0].Feeling != "anxious" || entries[0].CheckBack == nil {
		t.Fatalf("journal = %+v, %v; want the quick pause", entries, err)
	}
	if got := h.replies(u, n); len(got) != 0 {
		t.Errorf("saving in the modal also said %q in the DM or channel", got)
	}
}

// TestQuickModalCheckBacksOff: after /story followups off the form has no check-back
// select; /story followups on brings it back.
func TestQuickModalCheckBacksOff(t *testing.T) {
	h := newHarness(t)
	const u = "UMODALOFF"
	if _, err := h.store.MarkWelcomed(t.Context(), userRef(testTeam, u)); err != nil {
		t.Fatal(err)
	}
	checkBackBlock := `"block_id":"` + flows.FieldCheckBack + `"`
	h.slash(u, sharedChannel, "followups off")
	h.slash(u, sharedChannel, "quick they think I'm slow")
	open, ok := h.lastCall("views.open")
	if !ok || !strings.Contains(open.Blocks, quickCallbackID) || strings.Contains(open.Blocks, checkBackBlock) {
		t.Fatalf("views.open with check-backs off = %+v, want the form without %s", open, checkBackBlock)
	}
	h.slash(u, sharedChannel, "followups on")
	h.slash(u, sharedChannel, "quick they think I'm slow")
	if open, _ := h.lastCall("views.open"); !strings.Contains(open.Blocks, checkBackBlock) {
		t.Errorf("views.open with check-backs on = %+v, want %s", open, checkBackBlock)
	}
}

// TestQuickModalErrors: problems come back inline, per block, and nothing is kept.
func TestQuickModalErrors(t *testing.T) {
	h := newHarness(t)
	const u = "UMODALBAD"
	resp := h.submitQuick(u, map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: " ",
		flows.FieldNext: strings.Repeat("x", flows.MaxAnswerRunes+1),
	})
	errs, _ := resp["errors"].(map[string]any)
	if resp["response_action"] != "errors" || errs[flows.FieldOther] == nil || !strings.Contains(errs[flows.FieldNext].(string), "3,001") || errs[flows.FieldStory] != nil {
		t.Fatalf("view_submission answered %v, want errors on other and next", resp)
	}
	if st, _, _ := h.store.Dialogue(t.Context(), userRef(testTeam, u)); st.Open() {
		t.Errorf("dialogue after errors = %+v, want none", st)
	}
}

// TestQuickModalCrisis: crisis language in a field replaces the modal's content with the
// crisis answer; nothing is kept.
func TestQuickModalCrisis(t *testing.T) {
	h := newHarness(t)
	const u = "UMODALCRISIS"
	resp := h.submitQuick(u, map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "i want to kill myself", flows.FieldNext: "call",
	})
	text, values := viewText(t, resp["view"])
	if resp["response_action"] != "update" || !strings.Contains(text, "emergency") || len(values) != 0 {
		t.Fatalf("view_submission answered %v, want the crisis answer without buttons", resp)
	}
	entries, _ := h.store.Journal(t.Context(), userRef(testTeam, u), 5)
	if st, _, _ := h.store.Dialogue(t.Context(), userRef(testTeam, u)); st.Open() || len(entries) != 0 {
		t.Errorf("after the crisis answer: dialogue %+v, journal %v; want nothing", st, entries)
	}
}

// TestShortcuts: the global shortcut opens the form; the message shortcut starts a Pause in
// the DM quoting the message, its markup made readable.
func TestShortcuts(t *testing.T) {
	h := newHarness(t)
	const u = "USHORT"
	code, _ := h.interact(map[string]any{
		"type": "shortcut", "token": "legacy", "action_ts": "1700000002.1", "callback_id": ShortcutQuick,
		"trigger_id": newTriggerID(), "team": map[string]any{"id": testTeam, "domain": "acme"},
		"user": map[string]any{"id": u, "username": "short", "team_id": testTeam},
	})
	h.wait()
	if open, ok := h.lastCall("views.open"); code != 200 || !ok || !strings.Contains(open.Blocks, quickCallbackID) {
		t.Fatalf("global shortcut: status %d, views.open %+v; want the quick form", code, open)
	}

	n := h.ncalls()
	code, _ = h.interact(map[string]any{
		"type": "message_action", "token": "legacy", "action_ts": "1700000003.1", "callback_id": ShortcutMessage,
		"trigger_id": newTriggerID(), "response_url": h.fake.responseURL(u),
		"team":    map[string]any{"id": testTeam, "domain": "acme"},
		"user":    map[string]any{"id": u, "name": "short", "team_id": testTeam},
		"channel": map[string]any{"id": sharedChannel, "name": "general"},
		"message": map[string]any{
			"type": "message", "user": "ULEE", "ts": "1700000000.000200",
			"text": "<@USAM> we're *behind* again &amp; see <https://example.com/doc|the doc> <!here>",
		},
	})
	h.wait()
	if code != 200 {
		t.Fatalf("message shortcut: status %d", code)
	}
	got := strings.Join(h.replies(u, n), "\n")
	if !strings.Contains(got, "story I'm telling myself") {
		t.Fatalf("message shortcut said %q, want the story question in the DM", got)
	}
	st, _, err := h.store.Dialogue(t.Context(), userRef(testTeam, u))
	want := "@ulee wrote: “@usam we're behind again & see the doc @here”"
	if err != nil || st.Flow != flows.FlowPause || st.Entry.What != want {
		t.Fatalf("what happened = %q, %v; want %q", st.Entry.What, err, want)
	}
}

// TestQuickModalGridUser: an Enterprise Grid org user (team with enterprise_id, as in
// testdata/payloads/grid_click.txtar) is one person in the modal as in a slash command: the
// quick pause saved from the modal is in the journal their commands read.
func TestQuickModalGridUser(t *testing.T) {
	h := newHarness(t)
	const u = "UMODALGRID"
	grid := func(p map[string]any) map[string]any {
		p["team"] = map[string]any{"id": testTeam, "domain": "acme", "enterprise_id": "E0001", "enterprise_name": "eee"}
		p["enterprise"] = map[string]any{"id": "E0001", "name": "eee"}
		return p
	}
	resp := h.interactMap(grid(quickSubmission(u, map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy", flows.FieldNext: "ask",
	})))
	if resp["response_action"] != "update" {
		t.Fatalf("view_submission answered %v, want update", resp)
	}
	if code, _ := h.interact(grid(modalButton(u, "VGRID", "save", "Save to journal"))); code != 200 {
		t.Fatalf("Save: status %d", code)
	}
	h.wait()
	org, _ := h.store.Journal(t.Context(), userRef("E0001", u), 5)
	ws, _ := h.store.Journal(t.Context(), userRef(testTeam, u), 5)
	if len(org) != 1 || len(ws) != 0 {
		t.Fatalf("journal under the org %d entries, under the workspace %d; want the one entry under the org", len(org), len(ws))
	}
}

// interactMap posts an interaction that is answered in the response, and decodes it.
func (h *harness) interactMap(payload map[string]any) map[string]any {
	h.tb.Helper()
	code, body := h.interact(payload)
	var resp map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &resp) != nil {
		h.tb.Fatalf("interaction: %d %q", code, body)
	}
	return resp
}
