package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
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
	// AdmitWait bounds how long Admit waits for a place in a full queue before it refuses
	// the work. A closed-loop sender (Slack redelivering, a user typing) whose
	// acknowledgement waits a moment slows down to what the workers get through, instead
	// of being refused; a slot frees every few milliseconds while the workers keep up, so
	// the wait is long only when the bot really is saturated. Default 500 ms: well inside
	// the platforms' 3 s, after the dedupe check's own budget.
	AdmitWait time.Duration
	// WorkerIdle is how long a worker with nothing to do waits for more before it ends.
	// A goroutine started for each burst of work began on a small stack that the turn
	// then grew by copying, several times (about 4% of the CPU of a DM answer); a worker
	// kept for the next event has its stack grown already. Waiting workers count against
	// Workers, and Drain ends them. Default 2 s.
	WorkerIdle time.Duration
	Logger     *slog.Logger
	// Observe, if set, is called with the work's op and "admitted" or "shed_<reason>"
	// (metrics). It must not block.
	Observe func(op, outcome string)
}

// Pool runs admitted work on a bounded number of goroutines. Work submitted under one key
// runs one piece at a time, in the order it was admitted; different keys take turns, so a
// user with many pieces does not hold up others. A goroutine whose queue is empty waits
// up to WorkerIdle for more work before it ends, and Drain ends the waiting ones and waits
// for all. It is safe for concurrent use.
type Pool struct {
	cfg    PoolConfig
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	keys    map[string]*keyQueue
	ready   []*keyQueue     // keys with waiting work and none running, in turn order
	depth   int             // admitted, not started
	running int             // worker goroutines, parked ones included
	parked  []chan struct{} // workers waiting for work, each woken by a send on its channel
	active  int             // pieces of work running
	closing bool
	idle    chan struct{} // closed once closing and nothing is left
	anon    uint64        // names work submitted without a key
	waiters []*waiter     // Admit calls waiting for a place in the queue, oldest first
	free    []*keyQueue   // emptied queues, for reuse (see enqueue)
}

// waiter is an Admit call waiting for a place in a full queue. The pool admits its work
// when a place frees (or refuses it) and sends the outcome on done, so a place is handed
// over in arrival order and never taken by a later arrival.
type waiter struct {
	key  string
	t    task
	done chan error // buffered: the pool never blocks on it
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
	if cfg.AdmitWait <= 0 {
		cfg.AdmitWait = 500 * time.Millisecond
	}
	if cfg.WorkerIdle <= 0 {
		cfg.WorkerIdle = 2 * time.Second
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
	return p.admit(context.Background(), 0, key, op, fn)
}

// Admit is Submit, except that when the queue is full it waits for a place, at most
// AdmitWait and not past ctx, before it refuses the work (ShedFull). Waiting callers are
// admitted in arrival order. A user over PerUser, or a draining pool, is refused at once.
func (p *Pool) Admit(ctx context.Context, key, op string, fn func(ctx context.Context)) error {
	return p.admit(ctx, p.cfg.AdmitWait, key, op, fn)
}

func (p *Pool) admit(ctx context.Context, wait time.Duration, key, op string, fn func(ctx context.Context)) error {
	p.mu.Lock()
	if key == "" {
		p.anon++
		key = "\x00" + strconv.FormatUint(p.anon, 36)
	}
	reason := p.refusal(key)
	// Full, or others already waiting (a place that frees is theirs): wait, if allowed.
	if reason == "" && (p.depth >= p.cfg.Queue || len(p.waiters) > 0) {
		if wait <= 0 {
			reason = ShedFull
		} else {
			w := &waiter{key: key, t: task{op: op, fn: fn}, done: make(chan error, 1)}
			p.waiters = append(p.waiters, w)
			p.mu.Unlock()
			return p.await(ctx, wait, w)
		}
	}
	if reason != "" {
		p.mu.Unlock()
		p.observe(op, "shed_"+reason)
		return &ShedError{Reason: reason}
	}
	start := p.enqueue(key, task{op: op, fn: fn})
	p.mu.Unlock()
	p.observe(op, "admitted")
	if start {
		go p.work()
	}
	return nil
}

// refusal returns why work under key must be refused at once ("" if it need not); the
// caller holds p.mu.
func (p *Pool) refusal(key string) string {
	if p.closing {
		return ShedClosing
	}
	if q := p.keys[key]; q != nil && len(q.tasks)+b2i(q.running) >= p.cfg.PerUser {
		return ShedUser
	}
	return ""
}

// enqueue adds t under key and reports whether a worker goroutine must be started for it
// (p.running already counts it); a parked worker, if there is one, is woken instead. The
// caller holds p.mu and has checked the bounds.
func (p *Pool) enqueue(key string, t task) bool {
	q := p.keys[key]
	if q == nil {
		// Most users have one piece of work at a time, so nearly every piece made a queue
		// and its task slice, garbage a moment later: emptied queues are reused instead.
		if n := len(p.free); n > 0 {
			q = p.free[n-1]
			p.free[n-1] = nil
			p.free = p.free[:n-1]
			q.key = key
		} else {
			q = &keyQueue{key: key}
		}
		p.keys[key] = q
	}
	q.tasks = append(q.tasks, t)
	p.depth++
	if !q.running && len(q.tasks) == 1 {
		p.ready = append(p.ready, q)
	}
	if len(p.ready) > 0 && p.wakeOne() {
		return false
	}
	if p.running < p.cfg.Workers && len(p.ready) > 0 {
		p.running++
		return true
	}
	return false
}

// await waits until w is admitted or refused by handOver, or until wait or ctx ends.
func (p *Pool) await(ctx context.Context, wait time.Duration, w *waiter) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	var err error
	decided := false
	select {
	case err = <-w.done:
		decided = true
	case <-t.C:
	case <-ctx.Done():
	}
	if !decided {
		// Timed out (or the caller gave up): leave the line, unless handOver decided
		// meanwhile; then its decision stands.
		p.mu.Lock()
		if i := slices.Index(p.waiters, w); i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
			p.mu.Unlock()
			err = &ShedError{Reason: ShedFull}
		} else {
			p.mu.Unlock()
			err = <-w.done
		}
	}
	if err != nil {
		var se *ShedError
		if errors.As(err, &se) {
			p.observe(w.t.op, "shed_"+se.Reason)
		}
		return err
	}
	p.observe(w.t.op, "admitted")
	return nil
}

