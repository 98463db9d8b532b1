// Command storybot-load measures the scheduler against a real Redis: memory per schedule,
// the time to claim and dispatch a minute in which many check-ins are due, their lateness,
// and the cost of an idle tick. It writes into the Redis it is given: use an empty database.
//
//	redis-server --port 6390 --save '' --appendonly no &
//	go run ./cmd/storybot-load -redis redis://127.0.0.1:6390/0 -schedules 1000000 -due 10000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/storage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "storybot-load:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL (an empty database)")
	total := flag.Int("schedules", 1_000_000, "schedules to load")
	due := flag.Int("due", 10_000, "of which due in the measured minute")
	spread := flag.Duration("spread", time.Minute, "the due ones are spread over this long (0: all at one second)")
	workspaces := flag.Int("workspaces", 100, "workspaces the users are spread over")
	replicas := flag.Int("replicas", 2, "scheduler instances")
	rate := flag.Float64("pace", 5, "pace per workspace, messages/s (scheduler)")
	limit := flag.Float64("limit", 10, "fake platform's limit per workspace, messages/s (over it: 429)")
	latency := flag.Duration("latency", 30*time.Millisecond, "fake platform's time per send")
	kind := flag.String("kind", "checkin", "what to load: checkin (weekday schedules) or followup (one-off check-backs on journal entries)")
	flag.Parse()
	if *kind != "checkin" && *kind != "followup" {
		return fmt.Errorf("-kind is checkin or followup, not %q", *kind)
	}
	ctx := context.Background()

	st, err := storage.Open(ctx, storage.Config{URL: *url})
	if err != nil {
		return err
	}
	defer st.Close()
	rdb := st.Client()
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		return fmt.Errorf("database has %d keys: give me an empty one", n)
	}
	before := usedMemory(ctx, rdb)

	// Load: the others first, due in the coming days; then the due ones, starting 5 s
	// after the load.
	start := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	t0 := time.Now()
	// Small enough that one pipeline's replies start within the client's read timeout on a
	// busy machine.
	const batch = 1000
	jobs := make([]storage.JobAt, 0, batch)
	flush := func() error {
		err := st.PutJobs(ctx, jobs)
		jobs = jobs[:0]
		return err
	}
	order := make([]int, 0, *total)
	for i := *due; i < *total; i++ {
		order = append(order, i)
	}
	for i := range *due {
		order = append(order, i)
	}
	for k, i := range order {
		if k == *total-*due {
			if err := flush(); err != nil {
				return err
			}
			start = time.Now().Add(5 * time.Second).Truncate(time.Second)
		}
		u := bot.UserRef{Platform: "slack", Workspace: fmt.Sprintf("T%08d", i%*workspaces), User: fmt.Sprintf("U%010d", i)}
		s := bot.Schedule{Hour: 9, Minute: 0}
		for d := time.Monday; d <= time.Friday; d++ {
			s.Days[d] = true
		}
		at := start.Add(time.Duration(1+i%7) * 24 * time.Hour).Add(time.Duration(i%1440) * time.Minute)
		if i < *due {
			at = start
			if *spread > 0 {
				at = start.Add(time.Duration(int64(i) * int64(*spread) / int64(*due)))
			}
		}
		tz := []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", ""}[i%4]
		job := bot.Job{Kind: bot.JobCheckin, User: u, Checkin: bot.Checkin{Schedule: s}, TZ: tz}
		if *kind == "followup" {
			// A check-back on an entry saved up to a week before, in the store's ID format.
			created := start.Add(-time.Duration(i%10080) * time.Minute)
			job = bot.Job{Kind: bot.JobFollowup, User: u, Entry: fmt.Sprintf("%013d-%012x", created.UnixMilli(), uint64(i)*2654435761%(1<<48))}
		}
		jobs = append(jobs, storage.JobAt{Job: job, Due: at.Truncate(time.Second)})
		if len(jobs) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	after := usedMemory(ctx, rdb)
	fmt.Printf("loaded %d %s schedules in %v\n", *total, *kind, time.Since(t0).Round(time.Millisecond))
	fmt.Printf("redis used_memory: %d -> %d bytes: %.1f bytes per schedule\n", before, after, float64(after-before)/float64(*total))
	if mu, err := rdb.MemoryUsage(ctx, "sb:{sched}:due").Result(); err == nil {
		fmt.Printf("MEMORY USAGE due zset: %d bytes (%.1f per schedule)\n", mu, float64(mu)/float64(*total))
	}
	if time.Now().After(start) {
		return errors.New("loading the due ones took longer than 5 s: they are already late; use fewer")
	}

	// Idle tick: reap + claim with nothing due, against the full set.
	idle := 2000
	ti := time.Now()
	past := time.Now().Add(-time.Hour)
	for range idle {
		if _, err := st.Reap(ctx, past, 200); err != nil {
			return err
		}
		if cs, err := st.Claim(ctx, past, 200, past.Add(time.Minute)); err != nil || len(cs) != 0 {
			return fmt.Errorf("idle claim: %d, %v", len(cs), err)
		}
	}
	fmt.Printf("idle tick (reap + claim, nothing due): %v per tick from the client\n", (time.Since(ti) / time.Duration(idle)).Round(time.Microsecond))

	// Dispatch. The due time of user i follows from the load's formula.
	dueOf = func(j bot.Job) time.Time {
		i, _ := strconv.ParseInt(strings.TrimPrefix(j.User.User, "U"), 10, 64)
		if *spread == 0 {
			return start
		}
		return start.Add(time.Duration(i * int64(*spread) / int64(*due))).Truncate(time.Second)
	}
	plat := &fakePlatform{limit: *limit, latency: *latency, tat: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range *replicas {
		rs, err := storage.Open(ctx, storage.Config{URL: *url})
		if err != nil {
			return err
		}
		defer rs.Close()
		sch := engine.NewScheduler(engine.SchedulerConfig{
			Queue: rs, Deliver: plat, Tick: 5 * time.Second,
			Pace:   map[string]engine.Pace{"slack": {Rate: *rate, Burst: 10}},
			Logger: slog.New(slog.DiscardHandler), Workers: 64,
		})
		wg.Add(1)
		go func() { defer wg.Done(); _ = sch.Run(ctx) }()
	}
	deadline := start.Add(*spread + 3*time.Minute)
	for plat.sent.Load() < int64(*due) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	plat.mu.Lock()
	defer plat.mu.Unlock()
	late := plat.late
	slices.Sort(late)
	fmt.Printf("dispatch: %d of %d due delivered (%d 429s retried), replicas %d, pace %.0f/s per workspace, %d workspaces\n",
		plat.sent.Load(), *due, plat.refused.Load(), *replicas, *rate, *workspaces)
	if len(late) > 0 {
		fmt.Printf("last delivery %v after the first due time (spread %v)\n", plat.last.Sub(start).Round(time.Millisecond), *spread)
		fmt.Printf("lateness vs due: p50 %v, p99 %v, max %v\n", pct(late, 50), pct(late, 99), late[len(late)-1].Round(time.Millisecond))
	}
	dups := 0
	for _, n := range plat.per {
		if n > 1 {
			dups++
		}
	}
	fmt.Printf("users delivered more than once: %d\n", dups)
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	return d[(len(d)-1)*p/100].Round(time.Millisecond)
}

func usedMemory(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, _ := rdb.Info(ctx, "memory").Result()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// fakePlatform takes deliveries with a fixed latency and a per-workspace rate limit: over
// it, it answers like a 429 with Retry-After 1 s.
type fakePlatform struct {
	limit   float64
	latency time.Duration

	mu      sync.Mutex
	tat     map[string]time.Time
	late    []time.Duration
	per     map[string]int // user and entry: one delivery each
	last    time.Time
	sent    atomic.Int64
	refused atomic.Int64
}

func (f *fakePlatform) Deliver(ctx context.Context, j bot.Job) error {
	time.Sleep(f.latency)
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	interval := time.Duration(float64(time.Second) / f.limit)
	tat := f.tat[j.User.Workspace]
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > 10*interval { // burst of 10
		f.refused.Add(1)
		return &bot.RateLimitError{RetryAfter: time.Second}
	}
	f.tat[j.User.Workspace] = tat.Add(interval)
	if f.per == nil {
		f.per = map[string]int{}
	}
	f.per[j.User.String()+"/"+j.Entry]++
	f.late = append(f.late, now.Sub(dueOf(j)))
	f.last = now
	f.sent.Add(1)
	return nil
}

// dueOf is set by run before dispatch.
var dueOf = func(bot.Job) time.Time { return time.Time{} }
