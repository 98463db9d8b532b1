package engine

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Metrics counts what the engine does. Labels hold only fixed vocabularies (platform,
// event kind, reply kind, operation): never an ID or anything a user typed.
// A nil *Metrics is valid and records nothing.
type Metrics struct {
	events        *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	replies       *prometheus.CounterVec
	storeErrors   *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	dmFallbacks   prometheus.Counter
	sendErrors    *prometheus.CounterVec
	deliveryFails *prometheus.CounterVec
	lostInbound   *prometheus.CounterVec
	safetyReplies *prometheus.CounterVec
	work          *prometheus.CounterVec
	inRefused     *prometheus.CounterVec
	followups     *prometheus.CounterVec
	answers       *prometheus.CounterVec
	sched         *schedMetrics

	// The series every DM answer touches, looked up once (preinit): WithLabelValues
	// hashes and checks its label values on every call. Indexed by hotPlatform,
	// hotKind and hotOp; the pool's outcomes as hotOutcomes.
	hotEvents   [len(preinitPlatforms)][len(preinitKinds)]prometheus.Counter
	hotDuration [len(preinitPlatforms)][len(preinitKinds)]prometheus.Observer
	hotReplies  [flows.ReplyCrisis + 1]prometheus.Counter
	hotWork     [len(hotOps)][len(hotOutcomes)]prometheus.Counter
}

// hotOps and hotOutcomes are the pool's ops and outcomes created at start (preinit).
var (
	hotOps      = [...]string{"command", "interaction", "message"}
	hotOutcomes = [...]string{"admitted", "shed_full", "shed_user", "shed_closing"}
)

// hotPlatform is p's index in preinitPlatforms, -1 when it has none.
func hotPlatform(p string) int {
	switch p {
	case "slack":
		return 0
	case "discord":
		return 1
	case "console":
		return 2
	}
	return -1
}

// hotKind is k's index in preinitKinds, -1 when it has none.
func hotKind(k bot.EventKind) int {
	switch k {
	case bot.EventCommand:
		return 0
	case bot.EventText:
		return 1
	case bot.EventChoice:
		return 2
	}
	return -1
}

// hotIndex is s's index in list, -1 when it is not there.
func hotIndex(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// NewMetrics creates the engine's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_events_total", Help: "Inbound events by platform and kind.",
		}, []string{"platform", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "storybot_event_duration_seconds", Help: "Time to handle one event, replies included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"platform", "kind"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_replies_total", Help: "Replies produced by kind.",
		}, []string{"kind"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_store_errors_total", Help: "Store operations that failed.",
		}, []string{"op"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_outbound_refused_total", Help: "Messages the privacy guard refused.",
		}, []string{"reason"}),
		inRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_inbound_refused_total", Help: "Inbound requests an adapter refused (bad signature, malformed, too large), by platform and reason.",
		}, []string{"platform", "reason"}),
		followups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_followups_total", Help: "Follow-ups (check-backs on a next step) by event: scheduled, sent, cancelled, dropped.",
		}, []string{"event"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_followup_answers_total", Help: "Follow-up answers by outcome: done, not_yet, changed_mind.",
		}, []string{"outcome"}),
	}
	m.dmFallbacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "storybot_dm_fallbacks_total", Help: "Events answered in place because the user's DM could not be opened.",
	})
	m.sendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storybot_send_errors_total", Help: "Replies the platform did not take (refused token, API error, timeout), by platform: platform trouble, not store trouble.",
	}, []string{"platform"})
	m.deliveryFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storybot_delivery_failures_total",
		Help: "Messages finally not delivered, by platform and reason (timeout, api_error, rate_limited, shutdown, user_gone, refused, no_dm, error): sent at once and refused, or given up after waiting in a rate-limit queue.",
	}, []string{"platform", "reason"})
	m.lostInbound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storybot_inbound_lost_total",
		Help: "User messages the platform stopped redelivering after the bot refused its last delivery (saturated); the user is told to send again.",
	}, []string{"platform"})
	m.safetyReplies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storybot_safety_replies_total",
		Help: "Safety replies by event: crisis (clear crisis language), check (the check question, ambiguous language), check-yes, check-no, check-private, sos. No ids, no text.",
	}, []string{"event"})
	m.work = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storybot_work_total", Help: "Work after an acknowledgement, by op and outcome (admitted, shed_full, shed_user, shed_closing).",
	}, []string{"op", "outcome"})
	reg.MustRegister(m.events, m.duration, m.replies, m.storeErrors, m.refusals, m.dmFallbacks, m.sendErrors, m.deliveryFails, m.lostInbound, m.safetyReplies, m.inRefused, m.work, m.followups, m.answers)
	m.sched = newSchedMetrics(reg)
	m.preinit()
	return m
}

