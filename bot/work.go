package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Work admission. SPEC.md: acknowledged means done. An adapter acknowledges a platform
// request only after the work behind it was admitted into a Pool; when the pool is full it
// answers honestly in the HTTP response itself (busy, or a non-2xx so the platform sends the
// event again later) instead of queueing without limit.

// Shed reasons, for ShedError and metrics.
const (
	ShedFull    = "full"    // the pool's queue is full
	ShedUser    = "user"    // this user already has PerUser pieces of work waiting
	ShedClosing = "closing" // the pool is draining for shutdown
)

// ShedError is returned by Pool.Submit when work was refused; nothing of it ran.
type ShedError struct{ Reason string }

func (e *ShedError) Error() string { return "bot: work refused: " + e.Reason }

// IsShed reports whether err is a ShedError.
func IsShed(err error) bool {
	var se *ShedError
	return errors.As(err, &se)
}

// PoolConfig configures a Pool. Zero values take the defaults below.
type PoolConfig struct {
	// Workers bounds the work running at once. Default: 10 per CPU (GOMAXPROCS), the size
	// of go-redis's default connection pool, so no worker waits for a Redis connection.
	Workers int
	// Queue bounds the work admitted but not started. Default: 64 per CPU — what the
	// workers get through in well under a second, so the bot stops working soon after
	// load stops and no admitted work waits long.
	Queue int
	// PerUser bounds the work of one key (user) waiting or running, so one user's burst
	// cannot fill the queue. Default 16.
	PerUser int
	// WorkTimeout bounds one piece of work; it counts from when the work starts, not from
	// its admission. Default 10 s.
	WorkTimeout time.Duration
	Logger      *slog.Logger
	// Observe, if set, is called with the work's op and "admitted" or "shed_<reason>"
	// (metrics). It must not block.
	Observe func(op, outcome string)
}

// Pool runs admitted work on a bounded number of goroutines. Work submitted under one key
// runs one piece at a time, in the order it was admitted; different keys take turns, so a
// user with many pieces does not hold up others. Every goroutine it starts ends when its
// queue is empty, and Drain waits for them. It is safe for concurrent use.
type Pool struct {
	cfg    PoolConfig
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	keys    map[string]*keyQueue
	ready   []*keyQueue // keys with waiting work and none running, in turn order
	depth   int         // admitted, not started
	running int         // worker goroutines
	active  int         // pieces of work running
	closing bool
	idle    chan struct{} // closed once closing and nothing is left
	anon    uint64        // names work submitted without a key
}

type keyQueue struct {
	key     string
	tasks   []task
	running bool
}

type task struct {
	op string
	fn func(context.Context)
}

// NewPool returns a pool; it starts goroutines only when work arrives.
func NewPool(cfg PoolConfig) *Pool {
	procs := runtime.GOMAXPROCS(0)
	if cfg.Workers <= 0 {
		cfg.Workers = 10 * procs
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64 * procs
	}
	if cfg.PerUser <= 0 {
		cfg.PerUser = 16
	}
	if cfg.WorkTimeout <= 0 {
		cfg.WorkTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Pool{cfg: cfg, base: base, cancel: cancel, keys: map[string]*keyQueue{}, idle: make(chan struct{})}
}

// Submit admits fn under key, or refuses it at once with a *ShedError. An empty key means
// the work needs no ordering with any other. fn gets a context that ends after WorkTimeout
// from when fn starts, or when Drain gives up waiting.
func (p *Pool) Submit(key, op string, fn func(ctx context.Context)) error {
	p.mu.Lock()
	reason := ""
	switch {
	case p.closing:
		reason = ShedClosing
	case p.depth >= p.cfg.Queue:
		reason = ShedFull
	}
	if key == "" {
		p.anon++
		key = "\x00" + strconv.FormatUint(p.anon, 36)
	}
	q := p.keys[key]
	if reason == "" && q != nil && len(q.tasks)+b2i(q.running) >= p.cfg.PerUser {
		reason = ShedUser
	}
	if reason != "" {
		p.mu.Unlock()
		p.observe(op, "shed_"+reason)
		return &ShedError{Reason: reason}
	}
	if q == nil {
		q = &keyQueue{key: key}
		p.keys[key] = q
	}
	q.tasks = append(q.tasks, task{op: op, fn: fn})
	p.depth++
	if !q.running && len(q.tasks) == 1 {
		p.ready = append(p.ready, q)
	}
	start := p.running < p.cfg.Workers && len(p.ready) > 0
	if start {
		p.running++
	}
	p.mu.Unlock()
	p.observe(op, "admitted")
	if start {
		go p.work()
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *Pool) observe(op, outcome string) {
	if p.cfg.Observe != nil {
		p.cfg.Observe(op, outcome)
	}
}

// work runs ready work until there is none.
func (p *Pool) work() {
	p.mu.Lock()
	for len(p.ready) > 0 {
		q := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		t := q.tasks[0]
		q.tasks[0] = task{}
		q.tasks = q.tasks[1:]
		q.running = true
		p.depth--
		p.active++
		p.mu.Unlock()

		p.run(t)

		p.mu.Lock()
		p.active--
		q.running = false
		if len(q.tasks) > 0 {
			p.ready = append(p.ready, q) // to the back: other keys take their turn first
		} else {
			delete(p.keys, q.key)
		}
	}
	p.running--
	if p.closing && p.running == 0 && p.depth == 0 {
		p.closeIdle()
	}
	p.mu.Unlock()
}

func (p *Pool) run(t task) {
	ctx, cancel := context.WithTimeout(p.base, p.cfg.WorkTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			// One broken event must not take every user's work down with it.
			p.cfg.Logger.Error("work panicked", "op", t.op, "panic", fmt.Sprint(r))
		}
	}()
	t.fn(ctx)
}

func (p *Pool) closeIdle() {
	select {
	case <-p.idle:
	default:
		close(p.idle)
	}
}

// Depth returns how many pieces of work are admitted and not yet started.
func (p *Pool) Depth() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.depth
}

// Active returns how many pieces of work are running.
func (p *Pool) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active
}

// Drain refuses new work (ShedClosing) and waits until all admitted work has run. When ctx
// ends first, the contexts of the work still running or waiting are cancelled, so it ends
// quickly, and Drain returns once it has.
func (p *Pool) Drain(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	if p.running == 0 && p.depth == 0 {
		p.closeIdle()
	}
	p.mu.Unlock()
	select {
	case <-p.idle:
		p.cancel()
		return nil
	case <-ctx.Done():
	}
	p.cancel()
	<-p.idle
	return fmt.Errorf("bot: drain: cancelled unfinished work: %w", ctx.Err())
}

// Quiet waits until no admitted work is waiting or running (for tests and benchmarks), or
// ctx ends. Unlike Drain it keeps admitting work.
func (p *Pool) Quiet(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		p.mu.Lock()
		quiet := p.depth == 0 && p.active == 0
		p.mu.Unlock()
		if quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
