package main

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
)

// connObserver turns what the adapters report about their long-lived connections (the
// Discord gateway, Slack Socket Mode) into readiness components ("discord_gateway",
// "slack_socket") and metrics. The adapters know only bot.ConnObserver; prometheus and
// /readyz stay here.
type connObserver struct {
	ready *readiness
	now   func() time.Time

	state      *prometheus.GaugeVec   // storybot_connection_state{platform,state}
	reconnects *prometheus.CounterVec // storybot_connection_reconnects_total{platform,reason}
	sessions   *prometheus.CounterVec // storybot_connection_sessions_total{platform,kind}

	mu    sync.Mutex
	comps map[string]*component
	last  map[string]time.Time // platform → when something last arrived
}

var _ bot.ConnObserver = (*connObserver)(nil)

// connStates are the values of the state label, in bot.ConnState order.
var connStates = []bot.ConnState{bot.ConnConnecting, bot.ConnUp, bot.ConnFailed}

// connReasons are the reconnect reasons the adapters report, created at zero so that
// dashboards see them before the first reconnect. Others are counted as they come (they
// are fixed words too; see reasonLabel).
var connReasons = map[string][]string{
	"discord": {"zombie", "reconnect_requested", "invalid_session_resumable", "invalid_session", "sharding_required", "session_ended", "closed", "dropped", "dial_failed", "lookup_failed", "protocol"},
	"slack":   {"disconnect_requested", "ping_timeout", "closed", "dropped", "dial_failed", "open_failed", "rate_limited"},
}

func newConnObserver(reg prometheus.Registerer, ready *readiness, now func() time.Time) *connObserver {
	o := &connObserver{
		ready: ready, now: now, comps: map[string]*component{}, last: map[string]time.Time{},
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "storybot_connection_state",
			Help: "1 for the state a platform connection (Discord gateway, Slack Socket Mode) is in: connecting, up or failed (stopped until the configuration is fixed).",
		}, []string{"platform", "state"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_connection_reconnects_total",
			Help: "Platform connections that ended and were opened again, by reason (zombie, reconnect_requested, invalid_session, dropped, …).",
		}, []string{"platform", "reason"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_connection_sessions_total",
			Help: "Sessions begun on a platform connection: resumed (events missed meanwhile replayed) or new.",
		}, []string{"platform", "kind"}),
	}
	reg.MustRegister(o.state, o.reconnects, o.sessions, prometheus.CollectorFunc(o.collectSince))
	return o
}

// sinceDesc is storybot_connection_seconds_since_last_event, computed at each scrape.
var sinceDesc = prometheus.NewDesc("storybot_connection_seconds_since_last_event",
	"Seconds since anything (an event, a heartbeat ACK, a ping) last arrived on a platform connection; since start when nothing has yet.",
	[]string{"platform"}, nil)

func (o *connObserver) collectSince(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	for p, t := range o.last {
		ch <- prometheus.MustNewConstMetric(sinceDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), p)
	}
}

// expect registers platform's connection (before it starts): its readiness component,
// "starting" until the connection is up, and its series at zero.
func (o *connObserver) expect(platform, component string) {
	c := o.ready.component(component)
	o.mu.Lock()
	o.comps[platform] = c
	o.last[platform] = o.now()
	o.mu.Unlock()
	for _, s := range connStates {
		o.state.WithLabelValues(platform, s.String()).Set(0)
	}
	o.state.WithLabelValues(platform, bot.ConnConnecting.String()).Set(1)
	for _, r := range connReasons[platform] {
		o.reconnects.WithLabelValues(platform, r)
	}
	o.sessions.WithLabelValues(platform, "new")
	o.sessions.WithLabelValues(platform, "resumed")
}

func (o *connObserver) ConnState(platform string, s bot.ConnState, detail string) {
	platform = platformLabel(platform)
	for _, x := range connStates {
		v := 0.0
		if x == s {
			v = 1
		}
		o.state.WithLabelValues(platform, x.String()).Set(v)
	}
	o.mu.Lock()
	c := o.comps[platform]
	o.mu.Unlock()
	if c == nil {
		return
	}
	switch s {
	case bot.ConnUp:
		c.Up()
	case bot.ConnFailed:
		c.Down("stopped: " + detail)
	default:
		c.Down(detail)
	}
}

func (o *connObserver) ConnReconnect(platform, reason string) {
	o.reconnects.WithLabelValues(platformLabel(platform), reasonLabel(reason)).Inc()
}

func (o *connObserver) ConnSession(platform string, resumed bool) {
	kind := "new"
	if resumed {
		kind = "resumed"
	}
	o.sessions.WithLabelValues(platformLabel(platform), kind).Inc()
}

func (o *connObserver) ConnActivity(platform string) {
	platform = platformLabel(platform)
	now := o.now()
	o.mu.Lock()
	o.last[platform] = now
	o.mu.Unlock()
}

// platformLabel keeps the platform label to the known words.
func platformLabel(p string) string {
	switch p {
	case "slack", "discord":
		return p
	}
	return "other"
}

// reasonLabel keeps a reason a short lowercase word, so a label can never carry anything
// else (an ID, an error text).
func reasonLabel(r string) string {
	if r == "" || len(r) > 32 {
		return "other"
	}
	for _, c := range r {
		if (c < 'a' || c > 'z') && c != '_' && (c < '0' || c > '9') {
			return "other"
		}
	}
	return strings.Clone(r)
}
