package bot

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolKeepsOrderPerKey(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 4, Queue: 1000, PerUser: 1000})
	var mu sync.Mutex
	got := map[string][]int{}
	for i := range 200 {
		for _, k := range []string{"a", "b", "c"} {
			if err := p.Submit(k, "test", func(context.Context) {
				mu.Lock()
				got[k] = append(got[k], i)
				mu.Unlock()
			}); err != nil {
				t.Fatalf("Submit(%s, %d) = %v", k, i, err)
			}
		}
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatalf("Drain = %v", err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if len(got[k]) != 200 {
			t.Fatalf("key %s ran %d pieces, want 200", k, len(got[k]))
		}
		for i, v := range got[k] {
			if v != i {
				t.Fatalf("key %s piece %d = %d: out of order", k, i, v)
			}
		}
	}
}

func TestPoolOneAtATimePerKey(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 8})
	var inKey, worst atomic.Int32
	for range 10 {
		_ = p.Submit("u", "test", func(context.Context) {
			n := inKey.Add(1)
			if n > worst.Load() {
				worst.Store(n)
			}
			time.Sleep(time.Millisecond)
			inKey.Add(-1)
		})
	}
	_ = p.Drain(context.Background())
	if worst.Load() != 1 {
		t.Errorf("pieces of one key running at once = %d, want 1", worst.Load())
	}
}

func TestPoolSheds(t *testing.T) {
	var outcomes sync.Map
	p := NewPool(PoolConfig{Workers: 1, Queue: 3, PerUser: 2, Observe: func(op, outcome string) {
		v, _ := outcomes.LoadOrStore(outcome, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}})
	release := make(chan struct{})
	block := func(context.Context) { <-release }
	// The worker takes u1's first piece; u1's second waits; a third is over u1's cap.
	mustSubmit := func(key string) {
		t.Helper()
		if err := p.Submit(key, "t", block); err != nil {
			t.Fatalf("Submit(%s) = %v", key, err)
		}
	}
	mustSubmit("u1")
	for p.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	mustSubmit("u1")
	if err := p.Submit("u1", "t", block); !isShed(err, ShedUser) {
		t.Errorf("third piece of u1: %v, want shed %q", err, ShedUser)
	}
	mustSubmit("u2")
	mustSubmit("u3")
	if err := p.Submit("u4", "t", block); !isShed(err, ShedFull) {
		t.Errorf("piece over the queue: %v, want shed %q", err, ShedFull)
	}
	if d := p.Depth(); d != 3 {
		t.Errorf("Depth = %d, want 3", d)
	}
	close(release)
	if err := p.Drain(context.Background()); err != nil {
		t.Fatalf("Drain = %v", err)
	}
	if err := p.Submit("u5", "t", block); !isShed(err, ShedClosing) {
		t.Errorf("Submit after Drain: %v, want shed %q", err, ShedClosing)
	}
	for outcome, want := range map[string]int32{"admitted": 4, "shed_user": 1, "shed_full": 1, "shed_closing": 1} {
		v, _ := outcomes.LoadOrStore(outcome, new(atomic.Int32))
		if got := v.(*atomic.Int32).Load(); got != want {
			t.Errorf("observed %s %d times, want %d", outcome, got, want)
		}
	}
}

func isShed(err error, reason string) bool {
	var se *ShedError
	return errors.As(err, &se) && se.Reason == reason
}

// TestPoolDeadlineFromStart: time spent waiting in the queue does not count against the
// work's own deadline.
func TestPoolDeadlineFromStart(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, WorkTimeout: 200 * time.Millisecond})
	_ = p.Submit("", "t", func(context.Context) { time.Sleep(300 * time.Millisecond) })
	left := make(chan time.Duration, 1)
	_ = p.Submit("", "t", func(ctx context.Context) {
		d, _ := ctx.Deadline()
		left <- time.Until(d)
	})
	if got := <-left; got < 150*time.Millisecond {
		t.Errorf("second piece started with %v left, want about 200ms", got)
	}
	_ = p.Drain(context.Background())
}

