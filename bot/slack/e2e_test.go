package slack

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// TestSignDocumentedExample checks the test's signing helper against Slack's documented
// example, so "signed exactly as Slack signs" is true.
func TestSignDocumentedExample(t *testing.T) {
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := sign("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, []byte(body))
	want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	if got != want {
		t.Errorf("sign(example) = %s, want %s", got, want)
	}
	// The adapter's verifier accepts a fresh signature and rejects the (expired) example.
	h := http.Header{}
	now := time.Now().Unix()
	h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now, 10))
	h.Set("X-Slack-Signature", sign(testSecret, now, []byte(body)))
	v := newVerifier(testSecret)
	if err := v.check(h, []byte(body)); err != nil {
		t.Errorf("verify(fresh) = %v, want nil", err)
	}
	h.Set("X-Slack-Request-Timestamp", "1531420618")
	h.Set("X-Slack-Signature", want)
	if err := v.check(h, []byte(body)); err == nil {
		t.Error("verify(2018 example) = nil, want an expired-timestamp error")
	}
}

func last(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[len(ss)-1]
}

func TestPauseTypedViaDM(t *testing.T) {
	h := newHarness(t)
	const u = "UTYPED"
	h.slash(u, sharedChannel, "pause")
	got := h.replies(u, 0)
	if len(got) < 3 || !strings.Contains(got[len(got)-1], "DM") {
		t.Fatalf("after /story pause in a channel: replies %q, want the welcome, the first prompt and then the ephemeral pointer", got)
	}
	for _, c := range h.fake.snapshot() {
		if c.Method == "response_url" && c.ResponseType != "ephemeral" {
			t.Errorf("response_url reply %+v, want ephemeral", c)
		}
	}
	answers := []string{
		"Sam closed the laptop while I was talking.",
		"He thinks my idea is stupid.",
		"anxious",
		"7",
		"He closed the laptop.",
		"He had another meeting.",
		"Whether the idea was even on his radar.",
		"Ask him after the call.",
		"tomorrow",
		"4",
	}
	for _, a := range answers {
		n := h.ncalls()
		h.dm(u, a)
		if len(h.replies(u, n)) == 0 {
			t.Fatalf("no reply to %q", a)
		}
	}
	if s := last(h.replies(u, 0)); !strings.Contains(s, "Save it to your journal?") || !strings.Contains(s, "He had another meeting.") {
		t.Fatalf("summary = %q, want the user's words and the save question", s)
	}
	h.dm(u, "Save to journal")
	if s := last(h.replies(u, 0)); !strings.Contains(s, "Saved to your journal") {
		t.Fatalf("after saving: %q", s)
	}
	entries, err := h.store.Journal(context.Background(), userRef(testTeam, u), 5)
	if err != nil || len(entries) != 1 || entries[0].Next != "Ask him after the call." {
		t.Fatalf("journal = %+v, %v; want the one saved pause", entries, err)
	}
	// "tomorrow" is 09:00 the next day where the user is: the profile's zone (the fake
	// says Europe/Berlin), not the server's.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cb := entries[0].CheckBack
	if cb == nil {
		t.Fatal("journal entry has no check-back")
	}
	if local := cb.In(berlin); local.Hour() != 9 || local.Minute() != 0 || !local.After(h.clock.Now()) || local.Sub(h.clock.Now()) > 48*time.Hour {
		t.Errorf("check-back = %v (%v in Berlin), want 09:00 Berlin on the next day after %v", cb, local, h.clock.Now())
	}
}

