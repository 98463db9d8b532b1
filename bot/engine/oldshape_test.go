package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage/redistest"
)

// oldEntries are journal entries as storybot wrote them before the rumble, the check-back,
// belief ratings and turnarounds (a pause with a confirmed trap, and a reframe with the
// "kinder story" of that version), byte for byte.
var oldEntries = []string{
	`{"flow":1,"created":"2026-03-05T09:01:00Z","what":"old-what-sam-moved-my-item","story":"old-story-they-think-it-doesnt-matter","feeling":"anxious","strength_before":7,"facts":"old-facts","others":["old-other-story"],"next":"old-next-ask-sam","strength_after":4,"traps":["mind-reading"]}`,
	`{"flow":3,"created":"2026-03-05T10:01:00Z","story":"old-reframe-story","is_true":"Yes","absolutely":"No, I can't know that.","reaction":"old-reaction","traps":["labelling"],"kinder_story":"old-kinder-story"}`,
}

// TestOldEntriesShowEverywhere stores old-shape entries and reads them back through
// history, export and the digest.
func TestOldEntriesShowEverywhere(t *testing.T) {
	h := newHarness(t, redistest.Start(t))
	ctx := context.Background()
	for _, raw := range oldEntries {
		var e flows.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			t.Fatalf("decode old entry: %v", err)
		}
		if again, _ := json.Marshal(e); string(again) != raw {
			t.Errorf("old entry re-encodes as %s, want it unchanged: %s", again, raw)
		}
		err := h.store.Turn(ctx, h.user, func(cur flows.State) (flows.State, *flows.Entry, error) { return cur, &e, nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	hist := texts(h.command("history", true))
	for _, want := range []string{"old-what-sam-moved-my-item", "old-story-they-think-it-doesnt-matter", "old-other-story",
		"old-next-ask-sam", "anxious 7 → 4", "old-reframe-story", "Fair story: old-kinder-story"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	var export string
	for _, m := range h.command("export", true) {
		if m.File != nil {
			export = string(m.File.Content)
		}
	}
	for _, want := range []string{`"kinder_story": "old-kinder-story"`, `"traps": [`, "old-facts"} {
		if !strings.Contains(export, want) {
			t.Errorf("export lacks %s:\n%s", want, export)
		}
	}
	entries, err := h.store.Journal(ctx, h.user, 10)
	if err != nil {
		t.Fatal(err)
	}
	digest := engine.Digest(entries, time.Date(2026, 3, 8, 18, 0, 0, 0, time.UTC))
	for _, want := range []string{"1 pause and 1 reframe this week", "old-next-ask-sam", "mind reading"} {
		if !strings.Contains(digest, want) {
			t.Errorf("digest lacks %q:\n%s", want, digest)
		}
	}
}
