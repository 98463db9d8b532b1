package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/internal/followuptest"
	"github.com/storybot/storybot/internal/transcript"
	"github.com/storybot/storybot/internal/wiring"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

// countingHandler counts the events it passes on.
type countingHandler struct {
	next Handler
	n    atomic.Int64
	// delay, when set, holds every event this long before the engine sees it: a slow engine.
	delay atomic.Int64
}

func (h *countingHandler) Handle(ctx context.Context, ev bot.Event) error {
	h.n.Add(1)
	if d := time.Duration(h.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return h.next.Handle(ctx, ev)
}

// env is a fake Discord, a real store, and adapters with real engines, all running.
type env struct {
	fake     *fakeDiscord
	store    *storage.Store
	priv     ed25519.PrivateKey
	clock    *fakeclock.Clock
	adapters []*Adapter
	handlers []*countingHandler
	engines  []*engine.Engine // one per adapter, built like serve's: schedules and coaching on
	mux      *http.ServeMux   // the first adapter's routes
	muxes    []*http.ServeMux // every adapter's routes, one mux each
	// roundRobin sends each interaction to the next adapter's routes in turn, like a load
	// balancer in front of replicas; off, every interaction goes to the first.
	roundRobin bool
	posted     atomic.Int64
	nextID     atomic.Int64
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newEnv(t *testing.T, replicas int, gateway bool) *env {
	t.Helper()
	return newEnvWith(t, replicas, gateway, envOptions{})
}

// envOptions adjust newEnvWith (gateway_test.go uses them).
type envOptions struct {
	fake   func(*fakeDiscord)     // runs before the adapters start
	config func(i int, c *Config) // adjusts replica i's configuration
	noWait bool                   // do not wait for the gateway sessions
	// sender, when set, stands between the engine and the adapter (it gets the adapter).
	sender func(bot.Sender) bot.Sender
	// redis, when set, is the Redis to use (a server the test controls); default a new one.
	redis string
}

func newEnvWith(t *testing.T, replicas int, gateway bool, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	fake := newFakeDiscord(t)
	if o.fake != nil {
		o.fake(fake)
	}
	clk := fakeclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	url := o.redis
	if url == "" {
		url = redistest.Start(t)
	}
	st, err := storage.Open(ctx, storage.Config{URL: url, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{fake: fake, store: st, priv: priv, clock: clk, mux: http.NewServeMux()}
	for i := range replicas {
		senders := bot.PlatformSenders{}
		// Wired by the lines serve uses (internal/wiring).
		eng := engine.NewEngine(wiring.Engine(st, wiring.Options{Sender: senders, Now: e.clock.Now, Logger: quiet}))
		h := &countingHandler{next: eng}
		cfg := Config{
			AppID: "app", PublicKey: hex.EncodeToString(pub), BotToken: "test-token", APIURL: fake.apiURL(),
			Dedupe: st, Logger: quiet, WorkTimeout: 10 * time.Second, Gateway: gateway,
		}
		if o.config != nil {
			o.config(i, &cfg)
		}
		a, err := New(cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		senders[Platform] = a
		if o.sender != nil {
			senders[Platform] = o.sender(a)
		}
		mux := e.mux
		if i > 0 {
			mux = http.NewServeMux()
		}
		a.Routes(mux)
		e.muxes = append(e.muxes, mux)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(runCtx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		})
		e.adapters = append(e.adapters, a)
		e.handlers = append(e.handlers, h)
		e.engines = append(e.engines, eng)
	}
	if !o.noWait {
		waitFor(t, "sessions on the fake gateway", func() bool { return fake.connected() == replicas })
	}
	return e
}

func (e *env) id() string { return strconv.FormatInt(e.nextID.Add(1), 10) }

// welcomed marks a user as having seen the welcome, so transcripts compare only dialogue.
func (e *env) welcomed(t *testing.T, user string) {
	t.Helper()
	if _, err := e.store.MarkWelcomed(context.Background(), userRef(user)); err != nil {
		t.Fatal(err)
	}
}

// sign signs body as Discord does, at ts.
func sign(priv ed25519.PrivateKey, ts string, body []byte) string {
	return hex.EncodeToString(ed25519.Sign(priv, append([]byte(ts), body...)))
}

// post sends a signed interaction to the first adapter's endpoint.
func (e *env) post(t *testing.T, payload any) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return e.postRaw(body, ts, sign(e.priv, ts, body))
}

func (e *env) postRaw(body []byte, ts, sig string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/discord/interactions", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Signature-Timestamp", ts)
	r.Header.Set("X-Signature-Ed25519", sig)
	w := httptest.NewRecorder()
	mux := e.mux
	if e.roundRobin {
		mux = e.muxes[int(e.posted.Add(1))%len(e.muxes)]
	}
	mux.ServeHTTP(w, r)
	return w
}

// response decodes an interaction response.
func response(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d %q, want 200", w.Code, w.Body.String())
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("response %q: %v", w.Body.String(), err)
	}
	return m
}

// interaction builds an interaction payload from user; guild "" is the DM with the bot.
func (e *env) interaction(typ int, user, guild string, data map[string]any) map[string]any {
	id := e.id()
	m := map[string]any{"id": "i" + id, "application_id": "app", "type": typ, "token": "tok-" + id, "version": 1, "data": data}
	if guild != "" {
		m["guild_id"], m["channel_id"], m["context"] = guild, "guild-channel", 0
		m["member"] = map[string]any{"user": map[string]any{"id": user, "username": user}}
	} else {
		m["channel_id"], m["context"] = "dm-"+user, 1
		m["user"] = map[string]any{"id": user, "username": user}
	}
	return m
}

func (e *env) command(user, guild, sub string, opts ...map[string]any) map[string]any {
	o := map[string]any{"name": sub, "type": 1}
	if len(opts) > 0 {
		o["options"] = opts
	}
	return e.interaction(2, user, guild, map[string]any{"id": "cmd", "name": "story", "type": 1, "options": []any{o}})
}

func strOpt(name, value string) map[string]any {
	return map[string]any{"name": name, "type": 3, "value": value}
}

// click presses the button customID on message (a recorded message body).
func (e *env) click(user, guild, customID string, message map[string]any) map[string]any {
	msg := map[string]any{"id": "m-clicked", "channel_id": "dm-" + user, "content": message["content"], "components": message["components"]}
	i := e.interaction(3, user, guild, map[string]any{"custom_id": customID, "component_type": 2})
	i["message"] = msg
	return i
}

func (e *env) modalSubmit(user, guild, text string, message map[string]any) map[string]any {
	i := e.interaction(5, user, guild, map[string]any{"custom_id": answerCustomID, "components": []any{
		map[string]any{"type": 1, "components": []any{map[string]any{"type": 4, "custom_id": answerInputID, "value": text}}},
	}})
	if message != nil {
		i["message"] = map[string]any{"id": "m-modal", "channel_id": "guild-channel", "content": message["content"], "components": message["components"]}
	}
	return i
}

// dm sends a DM from user through the gateway.
func (e *env) dm(user, text string) {
	e.fake.dispatch("MESSAGE_CREATE", map[string]any{
		"id": "msg" + e.id(), "channel_id": "dm-" + user, "type": 0, "content": text,
		"author": map[string]any{"id": user, "username": user}, "timestamp": time.Now().Format(time.RFC3339),
	})
}

// customIDs lists the custom_ids of a recorded message's buttons.
func customIDs(body map[string]any) []string {
	var out []string
	rows, _ := body["components"].([]any)
	for _, row := range rows {
		comps, _ := row.(map[string]any)["components"].([]any)
		for _, c := range comps {
			out = append(out, fmt.Sprint(c.(map[string]any)["custom_id"]))
		}
	}
	return out
}

func content(c call) string { s, _ := c.Body["content"].(string); return s }

func TestPing(t *testing.T) {
	e := newEnv(t, 1, false)
	got := response(t, e.post(t, map[string]any{"id": "p1", "application_id": "app", "type": 1, "token": "t", "version": 1}))
	if got["type"] != 1.0 {
		t.Errorf("PING answered with %v, want type 1 (PONG)", got)
	}
	e.fake.gw.mu.Lock()
	defer e.fake.gw.mu.Unlock()
	if got := e.fake.gw.identifies[0]["intents"]; got != float64(1<<12) {
		t.Errorf("IDENTIFY intents = %v, want only DIRECT_MESSAGES (4096)", got)
	}
}

func TestRejected(t *testing.T) {
	e := newEnv(t, 1, false)
	ctx := context.Background()
	keysBefore, err := e.store.Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	callsBefore := e.fake.numCalls()
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	body, _ := json.Marshal(e.command("u-rejected", "g1", "pause", strOpt("text", "secret words")))
	now := strconv.FormatInt(time.Now().Unix(), 10)
	old := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
	tests := []struct {
		name    string
		body    []byte
		ts, sig string
		want    int
	}{
		{"bad signature", body, now, sign(otherKey, now, body), http.StatusUnauthorized},
		{"no signature", body, now, "", http.StatusUnauthorized},
		{"signature not hex", body, now, "zz", http.StatusUnauthorized},
		{"tampered body", append(bytes.Clone(body), ' '), now, sign(e.priv, now, body), http.StatusUnauthorized},
		{"stale timestamp", body, old, sign(e.priv, old, body), http.StatusUnauthorized},
		{"malformed", []byte("{not json"), now, sign(e.priv, now, []byte("{not json")), http.StatusBadRequest},
		{"too large", bytes.Repeat([]byte("x"), maxBody+1), now, "00", http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := e.postRaw(tt.body, tt.ts, tt.sig); w.Code != tt.want {
				t.Errorf("status = %d, want %d", w.Code, tt.want)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // would-be async work
	if n := e.fake.numCalls(); n != callsBefore {
		t.Errorf("rejected requests made %d REST calls, want 0", n-callsBefore)
	}
	if keys, _ := e.store.Client().DBSize(ctx).Result(); keys != keysBefore {
		t.Errorf("rejected requests changed Redis: %d keys, want %d", keys, keysBefore)
	}
	if n := e.handlers[0].n.Load(); n != 0 {
		t.Errorf("rejected requests reached the engine %d times", n)
	}
}

// TestPauseByDM runs a whole pause: /story in a guild, answers typed in the DM (through the
// gateway) and buttons pressed (component interactions).
func TestPauseByDM(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-pause"
	resp := response(t, e.post(t, e.command(user, "g1", "pause")))
	if resp["type"] != 5.0 || resp["data"].(map[string]any)["flags"] != 64.0 {
		t.Fatalf("/story answered %v, want a deferred ephemeral response", resp)
	}
	// Welcome and first prompt in the DM; "I've sent you a DM" in place.
	waitFor(t, "welcome and first prompt", func() bool { return len(e.fake.dmPosts(user)) == 2 })
	// The pointer goes out after the DM: wait for it too.
	waitFor(t, "the in-place note", func() bool {
		return len(e.fake.callsTo(http.MethodPatch, "webhooks/app/", "/messages/@original")) > 0
	})
	edits := e.fake.callsTo(http.MethodPatch, "webhooks/app/", "/messages/@original")
	if len(edits) != 1 || !strings.Contains(content(edits[0]), "DM") {
		t.Errorf("in-place replies = %v, want one edit of the deferred response about the DM", edits)
	}
	posts := e.fake.dmPosts(user)
	if !strings.Contains(content(posts[1]), "What's happening?") {
		t.Errorf("first prompt = %q", content(posts[1]))
	}
	answer := func(text string, want string) call {
		t.Helper()
		n := len(e.fake.dmPosts(user))
		e.dm(user, text)
		waitFor(t, "reply to "+text, func() bool { return len(e.fake.dmPosts(user)) > n })
		got := e.fake.dmPosts(user)[n]
		if !strings.Contains(content(got), want) {
			t.Errorf("after %q the bot said %q, want it to contain %q", text, content(got), want)
		}
		return got
	}
	press := func(prompt call, label, want string) {
		t.Helper()
		var id string
		for _, b := range prompt.Body["components"].([]any) {
			for _, c := range b.(map[string]any)["components"].([]any) {
				if c.(map[string]any)["label"] == label {
					id = c.(map[string]any)["custom_id"].(string)
				}
			}
		}
		if id == "" {
			t.Fatalf("no button %q on %v", label, prompt.Body)
		}
		n := len(e.fake.dmPosts(user))
		r := response(t, e.post(t, e.click(user, "", id, prompt.Body)))
		data := r["data"].(map[string]any)
		if r["type"] != 7.0 || len(data["components"].([]any)) != 0 || !strings.HasSuffix(data["content"].(string), "→ "+label) {
			t.Errorf("button answered %v, want an update removing the buttons and noting %q", r, label)
		}
		waitFor(t, "reply to "+label, func() bool { return len(e.fake.dmPosts(user)) > n })
		if got := content(e.fake.dmPosts(user)[n]); !strings.Contains(got, want) {
			t.Errorf("after %q the bot said %q, want %q", label, got, want)
		}
	}
	answer("Sam moved my item off the agenda.", "story I'm telling myself")
	feeling := answer("They think my work doesn't matter.", "What are you feeling?")
	if ids := customIDs(feeling.Body); len(ids) != 8 || ids[0] != "c:anxious" {
		t.Errorf("feeling buttons = %v, want 8 choices", ids)
	}
	press(feeling, "Anxious", "How strong")
	strength := e.fake.dmPosts(user)[len(e.fake.dmPosts(user))-1]
	press(strength, "7", "know for sure")
	answer("My item was moved.", "")
	answer("Maybe the agenda was full.", "need to learn")
	answer("skip", "next step")
	checkBack := answer("Ask Sam when we can pick it up.", "check back")
	press(checkBack, "Tomorrow", "0 to 10")
	after := e.fake.dmPosts(user)[len(e.fake.dmPosts(user))-1]
	press(after, "4", "Save it to your journal?")
	summary := e.fake.dmPosts(user)[len(e.fake.dmPosts(user))-1]
	press(summary, "Save to journal", "Saved")
	entries, err := e.store.Journal(context.Background(), userRef(user), 5)
	if err != nil || len(entries) != 1 || entries[0].Story != "They think my work doesn't matter." {
		t.Errorf("journal = %+v, %v; want the pause saved", entries, err)
	}
}

// TestDMsClosed runs a dialogue in ephemeral follow-ups when the user's DMs are closed:
// buttons for choices, an "Answer" button and a modal for typed answers.
func TestDMsClosed(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-closed"
	e.fake.closeDMs(user)
	e.welcomed(t, user)
	// A pause with what happened given: its first prompt is the story. (/story quick in a
	// guild opens the quick pause modal instead: modal_test.go.)
	response(t, e.post(t, e.command(user, "g1", "pause", strOpt("text", "Sam left the call"))))
	followups := func() []call { return e.fake.callsTo(http.MethodPost, "webhooks/app/", "") }
	edits := func() []call { return e.fake.callsTo(http.MethodPatch, "webhooks/app/", "/messages/@original") }
	waitFor(t, "ephemeral prompt", func() bool { return len(followups()) >= 1 })
	// "I've sent you a DM" is never said: how to open DMs takes its place, in the deferred
	// response itself, and the prompt follows.
	if ed := edits(); len(ed) != 1 || !strings.Contains(content(ed[0]), "Privacy") {
		t.Errorf("in-place response = %v, want one edit saying how to open DMs", ed)
	}
	fs := followups()
	prompt := fs[0]
	if prompt.Body["flags"] != 64.0 || !strings.Contains(content(prompt), "story I'm telling myself") {
		t.Errorf("prompt follow-up = %v, want the first prompt, ephemeral", prompt.Body)
	}
	if ids := customIDs(prompt.Body); len(ids) != 1 || ids[0] != answerCustomID {
		t.Fatalf("prompt buttons = %v, want [answer]", ids)
	}
	// Answer opens a modal; its submission is the typed answer.
	r := response(t, e.post(t, e.click(user, "g1", answerCustomID, prompt.Body)))
	if r["type"] != 9.0 {
		t.Fatalf("Answer button answered %v, want a modal (9)", r)
	}
	r = response(t, e.post(t, e.modalSubmit(user, "g1", "They think I'm slow.", prompt.Body)))
	if r["type"] != 7.0 {
		t.Errorf("modal submit answered %v, want an update (7)", r)
	}
	waitFor(t, "next prompt", func() bool { return len(followups()) >= 2 })
	next := followups()[1]
	if !strings.Contains(content(next), "feeling") {
		t.Errorf("after the modal the bot said %q, want the feeling prompt", content(next))
	}
	if !strings.Contains(next.Path, "tok-") {
		t.Errorf("follow-up went to %q, want an interaction webhook", next.Path)
	}
	// A modal submitted without a message (opened elsewhere) gets a deferred response.
	r = response(t, e.post(t, e.modalSubmit(user, "g1", "Maybe they were busy.", nil)))
	if r["type"] != 5.0 {
		t.Errorf("bare modal submit answered %v, want deferred (5)", r)
	}
	waitFor(t, "third prompt", func() bool {
		ed := edits()
		return len(ed) >= 2 && strings.Contains(content(ed[len(ed)-1]), "How strong")
	})
	if n := len(e.fake.dmPosts(user)); n == 0 {
		t.Errorf("no DM attempts recorded; the test did not exercise 50007")
	}
	for _, c := range e.fake.callsTo("", "webhooks/", "") {
		if strings.Contains(content(c), "sent you a DM") {
			t.Errorf("told a user whose DMs are closed that a DM was sent: %s %s %q", c.Method, c.Path, content(c))
		}
	}
}

// TestReplicas connects two adapters to one gateway: each DM and each gateway interaction
// reaches both, and is handled exactly once.
func TestReplicas(t *testing.T) {
	e := newEnv(t, 2, true)
	const user = "u-twice"
	e.welcomed(t, user)
	e.fake.dispatch("INTERACTION_CREATE", e.command(user, "", "quick"))
	waitFor(t, "the first prompt", func() bool { return len(e.fake.dmPosts(user)) == 1 })
	for i := range 3 {
		n := len(e.fake.dmPosts(user))
		e.dm(user, fmt.Sprintf("Answer number %d.", i))
		waitFor(t, "a reply", func() bool { return len(e.fake.dmPosts(user)) > n })
	}
	time.Sleep(300 * time.Millisecond) // time for a duplicate to show up
	if n := len(e.fake.callsTo(http.MethodPost, "interactions/", "/callback")); n != 1 {
		t.Errorf("gateway interaction answered %d times, want 1", n)
	}
	if got := e.handlers[0].n.Load() + e.handlers[1].n.Load(); got != 4 {
		t.Errorf("events handled %d times in all, want 4 (1 command, 3 DMs)", got)
	}
	if n := len(e.fake.dmPosts(user)); n != 4 {
		t.Errorf("%d DM replies, want 4 (one per event)", n)
	}
}

func TestAutocomplete(t *testing.T) {
	e := newEnv(t, 1, false)
	i := e.interaction(4, "u-tz", "g1", map[string]any{"id": "cmd", "name": "story", "type": 1, "options": []any{
		map[string]any{"name": "tz", "type": 1, "options": []any{map[string]any{"name": "zone", "type": 3, "value": "berl", "focused": true}}},
	}})
	r := response(t, e.post(t, i))
	choices := r["data"].(map[string]any)["choices"].([]any)
	if r["type"] != 8.0 || len(choices) != 1 || choices[0].(map[string]any)["value"] != "Europe/Berlin" {
		t.Errorf("autocomplete = %v, want Europe/Berlin", r)
	}
}

func TestRateLimitRetried(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-limited"
	e.welcomed(t, user)
	e.fake.mu.Lock()
	e.fake.rateLimit["channels/dm-"+user] = 2
	e.fake.mu.Unlock()
	response(t, e.post(t, e.command(user, "", "quick")))
	waitFor(t, "the prompt after two 429s", func() bool { return len(e.fake.dmPosts(user)) == 3 })
}

// TestTranscripts replays the flows golden transcripts through Discord: commands as
// interactions, typed lines as DMs over the gateway, [choice:ID] as button clicks; every
// bot reply must be one DM whose content is the transcript's text.
func TestTranscripts(t *testing.T) {
	paths, _ := transcript.Paths(filepath.Join("..", "..", "flows", "testdata"))
	if len(paths) == 0 {
		t.Skip("no golden transcripts in flows/testdata yet")
	}
	e := newEnv(t, 1, false)
	for n, path := range paths {
		f, err := transcript.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f.Name, func(t *testing.T) {
			user := fmt.Sprintf("u-golden-%d", n)
			e.welcomed(t, user)
			// The transcripts' clock: check-back times read relative to it.
			e.clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			replayDiscord(t, e, user, f.Steps)
		})
	}
}

func replayDiscord(t *testing.T, e *env, user string, steps []transcript.Step) {
	var lastButtons call
	for _, s := range steps {
		if s.Input.Kind == transcript.None {
			if s.CheckBacks != "" {
				if err := followuptest.SetCheckBacks(context.Background(), e.store, userRef(user), s.CheckBacks); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Add(s.Wait)
			continue
		}
		e.clock.Add(time.Minute)
		in := s.Input.Raw
		n := len(e.fake.dmPosts(user))
		switch s.Input.Kind {
		case transcript.Command:
			sub, text := s.Input.Sub, s.Input.Text
			var payload map[string]any
			switch sub {
			case "", "pause":
				if text != "" {
					payload = e.command(user, "", "pause", strOpt("text", text))
				} else {
					payload = e.command(user, "", "pause")
				}
			case "sos", "safety-plan":
				payload = e.command(user, "", sub)
			case "reframe", "quick":
				if text != "" {
					payload = e.command(user, "", sub, strOpt("story", text))
				} else {
					payload = e.command(user, "", sub)
				}
			default:
				// "/story they ignored me": Discord has no free text after /story itself;
				// the same start is the pause command's text option.
				payload = e.command(user, "", "pause", strOpt("text", strings.TrimSpace(strings.TrimPrefix(in, "/story"))))
			}
			response(t, e.post(t, payload))
		case transcript.Choice:
			r := response(t, e.post(t, e.click(user, "", choicePrefix+s.Input.Text, lastButtons.Body)))
			if r["type"] != 7.0 {
				t.Fatalf("%s: click answered %v, want 7", in, r)
			}
		case transcript.Checkin:
			// What the scheduler does when the check-in is due.
			if err := e.engines[0].Deliver(context.Background(), bot.Job{Kind: bot.JobCheckin, User: userRef(user)}); err != nil {
				t.Fatalf("deliver check-in: %v", err)
			}
		case transcript.Followup:
			if err := followuptest.Deliver(context.Background(), e.store, e.engines[0], userRef(user), s.Input.Text, s.Input.N); err != nil {
				t.Fatalf("deliver follow-up: %v", err)
			}
		case transcript.Long:
			e.dm(user, strings.Repeat("ö", s.Input.N))
		default:
			e.dm(user, s.Input.Text)
		}
		// A reply over Discord's 2,000 characters arrives as several messages.
		var wantPosts []string
		for _, r := range s.Replies {
			parts := split(r, maxContent)
			if flat := func(s string) string { return strings.ReplaceAll(s, "\n", "") }; flat(strings.Join(parts, "")) != flat(r) {
				t.Errorf("split(%d chars) does not rejoin to the reply", len(r))
			}
			wantPosts = append(wantPosts, parts...)
		}
		want := len(wantPosts)
		waitFor(t, fmt.Sprintf("%d replies to %q", want, in), func() bool { return len(e.fake.dmPosts(user)) >= n+want })
		time.Sleep(20 * time.Millisecond)
		got := e.fake.dmPosts(user)[n:]
		if len(got) != want {
			t.Fatalf("after %q: %d replies, want %d", in, len(got), want)
		}
		for i, c := range got {
			if content(c) != wantPosts[i] {
				t.Errorf("after %q, reply %d:\ngot:\n%s\nwant:\n%s", in, i, content(c), wantPosts[i])
			}
			if len(customIDs(c.Body)) > 0 {
				lastButtons = c
			}
		}
	}
}

// TestNoGuildSend checks the adapter's own refusal of anything but its DMs and tokens.
func TestSendRefuses(t *testing.T) {
	a, err := New(Config{AppID: "app", APIURL: "http://127.0.0.1:1", Logger: quiet}, &countingHandler{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := userRef("u1")
	for _, m := range []bot.Message{
		{To: bot.Destination{Kind: bot.DestChannel, User: u}, Text: "x"},
		{To: bot.Destination{Kind: bot.DestDM, User: u, Channel: "C1"}, Text: "x"},
		{To: bot.Destination{Kind: bot.DestEphemeral, User: u, Route: "unknown-token"}, Text: "x"},
		{To: bot.Destination{Kind: bot.DestDM, User: bot.UserRef{Platform: "slack", Workspace: "T", User: "U"}}, Text: "x"},
	} {
		if err := a.Send(ctx, m); err == nil {
			t.Errorf("Send(%+v) = nil, want a refusal", m.To)
		}
	}
	if err := a.postDM(ctx, "guild-channel", "u1", bot.Message{Text: "x"}); err == nil {
		t.Error("postDM to a channel the adapter did not open = nil, want a refusal")
	}
	a.rememberToken("u2", "tok-u2", false)
	if err := a.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestEphemeral, User: u, Route: "tok-u2"}, Text: "x"}); err == nil {
		t.Error("Send on another user's interaction token = nil, want a refusal")
	}
}

func TestMain_tzdataFree(t *testing.T) {
	// The zone list must be valid IANA names; checked with the system's tzdata when present.
	if _, err := os.Stat("/usr/share/zoneinfo/UTC"); err != nil {
		t.Skip("no system tzdata")
	}
	for _, z := range zones {
		if _, err := time.LoadLocation(z); err != nil {
			t.Errorf("zone %q: %v", z, err)
		}
	}
	_ = flows.MaxAnswerRunes
}

// TestGatewayResumes drops the gateway connection: the adapter reconnects and resumes, and
// DMs keep arriving.
func TestGatewayResumes(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-resume"
	e.welcomed(t, user)
	e.fake.drop()
	waitFor(t, "the session to resume", func() bool {
		_, _, _, resumed := e.fake.gw.counts()
		return resumed == 1 && e.fake.connected() == 1
	})
	e.dm(user, "/story quick")
	waitFor(t, "the first prompt after resuming", func() bool { return len(e.fake.dmPosts(user)) == 1 })
}
