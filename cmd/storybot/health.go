package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReadyGrace is how long a platform connection may be down (or not yet up) before
// /readyz turns 503: reconnects after a network blip or a gateway resume take seconds, and a
// replica should not be pulled out of service for each one.
const DefaultReadyGrace = 60 * time.Second

// readiness is what /readyz reports: the store, checked live on each request, and each
// platform connection, reported by whoever owns it through a component. Every part appears in
// the body with its state and reason, so an operator can see why a replica is not ready.
type readiness struct {
	now   func() time.Time
	grace time.Duration
	up    *prometheus.GaugeVec // storybot_component_up{component}

	mu    sync.Mutex
	comps map[string]*component
}

// component is one part of readiness (a platform connection, a start-up check). Its owner
// calls Up and Down; it starts down ("starting"), since the clock for the grace period runs
// from registration.
type component struct {
	r    *readiness
	name string

	// guarded by r.mu
	ok     bool
	reason string
	since  time.Time // when ok last changed
}

func newReadiness(reg prometheus.Registerer, now func() time.Time, grace time.Duration) *readiness {
	if grace <= 0 {
		grace = DefaultReadyGrace
	}
	r := &readiness{
		now:   now,
		grace: grace,
		comps: map[string]*component{},
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "storybot_component_up",
			Help: "1 when a component /readyz reports (store, slack, slack_socket, discord, discord_gateway, …) is up, else 0.",
		}, []string{"component"}),
	}
	if reg != nil {
		reg.MustRegister(r.up)
	}
	return r
}

// component registers (or returns the registered) part called name, for example "slack" or
// "discord_gateway". Names are fixed words: they become a metric label.
func (r *readiness) component(name string) *component {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.comps[name]; ok {
		return c
	}
	c := &component{r: r, name: name, reason: "starting", since: r.now()}
	r.comps[name] = c
	r.up.WithLabelValues(name).Set(0)
	return c
}

// Up marks the component up.
func (c *component) Up() { c.set(true, "") }

// Down marks the component down with a short reason for the /readyz body: never a token or
// anything a user wrote.
func (c *component) Down(reason string) { c.set(false, reason) }

// Set is Up or Down in one call, for adapters that report through a callback.
func (c *component) Set(ok bool, reason string) { c.set(ok, reason) }

func (c *component) set(ok bool, reason string) {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok != c.ok {
		c.since = r.now()
	}
	c.ok, c.reason = ok, reason
	v := 0.0
	if ok {
		v = 1
	}
	r.up.WithLabelValues(c.name).Set(v)
}

type componentStatus struct {
	name   string
	ok     bool // counted as ready (up, or down within the grace period)
	line   string
	failed bool // down past the grace period
}

// statuses reports every component, sorted by name.
func (r *readiness) statuses() []componentStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []componentStatus
	for _, c := range r.comps {
		s := componentStatus{name: c.name, ok: true}
		switch {
		case c.ok:
			s.line = c.name + ": ok"
		default:
			d := now.Sub(c.since)
			s.failed = d >= r.grace
			d = d.Truncate(time.Second)
			s.ok = !s.failed
			state := "down"
			if !s.failed {
				state = "down (within the " + r.grace.String() + " grace period)"
			}
			s.line = fmt.Sprintf("%s: %s for %s: %s", c.name, state, d, c.reason)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// pingStore pings the store and records the answer in storybot_component_up{store}.
func (r *readiness) pingStore(ctx context.Context, ping func(context.Context) error) error {
	err := ping(ctx)
	v := 1.0
	if err != nil {
		v = 0
	}
	r.up.WithLabelValues("store").Set(v)
	return err
}

// metricsHandler serves next (the /metrics handler) after refreshing the store's state, so
// that storybot_component_up{store} is current on every scrape, probed or not.
func (r *readiness) metricsHandler(ping func(context.Context) error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 500*time.Millisecond)
		_ = r.pingStore(ctx, ping)
		cancel()
		next.ServeHTTP(w, req)
	})
}

// handler serves /readyz: 200 when the store answers and no component has been down past
// the grace period, else 503; the body has one line per part either way.
func (r *readiness) handler(ping func(context.Context) error, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		var b strings.Builder
		ready := true
		if err := r.pingStore(ctx, ping); err != nil {
			ready = false
			logger.Warn("readiness: store does not answer", "err", err)
			fmt.Fprintf(&b, "store: down: %v\n", err)
		} else {
			b.WriteString("store: ok\n")
		}
		for _, s := range r.statuses() {
			if !s.ok {
				ready = false
			}
			b.WriteString(s.line + "\n")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready\n"+b.String())
			return
		}
		io.WriteString(w, "ready\n"+b.String())
	}
}
