package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/tools/txtar"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// The tests in this file drive the adapter with request bodies in the shapes Slack really
// sends (testdata/payloads, each file saying where its shape comes from): Enterprise Grid
// and Slack Connect users, escaped text and entities, message subtypes, ssl_check,
// malformed forms, an uninstall and a deactivated user.

// fixture returns the named section of testdata/payloads/<name>.txtar with each $KEY
// replaced by vars[KEY].
func fixture(tb testing.TB, name, section string, vars map[string]string) string {
	tb.Helper()
	a, err := txtar.ParseFile(filepath.Join("testdata", "payloads", name+".txtar"))
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(string(a.Comment), "Shape") && !strings.Contains(string(a.Comment), "docs") {
		tb.Fatalf("fixture %s does not say where its shape comes from", name)
	}
	for _, f := range a.Files {
		if f.Name != section {
			continue
		}
		s := strings.TrimSuffix(string(f.Data), "\n")
		// Longest keys first, so $USER does not eat into $USER_ID-like keys.
		for k, v := range vars {
			s = strings.ReplaceAll(s, "$"+k, v)
		}
		return s
	}
	tb.Fatalf("fixture %s has no section %s", name, section)
	return ""
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fixtureCommand posts a slash command fixture with text and waits for the work.
func (h *harness) fixtureCommand(name, user, text string) (int, string) {
	h.tb.Helper()
	body := fixture(h.tb, name, "body", map[string]string{
		"USER": user, "TEXT": url.QueryEscape(escape(text)), "RESPONSE_URL": url.QueryEscape(h.fake.responseURL(user)),
		"TRIGGER": fmt.Sprintf("%d.1111111111.%06d", time.Now().Unix(), h.events.Add(1)),
	})
	code, resp := h.post("/slack/commands", "application/x-www-form-urlencoded", []byte(body), nil)
	h.wait()
	return code, resp
}

// fixtureEvent posts an Events API fixture (text JSON-quoted) and waits for the work.
func (h *harness) fixtureEvent(name string, vars map[string]string) int {
	h.tb.Helper()
	if _, ok := vars["EVENT_ID"]; !ok {
		vars["EVENT_ID"] = fmt.Sprintf("Ev%06d", h.events.Add(1))
	}
	if t, ok := vars["TEXT"]; ok {
		vars["TEXT"] = jsonString(escape(t)) // as Slack sends typed text
	}
	code, _ := h.post("/slack/events", "application/json", []byte(fixture(h.tb, name, "body", vars)), nil)
	h.wait()
	return code
}

// fixtureClick presses, with a click fixture, the button with value choice on the newest
// message to user that has it: in the DM, or ephemeral in the channel the fixture's
// command came from (C1234ABCD).
func (h *harness) fixtureClick(name, user, choice string) {
	h.tb.Helper()
	calls := h.fake.snapshot()
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		dm := c.Method == "chat.postMessage" && c.Channel == "D"+user
		eph := c.Method == "response_url" && c.RouteUser == user
		if !dm && !eph || c.Blocks == "" {
			continue
		}
		actionID, label, ok := findButton(h.tb, c.Blocks, choice)
		if !ok {
			continue
		}
		channel, ts, ephemeral := c.Channel, c.TS, "false"
		if eph {
			channel, ts, ephemeral = "C1234ABCD", "1700000009.000001", "true"
		}
		payload := fixture(h.tb, name, "body", map[string]string{
			"USER": user, "CHANNEL": channel, "TS": ts, "ACTION_ID": actionID, "VALUE": choice,
			"LABEL": label, "RESPONSE_URL": h.fake.responseURL(user), "EPHEMERAL": ephemeral,
		})
		body := url.Values{"payload": {payload}}.Encode()
		if code, _ := h.post("/slack/interactions", "application/x-www-form-urlencoded", []byte(body), nil); code != 200 {
			h.tb.Fatalf("interaction %s: status %d", name, code)
		}
		h.wait()
		return
	}
	h.tb.Fatalf("no DM message to %s has a button %q", user, choice)
}

