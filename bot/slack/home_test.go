package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Payload shapes: testdata/payloads/app_home_opened.txtar (slack-go's own fixture of the
// event) and home_block_actions.txtar (Slack's block_actions reference, a press in a view of
// type home); each file says where its shape comes from. views.publish is what slack-go's
// PublishViewContext sends (https://docs.slack.dev/reference/methods/views.publish: a JSON
// body {"user_id", "view": {"type": "home", "blocks"}}), recorded by the fake.

// homeOpenedBody is an app_home_opened callback for user on tab.
func homeOpenedBody(tb testing.TB, user, eventID, tab string) json.RawMessage {
	return json.RawMessage(fixture(tb, "app_home_opened", "body", map[string]string{"TEAM": testTeam, "USER": user, "TAB": tab, "EVENT_ID": eventID}))
}

// homeButton is the block_actions payload of a press on the home button with value choice.
func homeButton(tb testing.TB, user, actionID, choice, label string) json.RawMessage {
	return json.RawMessage(fixture(tb, "home_block_actions", "payload", map[string]string{
		"TEAM": testTeam, "USER": user, "TRIGGER": newTriggerID(), "ACTION_ID": actionID, "VALUE": choice, "LABEL": label,
	}))
}

// homeOpen posts an app_home_opened callback and waits for the work.
func (h *harness) homeOpen(user, eventID, tab string, hdr http.Header) {
	h.tb.Helper()
	if code, _ := h.post("/slack/events", "application/json", homeOpenedBody(h.tb, user, eventID, tab), hdr); code != 200 {
		h.tb.Fatalf("app_home_opened: status %d", code)
	}
	h.wait()
}

// publishes returns the views.publish calls for user from call index from on.
func (h *harness) publishes(user string, from int) []call {
	var out []call
	for _, c := range h.fake.snapshot()[from:] {
		if c.Method == "views.publish" && c.Users == user {
			out = append(out, c)
		}
	}
	return out
}

// homeButtons returns the value -> action_id of every button in a published home view.
func homeButtons(tb testing.TB, view string) (map[string]string, []string) {
	tb.Helper()
	var v struct {
		Type       string `json:"type"`
		CallbackID string `json:"callback_id"`
		Blocks     []struct {
			Elements []struct {
				ActionID string          `json:"action_id"`
				Value    string          `json:"value"`
				Text     json.RawMessage `json:"text"` // a button's text object; a context element's string
			} `json:"elements"`
			Accessory *struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"accessory"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(view), &v); err != nil {
		tb.Fatalf("home view %q: %v", view, err)
	}
	if v.Type != "home" || v.CallbackID != homeCallbackID {
		tb.Fatalf("published view type %q callback %q, want home %q", v.Type, v.CallbackID, homeCallbackID)
	}
	buttons := map[string]string{}
	var labels []string
	for _, b := range v.Blocks {
		for _, e := range b.Elements {
			if e.Value != "" {
				var t struct {
					Text string `json:"text"`
				}
				_ = json.Unmarshal(e.Text, &t)
				buttons[e.Value] = e.ActionID
				labels = append(labels, t.Text)
			}
		}
		if b.Accessory != nil {
			buttons[b.Accessory.Value] = b.Accessory.ActionID
		}
	}
	return buttons, labels
}

// homeWords are the user's words in TestHome: none may ever appear in a home view.
var homeWords = []string{"they think I'm slow", "they think I", "they were busy", "Ask Sam", "pick it up"}

func assertNoWords(tb testing.TB, where, s string) {
	tb.Helper()
	for _, w := range homeWords {
		if strings.Contains(s, w) || strings.Contains(s, escape(w)) {
			tb.Errorf("%s shows the user's words %q: %s", where, w, s)
		}
	}
}

// TestHome drives the App Home tab as a user would: it is published when opened (once, however
// often Slack retries the event), shows the buttons, the check-in, the check-back and the saved
// entry by date and kind only; Show sends the words to the DM; Quick pause opens the form;
// saving republishes it and /story forget republishes it empty. Nothing reaches a channel.
func TestHome(t *testing.T) {
	// The retried open below must find the first one's mark, however slow the machine.
	h := newHarness(t, decidedClaims)
	h.clock.Set(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)) // a Monday: the golden view's dates
	const u = "UHOME"
	ref := userRef(testTeam, u)
	if _, err := h.store.MarkWelcomed(t.Context(), ref); err != nil {
		t.Fatal(err)
	}

	// Opened before anything was saved: the buttons, an empty journal, the privacy line.
	n := h.ncalls()
	h.homeOpen(u, "EvHOME1", "home", nil)
	pubs := h.publishes(u, n)
	if len(pubs) != 1 {
		t.Fatalf("app_home_opened published %d views, want 1", len(pubs))
	}
	buttons, labels := homeButtons(t, pubs[0].Blocks)
	if buttons[bot.ChoiceHomePause] == "" || buttons[bot.ChoiceHomeQuick] == "" || strings.Join(labels, ",") != "Start a pause,Quick pause" {
		t.Fatalf("empty home buttons = %v %v, want Start a pause and Quick pause", buttons, labels)
	}
	for _, want := range []string{"Your journal is empty", "no coach or colleague can read your journal", "unencrypted"} {
		if !strings.Contains(pubs[0].Blocks, want) {
			t.Errorf("empty home lacks %q: %s", want, pubs[0].Blocks)
		}
	}
	if strings.Contains(pubs[0].Blocks, "Next check-in") || strings.Contains(pubs[0].Blocks, "Check-backs") {
		t.Errorf("empty home shows a check-in or check-backs: %s", pubs[0].Blocks)
	}

	// The Messages tab publishes nothing.
	n = h.ncalls()
	h.homeOpen(u, "EvHOME2", "messages", nil)
	if got := h.publishes(u, n); len(got) != 0 {
		t.Errorf("opening the Messages tab published %d views, want none", len(got))
	}

	// A check-in, and a quick pause saved from the modal with a check-back.
	h.slash(u, sharedChannel, "checkin weekdays 09:00")
	resp := h.submitQuick(u, map[string]string{
		flows.FieldStory: "they think I'm slow", flows.FieldOther: "they were busy",
		flows.FieldNext: "Ask Sam when we can pick it up", flows.FieldFeeling: "anxious", flows.FieldCheckBack: "checkback-tomorrow",
	})
	if resp["response_action"] != "update" {
		t.Fatalf("view_submission answered %v, want update", resp)
	}
	n = h.ncalls()
	if code, _ := h.interact(modalButton(u, "VRESULTH", "save", "Save to journal")); code != 200 {
		t.Fatalf("Save in the modal: status %d", code)
	}
	h.wait()
	entries, err := h.store.Journal(t.Context(), ref, 5)
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal = %v, %v; want the saved quick pause", entries, err)
	}
	pubs = h.publishes(u, n)
	if len(pubs) != 1 {
		t.Fatalf("saving published %d home views, want 1", len(pubs))
	}
	assertNoWords(t, "the home after a save", pubs[0].Blocks)
	if !strings.Contains(pubs[0].Blocks, "Quick pause") || !strings.Contains(pubs[0].Blocks, "Your last journal entry") {
		t.Errorf("home after a save does not list the entry: %s", pubs[0].Blocks)
	}

	// Opened again: one publish with the check-in, the check-back and the entry with Show.
	n = h.ncalls()
	h.homeOpen(u, "EvHOME3", "home", nil)
	// Slack retries the same event (same event_id): nothing is published twice.
	h.homeOpen(u, "EvHOME3", "home", http.Header{"X-Slack-Retry-Num": {"1"}, "X-Slack-Retry-Reason": {"http_timeout"}})
	pubs = h.publishes(u, n)
	if len(pubs) != 1 {
		t.Fatalf("an open and its retry published %d views, want 1", len(pubs))
	}
	view := pubs[0].Blocks
	assertNoWords(t, "the home", view)
	for _, want := range []string{"Next check-in: ", "(weekdays 09:00)", "Check-backs coming", "how the next step of your quick pause", "Quick pause", "Show"} {
		if !strings.Contains(view, want) {
			t.Errorf("home lacks %q: %s", want, view)
		}
	}
	checkGolden(t, filepath.Join("testdata", "home_view.golden"), strings.ReplaceAll(indentJSON(t, view), entries[0].ID, "ENTRY_ID"))
	buttons, _ = homeButtons(t, view)
	showID := bot.ChoiceHomeShowPrefix + entries[0].ID
	if buttons[showID] == "" {
		t.Fatalf("home buttons %v lack Show for the entry %s", buttons, entries[0].ID)
	}

	// Show sends the entry's words to the DM, and only there.
	n = h.ncalls()
	if code, _ := h.interactRaw(homeButton(t, u, buttons[showID], showID, "Show")); code != 200 {
		t.Fatalf("Show: status %d", code)
	}
	h.wait()
	got := strings.Join(h.replies(u, n), "\n")
	for _, want := range []string{"From your journal", "they think I'm slow", "they were busy", "Ask Sam when we can pick it up"} {
		if !strings.Contains(got, want) {
			t.Errorf("Show sent %q, want %q in the DM", got, want)
		}
	}

	// Quick pause on the home opens the form with the click's trigger.
	n = h.ncalls()
	if code, _ := h.interactRaw(homeButton(t, u, buttons[bot.ChoiceHomeQuick], bot.ChoiceHomeQuick, "Quick pause")); code != 200 {
		t.Fatalf("Quick pause: status %d", code)
	}
	h.wait()
	var opened bool
	for _, c := range h.fake.snapshot()[n:] {
		opened = opened || c.Method == "views.open" && strings.Contains(c.Blocks, quickCallbackID)
	}
	if !opened {
		t.Errorf("Quick pause on the home opened no quick form")
	}

	// Start a pause on the home starts it in the DM.
	n = h.ncalls()
	if code, _ := h.interactRaw(homeButton(t, u, buttons[bot.ChoiceHomePause], bot.ChoiceHomePause, "Start a pause")); code != 200 {
		t.Fatalf("Start a pause: status %d", code)
	}
	h.wait()
	if got := strings.Join(h.replies(u, n), "\n"); !strings.Contains(got, "What's happening") {
		t.Errorf("Start a pause said %q in the DM, want the first question", got)
	}

	// /story forget, confirmed: the home is published again, empty.
	h.slash(u, "D"+u, "forget")
	n = h.ncalls()
	h.click(u, "forget:yes")
	pubs = h.publishes(u, n)
	if len(pubs) != 1 || !strings.Contains(pubs[0].Blocks, "Your journal is empty") || strings.Contains(pubs[0].Blocks, "Show") ||
		strings.Contains(pubs[0].Blocks, "Next check-in") || strings.Contains(pubs[0].Blocks, "Check-backs") {
		t.Fatalf("after forget: %d publishes %+v, want one empty home", len(pubs), pubs)
	}

	for _, c := range h.fake.snapshot() {
		if c.Channel == sharedChannel {
			t.Errorf("%s reached the shared channel", c.Method)
		}
	}
}

