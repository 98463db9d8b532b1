package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// call is one request the fake Slack received.
type call struct {
	Method       string // Web API method, or "response_url"
	Channel      string
	Users        string // conversations.open
	Text         string // as sent (escaped)
	Blocks       string // JSON
	TS           string
	ResponseType string // response_url
	Replace      bool   // response_url replace_original
	RouteUser    string // response_url: the user the test issued the URL to
}

// allCalls gathers every call of every fake in the package, for TestMain's privacy check.
var (
	allMu    sync.Mutex
	allCalls []call
)

// TestMain runs the tests, then checks, over every Web API call recorded anywhere in the
// package, that nothing ever went to a channel that is not a DM, and that every response_url
// reply was ephemeral (or replaced the user's own ephemeral/DM message).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkPrivacy(); err != nil {
			fmt.Fprintln(os.Stderr, "privacy check over all recorded calls failed:", err)
			code = 1
		} else {
			fmt.Fprintf(os.Stderr, "privacy check: %d recorded Slack calls, none to a shared channel\n", len(allCalls))
		}
	}
	os.Exit(code)
}

func checkPrivacy() error {
	allMu.Lock()
	defer allMu.Unlock()
	for _, c := range allCalls {
		switch c.Method {
		case "response_url":
			if c.ResponseType != "ephemeral" {
				return fmt.Errorf("response_url reply with response_type %q: %+v", c.ResponseType, c)
			}
		case "conversations.open":
			if strings.Contains(c.Users, ",") {
				return fmt.Errorf("conversations.open with several users: %+v", c)
			}
		case "views.publish":
			// A Home view is published for one user, never anything shared.
			if c.Users == "" || strings.Contains(c.Users, ",") {
				return fmt.Errorf("views.publish not for exactly one user: %+v", c)
			}
		default:
			if c.Channel != "" && !strings.HasPrefix(c.Channel, "D") {
				return fmt.Errorf("%s to non-DM channel %q", c.Method, c.Channel)
			}
			if c.Channel == sharedChannel {
				return fmt.Errorf("%s to the shared channel", c.Method)
			}
		}
	}
	return nil
}

// sharedChannel is the public channel slash commands are typed in.
const sharedChannel = "C0SHARED"

// fakeSlack is a Slack Web API that the real slack-go client talks to.
type fakeSlack struct {
	srv *httptest.Server

	mu        sync.Mutex
	calls     []call
	rateLimit map[string]int // method -> how many 429s to answer first
	// pace, when set, is chat.postMessage's limit per channel: a post within pace of the
	// channel's previous one gets 429 with Retry-After, like Slack's 1 message/s.
	pace time.Duration
	// paceBurst, with pace, lets that many posts through at once before the pace applies
	// (Slack allows short bursts); 0: strictly one per pace.
	paceBurst int
	lastPost  map[string]time.Time // strict pace: the last post; with a burst: the pace's GCRA time
	limited   int                  // 429s answered because of pace
	tz        string
	wsURL     string
	openErr   string // when set, apps.connections.open fails with this error code
	seq       int
	uploads   int
	dnd       map[string]slack.DNDStatus // user -> what dnd.info answers
	gone      map[string]string          // user -> the error conversations.open answers
	upload    []byte                     // the body of the last file upload
	// postErr, when set, is the error every chat.postMessage to a DM answers (ok false).
	postErr string
	// postTimes are the times of the chat.postMessage calls answered ok.
	postTimes []time.Time
	// postDelay, when set, holds every chat.postMessage this long before it is answered.
	postDelay time.Duration
	// echo, when set, answers chat.postMessage as Slack does, with the posted message
	// (its text and blocks) in "message"; otherwise only ok, channel and ts.
	echo bool
	// bodies, when keepBodies is set, are the raw chat.postMessage requests received.
	keepBodies bool
	bodies     []rawPost
}

// rawPost is one chat.postMessage request as it arrived.
type rawPost struct {
	contentType string
	auth        string
	body        string
}

// lastUpload returns the body of the last file upload.
func (f *fakeSlack) lastUpload() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.upload)
}