// handOver admits waiting work, oldest first, while the queue has room, and refuses it
// all when the pool is closing; the caller holds p.mu.
func (p *Pool) handOver() {
	for len(p.waiters) > 0 && (p.closing || p.depth < p.cfg.Queue) {
		w := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		if reason := p.refusal(w.key); reason != "" {
			w.done <- &ShedError{Reason: reason}
			continue
		}
		if p.enqueue(w.key, w.t) {
			go p.work()
		}
		w.done <- nil
	}
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

// wakeOne wakes a parked worker and reports whether there was one; the caller holds p.mu.
func (p *Pool) wakeOne() bool {
	n := len(p.parked)
	if n == 0 {
		return false
	}
	w := p.parked[n-1] // the most recently parked: its stack is the warmest
	p.parked[n-1] = nil
	p.parked = p.parked[:n-1]
	w <- struct{}{} // buffered, and only sent to while parked: never blocks
	return true
}

// work runs ready work until there is none, then waits up to WorkerIdle for more (see
// PoolConfig.WorkerIdle) unless the pool is draining.
func (p *Pool) work() {
	var wake chan struct{}
	var idle *time.Timer
	p.mu.Lock()
	for {
		p.runReady()
		if p.closing {
			break
		}
		if wake == nil {
			wake, idle = make(chan struct{}, 1), time.NewTimer(p.cfg.WorkerIdle)
		} else {
			idle.Reset(p.cfg.WorkerIdle)
		}
		p.parked = append(p.parked, wake)
		p.mu.Unlock()
		select {
		case <-wake:
			idle.Stop()
			p.mu.Lock()
			continue // work is ready, or the pool is draining
		case <-idle.C:
		}
		p.mu.Lock()
		if i := slices.Index(p.parked, wake); i >= 0 {
			p.parked = slices.Delete(p.parked, i, i+1)
			break // nobody woke it: the worker ends
		}
		<-wake // woken just as the wait ended: the send is there, and so is the work
	}
	p.running--
	if p.closing && p.running == 0 && p.depth == 0 {
		p.closeIdle()
	}
	p.mu.Unlock()
}

// runReady runs ready work until there is none; the caller holds p.mu, which is released
// while each piece runs.
func (p *Pool) runReady() {
	for len(p.ready) > 0 {
		// Taken from the front by moving the rest down, not by slicing the front off, so
		// the slices keep their room and append seldom allocates (both are short).
		q := p.ready[0]
		p.ready = popFront(p.ready)
		t := q.tasks[0]
		q.tasks = popFront(q.tasks)
		q.running = true
		p.depth--
		p.active++
		p.handOver()
		p.mu.Unlock()

		p.run(t)

		p.mu.Lock()
		p.active--
		q.running = false
		if len(q.tasks) > 0 {
			p.ready = append(p.ready, q) // to the back: other keys take their turn first
		} else {
			delete(p.keys, q.key)
			if len(p.free) < maxFreeQueues {
				q.key = ""
				p.free = append(p.free, q)
			}
		}
	}
}

// maxFreeQueues bounds the emptied queues a Pool keeps for reuse: about as many as run at
// once.
const maxFreeQueues = 64

// popFront removes s's first element, moving the rest down, and clears the freed place.
func popFront[T any](s []T) []T {
	n := copy(s, s[1:])
	var zero T
	s[n] = zero
	return s[:n]
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

// Waiting returns how many pieces of work under key are admitted (or waiting for a place)
// and not yet started. A user with work waiting is sending faster than it is handled: the
// Slack outbox paces that user's replies and merges them.
func (p *Pool) Waiting(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	if q := p.keys[key]; q != nil {
		n = len(q.tasks)
	}
	for _, w := range p.waiters {
		if w.key == key {
			n++
		}
	}
	return n
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
	p.handOver() // refuses everyone waiting
	for p.wakeOne() {
		// Parked workers see the pool closing and end once nothing is left.
	}
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