func TestPauseWithButtons(t *testing.T) {
	h := newHarness(t)
	const u = "UBUTTON"
	h.slash(u, sharedChannel, "pause The demo froze.")
	h.dm(u, "Everyone thinks I'm unprepared.")
	n := h.ncalls()
	h.click(u, "anxious")
	var updated bool
	for _, c := range h.fake.snapshot()[n:] {
		if c.Method == "chat.update" {
			updated = true
			if c.Channel != "D"+u || !strings.Contains(c.Text, "You chose: Anxious") || strings.Contains(c.Blocks, "actions") {
				t.Errorf("chat.update = %+v, want the DM message without buttons and with the choice", c)
			}
		}
	}
	if !updated {
		t.Error("the clicked message was not updated")
	}
	if s := last(h.replies(u, n)); !strings.Contains(s, "How strong") {
		t.Fatalf("after clicking Anxious: %q, want the strength question", s)
	}
	// Pressing the same old button again does nothing.
	n = h.ncalls()
	h.click(u, "anxious")
	if got := h.replies(u, n); len(got) != 0 {
		t.Fatalf("second press of an old button gave %q, want nothing", got)
	}
	h.click(u, "8")
	h.dm(u, "The demo froze for ten seconds.")
	h.dm(u, "Demos freeze; people know that.")
	h.dm(u, "skip")
	h.dm(u, "Send the recording.")
	h.click(u, "checkback-meeting")
	h.click(u, "3")
	if s := last(h.replies(u, 0)); !strings.Contains(s, "8 → 3") {
		t.Fatalf("summary %q, want the shift 8 → 3", s)
	}
	h.click(u, "save")
	if s := last(h.replies(u, 0)); !strings.Contains(s, "Saved to your journal") {
		t.Fatalf("after Save: %q", s)
	}
}

func TestReframeViaDM(t *testing.T) {
	h := newHarness(t)
	const u = "UREFRAME"
	h.slash(u, "D"+u, "reframe I'm an idiot, I should have caught that bug.")
	for _, c := range h.fake.snapshot() {
		if c.Method == "response_url" {
			t.Errorf("a command typed in the bot's DM got an ephemeral reply: %+v", c)
		}
	}
	for _, a := range []string{"skip", "Yes", "No, I can't know that.", "I go quiet and work late."} {
		h.dm(u, a)
	}
	if s := last(h.replies(u, 0)); !strings.Contains(s, "You wrote “") || !strings.Contains(s, "Do these fit?") {
		t.Fatalf("traps prompt = %q", s)
	}
	h.click(u, "yes")
	for _, a := range []string{"I'm not an idiot; I missed one bug.", "I caught two worse ones this sprint.",
		"I missed a bug, like everyone sometimes does.", "Add a test for it."} {
		h.dm(u, a)
	}
	h.click(u, "checkback-none")
	if s := last(h.replies(u, 0)); !strings.Contains(s, "Here's your reframe") {
		t.Fatalf("summary = %q", s)
	}
	h.click(u, "save")
	entries, err := h.store.Journal(context.Background(), userRef(testTeam, u), 5)
	if err != nil || len(entries) != 1 || entries[0].KinderStory == "" {
		t.Fatalf("journal = %+v, %v", entries, err)
	}
}

func TestRetriedEventHandledOnce(t *testing.T) {
	h := newHarness(t)
	const u = "URETRY"
	h.slash(u, sharedChannel, "pause")
	body := h.messageBody(u, "A camera would see me alone at my desk.", "EvRETRY1")
	n := h.ncalls()
	if code, _ := h.post("/slack/events", "application/json", body, nil); code != 200 {
		t.Fatal(code)
	}
	h.wait()
	first := h.replies(u, n)
	if len(first) != 1 {
		t.Fatalf("first delivery: replies %q, want one", first)
	}
	for i := 1; i <= 3; i++ {
		hdr := http.Header{"X-Slack-Retry-Num": {strconv.Itoa(i)}, "X-Slack-Retry-Reason": {"http_timeout"}}
		if code, _ := h.post("/slack/events", "application/json", body, hdr); code != 200 {
			t.Fatalf("retry %d: status %d", i, code)
		}
	}
	h.wait()
	if got := h.replies(u, n); len(got) != 1 {
		t.Fatalf("after 3 retries: replies %q, want still one", got)
	}
	// The dialogue moved one step only: the next answer gets the feeling question.
	h.dm(u, "They stopped talking when I came in.")
	if s := last(h.replies(u, 0)); !strings.Contains(s, "What are you feeling?") {
		t.Fatalf("next prompt = %q, want the feeling question", s)
	}
}

