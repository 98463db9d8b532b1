package slack

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const benchConcurrency = 50

// benchPost posts a signed body and returns the time to the acknowledgement.
func benchPost(b *testing.B, client *http.Client, url, contentType string, body []byte) time.Duration {
	ts := time.Now().Unix()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", sign(testSecret, ts, body))
	start := time.Now()
	resp, err := client.Do(req)
	d := time.Since(start)
	if err != nil {
		b.Error(err)
		return d
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("status %d", resp.StatusCode)
	}
	return d
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 200}}
}

// BenchmarkSlashCommandAck measures how fast /slack/commands acknowledges, with 50
// requests in flight, over real HTTP with real Redis; the work after the ack (the engine
// and the response_url reply to the fake Slack) runs meanwhile, as in production.
func BenchmarkSlashCommandAck(b *testing.B) {
	h := newHarness(b)
	client := benchClient()
	var (
		mu   sync.Mutex
		lats []time.Duration
		next atomic.Int64
	)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range benchConcurrency {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				body := slashBody(h.fake, fmt.Sprintf("UBENCH%02d", w), sharedChannel, "help")
				mine = append(mine, benchPost(b, client, h.srv.URL+"/slack/commands", "application/x-www-form-urlencoded", body))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	h.wait()
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99_ms")
}

// BenchmarkDMTurn measures whole DM turns per second: a signed message event in, dedupe,
// the engine's atomic turn in Redis, and the reply posted to the fake Slack, for 50 users
// typing at once. Each user alternates an answer to a Pause's story question with "back", so
// every turn is one step and one reply, like a dialogue.
func BenchmarkDMTurn(b *testing.B) {
	h := newHarness(b)
	client := benchClient()
	for w := range benchConcurrency {
		// A Pause (a quick pause typed in a channel now opens the form instead).
		h.slash(fmt.Sprintf("UDM%02d", w), sharedChannel, "pause The demo froze.")
	}
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range benchConcurrency {
		wg.Go(func() {
			user := fmt.Sprintf("UDM%02d", w)
			for k := 0; ; k++ {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				text := "They might just be busy today."
				if k%2 == 1 {
					text = "back"
				}
				body := h.messageBody(user, text, fmt.Sprintf("EvB%d", i))
				benchPost(b, client, h.srv.URL+"/slack/events", "application/json", body)
			}
		})
	}
	wg.Wait()
	h.wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "turns/s")
}