// walkPause answers a started pause with typed DMs (sent by say) until the summary asks to
// save, then saves it by clicking (click) and returns the summary.
func walkPause(tb testing.TB, h *harness, user string, say func(text string), click func(choice string)) string {
	tb.Helper()
	answers := []string{
		"Sam closed the laptop while I was talking & left.",
		"He thinks my idea is <stupid>.",
		"anxious",
		"7",
		"He closed the laptop.",
		"He had another meeting.",
		"Ask him after the call.",
		"4",
	}
	for i := 0; i < 16; i++ {
		if s := last(h.replies(user, 0)); strings.Contains(s, "Save it to your journal?") {
			click("save")
			if s2 := last(h.replies(user, 0)); !strings.Contains(s2, "Saved to your journal") {
				tb.Fatalf("after saving: %q", s2)
			}
			return s
		}
		a := "skip"
		if i < len(answers) {
			a = answers[i]
		}
		n := h.ncalls()
		say(a)
		if len(h.replies(user, n)) == 0 {
			tb.Fatalf("no reply to %q: the answer was lost", a)
		}
	}
	tb.Fatalf("the pause never reached its summary; last reply %q", last(h.replies(user, 0)))
	return ""
}

// redisHolds returns every key or value in Redis that contains s.
func redisHolds(tb testing.TB, rdb *redis.Client, s string) []string {
	tb.Helper()
	ctx := context.Background()
	var found []string
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		if strings.Contains(key, s) {
			found = append(found, key)
			continue
		}
		var val any
		var err error
		switch rdb.Type(ctx, key).Val() {
		case "string":
			val, err = rdb.Get(ctx, key).Result()
		case "hash":
			val, err = rdb.HGetAll(ctx, key).Result()
		case "zset":
			val, err = rdb.ZRange(ctx, key, 0, -1).Result()
		}
		if err != nil && err != redis.Nil {
			tb.Fatalf("read %s: %v", key, err)
		}
		if strings.Contains(fmt.Sprint(val), s) {
			found = append(found, key+" (value)")
		}
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
	return found
}

// TestGridAndConnectUsersWholeJourney takes an Enterprise Grid org user and a Slack
// Connect partner through a whole pause (commands, typed answers and clicks each carrying
// their own team ids), export and forget: every payload reaches the same person's data,
// the export holds the entry, and after forget no key or value names them.
func TestGridAndConnectUsersWholeJourney(t *testing.T) {
	for _, tc := range []struct {
		name, command, message, click string
		want                          bot.UserRef
	}{
		{"grid org user", "grid_command", "grid_message", "grid_click", userRef("E0001", "UGRID00001")},
		{"slack connect partner", "connect_command", "connect_message", "", userRef("T0PARTNER", "UPARTNER01")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			u := tc.want.User
			ctx := context.Background()
			say := func(text string) {
				if code := h.fixtureEvent(tc.message, map[string]string{"USER": u, "TEXT": text}); code != 200 {
					t.Fatalf("message: status %d", code)
				}
			}
			click := func(choice string) {
				if tc.click == "" {
					say(map[string]string{"save": "Save to journal", "forget:yes": "Erase everything"}[choice])
					return
				}
				h.fixtureClick(tc.click, u, choice)
			}
			if code, _ := h.fixtureCommand(tc.command, u, "pause"); code != 200 {
				t.Fatalf("command: status %d", code)
			}
			welcomes := 0
			for _, r := range h.replies(u, 0) {
				if strings.Contains(r, "Welcome") || strings.Contains(r, "welcome") {
					welcomes++
				}
			}
			summary := walkPause(t, h, u, say, click)
			if !strings.Contains(summary, "He had another meeting.") || !strings.Contains(summary, "<stupid>") {
				t.Errorf("summary %q lacks the user's words, verbatim", summary)
			}
			entries, err := h.store.Journal(ctx, tc.want, 10)
			if err != nil || len(entries) != 1 {
				t.Fatalf("Journal(%s) = %d entries, %v; want 1", tc.want, len(entries), err)
			}
			if entries[0].What != "Sam closed the laptop while I was talking & left." {
				t.Errorf("stored what happened = %q, want it as typed", entries[0].What)
			}
			for _, r := range h.replies(u, 0) {
				if strings.Contains(r, "No pause is open") {
					t.Errorf("an answer was not taken: %q", r)
				}
			}
			// Export, by command: the file holds the entry.
			n := h.ncalls()
			h.fixtureCommand(tc.command, u, "export")
			if h.fake.lastUpload() == "" || !strings.Contains(h.fake.lastUpload(), "He had another meeting.") {
				t.Errorf("export upload does not hold the journal entry (calls %d)", h.ncalls()-n)
			}
			// Forget, by command, confirmed by a click (or typed).
			h.fixtureCommand(tc.command, u, "forget")
			click("forget:yes")
			if s := last(h.replies(u, 0)); !strings.Contains(s, "everything storybot kept about you is erased") {
				t.Fatalf("after confirming forget: %q", s)
			}
			if held := redisHolds(t, h.rdb, u); len(held) > 0 {
				t.Errorf("after forget Redis still holds %s: %q", u, held)
			}
			if held := redisHolds(t, h.rdb, "another meeting"); len(held) > 0 {
				t.Errorf("after forget Redis still holds the user's words: %q", held)
			}
		})
	}
}