func newFakeSlack(tb testing.TB) *fakeSlack {
	tb.Helper()
	f := &fakeSlack{rateLimit: map[string]int{}, tz: "Europe/Berlin", dnd: map[string]slack.DNDStatus{}, gone: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

// responseURL is the response_url the test hands out with a user's request.
func (f *fakeSlack) responseURL(user string) string { return f.srv.URL + "/respond/" + user }

func (f *fakeSlack) record(c call) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	allMu.Lock()
	allCalls = append(allCalls, c)
	allMu.Unlock()
}

func (f *fakeSlack) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if user, ok := strings.CutPrefix(r.URL.Path, "/respond/"); ok {
		var msg struct {
			Text            string          `json:"text"`
			Blocks          json.RawMessage `json:"blocks"`
			ResponseType    string          `json:"response_type"`
			ReplaceOriginal bool            `json:"replace_original"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.record(call{Method: "response_url", Text: msg.Text, Blocks: string(msg.Blocks), ResponseType: msg.ResponseType, Replace: msg.ReplaceOriginal, RouteUser: user})
		writeJSON(w, map[string]any{"ok": true})
		return
	}
	if r.URL.Path == "/upload" {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.upload = b
		f.mu.Unlock()
		w.WriteHeader(200)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	keep := f.keepBodies && method == "chat.postMessage"
	f.mu.Unlock()
	if keep {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, rawPost{contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization"), body: string(body)})
		f.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	limited := f.rateLimit[method] > 0
	if limited {
		f.rateLimit[method]--
	}
	if ch := r.Form.Get("channel"); method == "chat.postMessage" && f.pace > 0 && ch != "" {
		if f.lastPost == nil {
			f.lastPost = map[string]time.Time{}
		}
		now := time.Now()
		switch {
		case f.paceBurst > 0 && f.lastPost[ch].Add(-time.Duration(f.paceBurst-1)*f.pace).After(now):
			limited = true
			f.limited++
		case f.paceBurst > 0:
			f.lastPost[ch] = later(f.lastPost[ch], now).Add(f.pace)
		case now.Sub(f.lastPost[ch]) < f.pace:
			limited = true
			f.limited++
		default:
			f.lastPost[ch] = now
		}
	}
	f.seq++
	seq := f.seq
	f.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	c := call{Method: method, Channel: r.Form.Get("channel"), Text: r.Form.Get("text"), Blocks: r.Form.Get("blocks"), TS: r.Form.Get("ts")}
	switch method {
	case "conversations.open":
		c.Users = r.Form.Get("users")
		f.record(c)
		f.mu.Lock()
		gone := f.gone[c.Users]
		f.mu.Unlock()
		if gone != "" {
			writeJSON(w, map[string]any{"ok": false, "error": gone})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "D" + c.Users}})
	case "chat.postMessage":
		f.mu.Lock()
		delay := f.postDelay
		f.mu.Unlock()
		time.Sleep(delay)
		f.mu.Lock()
		postErr := f.postErr
		if postErr == "" {
			f.postTimes = append(f.postTimes, time.Now())
		}
		f.mu.Unlock()
		if postErr != "" && c.Channel != "" {
			writeJSON(w, map[string]any{"ok": false, "error": postErr})
			return
		}
		if c.Blocks != "" {
			// Slack refuses a message of more than 50 blocks.
			var blocks []json.RawMessage
			if err := json.Unmarshal([]byte(c.Blocks), &blocks); err != nil || len(blocks) > 50 {
				c.Method = "chat.postMessage (invalid_blocks)"
				f.record(c)
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_blocks"})
				return
			}
		}
		c.TS = fmt.Sprintf("1700000000.%06d", seq)
		f.record(c)
		f.mu.Lock()
		echo := f.echo
		f.mu.Unlock()
		if echo {
			// The shape of Slack's answer: its documented example (docs.slack.dev,
			// chat.postMessage: "message" with bot_id, type, subtype, text, ts, username),
			// with the blocks a message posted with blocks comes back with.
			msg := map[string]any{"bot_id": "B0BOT", "type": "message", "subtype": "bot_message", "text": c.Text, "ts": c.TS,
				"username": "storybot", "app_id": "A0APP", "team": "T1"}
			if c.Blocks != "" {
				msg["blocks"] = json.RawMessage(c.Blocks)
			}
			writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS, "message": msg})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
	case "chat.update":
		f.record(c)
		writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
	case "users.info":
		c.Users = r.Form.Get("user")
		f.record(c)
		f.mu.Lock()
		tz := f.tz
		f.mu.Unlock()
		writeJSON(w, map[string]any{"ok": true, "user": map[string]any{"id": c.Users, "name": strings.ToLower(c.Users), "tz": tz}})
	case "dnd.info":
		c.Users = r.Form.Get("user")
		f.record(c)
		f.mu.Lock()
		dnd := f.dnd[c.Users]
		f.mu.Unlock()
		writeJSON(w, map[string]any{"ok": true, "dnd_enabled": dnd.Enabled, "next_dnd_start_ts": dnd.NextStartTimestamp,
			"next_dnd_end_ts": dnd.NextEndTimestamp, "snooze_enabled": dnd.SnoozeEnabled, "snooze_endtime": dnd.SnoozeEndTime})
	case "views.open", "views.update", "views.publish":
		// slack-go posts views.* as JSON: {"trigger_id"|"view_id"|"user_id", "view"}.
		var body struct {
			TriggerID string          `json:"trigger_id"`
			ViewID    string          `json:"view_id"`
			UserID    string          `json:"user_id"`
			View      json.RawMessage `json:"view"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		c.Users, c.TS, c.Blocks = body.UserID, body.TriggerID+body.ViewID, string(body.View)
		f.record(c)
		writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": "V" + strconv.Itoa(seq), "hash": "h" + strconv.Itoa(seq)}})
	case "apps.connections.open":
		f.record(c)
		f.mu.Lock()
		u, openErr := f.wsURL, f.openErr
		f.mu.Unlock()
		if openErr != "" {
			writeJSON(w, map[string]any{"ok": false, "error": openErr})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "url": u})
	case "files.getUploadURLExternal":
		f.record(c)
		f.mu.Lock()
		f.uploads++
		f.mu.Unlock()
		writeJSON(w, map[string]any{"ok": true, "upload_url": f.srv.URL + "/upload", "file_id": "F1"})
	case "files.completeUploadExternal":
		c.Channel = r.Form.Get("channel_id")
		f.record(c)
		writeJSON(w, map[string]any{"ok": true, "files": []map[string]any{{"id": "F1", "title": "export"}}})
	default:
		f.record(c)
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// sign signs a request body exactly as Slack does: v0=hex(HMAC-SHA256(secret,
// "v0:"+timestamp+":"+body)).
func sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}