func TestSignatureFailures(t *testing.T) {
	h := newHarness(t)
	bodies := map[string]struct {
		ct   string
		body []byte
	}{
		"/slack/commands":     {"application/x-www-form-urlencoded", slashBody(h.fake, "UEVIL", sharedChannel, "pause")},
		"/slack/interactions": {"application/x-www-form-urlencoded", []byte("payload=%7B%22type%22%3A%22block_actions%22%7D")},
		"/slack/events":       {"application/json", h.messageBody("UEVIL", "hello", "EvEVIL")},
	}
	now := time.Now().Unix()
	cases := map[string]http.Header{
		"bad":     {"X-Slack-Signature": {sign("not-the-secret", now, []byte("x"))}},
		"stale":   {"X-Slack-Request-Timestamp": {strconv.FormatInt(now-360, 10)}},
		"missing": {"X-Slack-Signature": {""}, "X-Slack-Request-Timestamp": {""}},
	}
	for path, b := range bodies {
		for name, hdr := range cases {
			t.Run(strings.TrimPrefix(path, "/slack/")+"/"+name, func(t *testing.T) {
				if name == "stale" {
					hdr = hdr.Clone()
					hdr.Set("X-Slack-Signature", sign(testSecret, now-360, b.body))
				}
				code, _ := h.post(path, b.ct, b.body, hdr)
				h.wait()
				if code != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", code)
				}
			})
		}
	}
	if n := h.ncalls(); n != 0 {
		t.Errorf("%d Web API calls after refused requests, want 0: %+v", n, h.fake.snapshot())
	}
	if n := h.dbsize(); n != 0 {
		keys, _ := h.rdb.Keys(context.Background(), "*").Result()
		t.Errorf("DBSIZE = %d after refused requests, want 0: %q", n, keys)
	}
}

func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	big := []byte("text=" + strings.Repeat("a", MaxBody+10))
	code, _ := h.post("/slack/commands", "application/x-www-form-urlencoded", big, nil)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", code)
	}
	if h.ncalls() != 0 || h.dbsize() != 0 {
		t.Error("a too-large body changed something")
	}
}

func TestMalformedPayloads(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ path, ct, body string }{
		{"/slack/events", "application/json", "{not json"},
		{"/slack/interactions", "application/x-www-form-urlencoded", "payload=%7Bnope"},
		{"/slack/interactions", "application/x-www-form-urlencoded", "nothing=here"},
		{"/slack/commands", "application/x-www-form-urlencoded", "team_id=T1"},
	} {
		if code, _ := h.post(tc.path, tc.ct, []byte(tc.body), nil); code != http.StatusBadRequest {
			t.Errorf("POST %s %q: status %d, want 400", tc.path, tc.body, code)
		}
	}
}