// TestLegacyKeyedDataMerged: data an earlier storybot kept under a Grid user's workspace
// team id (its commands were keyed so) is reachable after the fix: the next event merges
// it into the one identity, and nothing stays behind under the old key.
func TestLegacyKeyedDataMerged(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const u = "UGRIDOLD01"
	old, now := userRef("T1234ABCD", u), userRef("E0001", u)
	// The old data: a saved entry, a profile (welcomed, zone) and a check-in.
	err := h.store.Turn(ctx, old, func(cur flows.State) (flows.State, *flows.Entry, error) {
		return cur, &flows.Entry{Flow: flows.FlowQuick, Story: "they left me out & I noticed", Created: h.clock.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.SaveProfile(ctx, old, bot.Profile{Welcomed: true, TZ: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	j := bot.Job{Kind: bot.JobCheckin, User: old, TZ: "Europe/Paris", Checkin: bot.Checkin{Schedule: bot.Schedule{Days: [7]bool{1: true}, Hour: 9}}}
	if err := h.store.PutJob(ctx, j, h.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	h.fixtureCommand("grid_command", u, "history")
	if got := strings.Join(h.replies(u, 0), "\n"); !strings.Contains(got, "they left me out & I noticed") {
		t.Errorf("history after the fix = %q, want the entry kept under the old key", got)
	}
	for _, r := range h.replies(u, 0) {
		if strings.Contains(r, "Welcome") {
			t.Errorf("welcomed again: %q", r)
		}
	}
	if p, _, _ := h.store.Profile(ctx, now); p.TZ != "Europe/Paris" || !p.Welcomed {
		t.Errorf("merged profile = %+v, want the old zone and welcome", p)
	}
	if _, _, ok, _ := h.store.Job(ctx, now, bot.JobCheckin); !ok {
		t.Error("the check-in did not move to the one identity")
	}
	if held := redisHolds(t, h.rdb, "T1234ABCD"); len(held) > 0 {
		t.Errorf("data left under the old key: %q", held)
	}
}

// TestEntitiesRoundTrip: Slack's escaping and entities are decoded once on the way in
// (mentions become readable names, never IDs) and escaped once on the way out.
func TestEntitiesRoundTrip(t *testing.T) {
	h := newHarness(t)
	const u = "UENTITY001"
	raw := fixture(t, "entities_command", "text", nil)
	want := fixture(t, "entities_command", "want", nil)
	body := slashBody(h.fake, u, sharedChannel, raw)
	if code, _ := h.post("/slack/commands", "application/x-www-form-urlencoded", body, nil); code != 200 {
		t.Fatalf("command: %d", code)
	}
	h.wait()
	answers := []string{"He thinks I'm &lt;wrong&gt;", "anxious", "7", "He closed the laptop.", "He had another meeting.", "Ask him after the call.", "4", "skip"}
	for i := 0; i < 16 && !strings.Contains(last(h.replies(u, 0)), "Save it to your journal?"); i++ {
		h.dm(u, answers[min(i, len(answers)-1)])
	}
	h.dm(u, "Save to journal")
	entries, err := h.store.Journal(context.Background(), userRef(testTeam, u), 1)
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal: %d entries, %v", len(entries), err)
	}
	if entries[0].What != want {
		t.Errorf("stored what happened = %q,\nwant %q", entries[0].What, want)
	}
	if entries[0].Story != "He thinks I'm <wrong>" {
		t.Errorf("stored story = %q, want it as typed", entries[0].Story)
	}
	n := h.ncalls()
	h.dm(u, "/story history")
	h.slash(u, "D"+u, "history")
	var sawText bool
	for _, c := range h.fake.snapshot()[n:] {
		if c.Method != "chat.postMessage" || !strings.Contains(c.Text, "Tom") {
			continue
		}
		sawText = true
		if !strings.Contains(c.Text, "Tom &amp; Jerry said &lt;too risky&gt; to @sam") || strings.Contains(c.Text, "&amp;amp;") || strings.Contains(c.Text, "&amp;lt;") {
			t.Errorf("history text sent as %q: want the words escaped exactly once", c.Text)
		}
		if strings.Contains(c.Text, "U0SAM0001") || strings.Contains(c.Text, "U0ALI0002") {
			t.Errorf("history shows a raw user id: %q", c.Text)
		}
	}
	if !sawText {
		t.Error("no history DM")
	}
}

// TestDMSubtypes: a file_share with text, a /me message and a thread broadcast are answers;
// a file alone gets one kind line and changes nothing; an edit is ignored.
func TestDMSubtypes(t *testing.T) {
	for _, name := range []string{"file_share", "me_message", "thread_broadcast"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			const u = "USUBTYPE01"
			h.slash(u, "D"+u, "pause")
			n := h.ncalls()
			h.fixtureEvent(name, map[string]string{"USER": u, "TEXT": "Sam closed the laptop."})
			got := h.replies(u, n)
			if len(got) == 0 || !strings.Contains(strings.ToLower(last(got)), "story") {
				t.Fatalf("after a %s answer: replies %q, want the next prompt (the story)", name, got)
			}
		})
	}
	t.Run("file alone", func(t *testing.T) {
		h := newHarness(t)
		const u = "USUBTYPE02"
		h.slash(u, "D"+u, "pause")
		st, _, _ := h.store.Dialogue(context.Background(), userRef(testTeam, u))
		n := h.ncalls()
		h.fixtureEvent("file_share", map[string]string{"USER": u, "TEXT": ""})
		got := h.replies(u, n)
		if len(got) != 1 || got[0] != "I can only read text here — type your answer, and I'll take it from there." {
			t.Fatalf("after a file alone: replies %q, want the one kind line", got)
		}
		if st2, _, _ := h.store.Dialogue(context.Background(), userRef(testTeam, u)); st2.Step != st.Step {
			t.Errorf("a file alone moved the dialogue from %v to %v", st.Step, st2.Step)
		}
	})
	t.Run("edit ignored", func(t *testing.T) {
		h := newHarness(t)
		const u = "USUBTYPE03"
		h.slash(u, "D"+u, "pause")
		n := h.ncalls()
		h.fixtureEvent("message_changed", map[string]string{"USER": u, "TEXT": "edited"})
		if got := h.replies(u, n); len(got) != 0 {
			t.Errorf("an edit got replies %q", got)
		}
	})
}

// TestSSLCheckAndMalformedForms: Slack's unsigned ssl_check gets 200 and changes nothing;
// signed forms without a command, user, team or response_url, and events without a team,
// get 400 and change nothing.
func TestSSLCheckAndMalformedForms(t *testing.T) {
	h := newHarness(t)
	before, calls := h.dbsize(), h.ncalls()
	req := fixture(t, "ssl_check", "body", nil)
	resp, err := h.srv.Client().Post(h.srv.URL+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("ssl_check: status %d, want 200", resp.StatusCode)
	}
	good := url.Values{}
	for k, v := range mustParseQuery(t, string(slashBody(h.fake, "UMALFORM01", sharedChannel, "pause"))) {
		good[k] = v
	}
	for _, drop := range []string{"command", "user_id", "team_id", "response_url"} {
		v := url.Values{}
		for k, vs := range good {
			if k != drop {
				v[k] = vs
			}
		}
		if code, _ := h.post("/slack/commands", "application/x-www-form-urlencoded", []byte(v.Encode()), nil); code != 400 {
			t.Errorf("signed command form without %s: status %d, want 400", drop, code)
		}
	}
	noTeam := strings.ReplaceAll(string(h.messageBody("UMALFORM01", "hello", "Ev900001")), `"team_id":"T1"`, `"team_id":""`)
	if code, _ := h.post("/slack/events", "application/json", []byte(noTeam), nil); code != 400 {
		t.Errorf("signed event without a team id: status %d, want 400", code)
	}
	h.wait()
	if after := h.dbsize(); after != before {
		t.Errorf("Redis keys %d -> %d: something was stored", before, after)
	}
	if h.ncalls() != calls {
		t.Errorf("Slack was called: %v", h.fake.snapshot()[calls:])
	}
}

func mustParseQuery(tb testing.TB, s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestUninstallStopsJobs: app_uninstalled (and tokens_revoked with bot tokens) removes the
// scheduled jobs of the workspace, its Grid org's users included; other workspaces keep
// theirs.
func TestUninstallStopsJobs(t *testing.T) {
	for _, name := range []string{"app_uninstalled", "tokens_revoked"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			h.slash("ULOCAL0001", "D"+"ULOCAL0001", "checkin weekdays 09:00")
			h.fixtureCommand("grid_command", "UGRID00002", "checkin daily 08:15")
			other := userRef("T0OTHER", "UOTHER0001")
			j := bot.Job{Kind: bot.JobCheckin, User: other, Checkin: bot.Checkin{Schedule: bot.Schedule{Days: [7]bool{1: true}, Hour: 9}}}
			if err := h.store.PutJob(ctx, j, h.clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			for _, u := range []bot.UserRef{userRef(testTeam, "ULOCAL0001"), userRef("E0001", "UGRID00002")} {
				if _, _, ok, _ := h.store.Job(ctx, u, bot.JobCheckin); !ok {
					t.Fatalf("no check-in for %s before the uninstall", u)
				}
			}
			team := map[string]string{"app_uninstalled": "T1234ABCD", "tokens_revoked": "T1234ABCD"}[name]
			h.fixtureEvent(name, map[string]string{"TEAM": team, "ENTERPRISE": "E0001"})
			h.fixtureEvent(name, map[string]string{"TEAM": testTeam, "ENTERPRISE": ""})
			h.wait()
			for _, u := range []bot.UserRef{userRef(testTeam, "ULOCAL0001"), userRef("E0001", "UGRID00002")} {
				if _, _, ok, _ := h.store.Job(ctx, u, bot.JobCheckin); ok {
					t.Errorf("%s: the check-in of %s survived", name, u)
				}
			}
			if _, _, ok, _ := h.store.Job(ctx, other, bot.JobCheckin); !ok {
				t.Errorf("%s: another workspace's check-in was removed", name)
			}
		})
	}
}

// TestDeactivatedUserSchedulesCancelled: when Slack says the user is gone (user_not_found
// from conversations.open) as a check-in is delivered, their schedules are cancelled; their
// data stays.
func TestDeactivatedUserSchedulesCancelled(t *testing.T) {
	for _, slackErr := range []string{"user_not_found", "account_inactive"} {
		t.Run(slackErr, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			const u = "UGONE00001"
			ref := userRef(testTeam, u)
			h.slash(u, "D"+u, "checkin daily 08:15")
			h.slash(u, "D"+u, "digest weekly")
			_, due, ok, _ := h.store.Job(ctx, ref, bot.JobCheckin)
			if !ok {
				t.Fatal("no check-in")
			}
			h.adapter.dms.Remove(ref.String()) // a fresh replica: it opens the DM again
			h.fake.mu.Lock()
			h.fake.gone[u] = slackErr
			h.fake.mu.Unlock()
			h.clock.Set(due.Add(time.Minute))
			runScheduler(h)
			waitFor(t, "the schedules to be cancelled", func() bool {
				_, _, c, _ := h.store.Job(ctx, ref, bot.JobCheckin)
				_, _, d, _ := h.store.Job(ctx, ref, bot.JobDigest)
				return !c && !d
			})
			if p, ok, _ := h.store.Profile(ctx, ref); !ok || !p.Welcomed {
				t.Errorf("the gone user's profile was erased: %+v", p)
			}
		})
	}
}

// TestCheckinWaitsForTheDialogue: a check-in that comes due while the user is in a
// dialogue is not dropped: it waits, and arrives once the dialogue closes — exactly once.
func TestCheckinWaitsForTheDialogue(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const u = "UBUSY00001"
	ref := userRef(testTeam, u)
	h.slash(u, "D"+u, "checkin daily 08:15")
	_, due, ok, _ := h.store.Job(ctx, ref, bot.JobCheckin)
	if !ok {
		t.Fatal("no check-in")
	}
	h.clock.Set(due.Add(-2 * time.Minute))
	h.slash(u, "D"+u, "pause")
	h.dm(u, "Sam closed the laptop.")
	runScheduler(h)
	h.clock.Set(due.Add(time.Minute))
	time.Sleep(300 * time.Millisecond) // a few scheduler ticks: it finds the user busy
	if n := countCheckins(h, u); n != 0 {
		t.Fatalf("%d check-ins sent mid-dialogue", n)
	}
	h.dm(u, "stop")
	h.clock.Set(due.Add(5 * time.Minute))
	waitFor(t, "the waiting check-in", func() bool { return countCheckins(h, u) == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := countCheckins(h, u); n != 1 {
		t.Errorf("%d check-ins after the dialogue closed, want exactly 1", n)
	}
}
