package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/internal/wiring"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

const (
	testSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	testTeam   = "T1"
)

// harness is the real adapter behind a real HTTP server, in front of the real engine and a
// real Redis, talking to the fake Slack.
type harness struct {
	tb      testing.TB
	fake    *fakeSlack
	adapter *Adapter
	eng     *engine.Engine
	srv     *httptest.Server
	store   *storage.Store
	rdb     *redis.Client
	clock   *fakeclock.Clock
	reg     *prometheus.Registry // the engine's metrics
	events  atomic.Int64
	// name prefixes this replica's event IDs; redisURL is its Redis, for a second replica.
	name     string
	redisURL string
}

type harnessOpt func(*Config)

func newHarness(tb testing.TB, opts ...harnessOpt) *harness {
	tb.Helper()
	return newReplica(tb, newFakeSlack(tb), redistest.Start(tb), fakeclock.New(time.Now()), "", opts...)
}

// newReplica is one storybot process, wired like serve, on the given fake Slack, Redis and
// clock: two of them on the same three are two replicas. name keeps their event IDs apart.
func newReplica(tb testing.TB, fake *fakeSlack, redisURL string, clock *fakeclock.Clock, name string, opts ...harnessOpt) *harness {
	tb.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{URL: redisURL, Now: clock.Now})
	if err != nil {
		tb.Fatalf("storage.Open: %v", err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	h := &harness{tb: tb, fake: fake, store: store, rdb: redistest.Client(tb, redisURL), clock: clock, name: name, redisURL: redisURL}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	senders, zones := bot.PlatformSenders{}, bot.PlatformZones{}
	h.reg = prometheus.NewRegistry()
	// Wired by the lines serve uses (internal/wiring): every feature on.
	h.eng = engine.NewEngine(wiring.Engine(store, wiring.Options{Sender: senders, Zones: zones, Now: h.clock.Now, Logger: logger,
		Metrics: engine.NewMetrics(h.reg)}))
	cfg := Config{
		SigningSecret: testSecret,
		BotToken:      "xoxb-test",
		APIURL:        h.fake.apiURL(),
		Dedupe:        store,
		Logger:        logger,
		Now:           h.clock.Now,
		// Paced so lightly that tests never wait for it, yet every DM goes through the
		// outbox; the flood tests use Slack's own pace.
		outboxPace: outboxPace{interval: time.Microsecond, burst: defaultPostBurst},
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.adapter, err = New(cfg, h.eng)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	senders[Platform], zones[Platform] = h.adapter, h.adapter
	mux := http.NewServeMux()
	h.adapter.Routes(mux)
	h.srv = httptest.NewServer(http.MaxBytesHandler(mux, MaxBody))
	tb.Cleanup(h.srv.Close)
	tb.Cleanup(func() { _ = h.adapter.work.Drain(context.Background()) })
	return h
}

// decidedClaims is a harness option for tests that count what a retried event did: every
// dedupe claim gets its answer, however long the store takes. Otherwise a claim that takes
// longer than bot.DedupeBudget (300 ms: a loaded machine, -race) is undecided and its event
// handled again, which is right for a hanging Redis but not what such a test is about: an
// app_home_opened retried during it published the home twice. The tests of a slow or
// hanging store keep the budget.
func decidedClaims(c *Config) {
	if c.Dedupe != nil {
		c.Dedupe = patientLeases{c.Dedupe}
	}
}

// patientLeases lets a claim run without the dedupe budget's deadline.
type patientLeases struct{ bot.EventLeases }

func (p patientLeases) ClaimEvent(ctx context.Context, u bot.UserRef, id, token string, lease time.Duration) (bot.ClaimState, *bot.Snapshot, error) {
	return p.EventLeases.ClaimEvent(context.WithoutCancel(ctx), u, id, token, lease)
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// wait waits until the work of every acknowledged request is done and its DMs are out.
func (h *harness) wait() {
	_ = h.adapter.work.Quiet(context.Background())
	h.waitOutbox()
}

// waitOutbox waits (up to 60 s) until no DM waits for its channel's pace or a rate limit.
func (h *harness) waitOutbox() {
	h.tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if h.adapter.outbox.pending() == 0 {
			return
		}
	}
	h.tb.Fatalf("DMs still queued after 60 s")
}

// post sends a signed request and returns the status and body.
func (h *harness) post(path, contentType string, body []byte, hdr http.Header) (int, string) {
	h.tb.Helper()
	return h.send(path, contentType, body, bytes.NewReader(body), time.Now().Unix(), hdr)
}

// send posts body, read from r, signed with request timestamp ts (a replay carries its
// original one) and the headers hdr on top, and returns the status and body.
func (h *harness) send(path, contentType string, body []byte, r io.Reader, ts int64, hdr http.Header) (int, string) {
	h.tb.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, r)
	if err != nil {
		h.tb.Fatal(err)
	}
	if _, ok := r.(*bytes.Reader); !ok {
		req.ContentLength = -1 // any other reader: sent chunked
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", sign(testSecret, ts, body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func slashBody(f *fakeSlack, user, channel, text string) []byte {
	v := url.Values{
		"token": {"legacy"}, "team_id": {testTeam}, "team_domain": {"acme"},
		"channel_id": {channel}, "channel_name": {"general"},
		"user_id": {user}, "user_name": {strings.ToLower(user)},
		"command": {"/story"}, "text": {text},
		"response_url": {f.responseURL(user)}, "trigger_id": {newTriggerID()},
	}
	return []byte(v.Encode())
}

var triggerSeq atomic.Int64

// newTriggerID returns a trigger_id no other request of the test run has: Slack issues a
// fresh one with every command and click, and the adapter dedupes commands by it.
func newTriggerID() string {
	return fmt.Sprintf("%d.1.%x", triggerSeq.Add(1), time.Now().UnixNano())
}

// slash types /story text in channel and waits for the work.
func (h *harness) slash(user, channel, text string) {
	h.tb.Helper()
	if code, body := h.post("/slack/commands", "application/x-www-form-urlencoded", slashBody(h.fake, user, channel, text), nil); code != 200 || body != "" {
		h.tb.Fatalf("slash command: %d %q, want 200 and an empty body", code, body)
	}
	h.wait()
}

func (h *harness) messageBody(user, text, eventID string) []byte {
	ev := map[string]any{
		"token": "legacy", "team_id": testTeam, "api_app_id": "A1", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(),
		"authorizations": []map[string]any{{"team_id": testTeam, "user_id": "UBOT", "is_bot": true}},
		"event": map[string]any{
			"type": "message", "channel": "D" + user, "channel_type": "im", "user": user,
			"text": text, "ts": "1700000000.000100", "event_ts": "1700000000.000100",
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// dm sends a DM from user to the bot and waits for the work.
func (h *harness) dm(user, text string) {
	h.tb.Helper()
	id := fmt.Sprintf("Ev%s%06d", h.name, h.events.Add(1))
	if code, _ := h.post("/slack/events", "application/json", h.messageBody(user, text, id), nil); code != 200 {
		h.tb.Fatalf("message event: status %d", code)
	}
	h.wait()
}

// click presses the button with value choice on the newest DM message that has it.
func (h *harness) click(user, choice string) {
	h.tb.Helper()
	if !h.tryClick(user, choice) {
		h.tb.Fatalf("no DM message to %s has a button %q", user, choice)
	}
}

// tryClick is click, reporting false when no message has the button.
func (h *harness) tryClick(user, choice string) bool {
	h.tb.Helper()
	calls := h.fake.snapshot()
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		if c.Method != "chat.postMessage" || c.Channel != "D"+user || c.Blocks == "" {
			continue
		}
		actionID, label, ok := findButton(h.tb, c.Blocks, choice)
		if !ok {
			continue
		}
		h.clickRaw(user, c, actionID, label, choice)
		return true
	}
	return false
}

// clickRaw sends the block_actions payload of a press on a button of message c.
func (h *harness) clickRaw(user string, c call, actionID, label, choice string) {
	h.tb.Helper()
	blocks := json.RawMessage(c.Blocks)
	if c.Blocks == "" {
		blocks = json.RawMessage("[]")
	}
	payload := map[string]any{
		"type": "block_actions", "team": map[string]any{"id": testTeam}, "api_app_id": "A1",
		"user":         map[string]any{"id": user, "team_id": testTeam},
		"container":    map[string]any{"type": "message", "channel_id": c.Channel, "message_ts": c.TS, "is_ephemeral": false},
		"channel":      map[string]any{"id": c.Channel, "name": "directmessage"},
		"message":      map[string]any{"type": "message", "ts": c.TS, "text": c.Text, "blocks": blocks},
		"response_url": h.fake.responseURL(user), "trigger_id": newTriggerID(),
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": "choices_0", "value": choice,
			"text": map[string]any{"type": "plain_text", "text": label}, "action_ts": "1700000001.1",
		}},
	}
	b, _ := json.Marshal(payload)
	body := url.Values{"payload": {string(b)}}.Encode()
	if code, _ := h.post("/slack/interactions", "application/x-www-form-urlencoded", []byte(body), nil); code != 200 {
		h.tb.Fatalf("interaction: status %d", code)
	}
	h.wait()
}

func findButton(tb testing.TB, blocksJSON, value string) (actionID, label string, ok bool) {
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
			Text     struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(blocksJSON), &blocks); err != nil {
		tb.Fatalf("blocks: %v", err)
	}
	for _, b := range blocks {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.Value == value {
				return e.ActionID, e.Text.Text, true
			}
		}
	}
	return "", "", false
}

// replies returns the texts the bot sent to user (DM posts and response_url replies) from
// call index from on, unescaped.
func (h *harness) replies(user string, from int) []string {
	var out []string
	for _, c := range h.fake.snapshot()[from:] {
		if (c.Method == "chat.postMessage" && c.Channel == "D"+user) || (c.Method == "response_url" && c.RouteUser == user && !c.Replace) {
			out = append(out, unescape(c.Text))
		}
	}
	return out
}

func (h *harness) ncalls() int { return len(h.fake.snapshot()) }

// applied reports whether event id of u was applied (storage.Store.EventApplied).
func (h *harness) applied(u bot.UserRef, id string) bool {
	h.tb.Helper()
	ok, err := h.store.EventApplied(context.Background(), u, id)
	if err != nil {
		h.tb.Fatal(err)
	}
	return ok
}

func (h *harness) dbsize() int64 {
	n, err := h.rdb.DBSize(context.Background()).Result()
	if err != nil {
		h.tb.Fatal(err)
	}
	return n
}

// counter returns the value of the engine's counter name with exactly these labels (0 when
// it has none yet).
func (h *harness) counter(name string, labels map[string]string) float64 {
	h.tb.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