// Label values created at start with zero, so that dashboards, rate() and alerts see every
// series before the first event rather than a gap. Other values still appear when first used.
var (
	preinitPlatforms = [...]string{"slack", "discord", "console"}                           // as hotPlatform
	preinitKinds     = [...]bot.EventKind{bot.EventCommand, bot.EventText, bot.EventChoice} // as hotKind
	preinitStoreOps  = []string{"turn", "welcome", "profile", "history", "schedule", "export", "forget", "coaching", "practice"}
	preinitOutcomes  = []string{"sent", "dropped_late", "skipped_busy", "held", "held_busy", "rate_limited", "failed", "already_sent", "reaped", "dropped_unavailable"}
	preinitFollowups = []string{"scheduled", "sent", "cancelled", "dropped"}
)

func (m *Metrics) preinit() {
	for i, p := range preinitPlatforms {
		for j, k := range preinitKinds {
			m.hotEvents[i][j] = m.events.WithLabelValues(p, eventKindLabel(k))
			m.hotDuration[i][j] = m.duration.WithLabelValues(p, eventKindLabel(k))
		}
	}
	for k, label := range replyKindLabels {
		c := m.replies.WithLabelValues(label)
		if k >= 0 && int(k) < len(m.hotReplies) {
			m.hotReplies[k] = c
		}
	}
	for _, p := range preinitPlatforms {
		m.sendErrors.WithLabelValues(p)
		m.lostInbound.WithLabelValues(p)
		for _, r := range deliveryReasons {
			m.deliveryFails.WithLabelValues(p, r)
		}
	}
	// The admission pool's ops as the adapters name them (bot.Pool.Submit) and its outcomes.
	for i, op := range hotOps {
		for j, o := range hotOutcomes {
			m.hotWork[i][j] = m.work.WithLabelValues(op, o)
		}
	}
	// The one refusal an alert watches for: a message aimed at a shared channel.
	m.refusals.WithLabelValues("shared channel")
	for _, ev := range preinitFollowups {
		m.followups.WithLabelValues(ev)
	}
	for _, o := range []string{flows.OutcomeDone, flows.OutcomeNotYet, flows.OutcomeChangedMind} {
		m.answers.WithLabelValues(o)
	}
	for _, op := range preinitStoreOps {
		m.storeErrors.WithLabelValues(op)
	}
	for _, o := range preinitOutcomes {
		m.sched.outcomes.WithLabelValues(o)
	}
	for _, k := range bot.JobKinds {
		m.sched.late.WithLabelValues(k.String())
	}
	for ev := flows.SafetyEventCrisis; ev <= flows.SafetyEventSOS; ev++ {
		m.safetyReplies.WithLabelValues(ev.String())
	}
}

func eventKindLabel(k bot.EventKind) string {
	switch k {
	case bot.EventCommand:
		return "command"
	case bot.EventText:
		return "text"
	case bot.EventChoice:
		return "choice"
	case bot.EventForm:
		return "form"
	case bot.EventHome:
		return "home"
	}
	return "other"
}

var replyKindLabels = map[flows.ReplyKind]string{
	flows.ReplyPrompt: "prompt", flows.ReplyInfo: "info", flows.ReplySummary: "summary",
	flows.ReplyProblem: "problem", flows.ReplyCrisis: "crisis",
}

func platformLabel(p string) string {
	switch p {
	case "slack", "discord", "console":
		return p
	}
	return "other"
}

func (m *Metrics) event(ev bot.Event) {
	if m == nil {
		return
	}
	if i, j := hotPlatform(ev.User.Platform), hotKind(ev.Kind); i >= 0 && j >= 0 && m.hotEvents[i][j] != nil {
		m.hotEvents[i][j].Inc()
		return
	}
	m.events.WithLabelValues(platformLabel(ev.User.Platform), eventKindLabel(ev.Kind)).Inc()
}

func (m *Metrics) handled(ev bot.Event, start time.Time, now func() time.Time) {
	if m == nil {
		return
	}
	d := now().Sub(start).Seconds()
	if i, j := hotPlatform(ev.User.Platform), hotKind(ev.Kind); i >= 0 && j >= 0 && m.hotDuration[i][j] != nil {
		m.hotDuration[i][j].Observe(d)
		return
	}
	m.duration.WithLabelValues(platformLabel(ev.User.Platform), eventKindLabel(ev.Kind)).Observe(d)
}

