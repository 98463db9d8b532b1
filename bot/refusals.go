package bot

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Refusals records inbound requests an adapter refused (bad signature, malformed payload,
// too large). Every refusal is counted through the count hook (a metric); the log gets at
// most one line a minute per reason, saying how many were refused since the last line, so a
// flood of bad requests cannot flood the log. Nothing of the request is logged but its path.
type Refusals struct {
	log   *slog.Logger
	now   func() time.Time
	count func(reason string)

	mu     sync.Mutex
	last   map[string]time.Time // reason -> when it was last logged
	missed map[string]int       // reason -> refusals not logged since
}

// RefusalLogEvery is how often one reason may be logged.
const RefusalLogEvery = time.Minute

// NewRefusals returns a recorder; count and now may be nil.
func NewRefusals(log *slog.Logger, now func() time.Time, count func(reason string)) *Refusals {
	if now == nil {
		now = time.Now
	}
	return &Refusals{log: log, now: now, count: count, last: map[string]time.Time{}, missed: map[string]int{}}
}

// Refuse records one refusal of a request to path for reason (a short fixed phrase).
func (r *Refusals) Refuse(ctx context.Context, path, reason string) {
	if r == nil {
		return
	}
	if r.count != nil {
		r.count(reason)
	}
	now := r.now()
	r.mu.Lock()
	last, seen := r.last[reason]
	if seen && now.Sub(last) < RefusalLogEvery {
		r.missed[reason]++
		r.mu.Unlock()
		return
	}
	n := r.missed[reason] + 1
	r.last[reason], r.missed[reason] = now, 0
	r.mu.Unlock()
	if r.log != nil {
		r.log.WarnContext(ctx, "request refused", "reason", reason, "path", path, "count", n)
	}
}