func TestPoolDrainCancels(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 2, WorkTimeout: time.Hour})
	for range 2 {
		_ = p.Submit("", "t", func(ctx context.Context) { <-ctx.Done() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Drain(ctx); err == nil {
		t.Errorf("Drain = nil, want the cancellation reported")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Drain took %v", took)
	}
}

// TestPoolBoundsGoroutines: however much is submitted, at most Workers goroutines run, and
// none are left when the work is done.
func TestPoolBoundsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	p := NewPool(PoolConfig{Workers: 4, Queue: 10000, PerUser: 10000})
	var peak atomic.Int32
	for i := range 5000 {
		_ = p.Submit(string(rune('a'+i%50)), "t", func(context.Context) {
			if n := int32(runtime.NumGoroutine() - before); n > peak.Load() {
				peak.Store(n)
			}
		})
	}
	_ = p.Drain(context.Background())
	if peak.Load() > 6 {
		t.Errorf("goroutines above the start: peak %d, want at most Workers (4) plus slack", peak.Load())
	}
	time.Sleep(10 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > before+1 {
		t.Errorf("goroutines after Drain: %d, before: %d", n, before)
	}
}

func TestPoolSurvivesPanic(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1})
	_ = p.Submit("u", "t", func(context.Context) { panic("boom") })
	ran := make(chan bool, 1)
	_ = p.Submit("u", "t", func(context.Context) { ran <- true })
	_ = p.Drain(context.Background())
	select {
	case <-ran:
	default:
		t.Errorf("work after a panic did not run")
	}
}

// TestPoolAdmitWaits: with the queue full, Admit waits for a place instead of refusing,
// admits the waiting callers in arrival order, and refuses once AdmitWait has passed.
func TestPoolAdmitWaits(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, Queue: 1, AdmitWait: 2 * time.Second})
	release := make(chan struct{})
	var mu sync.Mutex
	var order []int
	piece := func(i int) func(context.Context) {
		return func(context.Context) {
			<-release
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}
	}
	if err := p.Submit("a", "t", piece(0)); err != nil {
		t.Fatalf("Submit = %v", err)
	}
	for p.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := p.Submit("b", "t", piece(1)); err != nil { // fills the queue
		t.Fatalf("Submit = %v", err)
	}
	if err := p.Submit("c", "t", piece(9)); !isShed(err, ShedFull) {
		t.Errorf("Submit on a full queue = %v, want shed %q at once", err, ShedFull)
	}
	errs := make(chan error, 3)
	for i := 2; i <= 4; i++ {
		go func() { errs <- p.Admit(context.Background(), string(rune('b'+i)), "t", piece(i)) }()
		for {
			p.mu.Lock()
			n := len(p.waiters)
			p.mu.Unlock()
			if n == i-1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("Admit = %v, want admitted once places freed", err)
		}
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatalf("Drain = %v", err)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(order, want) {
		t.Errorf("ran %v, want %v (waiters in arrival order)", order, want)
	}
}

