package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/internal/workctx"
)

// TestEphemeralMatchesSlackGo: for the same message, the direct response_url post sends the
// body and content type slack-go's PostMessageContext sends for an ephemeral response_url
// message, byte for byte.
func TestEphemeralMatchesSlackGo(t *testing.T) {
	var mu sync.Mutex
	var bodies, ctypes []string
	a, route := responseServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, ctypes = append(bodies, string(b)), append(ctypes, r.Header.Get("Content-Type"))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
	ctx := context.Background()
	cases := append(postCases(), postCase{name: "no text", blocks: postCases()[0].blocks}, postCase{name: "text only", text: "I've sent you a DM."})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := []slack.MsgOption{slack.MsgOptionResponseURL(route, slack.ResponseTypeEphemeral), slack.MsgOptionText(c.text, false)}
			if c.blocks != nil {
				opts = append(opts, slack.MsgOptionBlocks(c.blocks...))
			}
			if _, _, err := a.api.PostMessageContext(ctx, "", opts...); err != nil {
				t.Fatalf("slack-go: %v", err)
			}
			if err := a.postEphemeral(ctx, mustURL(t, route), c.text, c.blocks); err != nil {
				t.Fatalf("postEphemeral: %v", err)
			}
			mu.Lock()
			b, ct := bodies[len(bodies)-2:], ctypes[len(ctypes)-2:]
			mu.Unlock()
			if b[1] != b[0] {
				t.Errorf("postEphemeral sent\n%s\nslack-go sends\n%s", b[1], b[0])
			}
			if ct[1] != ct[0] {
				t.Errorf("content type %q, slack-go %q", ct[1], ct[0])
			}
		})
	}
}

// TestEphemeralAnswers: every way a response_url may answer gives the error slack-go gives
// (nil or not, rate limit, status, Slack error), so the retries and the metrics treat them
// alike.
func TestEphemeralAnswers(t *testing.T) {
	type reply struct {
		status      int
		ctype, body string
		header      map[string]string
	}
	cases := map[string]reply{
		"text ok":               {200, "text/html", "ok", nil},
		"text ok, plain":        {200, "text/plain; charset=utf-8", "ok", nil},
		"json ok":               {200, "application/json", `{"ok":true}`, nil},
		"json error":            {200, "application/json", `{"ok":false,"error":"invalid_blocks"}`, nil},
		"json not ok, no error": {200, "application/json", `{"ok":false}`, nil},
		"json cut short":        {200, "application/json", `{"ok":tr`, nil},
		"text other":            {200, "text/html", "invalid_payload", nil},
		"no content type":       {200, "", "ok", nil},
		"expired":               {404, "text/html", "expired_url", nil},
		"used up":               {404, "text/plain", "used_url", nil},
		"rate limited":          {429, "text/plain", "", map[string]string{"Retry-After": "3"}},
		"server error":          {500, "text/html", "<html>oops</html>", nil},
	}
	var cur reply
	var mu sync.Mutex
	a, route := responseServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		c := cur
		mu.Unlock()
		for k, v := range c.header {
			w.Header().Set(k, v)
		}
		if c.ctype != "" {
			w.Header().Set("Content-Type", c.ctype)
		} else {
			w.Header()["Content-Type"] = nil // net/http would sniff one
		}
		w.WriteHeader(c.status)
		_, _ = io.WriteString(w, c.body)
	})
	ctx := context.Background()
	text, blocks := render(benchPrompt("U1"))
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			cur = c
			mu.Unlock()
			_, _, want := a.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(route, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
			got := a.postEphemeral(ctx, mustURL(t, route), text, blocks)
			if !sameAsSlackGo(t, "postEphemeral", got, want) {
				return
			}
			if !strings.HasPrefix(got.Error(), "slack: response_url: ") {
				t.Errorf("error %q does not say what failed", got)
			}
		})
	}
}

// FuzzEphemeralBody: for any text, with and without a prompt's blocks, the body is what
// slack-go's json.Encoder writes for its Msg.
func FuzzEphemeralBody(f *testing.F) {
	for _, c := range postCases() {
		f.Add(c.text, c.blocks != nil)
	}
	f.Add("", false)
	f.Add("\xff<>&\u2028\"\\", true)
	_, blocks := render(benchPrompt("U1"))
	f.Fuzz(func(t *testing.T, text string, withBlocks bool) {
		msg := slack.Msg{Text: text, ResponseType: slack.ResponseTypeEphemeral}
		var bs []slack.Block
		if withBlocks {
			bs = blocks
			msg.Blocks = slack.Blocks{BlockSet: bs}
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(msg); err != nil {
			t.Fatal(err)
		}
		got, err := ephemeralBody(text, bs)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("ephemeralBody(%q) = %s, %v; want %s", text, got, err, want.Bytes())
		}
	})
}

// BenchmarkEphemeral: the pointer a /story from a channel gets, posted to a response_url
// by slack-go and directly.
func BenchmarkEphemeral(b *testing.B) {
	a, route := responseServer(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	var wc workctx.Renewing
	defer wc.Stop()
	const text = "Let's pause. I've sent you a DM; only you can see it."
	b.Run("slack-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := a.api.PostMessageContext(wc.Get(), "", slack.MsgOptionResponseURL(route, slack.ResponseTypeEphemeral), slack.MsgOptionText(text, false)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		u := mustURL(b, route) // parsed once per post by sendEphemeral, to check it
		b.ReportAllocs()
		for b.Loop() {
			if err := a.postEphemeral(wc.Get(), u, text, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// responseServer is a test server standing for Slack (its API and its response_urls),
// answering with h, and an adapter whose Web API calls go to it.
func responseServer(tb testing.TB, h http.HandlerFunc) (*Adapter, string) {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: srv.URL + "/api/"}, nopHandler{})
	if err != nil {
		tb.Fatal(err)
	}
	return a, srv.URL + "/respond/T1/U1"
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// FuzzMediaType: mediaType finds the media type mime.ParseMediaType finds, and fails where
// it fails.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"", "text/html", "text/plain; charset=utf-8", "application/json", "application/json; charset=utf-8",
		"Application/JSON", "text/html ", " text/html", "text/", "/html", "text", "text/html/x", "text/h tml", "text/html; charset=utf-8; x=y",
		"text/html;charset=utf-8", "text/html; charset=UTF-8", "a/b; charset=utf-8", "text/html; charset=utf-8;", "te\\xt/html", "text/ht\x7fml"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		got, gerr := mediaType(ct)
		want, _, werr := mime.ParseMediaType(ct)
		if (gerr == nil) != (werr == nil) || got != want {
			t.Fatalf("mediaType(%q) = %q, %v; mime.ParseMediaType: %q, %v", ct, got, gerr, want, werr)
		}
	})
}
