package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage/redistest"
)

// postAt sends a slash command body signed with the given request timestamp, as a replay
// of a captured request (or a proxy's retry) carries its original signature.
func (h *harness) postAt(path string, body []byte, ts int64) int {
	h.tb.Helper()
	code, _ := h.send(path, "application/x-www-form-urlencoded", body, bytes.NewReader(body), ts, nil)
	return code
}

// countPrompts counts the Pause's first prompts among texts.
func countPrompts(texts []string) int {
	n := 0
	for _, r := range texts {
		if strings.Contains(r, "What's happening?") {
			n++
		}
	}
	return n
}

// TestSlashReplayStartsOnce: one signed slash command sent twice (a replay within its five
// minutes, or a proxy's retry) while the dialogue it started is open starts one dialogue,
// sends one first prompt, and says nothing at all the second time (no "you have one open"
// offer either), and writes nothing: the replay goes to a second replica, and the first
// one's memory of the dialogue is still good.
func TestSlashReplayStartsOnce(t *testing.T) {
	_, next := replicas(t)
	h, other := next(), next()
	// Loads the scripts into Redis, whose first runs cost an extra round trip (see
	// TestDMRoundTrips).
	h.slash("UWARM", sharedChannel, "pause The demo froze.")
	h.dm("UWARM", "Everyone thinks I'm unprepared.")
	body := slashBody(h.fake, "UREPLAY", "C1", "")
	ts := time.Now().Unix()
	if code := h.postAt("/slack/commands", body, ts); code != 200 {
		t.Fatalf("slash command: %d", code)
	}
	h.wait()
	before := h.ncalls()
	if countPrompts(h.replies("UREPLAY", 0)) != 1 {
		t.Fatalf("replies %q, want one first prompt", h.replies("UREPLAY", 0))
	}
	if code := other.postAt("/slack/commands", body, ts); code != 200 {
		t.Fatalf("replayed slash command: %d", code)
	}
	other.wait()
	if got := h.replies("UREPLAY", before); len(got) != 0 {
		t.Errorf("the replay was answered with %q, want nothing", got)
	}
	// The dialogue is where the first command left it, and unwritten: the answer is taken
	// from the first replica's memory of it, in one round trip.
	trips := &redistest.Trips{}
	h.store.Client().AddHook(trips)
	h.dm("UREPLAY", "Sam closed the laptop while I was talking.")
	if got := h.replies("UREPLAY", before); len(got) == 0 || strings.Contains(got[0], "What's happening?") {
		t.Errorf("after the replay, an answer got %q, want the next question", got)
	}
	if n := len(trips.Take()); n != tripsFromMemory {
		t.Errorf("the answer after the replay cost %d round trips, want %d (the replay rewrote the dialogue)", n, tripsFromMemory)
	}
}

// TestSlashReplayAfterDialogueEnded: the same signed /story again after the dialogue it
// started was stopped is answered as a fresh /story (a tool that reuses a trigger_id within
// a second must not get silence), and only once.
func TestSlashReplayAfterDialogueEnded(t *testing.T) {
	h := newHarness(t)
	const u = "UREPLAYEND"
	body := slashBody(h.fake, u, "C1", "")
	ts := time.Now().Unix()
	h.postAt("/slack/commands", body, ts)
	h.wait()
	h.dm(u, "stop")
	before := h.ncalls()
	for range 2 {
		if code := h.postAt("/slack/commands", body, ts); code != 200 {
			t.Fatalf("replayed slash command: %d", code)
		}
		h.wait()
	}
	got := h.replies(u, before)
	if countPrompts(got) != 1 {
		t.Errorf("replays after the stop got %q, want one new first prompt", got)
	}
	for _, r := range got {
		if strings.Contains(r, "Continue where you left off") {
			t.Errorf("a replay got an offer: %q", r)
		}
	}
}