func TestPoolAdmitGivesUp(t *testing.T) {
	var shedFull atomic.Int32
	p := NewPool(PoolConfig{Workers: 1, Queue: 1, AdmitWait: 50 * time.Millisecond, Observe: func(op, outcome string) {
		if outcome == "shed_full" {
			shedFull.Add(1)
		}
	}})
	release := make(chan struct{})
	block := func(context.Context) { <-release }
	_ = p.Submit("a", "t", block)
	for p.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = p.Submit("b", "t", block)
	start := time.Now()
	if err := p.Admit(context.Background(), "c", "t", block); !isShed(err, ShedFull) {
		t.Errorf("Admit on a queue that stays full = %v, want shed %q", err, ShedFull)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("Admit gave up after %v, want after AdmitWait (50ms)", took)
	}
	// The caller's context ends the wait too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Admit(ctx, "d", "t", block); !isShed(err, ShedFull) {
		t.Errorf("Admit with an ended context = %v, want shed %q", err, ShedFull)
	}
	// Drain refuses whoever is waiting, at once.
	errs := make(chan error, 1)
	go func() { errs <- p.Admit(context.Background(), "e", "t", block) }()
	for {
		p.mu.Lock()
		n := len(p.waiters)
		p.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	drained := make(chan error, 1)
	go func() { drained <- p.Drain(context.Background()) }()
	if err := <-errs; !isShed(err, ShedClosing) {
		t.Errorf("Admit waiting when Drain began = %v, want shed %q", err, ShedClosing)
	}
	close(release)
	if err := <-drained; err != nil {
		t.Errorf("Drain = %v", err)
	}
	if n := shedFull.Load(); n != 2 {
		t.Errorf("observed shed_full %d times, want 2", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) != 0 {
		t.Errorf("%d waiters left", len(p.waiters))
	}
}

// TestPoolWaiting counts the work waiting under one key, not the running piece and not
// other keys'.
func TestPoolWaiting(t *testing.T) {
	p := NewPool(PoolConfig{Workers: 1, Queue: 8})
	release := make(chan struct{})
	started := make(chan struct{})
	if err := p.Submit("u1", "t", func(context.Context) { close(started); <-release }); err != nil {
		t.Fatal(err)
	}
	<-started
	if n := p.Waiting("u1"); n != 0 {
		t.Errorf("Waiting with one running = %d, want 0", n)
	}
	for range 2 {
		if err := p.Submit("u1", "t", func(context.Context) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Submit("u2", "t", func(context.Context) {}); err != nil {
		t.Fatal(err)
	}
	if n := p.Waiting("u1"); n != 2 {
		t.Errorf("Waiting(u1) = %d, want 2", n)
	}
	if n := p.Waiting("u3"); n != 0 {
		t.Errorf("Waiting(u3) = %d, want 0", n)
	}
	close(release)
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := p.Waiting("u1"); n != 0 {
		t.Errorf("Waiting after drain = %d, want 0", n)
	}
}

// TestPoolReusesWorkers: a worker whose queue ran dry waits for the next work and runs it
// (no goroutine is started for it), ends after WorkerIdle with nothing to do, and Drain
// ends a waiting worker at once.
func TestPoolReusesWorkers(t *testing.T) {
	settle := func(want int) int {
		t.Helper()
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(2 * time.Second); n != want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(time.Millisecond)
		}
		return n
	}
	before := runtime.NumGoroutine()
	p := NewPool(PoolConfig{Workers: 4, WorkerIdle: 300 * time.Millisecond})
	run := func() int {
		t.Helper()
		got := make(chan int, 1)
		if err := p.Submit("u", "t", func(context.Context) { got <- runtime.NumGoroutine() }); err != nil {
			t.Fatal(err)
		}
		return <-got
	}
	if n := run(); n != before+1 {
		t.Fatalf("goroutines while the first work runs = %d, want %d", n, before+1)
	}
	if n := settle(before + 1); n != before+1 {
		t.Fatalf("goroutines after the work = %d, want %d (the worker waiting)", n, before+1)
	}
	for range 5 {
		if n := run(); n != before+1 {
			t.Fatalf("goroutines while later work runs = %d, want %d: the waiting worker runs it", n, before+1)
		}
	}
	if n := settle(before); n != before {
		t.Errorf("goroutines %v after the last work = %d, want %d (the worker ended)", 300*time.Millisecond, n, before)
	}

	// With an hour's WorkerIdle, Drain ending at all says it ended the waiting worker.
	p = NewPool(PoolConfig{Workers: 4, WorkerIdle: time.Hour})
	run()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("Drain with a waiting worker = %v, want it ended", err)
	}
	if n := settle(before); n != before {
		t.Errorf("goroutines after Drain = %d, want %d", n, before)
	}
}
