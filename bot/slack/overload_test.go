package slack

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

// TestOverload drives the Events API at several times what the bot can do, with the pool
// sized as serve sizes it, and checks that acknowledged means done: every 200 becomes an
// applied turn, everything else was answered 503 (so Slack would redeliver it), goroutines
// stay bounded, and Web API calls stop within a second of the load stopping. It runs only
// with STORYBOT_OVERLOAD=1 (seconds, e.g. 20): it is a measurement, not a unit test.
//
//	STORYBOT_OVERLOAD=20 go test -run TestOverload -v ./bot/slack/
func TestOverload(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("STORYBOT_OVERLOAD"))
	if secs <= 0 {
		t.Skip("set STORYBOT_OVERLOAD=<seconds> to run the overload measurement")
	}
	pool := bot.NewPool(bot.PoolConfig{})
	h := newHarness(t, func(c *Config) { c.Work = pool })
	t.Cleanup(func() { _ = pool.Drain(context.Background()) })
	senders := 128 * runtime.GOMAXPROCS(0)
	var ok200, shed503, other atomic.Int64
	var peakG atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	sent := make([]atomic.Int64, senders)
	tried := make([]atomic.Int64, senders) // events sent by each sender, answered or not
	for s := range senders {
		wg.Go(func() {
			user := fmt.Sprintf("ULOAD%04d", s)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tried[s].Store(int64(i) + 1)
				body := h.messageBody(user, "answer "+strconv.Itoa(i), fmt.Sprintf("EvLoad%04d-%06d", s, i))
				code, _ := h.post("/slack/events", "application/json", body, nil)
				switch code {
				case 200:
					ok200.Add(1)
					sent[s].Add(1)
				case 503:
					shed503.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	var peakRSS int64
	sample := time.NewTicker(100 * time.Millisecond)
	end := time.After(time.Duration(secs) * time.Second)
loop:
	for {
		select {
		case <-sample.C:
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			peakRSS = max(peakRSS, rss())
		case <-end:
			break loop
		}
	}
	close(stop)
	wg.Wait()
	stopped := time.Now()
	callsAtStop := h.ncalls()
	// Web API calls after the load stopped: wait until they stop.
	last, lastN := stopped, callsAtStop
	for time.Since(last) < time.Second && time.Since(stopped) < 15*time.Second {
		time.Sleep(20 * time.Millisecond)
		if n := h.ncalls(); n != lastN {
			last, lastN = time.Now(), n
		}
	}
	tail := last.Sub(stopped)
	h.wait()

	ctx := context.Background()
	var applied int64
	for s := range senders {
		u := userRef(testTeam, fmt.Sprintf("ULOAD%04d", s))
		for i := range tried[s].Load() {
			ok, err := h.store.EventApplied(ctx, u, fmt.Sprintf("slack:event:%s:EvLoad%04d-%06d", testTeam, s, i))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				applied++
			}
		}
	}
	t.Logf("GOMAXPROCS %d, %d senders for %ds: %d acknowledged (200), %d refused (503), %d other; %.0f acknowledged/s",
		runtime.GOMAXPROCS(0), senders, secs, ok200.Load(), shed503.Load(), other.Load(), float64(ok200.Load())/float64(secs))
	t.Logf("applied turns %d; peak goroutines %d; peak RSS %d MB; Web API calls went on %v after the load stopped (%d calls)",
		applied, peakG.Load(), peakRSS>>20, tail.Round(10*time.Millisecond), lastN-callsAtStop)
	if applied != ok200.Load() {
		t.Errorf("applied %d turns for %d acknowledged events: acknowledged-but-lost %d", applied, ok200.Load(), ok200.Load()-applied)
	}
	if other.Load() != 0 {
		t.Errorf("%d answers were neither 200 nor 503", other.Load())
	}
	if tail > time.Second {
		t.Errorf("Web API calls went on %v after the load stopped, want at most 1 s", tail)
	}
}

// rss returns this process's resident set size in bytes (Linux), 0 when unknown.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
