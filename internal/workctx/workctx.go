// Package workctx gives benchmarks the context a turn's work has in production.
package workctx

import (
	"context"
	"time"
)

// Renewing is a context with a deadline 10 s away (bot.PoolConfig.WorkTimeout's default,
// under the Slack HTTP client's 15 s Timeout), made again before it runs out, so that a
// benchmark's calls carry a deadline as a turn's do and a long run never reaches it. The
// zero value is ready; Stop releases the last context.
type Renewing struct {
	ctx    context.Context
	cancel context.CancelFunc
	end    time.Time
}

// Get returns the current context, made again when less than 5 s of it are left.
func (w *Renewing) Get() context.Context {
	if time.Until(w.end) < 5*time.Second {
		w.Stop()
		w.ctx, w.cancel = context.WithTimeout(context.Background(), 10*time.Second)
		w.end = time.Now().Add(10 * time.Second)
	}
	return w.ctx
}

// Stop releases the current context.
func (w *Renewing) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
}
