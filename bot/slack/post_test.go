package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/cputime"
	"github.com/storybot/storybot/internal/workctx"
)

// nopHandler is an engine that does nothing: for tests that only send.
type nopHandler struct{}

func (nopHandler) Handle(context.Context, bot.Event) error { return nil }

// sendOnly returns an adapter on fake that only sends (no Redis, no engine).
func sendOnly(tb testing.TB, fake *fakeSlack) *Adapter {
	tb.Helper()
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: fake.apiURL()}, nopHandler{})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// benchPrompt is a typical DM reply: a question with its buttons.
func benchPrompt(user string) bot.Message {
	return bot.Message{
		To:   bot.Destination{Kind: bot.DestDM, User: bot.UserRef{Platform: Platform, Workspace: testTeam, User: user}},
		Kind: flows.ReplyPrompt,
		Text: "What is the story you're telling yourself about this? Write it the way it sounds in your head, even if it's unfair — it's only for you.",
		Choices: []flows.Choice{
			{ID: "skip", Label: "Skip this question"},
			{ID: "back", Label: "Go back"},
			{ID: "stop", Label: "Stop the pause"},
		},
	}
}

// BenchmarkPostMessage measures one DM reply with its buttons going out through the
// adapter's real path (Send, the DM channel cache, the outbox, chat.postMessage).
//
// "echo": to the fake Slack, answering as Slack does (the message echoed with its
// blocks); "short": to the fake answering ok, channel and ts only. The fake's own work
// (it parses the form, records the call and writes JSON) runs in this process and is in
// the figures. "canned": to a server that reads the request and writes Slack's answer
// for it from memory, so that the figures are mostly the adapter's (and net/http's
// server side). cpu-ns/op is the process's CPU time per post: on a shared machine the
// wall time mostly measures the queue for a core.
func BenchmarkPostMessage(b *testing.B) {
	m := benchPrompt("UBENCH")
	for _, name := range []string{"echo", "short", "canned", "floor"} {
		b.Run(name, func(b *testing.B) {
			fake := newFakeSlack(b)
			fake.echo = name != "short"
			api := fake.apiURL()
			var conns atomic.Int64 // connections the canned server saw
			if name == "canned" || name == "floor" {
				api = cannedSlack(b, fake, m, &conns)
			}
			a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: api}, nopHandler{})
			if err != nil {
				b.Fatal(err)
			}
			a.dms.Add(m.To.User.String(), "DUBENCH") // the DM channel, as if opened before
			var wc workctx.Renewing
			defer wc.Stop()
			send := func() error { return a.Send(wc.Get(), m) }
			if name == "floor" {
				// The least net/http does for one post: the body ready, a request made
				// and sent through the client's Transport (as the adapter's are, not
				// through Client.Do), the answer read and dropped. What the adapter adds
				// is above it.
				body := []byte(fake.bodies[0].body)
				send = func() error {
					req, err := http.NewRequestWithContext(wc.Get(), http.MethodPost, api+"chat.postMessage", bytes.NewReader(body))
					if err != nil {
						return err
					}
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					resp, err := a.cfg.HTTPClient.Transport.RoundTrip(req)
					if err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return err
				}
			}
			b.ReportAllocs()
			c0, ok := cputime.Process()
			for b.Loop() {
				if err := send(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if c1, ok1 := cputime.Process(); ok && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
			if name == "canned" || name == "floor" {
				b.ReportMetric(float64(conns.Load()), "conns")
			}
			if n := a.outbox.pending(); n != 0 {
				b.Fatalf("%d replies queued: the benchmark must post each at once", n)
			}
		})
	}
}

