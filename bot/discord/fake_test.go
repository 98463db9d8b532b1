package discord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// call is one REST request a fake Discord received.
type call struct {
	Method string
	Path   string         // without the /api/v10 prefix
	Body   map[string]any // the JSON body (payload_json of a multipart body)
	Files  []string       // names of attached files
}

// every REST call of every fake in this test package, and the DM channels the fakes
// handed out, for TestMain's check that nothing was ever posted anywhere else.
var recorded struct {
	mu    sync.Mutex
	calls []call
	dms   map[string]bool
}

func TestMain(m *testing.M) {
	code := m.Run()
	recorded.mu.Lock()
	var bad []string
	for _, c := range recorded.calls {
		if c.Method == http.MethodGet || strings.HasPrefix(c.Path, "users/@me/channels") ||
			strings.HasPrefix(c.Path, "webhooks/") || strings.HasPrefix(c.Path, "interactions/") ||
			strings.HasPrefix(c.Path, "applications/") {
			continue
		}
		if ch, ok := strings.CutPrefix(c.Path, "channels/"); ok {
			ch, _, _ = strings.Cut(ch, "/")
			if recorded.dms[ch] {
				continue
			}
		}
		bad = append(bad, c.Method+" "+c.Path)
	}
	n := len(recorded.calls)
	recorded.mu.Unlock()
	if len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "REST calls outside the users' DMs and interaction webhooks: %q\n", bad)
		code = 1
	} else if code == 0 {
		fmt.Fprintf(os.Stderr, "checked %d recorded REST calls: only DMs and interaction webhooks\n", n)
	}
	os.Exit(code)
}

// fakeDiscord is a Discord REST API and gateway that discordgo really talks to.
type fakeDiscord struct {
	tb  testing.TB
	srv *httptest.Server

	gw *fakeGateway // the gateway (gateway_fake_test.go)

	mu        sync.Mutex
	calls     []call
	closedDMs map[string]bool   // user IDs whose DMs are closed
	nextID    int               // message IDs
	dmUser    map[string]string // DM channel → user
	rateLimit map[string]int    // path prefix → 429s still to return
}

func newFakeDiscord(tb testing.TB) *fakeDiscord {
	tb.Helper()
	f := &fakeDiscord{tb: tb, gw: newFakeGateway(tb), closedDMs: map[string]bool{}, dmUser: map[string]string{}, rateLimit: map[string]int{}}
	mux := http.NewServeMux()
	// discordgo's GatewayBot adds a trailing slash to the URL it returns.
	for _, p := range []string{"/ws", "/ws/", "/resume", "/resume/"} {
		mux.HandleFunc(p, f.gw.serve)
	}
	mux.HandleFunc("/api/v10/", f.serveREST)
	f.srv = httptest.NewServer(mux)
	f.gw.httpURL = f.srv.URL
	tb.Cleanup(func() {
		f.gw.closeAll()
		f.srv.Close()
	})
	return f
}

// apiURL is the base to configure as Config.APIURL.
func (f *fakeDiscord) apiURL() string { return f.srv.URL + "/api/v10" }

func (f *fakeDiscord) closeDMs(user string) {
	f.mu.Lock()
	f.closedDMs[user] = true
	f.mu.Unlock()
}

func (f *fakeDiscord) serveREST(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v10/")
	c := call{Method: r.Method, Path: path}
	raw, _ := io.ReadAll(r.Body)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" && len(raw) > 0:
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			f.tb.Errorf("fake discord: %s %s: bad JSON: %v", r.Method, path, err)
		}
	case strings.HasPrefix(mt, "multipart/"):
		mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			if p.FormName() == "payload_json" {
				json.Unmarshal(b, &c.Body)
			} else {
				c.Files = append(c.Files, p.FileName())
			}
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	limited := false
	for prefix, n := range f.rateLimit {
		if n > 0 && strings.HasPrefix(path, prefix) {
			f.rateLimit[prefix] = n - 1
			limited = true
		}
	}
	f.mu.Unlock()
	recorded.mu.Lock()
	recorded.calls = append(recorded.calls, c)
	recorded.mu.Unlock()

	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if limited {
		reply(http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": 0.05, "global": false})
		return
	}
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodGet && (path == "gateway" || path == "gateway/bot"):
		reply(200, f.gw.info())
	case r.Method == http.MethodPost && path == "users/@me/channels":
		user, _ := c.Body["recipient_id"].(string)
		id := "dm-" + user
		f.mu.Lock()
		f.dmUser[id] = user
		f.mu.Unlock()
		recorded.mu.Lock()
		if recorded.dms == nil {
			recorded.dms = map[string]bool{}
		}
		recorded.dms[id] = true
		recorded.mu.Unlock()
		reply(200, map[string]any{"id": id, "type": 1, "recipients": []any{map[string]any{"id": user}}})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		f.mu.Lock()
		user, known := f.dmUser[parts[1]]
		closed := f.closedDMs[user]
		f.nextID++
		id := fmt.Sprint("m", f.nextID)
		f.mu.Unlock()
		if !known {
			reply(404, map[string]any{"code": 10003, "message": "Unknown Channel"})
			return
		}
		if closed {
			reply(403, map[string]any{"code": 50007, "message": "Cannot send messages to this user"})
			return
		}
		reply(200, map[string]any{"id": id, "channel_id": parts[1], "content": c.Body["content"]})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		reply(200, f.gw.channelMessages(parts[1], r.URL.Query().Get("after"), limit))
	case r.Method == http.MethodPost && parts[0] == "webhooks":
		f.mu.Lock()
		f.nextID++
		id := fmt.Sprint("m", f.nextID)
		f.mu.Unlock()
		reply(200, map[string]any{"id": id, "channel_id": "guild-channel", "content": c.Body["content"], "flags": 64})
	case r.Method == http.MethodPatch && parts[0] == "webhooks":
		reply(200, map[string]any{"id": "original", "content": c.Body["content"]})
	case r.Method == http.MethodDelete && parts[0] == "webhooks":
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && parts[0] == "interactions":
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && parts[0] == "applications":
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	default:
		reply(404, map[string]any{"code": 0, "message": "404: Not Found"})
	}
}

// dispatch sends an event to every gateway session.
func (f *fakeDiscord) dispatch(t string, d any) { f.gw.dispatch(t, d) }

// drop cuts every gateway connection abruptly, as a network failure would.
func (f *fakeDiscord) drop() { f.gw.drop() }

// connected is the number of gateway sessions with a working connection.
func (f *fakeDiscord) connected() int { return f.gw.live() }

// callsTo returns the recorded calls whose method (any when "") and path match.
func (f *fakeDiscord) callsTo(method, pathPrefix, pathSuffix string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if (method == "" || c.Method == method) && strings.HasPrefix(c.Path, pathPrefix) && strings.HasSuffix(c.Path, pathSuffix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeDiscord) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// dmPosts are the messages posted to user's DM channel.
func (f *fakeDiscord) dmPosts(user string) []call {
	return f.callsTo(http.MethodPost, "channels/dm-"+user+"/", "/messages")
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