func TestURLVerification(t *testing.T) {
	h := newHarness(t)
	code, body := h.post("/slack/events", "application/json", []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`), nil)
	if code != 200 || body != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification: %d %q", code, body)
	}
	code, _ = h.post("/slack/events", "application/json", []byte(`{"type":"event_callback","team_id":"T1","event_id":"EvHOME","event":{"type":"app_home_opened","user":"U1","channel":"D1","tab":"messages"}}`), nil)
	h.wait()
	if code != 200 || h.ncalls() != 0 {
		t.Errorf("app_home_opened: status %d, %d calls; want 200 and none", code, h.ncalls())
	}
}

func TestOverlongAnswerRefused(t *testing.T) {
	h := newHarness(t)
	const u = "ULONG"
	h.slash(u, sharedChannel, "pause")
	h.dm(u, "The meeting ended early.")
	n := h.ncalls()
	h.dm(u, strings.Repeat("x", 5000))
	got := h.replies(u, n)
	if len(got) == 0 || !strings.Contains(got[0], "shorten") {
		t.Fatalf("5,000-character answer: %q, want a request to shorten it", got)
	}
	if !strings.Contains(last(got), "the story I'm telling myself") {
		t.Errorf("the same step is not asked again: %q", last(got))
	}
	h.dm(u, "They are hiding bad news.")
	if s := last(h.replies(u, 0)); !strings.Contains(s, "What are you feeling?") {
		t.Fatalf("after a shorter answer: %q, want the feeling question", s)
	}
}

func TestSlashCommandWithEscapedMention(t *testing.T) {
	h := newHarness(t)
	const u = "UCOACH"
	h.slash(u, sharedChannel, "coach invite <@U123|sam>")
	got := h.replies(u, 0)
	if len(got) == 0 {
		t.Fatal("no answer to /story coach invite")
	}
	// The coach's answer is ephemeral only; the one DM is the invitation, to the user the
	// escaped mention names.
	invited := false
	for _, c := range h.fake.snapshot() {
		switch {
		case c.Method == "response_url" && c.RouteUser == u, c.Method == "users.info":
		case c.Method == "conversations.open" && c.Users == "U123":
		case c.Method == "chat.postMessage" && c.Channel == "DU123":
			invited = true
		default:
			t.Errorf("unexpected call %+v: the coach's answer should be ephemeral only", c)
		}
	}
	if !invited {
		t.Error("the invitation did not reach U123's DM: the mention was not understood")
	}
	// And the event the engine gets carries the command parsed from the mention (its text
	// is readable: no raw id).
	ev := commandToEvent(slashCommandFromForm(t, slashBody(h.fake, u, sharedChannel, "coach invite <@U123|sam>")), "")
	if ev.Text != "coach invite @sam" {
		t.Errorf("event text %q, want the readable form", ev.Text)
	}
	if ev.Command == nil || ev.Command.Name != bot.CmdCoachInvite || ev.Command.Target != "U123" {
		t.Errorf("event command %+v, want coach invite of U123", ev.Command)
	}
}

func TestRateLimitedPostRetried(t *testing.T) {
	h := newHarness(t)
	const u = "URATE"
	h.fake.mu.Lock()
	h.fake.rateLimit["chat.postMessage"] = 1
	h.fake.mu.Unlock()
	start := time.Now()
	h.slash(u, "D"+u, "quick")
	// The DM waits out the limit in the outbox, not in the turn.
	h.waitOutbox()
	if d := time.Since(start); d < time.Second {
		t.Errorf("took %v: the Retry-After of 1 s was not honoured", d)
	}
	got := h.replies(u, 0)
	seen := map[string]int{}
	for _, s := range got {
		seen[s]++
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%q delivered %d times", s, n)
		}
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "Hi, I'm storybot") || !strings.Contains(all, "the story I'm telling myself") {
		t.Errorf("replies %q, want the welcome and the first prompt (merged after the limit)", got)
	}
}

func TestIgnoredMessages(t *testing.T) {
	h := newHarness(t)
	post := func(event string) {
		body := `{"type":"event_callback","team_id":"T1","event_id":"Ev` + strconv.Itoa(int(h.events.Add(1))) + `","authorizations":[{"user_id":"UBOT","is_bot":true}],"event":` + event + `}`
		if code, _ := h.post("/slack/events", "application/json", []byte(body), nil); code != 200 {
			t.Fatalf("status %d for %s", code, event)
		}
	}
	post(`{"type":"message","channel":"DUX","channel_type":"im","user":"UBOT","text":"my own","ts":"1.1"}`)
	post(`{"type":"message","channel":"DUX","channel_type":"im","user":"UX","bot_id":"B1","text":"a bot","ts":"1.2"}`)
	post(`{"type":"message","subtype":"message_changed","channel":"DUX","channel_type":"im","message":{"user":"UX","text":"edited"},"ts":"1.3"}`)
	post(`{"type":"message","subtype":"message_deleted","channel":"DUX","channel_type":"im","deleted_ts":"1.1","ts":"1.4"}`)
	post(`{"type":"message","channel":"C1","channel_type":"channel","user":"UX","text":"in a channel","ts":"1.5"}`)
	h.wait()
	if n := h.ncalls(); n != 0 {
		t.Errorf("%d calls for messages the bot must ignore: %+v", n, h.fake.snapshot())
	}
}

func TestTimeZoneFromProfile(t *testing.T) {
	h := newHarness(t)
	const u = "UTZ"
	// The zone is read from Slack when the user first needs one, not before.
	h.slash(u, sharedChannel, "help")
	if n := h.countCalls("users.info"); n != 0 {
		t.Errorf("users.info called %d times for /story help, want none", n)
	}
	h.slash(u, sharedChannel, "checkin weekdays 09:00")
	p, _, err := h.store.Profile(context.Background(), userRef(testTeam, u))
	if err != nil || p.TZ != "Europe/Berlin" || !p.TZFromPlatform {
		t.Fatalf("profile %+v, %v; want Europe/Berlin from Slack", p, err)
	}
	h.slash(u, sharedChannel, "checkin")
	if infos := h.countCalls("users.info"); infos != 1 {
		t.Errorf("users.info called %d times, want once", infos)
	}
}

// countCalls counts the recorded Web API calls of method.
func (h *harness) countCalls(method string) int {
	n := 0
	for _, c := range h.fake.snapshot() {
		if c.Method == method {
			n++
		}
	}
	return n
}

func TestSendRefusesNonDM(t *testing.T) {
	h := newHarness(t)
	u := userRef(testTeam, "UX")
	h.adapter.dms.Add(u.String(), "C0SHARED")
	err := h.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, Text: "hi"})
	if err == nil {
		t.Fatal("Send to a DM that resolved to C… = nil, want an error")
	}
	for _, dest := range []bot.Destination{
		{Kind: bot.DestChannel, User: u},
		{Kind: bot.DestDM, User: u, Channel: "C1"},
		{Kind: bot.DestEphemeral, User: u, Route: "not a url"},
	} {
		if err := h.adapter.Send(context.Background(), bot.Message{To: dest, Text: "hi"}); err == nil {
			t.Errorf("Send(%+v) = nil, want a refusal", dest)
		}
	}
	if n := h.ncalls(); n != 0 {
		t.Errorf("%d calls, want none", n)
	}
}

func TestSendFile(t *testing.T) {
	h := newHarness(t)
	u := userRef(testTeam, "UFILE")
	err := h.adapter.Send(context.Background(), bot.Message{To: bot.Destination{Kind: bot.DestDM, User: u}, File: &bot.File{Name: "storybot-export.json", Content: []byte(`{"entries":[]}`)}})
	if err != nil {
		t.Fatalf("Send(file) = %v", err)
	}
	var completed bool
	for _, c := range h.fake.snapshot() {
		if c.Method == "files.completeUploadExternal" && c.Channel == "DUFILE" {
			completed = true
		}
	}
	if !completed {
		t.Errorf("no files.completeUploadExternal to the DM: %+v", h.fake.snapshot())
	}
}

// TestInlineStartsAndDidYouMean: a typo gets "did you mean" with its one line of help, in
// place and nothing else; text after /story quick is the story, straight to "what else
// could be true?" in the DM.
func TestInlineStartsAndDidYouMean(t *testing.T) {
	h := newHarness(t)
	const u = "UINLINE"
	n := h.ncalls()
	h.slash(u, sharedChannel, "quik")
	got := h.replies(u, n)
	want := "Did you mean /story quick?\n" + bot.Usage("quick")
	if len(got) != 1 || got[0] != want {
		t.Fatalf("/story quik: replies %q, want only %q", got, want)
	}
	n = h.ncalls()
	// In the DM with the bot (outside it, /story quick opens the modal: modal_test.go).
	h.slash(u, "D"+u, "quick they think I'm slow")
	got = h.replies(u, n)
	if len(got) < 2 || !strings.Contains(strings.Join(got, "\n"), "What else could be true?") || strings.Contains(strings.Join(got, "\n"), "Finish this sentence") {
		t.Fatalf("/story quick with a story: replies %q, want the other-story question, not the story one", got)
	}
	n = h.ncalls()
	h.slash(u, sharedChannel, "stop")
	if got := h.replies(u, n); len(got) != 1 || !strings.Contains(got[0], "type stop on its own in our DM") {
		t.Fatalf("/story stop: replies %q, want where stop works", got)
	}
	h.dm(u, "stop")
	n = h.ncalls()
	h.slash(u, "D"+u, "they ignored my point in standup")
	if s := last(h.replies(u, n)); !strings.Contains(s, "the story I'm telling myself is") {
		t.Fatalf("/story <what happened>: last reply %q, want the story question", s)
	}
}