// cannedSlack starts a server that answers every request with what fake answers to m
// posted with slack-go, counting its connections in conns, and returns its API URL.
func cannedSlack(b *testing.B, fake *fakeSlack, m bot.Message, conns *atomic.Int64) string {
	b.Helper()
	fake.keepBodies = true
	text, blocks := render(m)
	api := slack.New("xoxb-test", slack.OptionAPIURL(fake.apiURL()))
	if _, _, err := api.PostMessage("DUBENCH", slack.MsgOptionText(text, false), slack.MsgOptionDisableMarkdown(), slack.MsgOptionBlocks(blocks...)); err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/chat.postMessage", strings.NewReader(fake.bodies[0].body))
	req.Header.Set("Content-Type", fake.bodies[0].contentType)
	fake.serve(rec, req)
	answer := rec.Body.Bytes()
	if !bytes.Contains(answer, []byte(`"blocks":[`)) {
		b.Fatalf("the fake's answer does not echo the blocks: %s", answer)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(answer)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	b.Cleanup(srv.Close)
	return srv.URL + "/api/"
}

// postCase is one message posted both ways.
type postCase struct {
	name   string
	text   string
	blocks []slack.Block
}

func postCases() []postCase {
	var cases []postCase
	for _, m := range []bot.Message{
		benchPrompt("U1"),
		{Kind: flows.ReplyInfo, Text: "Saved. Nothing else to do."},
		{Kind: flows.ReplyPrompt, Text: "quotes \" and \\ & <b> 100% + 1 = 2; a=b&c=d?\n\ttab é 日本 🙂 \u2028 \xff", Choices: []flows.Choice{{ID: "x&y=z", Label: "B <&> \"c\" + 50%"}}},
		{Kind: flows.ReplyPrompt, Text: "How true is it now, 0 to 10?", Choices: func() []flows.Choice {
			var cs []flows.Choice
			for i := range 11 {
				cs = append(cs, flows.Choice{ID: strconv.Itoa(i), Label: strconv.Itoa(i)})
			}
			return cs
		}()},
	} {
		text, blocks := render(m)
		cases = append(cases, postCase{name: m.Text[:min(len(m.Text), 12)], text: text, blocks: blocks})
	}
	// A merged queue (context notes: encoding/json's path), and an empty block list.
	text, blocks := renderBatch([]queued{
		{m: bot.Message{Kind: flows.ReplyInfo, Text: "Saved."}, n: 2},
		{m: benchPrompt("U1"), n: 1},
	}, 3)
	cases = append(cases, postCase{name: "merged", text: text, blocks: blocks}, postCase{name: "empty blocks", text: "x", blocks: []slack.Block{}})
	return cases
}

// TestPostMatchesSlackGo: for the same message, the direct chat.postMessage sends the body
// slack-go's PostMessageContext sends (byte for byte), with the same headers, and the fake
// records the same call.
func TestPostMatchesSlackGo(t *testing.T) {
	fake := newFakeSlack(t)
	fake.keepBodies = true
	a := sendOnly(t, fake)
	ctx := context.Background()
	const ch = "DU1"
	for _, c := range postCases() {
		t.Run(c.name, func(t *testing.T) {
			opts := []slack.MsgOption{slack.MsgOptionText(c.text, false), slack.MsgOptionDisableMarkdown()}
			if c.blocks != nil {
				opts = append(opts, slack.MsgOptionBlocks(c.blocks...))
			}
			if _, _, err := a.api.PostMessageContext(ctx, ch, opts...); err != nil {
				t.Fatalf("slack-go: %v", err)
			}
			if err := a.postMessage(ctx, ch, c.text, c.blocks); err != nil {
				t.Fatalf("postMessage: %v", err)
			}
			fake.mu.Lock()
			bodies, calls := fake.bodies[len(fake.bodies)-2:], fake.calls[len(fake.calls)-2:]
			fake.mu.Unlock()
			if bodies[1] != bodies[0] {
				t.Errorf("postMessage sent\n%+v\nslack-go sends\n%+v", bodies[1], bodies[0])
			}
			want, got := calls[0], calls[1]
			want.TS, got.TS = "", ""
			if got != want {
				t.Errorf("fake recorded %+v, for slack-go %+v", got, want)
			}
			if got.Text != c.text {
				t.Errorf("fake recorded text %q, want %q", got.Text, c.text)
			}
		})
	}
}

// answerCase is one way Slack may answer chat.postMessage.
type answerCase struct {
	name   string
	status int
	header map[string]string
	body   string
}

var answerCases = []answerCase{
	{"ok", 200, nil, `{"ok":true,"channel":"D1","ts":"1.2","message":{"type":"message","text":"hi","blocks":[{"type":"section"}]}}`},
	{"ok, warning", 200, nil, `{"ok":true,"channel":"D1","ts":"1.2","warning":"missing_charset","response_metadata":{"warnings":["missing_charset"]}}`},
	{"rate limited", 429, map[string]string{"Retry-After": "7"}, ``},
	{"rate limited, no Retry-After", 429, nil, `{"ok":false,"error":"ratelimited"}`},
	{"rate limited, bad Retry-After", 429, map[string]string{"Retry-After": "soon"}, ``},
	{"server error", 500, nil, `<html><body>Internal Server Error</body></html>`},
	{"created", 201, nil, `{"ok":true}`},
	{"channel_not_found", 200, nil, `{"ok":false,"error":"channel_not_found"}`},
	{"account_inactive", 200, nil, `{"ok":false,"error":"account_inactive"}`},
	{"missing_scope", 200, nil, `{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"im:write"}`},
	{"not ok, no error", 200, nil, `{"ok":false}`},
	{"not json", 200, nil, `<html>gateway</html>`},
	{"empty", 200, nil, ``},
	{"cut short", 200, nil, `{"ok":false,"error":"fatal_err`},
}

// TestPostErrorsMatchSlackGo: for every kind of answer, the direct chat.postMessage
// returns what slack-go's returns, in the terms its callers look at: a rate limit and its
// Retry-After, an HTTP status, a Slack error code, the outbox's failure reason, and
// whether it is an error at all.
func TestPostErrorsMatchSlackGo(t *testing.T) {
	var cur atomic.Pointer[answerCase]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c := cur.Load()
		for k, v := range c.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c.status)
		_, _ = io.WriteString(w, c.body)
	}))
	defer srv.Close()
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: srv.URL + "/api/"}, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	text, blocks := render(benchPrompt("U1"))
	for _, c := range answerCases {
		t.Run(c.name, func(t *testing.T) {
			cur.Store(&c)
			_, _, want := a.api.PostMessageContext(ctx, "D1", slack.MsgOptionText(text, false), slack.MsgOptionDisableMarkdown(), slack.MsgOptionBlocks(blocks...))
			got := a.postMessage(ctx, "D1", text, blocks)
			if !sameAsSlackGo(t, "postMessage", got, want) {
				return
			}
			if !strings.HasPrefix(got.Error(), "slack: chat.postMessage: ") {
				t.Errorf("error %q does not say what failed", got)
			}
		})
	}
	// And what the callers make of them, spelled out.
	for _, tc := range []struct {
		c     answerCase
		check func(error) bool
	}{
		{answerCases[2], func(err error) bool {
			var rl *slack.RateLimitedError
			return errors.As(err, &rl) && rl.RetryAfter == 7*time.Second
		}},
		{answerCases[5], func(err error) bool {
			var sc slack.StatusCodeError
			return errors.As(err, &sc) && sc.Code == 500 && failReason(err) == "error"
		}},
		{answerCases[7], func(err error) bool {
			var se slack.SlackErrorResponse
			return errors.As(err, &se) && se.Err == "channel_not_found" && failReason(err) == "api_error"
		}},
		{answerCases[8], func(err error) bool { return userGone(err) && failReason(err) == "user_gone" }},
	} {
		cur.Store(&tc.c)
		if err := a.postMessage(ctx, "D1", text, blocks); !tc.check(err) {
			t.Errorf("%s: postMessage = %v", tc.c.name, err)
		}
	}
}