// TestSlashReplayAcrossReplicas: the original and its replay reach two replicas at the same
// moment: one dialogue, one first prompt.
func TestSlashReplayAcrossReplicas(t *testing.T) {
	first, next := replicas(t)
	const u = "UREPLAYTWO"
	for round := range 5 {
		u := fmt.Sprintf("%s%d", u, round)
		body := slashBody(first.fake, u, "C1", "")
		ts := time.Now().Unix()
		a, b := next(), next()
		var wg sync.WaitGroup
		for _, h := range []*harness{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.postAt("/slack/commands", body, ts)
			}()
		}
		wg.Wait()
		a.wait()
		b.wait()
		got := first.replies(u, 0)
		if countPrompts(got) != 1 {
			t.Errorf("round %d: replies %q, want exactly one first prompt", round, got)
		}
		for _, r := range got {
			if strings.Contains(r, "Continue where you left off") {
				t.Errorf("round %d: the replay got an offer: %q", round, r)
			}
		}
	}
}

// TestBusyAnswersHonestly fills the work pool: a slash command is answered in its own
// response with a private busy note, a DM event gets 503 and is not recorded, so Slack's
// redelivery, once there is room, is handled — once.
func TestBusyAnswersHonestly(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Work = bot.NewPool(bot.PoolConfig{Workers: 1, Queue: 1})
	})
	t.Cleanup(func() { _ = h.adapter.work.Drain(context.Background()) })
	h.slash("UBUSY", "C1", "pause")
	h.dm("UBUSY", "The meeting ran over")

	release := make(chan struct{})
	block := func(context.Context) { <-release }
	if err := h.adapter.work.Submit("other", "test", block); err != nil {
		t.Fatal(err)
	}
	for h.adapter.work.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := h.adapter.work.Submit("other2", "test", block); err != nil {
		t.Fatal(err) // fills the one queue slot
	}

	code, body := h.post("/slack/commands", "application/x-www-form-urlencoded", slashBody(h.fake, "UBUSY2", "C1", "pause"), nil)
	var busy struct{ ResponseType, Text string }
	_ = json.Unmarshal([]byte(body), &struct {
		ResponseType *string `json:"response_type"`
		Text         *string `json:"text"`
	}{&busy.ResponseType, &busy.Text})
	if code != 200 || busy.ResponseType != "ephemeral" || busy.Text != TextBusy {
		t.Errorf("slash command while saturated: %d %q, want 200 with an ephemeral busy note", code, body)
	}
	ev := h.messageBody("UBUSY", "I think they are angry", "EvBusy1")
	if code, _ := h.post("/slack/events", "application/json", ev, nil); code != 503 {
		t.Errorf("event while saturated: status %d, want 503", code)
	}
	close(release)
	h.wait()
	// Slack's retry of the refused event.
	if code, _ := h.post("/slack/events", "application/json", ev, map[string][]string{"X-Slack-Retry-Num": {"1"}}); code != 200 {
		t.Fatalf("retried event: status %d, want 200", code)
	}
	h.wait()
	if code, _ := h.post("/slack/events", "application/json", ev, map[string][]string{"X-Slack-Retry-Num": {"2"}}); code != 200 {
		t.Fatalf("second retry: status %d, want 200", code)
	}
	h.wait()
	st, _, err := h.store.Dialogue(context.Background(), userRef(testTeam, "UBUSY"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Entry.Story != "I think they are angry" || st.Step == flows.StepStory {
		t.Errorf("after the retry the dialogue is at %v with story %q: the refused event was not applied once", st.Step, st.Entry.Story)
	}
	if n := len(st.Trail); n != 2 {
		t.Errorf("dialogue trail has %d steps, want 2 (two answers, each applied once)", n)
	}
}

// burst sends /story pause and then answers in a quick burst, as a fast typist would,
// posting again (as Slack redelivers) any event answered with a non-2xx; it returns the
// text of every DM post to the user, in order.
func burst(t *testing.T, h *harness, user string, answers []string) []string {
	t.Helper()
	h.slash(user, sharedChannel, "pause")
	for i, a := range answers {
		body := h.messageBody(user, a, fmt.Sprintf("EvBurst%s%02d", user, i))
		for try := 0; ; try++ {
			code, _ := h.post("/slack/events", "application/json", body, nil)
			if code == 200 {
				break
			}
			if try > 50 {
				t.Fatalf("event %d refused %d times", i, try)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	h.wait()
	var out []string
	for _, c := range h.fake.snapshot() {
		if c.Method == "chat.postMessage" && c.Channel == "D"+user {
			out = append(out, c.Text)
		}
	}
	return out
}

// TestRateLimitedBurst: Slack answers chat.postMessage with 429 at one message a second per
// channel. A 20-message burst ends with every turn applied once, the replies in the order
// they would have come without the limit (merged into a few posts), and no false "I can't
// save" notice.
func TestRateLimitedBurst(t *testing.T) {
	answers := []string{"The deploy failed in front of the client", "They think I'm careless",
		"anxious", "7", "The deploy failed", "They were busy", "How the review went", "Ask Sam",
		"No check-back", "5", "back", "6", "Save to journal", "hello", "/story help", "what now",
		"again", "one more", "and another", "last one"}
	// The same burst without a rate limit says what the replies should be.
	free := newHarness(t)
	want := burst(t, free, "UFREE", answers)

	h := newHarness(t)
	h.fake.mu.Lock()
	h.fake.pace = time.Second
	h.fake.mu.Unlock()
	start := time.Now()
	burst(t, h, "ULIMIT", answers)
	h.waitOutbox() // the queue drains after the work
	var got []string
	for _, c := range h.fake.snapshot() {
		if c.Method == "chat.postMessage" && c.Channel == "DULIMIT" {
			got = append(got, c.Text)
		}
	}
	h.fake.mu.Lock()
	limited := h.fake.limited
	h.fake.mu.Unlock()
	t.Logf("%d replies without a limit; %d posts with it (%d answered 429), in %v", len(want), len(got), limited, time.Since(start).Round(100*time.Millisecond))
	if limited == 0 {
		t.Fatalf("the fake never rate-limited: the test proves nothing")
	}
	// Every reply of the free run came under the limit as often, repeated ones folded into
	// one paragraph with a count where they came last, in the same order of last
	// appearance.
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var unlimited []string
	for _, w := range want {
		unlimited = append(unlimited, norm(w))
	}
	var limitedReplies []string
	for _, p := range expandRepeats(got) {
		limitedReplies = append(limitedReplies, norm(p))
	}
	if a, b := counts(limitedReplies), counts(unlimited); !maps.Equal(a, b) {
		t.Errorf("replies under the rate limit differ from the replies without it:\n got: %q\nwant: %q", got, want)
	}
	if a, b := lastOrder(limitedReplies), lastOrder(unlimited); !slices.Equal(a, b) {
		t.Errorf("replies under the rate limit are out of order:\n got: %q\nwant: %q", a, b)
	}
	for _, g := range got {
		if strings.Contains(g, "can't save") {
			t.Errorf("false store notice under a rate limit: %q", g)
		}
	}
	u := userRef(testTeam, "ULIMIT")
	for i := range answers {
		if id := fmt.Sprintf("slack:event:%s:EvBurstULIMIT%02d", testTeam, i); !h.applied(u, id) {
			t.Errorf("answer %d (%s) was not applied", i, id)
		}
	}
}

// repeatNote matches the note a merged post puts after a reply repeated in a row.
var repeatNote = regexp.MustCompile(`\n\((?:the same reply to your next message|the same reply to (\d+) more of your messages)\)$`)

// expandRepeats undoes the outbox's folding of repeated replies: each paragraph of each post
// that ends with a repeat note is written out as many times as it was sent, where it stands.
func expandRepeats(posts []string) []string {
	var out []string
	for _, p := range posts {
		for _, para := range strings.Split(p, "\n\n") {
			m := repeatNote.FindStringSubmatchIndex(para)
			if m == nil {
				out = append(out, para)
				continue
			}
			n := 1
			if m[2] >= 0 {
				n, _ = strconv.Atoi(para[m[2]:m[3]])
			}
			for range n + 1 {
				out = append(out, para[:m[0]])
			}
		}
	}
	return out
}

func counts(ss []string) map[string]int {
	m := map[string]int{}
	for _, s := range ss {
		m[s]++
	}
	return m
}

// lastOrder lists the distinct strings of ss in the order of their last appearance.
func lastOrder(ss []string) []string {
	last := map[string]int{}
	for i, s := range ss {
		last[s] = i
	}
	var out []string
	for i, s := range ss {
		if last[s] == i {
			out = append(out, s)
		}
	}
	return out
}

// TestPerUserCapSheds503: a user with PerUser pieces of work already waiting or running gets
// 503 for the next event, and the event is not marked seen: Slack's redelivery, once the
// user's work has drained, is acknowledged and applied once, and a further redelivery
// changes nothing.
func TestPerUserCapSheds503(t *testing.T) {
	pool := bot.NewPool(bot.PoolConfig{Workers: 4, PerUser: 3})
	h := newHarness(t, func(c *Config) { c.Work = pool })
	t.Cleanup(func() { _ = pool.Drain(context.Background()) })
	const user = "UCAP"
	u := userRef(testTeam, user)
	h.slash(user, sharedChannel, "pause")

	release := make(chan struct{})
	if err := pool.Submit(u.String(), "test", func(context.Context) { <-release }); err != nil {
		t.Fatal(err)
	}
	answers := []string{"The meeting ran over", "They think I'm careless", "anxious"}
	bodies := make([][]byte, len(answers))
	codes := make([]int, len(answers))
	for i, a := range answers {
		bodies[i] = h.messageBody(user, a, fmt.Sprintf("EvCap%d", i))
		codes[i], _ = h.post("/slack/events", "application/json", bodies[i], nil)
	}
	if !slices.Equal(codes, []int{200, 200, 503}) {
		t.Fatalf("with the user's work blocked and a cap of 3: answers %v, want [200 200 503]", codes)
	}
	close(release)
	h.wait()
	applied := func(i int) bool { return h.applied(u, fmt.Sprintf("slack:event:%s:EvCap%d", testTeam, i)) }
	if applied(2) {
		t.Fatal("the refused event was applied")
	}
	for retry := 1; retry <= 2; retry++ {
		code, _ := h.post("/slack/events", "application/json", bodies[2], map[string][]string{"X-Slack-Retry-Num": {strconv.Itoa(retry)}})
		if code != 200 {
			t.Fatalf("redelivery %d of the refused event: %d, want 200", retry, code)
		}
		h.wait()
	}
	st, _, err := h.store.Dialogue(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if !applied(0) || !applied(1) || !applied(2) || st.Entry.Feeling != "anxious" || st.Step == flows.StepFeeling {
		t.Errorf("after the redelivery: applied %v %v %v, feeling %q at step %v; want all three applied once", applied(0), applied(1), applied(2), st.Entry.Feeling, st.Step)
	}
	if n := len(st.Trail); n != 3 {
		t.Errorf("dialogue trail has %d steps, want 3 (three answers, each applied once)", n)
	}

	// Slack's last redelivery refused: the message is lost for good, and the user is told.
	release = make(chan struct{})
	for range 3 {
		if err := pool.Submit(u.String(), "test", func(context.Context) { <-release }); err != nil {
			t.Fatal(err)
		}
	}
	n := h.ncalls()
	last := h.messageBody(user, "one more thing", "EvCapLast")
	if code, _ := h.post("/slack/events", "application/json", last, map[string][]string{"X-Slack-Retry-Num": {"3"}}); code != 503 {
		t.Fatalf("last redelivery over the cap: %d, want 503", code)
	}
	close(release)
	h.wait()
	if got := strings.Join(h.replies(user, n), "\n"); !strings.Contains(got, engine.TextMessageLost) {
		t.Errorf("after Slack's last delivery was refused the user got %q, want to be told the message was lost", got)
	}
	if got := h.counter("storybot_inbound_lost_total", map[string]string{"platform": "slack"}); got != 1 {
		t.Errorf("storybot_inbound_lost_total{slack} = %v, want 1", got)
	}
}
