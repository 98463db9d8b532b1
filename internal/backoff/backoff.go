// Package backoff computes the pauses between reconnection attempts of the platform
// connections (the Discord gateway, Slack Socket Mode): exponential, capped, and jittered
// so that several replicas that lost their connections together do not come back in step.
package backoff

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Policy is an exponential backoff with "equal jitter": the n-th consecutive failure waits
// a random time in [d/2, d), where d = Min·2^(n-1), capped at Max. Half the pause is
// certain, so the platforms see a real slowdown; half is random, so replicas spread out.
type Policy struct {
	Min, Max time.Duration

	mu  sync.Mutex
	rnd *rand.Rand // nil: the global source
}

// Seeded returns p drawing its jitter from a deterministic source (for tests).
func Seeded(min, max time.Duration, seed uint64) *Policy {
	return &Policy{Min: min, Max: max, rnd: rand.New(rand.NewPCG(seed, seed))}
}

// Delay is the pause before the attempt that follows failures consecutive failures.
// No failure yet means no pause: a healthy connection that was lost is retried at once.
func (p *Policy) Delay(failures int) time.Duration {
	if failures <= 0 || p.Min <= 0 {
		return 0
	}
	d := p.Min
	for i := 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	half := d / 2
	return half + time.Duration(p.float()*float64(d-half))
}

// Between returns a random duration in [lo, hi), e.g. the 1–5 s Discord asks for before
// identifying again after an invalid session.
func (p *Policy) Between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(p.float()*float64(hi-lo))
}

// Fraction returns a random number in [0, 1), e.g. Discord's heartbeat jitter.
func (p *Policy) Fraction() float64 { return p.float() }

func (p *Policy) float() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rnd == nil {
		return rand.Float64()
	}
	return p.rnd.Float64()
}

// Sleep waits d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