// TestPostKeepsConnection: posts answered at length (Slack echoes the message; chunked, with
// no Content-Length) and posts answered with an error status all go over one kept-alive
// connection: every answer is read to its end.
func TestPostKeepsConnection(t *testing.T) {
	var conns atomic.Int64
	var status atomic.Int64
	status.Store(200)
	long := `{"ok":true,"channel":"D1","ts":"1.2","message":{"text":"` + strings.Repeat("x", 9000) + `"}}`
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		for i := 0; i < len(long); i += 1000 { // in pieces: chunked
			_, _ = io.WriteString(w, long[i:min(i+1000, len(long))])
			w.(http.Flusher).Flush()
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: srv.URL + "/api/"}, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	text, blocks := render(benchPrompt("U1"))
	for i := range 20 {
		if i == 10 {
			status.Store(500)
		}
		err := a.postMessage(context.Background(), "D1", text, blocks)
		if (err != nil) != (i >= 10) {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 posts opened %d connections, want 1", n)
	}
}

// FuzzReadAnswer: readAnswer reads what encoding/json's Decoder reads into slack-go's
// SlackResponse fields "ok" and "error", and fails where it fails.
func FuzzReadAnswer(f *testing.F) {
	for _, c := range answerCases {
		f.Add([]byte(c.body))
	}
	for _, s := range []string{`null`, ` null x`, `{}`, `[]`, `"ok"`, `{"OK":true,"Error":"x"}`, `{"ok":true,"ok":null}`, `{"ok":1}`,
		`{"error":"a\u00e9\ud83d\ude42\n"}`, `{"o\u006b":true}`, "{\"o\u212a\":true}", `{"error":"\xff"}`, `{"a":[1,-2.5e+3,{"b":null}],"ok":false,"error":"x"}`,
		`{"ok":true} trailing`, `{"a":01}`, `{"a":1.}`, `{"a":"\x01"}`, `{"a":tru}`, `{"ok":true,}`, `{"error":5,"ok":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want struct {
			Ok    bool   `json:"ok"`
			Error string `json:"error"`
		}
		werr := json.NewDecoder(bytes.NewReader(b)).Decode(&want)
		got, gerr := readAnswer(b)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("readAnswer(%q) error %v, encoding/json %v", b, gerr, werr)
		}
		if gerr == nil && (got.ok != want.Ok || got.errorMsg != want.Error) {
			t.Fatalf("readAnswer(%q) = %+v, encoding/json %+v", b, got, want)
		}
	})
}

// FuzzPostForm: the form is url.Values.Encode of the same fields.
func FuzzPostForm(f *testing.F) {
	f.Add("xoxb-1-2", "D1", "What is the story? <&> 100% + é", "skip", "Skip this")
	f.Add("", "", "", "", "")
	f.Add("t ~._-", "C=&?", "\x00\xff\u2028", "a\"b", "\\\t")
	f.Fuzz(func(t *testing.T, token, ch, text, id, label string) {
		for _, m := range []bot.Message{{Kind: flows.ReplyInfo, Text: text}, {Kind: flows.ReplyPrompt, Text: text, Choices: []flows.Choice{{ID: id, Label: label}}}} {
			rtext, blocks := render(m)
			got, err := postForm(token, ch, rtext, blocks)
			if err != nil {
				t.Fatal(err)
			}
			v := url.Values{"token": {token}, "channel": {ch}, "text": {rtext}, "mrkdwn": {"false"}}
			if blocks != nil {
				js, err := json.Marshal(blocks)
				if err != nil {
					t.Fatal(err)
				}
				v.Set("blocks", string(js))
			}
			if want := v.Encode(); string(got) != want {
				t.Fatalf("postForm = %q, want %q", got, want)
			}
			if cap(got) != len(got) {
				t.Errorf("postForm's body has capacity %d for %d bytes", cap(got), len(got))
			}
		}
	})
}

func BenchmarkPostForm(b *testing.B) {
	text, blocks := render(benchPrompt("U1"))
	b.ReportAllocs()
	c0, ok := cputime.Process()
	for b.Loop() {
		if _, err := postForm("xoxb-test", "DUBENCH", text, blocks); err != nil {
			b.Fatal(err)
		}
	}
	if c1, ok1 := cputime.Process(); ok && ok1 {
		b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkReadAnswer reads ok and error from Slack's answer to a DM with buttons (the
// message echoed), with readAnswer and, to compare, with encoding/json into the two fields.
func BenchmarkReadAnswer(b *testing.B) {
	text, blocks := render(benchPrompt("U1"))
	js, _ := appendBlocks(nil, blocks)
	answer := []byte(`{"ok":true,"channel":"DUBENCH","ts":"1700000000.000002","message":{"app_id":"A0APP","blocks":` + string(js) + `,"bot_id":"B0BOT","subtype":"bot_message","team":"T1","text":` + strconv.Quote(text) + `,"ts":"1700000000.000002","type":"message","username":"storybot"}}`)
	for _, name := range []string{"readAnswer", "encoding-json"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(answer)))
			b.ReportAllocs()
			c0, ok := cputime.Process()
			for b.Loop() {
				if name == "readAnswer" {
					if _, err := readAnswer(answer); err != nil {
						b.Fatal(err)
					}
					continue
				}
				var v struct {
					Ok    bool   `json:"ok"`
					Error string `json:"error"`
				}
				if err := json.Unmarshal(answer, &v); err != nil {
					b.Fatal(err)
				}
			}
			if c1, ok1 := cputime.Process(); ok && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// sameAsSlackGo checks that got, the error of a direct Web API call (what), is what slack-go
// gave for the same answer (want) in every way a caller looks at it: nil or not, rate limit
// and its wait, status, Slack's error, the failure's metric reason and "user gone". It
// reports whether there is an error to look at further.
func sameAsSlackGo(t *testing.T, what string, got, want error) bool {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("%s = %v, slack-go = %v", what, got, want)
	}
	if got == nil {
		return false
	}
	var rlGot, rlWant *slack.RateLimitedError
	if errors.As(got, &rlGot) != errors.As(want, &rlWant) || rlGot != nil && rlGot.RetryAfter != rlWant.RetryAfter {
		t.Errorf("rate limit: %s = %v, slack-go = %v", what, got, want)
	}
	var scGot, scWant slack.StatusCodeError
	if errors.As(got, &scGot) != errors.As(want, &scWant) || scGot != scWant {
		t.Errorf("status: %s = %#v, slack-go = %#v", what, scGot, scWant)
	}
	var seGot, seWant slack.SlackErrorResponse
	if errors.As(got, &seGot) != errors.As(want, &seWant) || seGot.Err != seWant.Err {
		t.Errorf("Slack error: %s = %v, slack-go = %v", what, got, want)
	}
	if g, w := failReason(got), failReason(want); g != w {
		t.Errorf("failReason: %s %q, slack-go %q", what, g, w)
	}
	if g, w := userGone(got), userGone(want); g != w {
		t.Errorf("userGone: %s %v, slack-go %v", what, g, w)
	}
	return true
}