func (m *Metrics) reply(k flows.ReplyKind) {
	if m == nil {
		return
	}
	if k >= 0 && int(k) < len(m.hotReplies) && m.hotReplies[k] != nil {
		m.hotReplies[k].Inc()
		return
	}
	label, ok := replyKindLabels[k]
	if !ok {
		label = "kind" + strconv.Itoa(int(k))
	}
	m.replies.WithLabelValues(label).Inc()
}

func (m *Metrics) followup(event string) {
	if m == nil || m.followups == nil {
		return
	}
	m.followups.WithLabelValues(event).Inc()
}

func (m *Metrics) followupAnswered(outcome string) {
	if m == nil || m.answers == nil {
		return
	}
	switch outcome {
	case flows.OutcomeDone, flows.OutcomeNotYet, flows.OutcomeChangedMind:
	default:
		outcome = "other" // a fixed vocabulary only
	}
	m.answers.WithLabelValues(outcome).Inc()
}

func (m *Metrics) storeError(op string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(op).Inc()
}

func (m *Metrics) sendError(platform string) {
	if m == nil {
		return
	}
	m.sendErrors.WithLabelValues(platformLabel(platform)).Inc()
}

// deliveryReasons are the reasons a delivery failure is counted under.
var deliveryReasons = []string{"timeout", "api_error", "rate_limited", "shutdown", "user_gone", "refused", "no_dm", "error"}

func (m *Metrics) deliveryFailed(platform, reason string) {
	if m == nil || m.deliveryFails == nil {
		return
	}
	known := false
	for _, r := range deliveryReasons {
		known = known || r == reason
	}
	if !known {
		reason = "error" // a fixed vocabulary only
	}
	m.deliveryFails.WithLabelValues(platformLabel(platform), reason).Inc()
}

func (m *Metrics) messageLost(platform string) {
	if m == nil || m.lostInbound == nil {
		return
	}
	m.lostInbound.WithLabelValues(platformLabel(platform)).Inc()
}

func (m *Metrics) dmFallback() {
	if m == nil {
		return
	}
	m.dmFallbacks.Inc()
}

func (m *Metrics) refused(reason string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(reason).Inc()
}

// InboundRefused returns the hook an adapter calls for each request it refused, counting
// it under platform and the refusal's reason (a fixed phrase, never request content).
func (m *Metrics) InboundRefused(platform string) func(reason string) {
	return func(reason string) {
		if m == nil || m.inRefused == nil {
			return
		}
		m.inRefused.WithLabelValues(platformLabel(platform), reason).Inc()
	}
}

// schedMetrics are the scheduler's counters, created on first use of a Metrics made by
// NewMetrics (see scheduled).
type schedMetrics struct {
	outcomes *prometheus.CounterVec
	late     *prometheus.HistogramVec
}

func newSchedMetrics(reg prometheus.Registerer) *schedMetrics {
	m := &schedMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_scheduled_total", Help: "Scheduled jobs handled, by outcome (sent, dropped_late, skipped_busy, held, rate_limited, failed, already_sent, reaped, dropped_unavailable).",
		}, []string{"outcome"}),
		late: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "storybot_scheduled_lateness_seconds", Help: "Delivery time minus due time of scheduled messages.",
			Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 300, 900, 3600},
		}, []string{"kind"}),
	}
	reg.MustRegister(m.outcomes, m.late)
	return m
}

func (m *Metrics) scheduled(outcome string, n int) {
	if m == nil || m.sched == nil {
		return
	}
	m.sched.outcomes.WithLabelValues(outcome).Add(float64(n))
}

func (m *Metrics) lateness(k bot.JobKind, d time.Duration) {
	if m == nil || m.sched == nil {
		return
	}
	m.sched.late.WithLabelValues(k.String()).Observe(d.Seconds())
}

// safety counts one safety reply by its event; other replies are not counted here.
func (m *Metrics) safety(ev flows.SafetyEvent) {
	if m == nil || ev == flows.SafetyEventNone {
		return
	}
	m.safetyReplies.WithLabelValues(ev.String()).Inc()
}

// Admission counts one admission decision of a bot.Pool (its PoolConfig.Observe).
func (m *Metrics) Admission(op, outcome string) {
	if m == nil {
		return
	}
	if i, j := hotIndex(hotOps[:], op), hotIndex(hotOutcomes[:], outcome); i >= 0 && j >= 0 && m.hotWork[i][j] != nil {
		m.hotWork[i][j].Inc()
		return
	}
	m.work.WithLabelValues(op, outcome).Inc()
}