// TestHomeRefreshOnlyAfterOpen: saving republishes the home only for a user who has opened
// it, and every replica knows who has (the mark is in the user's profile in Redis): a save
// before any open publishes nothing; after the user opened the tab on one replica, a save
// handled by the other publishes it, with the new entry.
func TestHomeRefreshOnlyAfterOpen(t *testing.T) {
	a := newHarness(t, decidedClaims)
	b := newReplica(t, a.fake, a.redisURL, a.clock, "r2", decidedClaims)
	const u = "UHOMEREP"
	if _, err := a.store.MarkWelcomed(t.Context(), userRef(testTeam, u)); err != nil {
		t.Fatal(err)
	}
	save := func(h *harness, viewID string) {
		t.Helper()
		resp := h.submitQuick(u, map[string]string{flows.FieldStory: "a story", flows.FieldOther: "another", flows.FieldNext: "a step"})
		if resp["response_action"] != "update" {
			t.Fatalf("view_submission answered %v, want update", resp)
		}
		if code, _ := h.interact(modalButton(u, viewID, "save", "Save to journal")); code != 200 {
			t.Fatalf("Save in the modal: status %d", code)
		}
		h.wait()
	}

	n := a.ncalls()
	save(a, "VREP1")
	if pubs := a.publishes(u, n); len(pubs) != 0 {
		t.Errorf("a save before the home was ever opened published %d views, want none", len(pubs))
	}

	a.homeOpen(u, "EvHOMEREP1", "home", nil)
	n = a.ncalls()
	save(b, "VREP2")
	pubs := b.publishes(u, n)
	if len(pubs) != 1 || !strings.Contains(pubs[0].Blocks, "Your last 2 journal entries") {
		t.Fatalf("a save on replica B after an open on replica A published %+v, want one home with both entries", pubs)
	}
	if entries, err := a.store.Journal(t.Context(), userRef(testTeam, u), 5); err != nil || len(entries) != 2 {
		t.Fatalf("journal = %d entries, %v; want both saves", len(entries), err)
	}
}

// modalButton is the block_actions payload of a press on a button in the quick pause's result
// modal (container type view, no response_url).
func modalButton(user, viewID, choice, label string) map[string]any {
	return map[string]any{
		"type": "block_actions", "team": map[string]any{"id": testTeam}, "api_app_id": "A1",
		"user":       map[string]any{"id": user, "team_id": testTeam},
		"container":  map[string]any{"type": "view", "view_id": viewID},
		"view":       map[string]any{"id": viewID, "type": "modal", "callback_id": resultCallbackID, "hash": "h-" + viewID, "blocks": []any{}, "state": map[string]any{"values": map[string]any{}}},
		"trigger_id": newTriggerID(),
		"actions":    []any{map[string]any{"type": "button", "action_id": choiceAction + "_0", "block_id": "choices_0", "value": choice, "text": map[string]any{"type": "plain_text", "text": label}, "action_ts": "1700000001.2"}},
	}
}

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with the golden file at path (-update rewrites it): the home as
// a coachee sharing their screen would show it, reviewable like code.
func checkGolden(tb testing.TB, path, got string) {
	tb.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		tb.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

func indentJSON(tb testing.TB, s string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		tb.Fatal(err)
	}
	return b.String() + "\n"
}
