package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/cputime"
)

// grantLeases grants every claim and forgets it: the benchmarks below measure the inbound
// HTTP path of an event, not the store's round trip (BenchmarkDMTurn has that).
type grantLeases struct{}

func (grantLeases) ClaimEvent(context.Context, bot.UserRef, string, string, time.Duration) (bot.ClaimState, *bot.Snapshot, error) {
	return bot.Claimed, nil, nil
}
func (grantLeases) ExtendEvent(context.Context, bot.UserRef, string, string, time.Duration) error {
	return nil
}
func (grantLeases) FinishEvent(context.Context, bot.UserRef, string, time.Duration) error {
	return nil
}
func (grantLeases) ReleaseEvent(context.Context, bot.UserRef, string, string) error { return nil }

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// kitEventBody is a DM event as the peer kit's load generator (../shared/peers/load) sends
// it: encoding/json's rendering of a map, so keys sorted and &, <, > escaped as \u00XX.
func kitEventBody(user, text string, seq int) []byte {
	ts := "1764650000.000100"
	b, _ := json.Marshal(map[string]any{
		"token": "unused-verification-token", "team_id": testTeam, "api_app_id": "ALOAD",
		"type": "event_callback", "event_id": fmt.Sprintf("EvLOADRUN0%010d", seq), "event_time": 1764650000,
		"event": map[string]any{
			"type": "message", "channel": "D" + user, "user": user, "text": text, "ts": ts, "event_ts": ts,
			"channel_type": "im", "team": testTeam, "client_msg_id": fmt.Sprintf("loadrun0-%d", seq),
		},
		"authorizations": []map[string]any{{"enterprise_id": nil, "team_id": testTeam, "user_id": "UBOT",
			"is_bot": true, "is_enterprise_install": false}},
	})
	return b
}

// BenchmarkInboundDMEvent is the inbound half of a DM answer: a signed message event
// through serveEvents (body read, signature checked, event decoded, claimed, admitted to the
// pool, acknowledged), with every claim granted and a handler that does nothing, so what is
// measured is the HTTP handler's own work. The requests are built once, outside the loop;
// 64 users take turns so no one user's queue fills. cpu-ns/op is the whole process's CPU
// (the pool's workers included) per event.
func BenchmarkInboundDMEvent(b *testing.B) {
	for _, tc := range []struct {
		name string
		body func(user string, seq int) []byte
	}{
		{"kit", func(user string, seq int) []byte {
			return kitEventBody(user, "They might just be busy today & I am not sure.", seq)
		}},
		{"grid", func(user string, seq int) []byte {
			// Slack's documented message event, Grid org user (testdata/payloads).
			return []byte(fixture(b, "grid_message", "body", map[string]string{
				"USER": user, "TEXT": jsonString("They might just be busy today &amp; I am not sure."), "EVENT_ID": fmt.Sprintf("Ev%08d", seq),
			}))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-bench", Dedupe: grantLeases{}}, nopHandler{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = a.work.Drain(ctx)
			})
			const users = 64
			ts := time.Now().Unix()
			bodies := make([][]byte, users)
			headers := make([]http.Header, users)
			for i := range users {
				bodies[i] = tc.body(fmt.Sprintf("UBENCH%02d", i), i)
				headers[i] = http.Header{
					"Content-Type":              {"application/json"},
					"X-Slack-Request-Timestamp": {strconv.FormatInt(ts, 10)},
					"X-Slack-Signature":         {sign(testSecret, ts, bodies[i])},
				}
			}
			b.SetBytes(int64(len(bodies[0])))
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			c0, ok := cputime.Process()
			i, busy := 0, 0
			for b.Loop() {
				k := i % users
				i++
				r, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "/slack/events", nil)
				r.Header = headers[k]
				r.Body = io.NopCloser(bytes.NewReader(bodies[k]))
				r.ContentLength = int64(len(bodies[k]))
				w.code = 0
				a.serveEvents(w, r)
				switch w.code {
				case http.StatusOK:
				case http.StatusServiceUnavailable:
					// The pool waited its AdmitWait for a place in vain: on a machine busy
					// with other work the workers can fall that far behind. Counted, not
					// failed: a timing is never a pass or fail here.
					busy++
				default:
					b.Fatalf("status %d", w.code)
				}
			}
			if c1, ok1 := cputime.Process(); ok && ok1 {
				b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(busy)/float64(b.N), "busy/op")
		})
	}
}

// BenchmarkInboundParts measures the parts of BenchmarkInboundDMEvent's handler one by one
// on the kit's DM body: the body read and signature check (readVerified), and the decoding
// of the event.
func BenchmarkInboundParts(b *testing.B) {
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-bench"}, nopHandler{})
	if err != nil {
		b.Fatal(err)
	}
	body := kitEventBody("UBENCH01", "They might just be busy today & I am not sure.", 1)
	ts := time.Now().Unix()
	hdr := http.Header{
		"Content-Type":              {"application/json"},
		"X-Slack-Request-Timestamp": {strconv.FormatInt(ts, 10)},
		"X-Slack-Signature":         {sign(testSecret, ts, body)},
	}
	b.Run("readVerified", func(b *testing.B) {
		b.ReportAllocs()
		w := &discardWriter{h: http.Header{}}
		for b.Loop() {
			r, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "/slack/events", nil)
			r.Header = hdr
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if _, ok := a.readVerified(w, r); !ok {
				b.Fatalf("status %d", w.code)
			}
		}
	})
	// The body read as it was before readBody (io.ReadAll from 512 bytes up), and readBody.
	for _, rd := range []struct {
		name string
		read func(r *http.Request) ([]byte, error)
	}{
		{"ReadAll", func(r *http.Request) ([]byte, error) { return io.ReadAll(io.LimitReader(r.Body, MaxBody+1)) }},
		{"sized", readBody},
	} {
		b.Run("read/"+rd.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "/slack/events", nil)
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
				if got, err := rd.read(r); err != nil || len(got) != len(body) {
					b.Fatal(err)
				}
			}
		})
	}
	// The signature check as slack-go made it before the adapter's verifier, and the verifier.
	for _, vf := range []struct {
		name  string
		check func(http.Header, []byte) error
	}{
		{"slack-go", func(h http.Header, body []byte) error { return slackGoVerify(h, body, testSecret) }},
		{"pooled", a.sig.check},
	} {
		b.Run("verify/"+vf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := vf.check(hdr, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The event decoded by encoding/json (as before readEnvelope, and still for what the
	// reader declines) and by readEnvelope, on the kit's DM and on Slack's documented one.
	grid := []byte(fixture(b, "grid_message", "body", map[string]string{
		"USER": "UBENCH01", "TEXT": jsonString("They might just be busy today &amp; I am not sure."), "EVENT_ID": "Ev00000001",
	}))
	for _, in := range []struct {
		name string
		body []byte
	}{{"kit", body}, {"grid", grid}} {
		b.Run("decode/json/"+in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				var env eventEnvelope
				if err := json.Unmarshal(in.body, &env); err != nil || env.Event == nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode/reader/"+in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				var env eventEnvelope
				if !readEnvelope(in.body, &env) || env.Event == nil {
					b.Fatal("declined")
				}
			}
		})
	}
}
