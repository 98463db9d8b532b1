package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client timeouts. Every platform request must be answered within 3 s and the user told
// within 1.5 s that their answer was not saved, so no single Redis call may hold a caller
// longer than a fraction of that, whatever the server does. go-redis honours a context's
// deadline only with ContextTimeoutEnabled; without it a paused server holds a call for the
// full ReadTimeout times the retries (SPEC.md "Under load and faults", PLATFORM-NOTES.md).
const (
	DefaultDialTimeout  = 400 * time.Millisecond
	DefaultReadTimeout  = 500 * time.Millisecond
	DefaultWriteTimeout = 500 * time.Millisecond
	// DefaultPoolTimeout bounds the wait for a free connection when every one is busy
	// (a hanging server keeps them busy for a read timeout each).
	DefaultPoolTimeout = 600 * time.Millisecond
	// Commands are not retried (go-redis's MaxRetries -1): a retry after a read timeout
	// doubles the wait on a hanging server, and every turn is idempotent, so the user's own
	// "send that again" is the retry. Stale pooled connections after a Redis restart are
	// found by the pool's health check before use. Dialing is retried once, quickly.
	defaultMaxRetries   = -1
	defaultDialRetries  = 2
	defaultDialRetryGap = 50 * time.Millisecond
)

// tuneOptions sets the timeouts and retries above on opts where cfg leaves them unset.
func tuneOptions(opts *redis.UniversalOptions) {
	opts.ContextTimeoutEnabled = true
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = DefaultPoolTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = defaultMaxRetries
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = defaultDialRetries
		opts.DialerRetryTimeout = defaultDialRetryGap
	}
}

// ErrUnavailable is returned without contacting Redis while the circuit breaker is open:
// recent calls failed in a row, so the store is taken to be down or hanging for a moment.
var ErrUnavailable = errors.New("storage: redis unavailable (circuit open)")

// Breaker defaults: three failures in a row open the circuit for half a second; then one
// probe call goes through, and its success closes the circuit again.
const (
	breakerThreshold = 3
	breakerCooldown  = 500 * time.Millisecond
)

// breaker is a small circuit breaker installed as a go-redis hook. Without it, while Redis
// hangs every call of every event waits for its read timeout, so an event that makes three
// calls takes three timeouts before its user is told; with it, once a few calls in a row
// failed the others fail at once, until a probe finds the server back. Only failures that say
// the server is unreachable or silent count: Redis's own error replies and redis.Nil do not,
// nor a caller's context that was already done.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool) // may be nil; called outside the lock

	mu        sync.Mutex
	failures  int
	openUntil time.Time // zero: closed
	probing   bool      // a probe call is in flight while open
}

func newBreaker(now func() time.Time, onChange func(open bool)) *breaker {
	return &breaker{threshold: breakerThreshold, cooldown: breakerCooldown, now: now, onChange: onChange}
}

// Open reports whether the circuit is open now.
func (b *breaker) Open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero()
}

// allow reports whether a call may go to Redis, and whether it is the probe.
func (b *breaker) allow() (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true, false
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false, false
	}
	b.probing = true
	return true, true
}

// done records the outcome of a call allowed by allow.
func (b *breaker) done(ctx context.Context, probe bool, err error) {
	fail := unreachable(ctx, err)
	var changed, open bool
	b.mu.Lock()
	if probe {
		b.probing = false
	}
	switch {
	case !fail:
		if !b.openUntil.IsZero() && (probe || err == nil) {
			b.openUntil, changed = time.Time{}, true
		}
		b.failures = 0
	default:
		b.failures++
		if b.failures >= b.threshold || probe {
			changed = b.openUntil.IsZero()
			b.openUntil = b.now().Add(b.cooldown)
		}
	}
	open = !b.openUntil.IsZero()
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange(open)
	}
}

// unreachable reports whether err says that Redis could not be reached or did not answer in
// time, rather than that it answered with an error, or that the caller gave up first.
func unreachable(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, ErrUnavailable) {
		return false
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return false // the caller went away
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		// A server that is loading or failing over answers, but cannot serve.
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "CLUSTERDOWN")
	}
	var nerr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) || errors.As(err, &nerr)
}

var _ redis.Hook = (*breaker)(nil)

// DialHook implements redis.Hook; dialing is covered by the calls that need it.
func (b *breaker) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (b *breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ok, probe := b.allow()
		if !ok {
			cmd.SetErr(ErrUnavailable)
			return ErrUnavailable
		}
		err := next(ctx, cmd)
		b.done(ctx, probe, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook (pipelines and MULTI/EXEC).
func (b *breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ok, probe := b.allow()
		if !ok {
			for _, c := range cmds {
				c.SetErr(ErrUnavailable)
			}
			return ErrUnavailable
		}
		err := next(ctx, cmds)
		b.done(ctx, probe, err)
		return err
	}
}
