package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/storage"
)

// Metrics that cmd can measure without the adapters or storage knowing prometheus: platform
// API calls are counted by an http.RoundTripper under each adapter's HTTP client, Redis
// errors by a go-redis hook on the store's client. Every series is created at start, with
// zero, so dashboards and alerts see them before the first event.

// Platform API method classes: a fixed vocabulary, so labels stay bounded.
var (
	slackClasses   = []string{"chat", "conversations", "views", "users", "files", "dnd", "auth", "apps", "response_url", "other"}
	discordClasses = []string{"messages", "dm_open", "interaction", "followup", "commands", "gateway", "auth", "other"}
	// apiErrorKinds: network (no answer), rate_limited (429), server (5xx), client (other
	// 4xx), api (Slack's 200 with "ok": false).
	apiErrorKinds = []string{"network", "rate_limited", "server", "client", "api"}
	// redisErrorKinds: unreachable (no answer in time, refused, reset), unavailable (failed
	// at once: the circuit is open), server (an error reply).
	redisErrorKinds = []string{"unreachable", "unavailable", "server"}
)

type opsMetrics struct {
	apiCalls    *prometheus.CounterVec
	apiErrors   *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec
	redisErrors *prometheus.CounterVec
}

func newOpsMetrics(reg prometheus.Registerer) *opsMetrics {
	m := &opsMetrics{
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_platform_api_calls_total", Help: "Calls to the Slack Web API and Discord REST API, by platform and method class.",
		}, []string{"platform", "class"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_platform_api_errors_total", Help: "Platform API calls that failed, by platform, method class and kind (network, rate_limited, server, client, api).",
		}, []string{"platform", "class", "kind"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "storybot_platform_api_duration_seconds", Help: "Time of one platform API call.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"platform"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "storybot_redis_errors_total", Help: "Redis commands that failed, by kind (unreachable, unavailable, server); not-found is not an error.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.apiCalls, m.apiErrors, m.apiDuration, m.redisErrors)
	for platform, classes := range map[string][]string{"slack": slackClasses, "discord": discordClasses} {
		m.apiDuration.WithLabelValues(platform)
		for _, c := range classes {
			m.apiCalls.WithLabelValues(platform, c)
			for _, k := range apiErrorKinds {
				m.apiErrors.WithLabelValues(platform, c, k)
			}
		}
	}
	for _, k := range redisErrorKinds {
		m.redisErrors.WithLabelValues(k)
	}
	return m
}

// slackClass maps a Slack request to its method class: Web API methods are the last path
// segment ("chat.postMessage"); response_url posts go to hooks.slack.com/commands|actions/….
func slackClass(r *http.Request) string {
	p := r.URL.Path
	if strings.HasPrefix(p, "/commands/") || strings.HasPrefix(p, "/actions/") {
		return "response_url"
	}
	method := p[strings.LastIndexByte(p, '/')+1:]
	prefix, _, _ := strings.Cut(method, ".")
	for _, c := range slackClasses {
		if c == prefix {
			return c
		}
	}
	return "other"
}

// discordClass maps a Discord REST request to its method class by its route.
func discordClass(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/users/@me/channels"):
		return "dm_open"
	case strings.HasSuffix(p, "/users/@me"):
		return "auth"
	case strings.Contains(p, "/interactions/") && strings.HasSuffix(p, "/callback"):
		return "interaction"
	case strings.Contains(p, "/webhooks/"):
		return "followup"
	case strings.Contains(p, "/channels/") && strings.Contains(p, "/messages"):
		return "messages"
	case strings.Contains(p, "/applications/"):
		return "commands"
	case strings.HasSuffix(p, "/gateway") || strings.HasSuffix(p, "/gateway/bot"):
		return "gateway"
	}
	return "other"
}

// countingTransport counts the calls that pass through it. For Slack it also watches small
// JSON answers for "ok": false, Slack's way of reporting most errors with a 200, as the
// caller reads them (sniffBody).
type countingTransport struct {
	platform string
	class    func(*http.Request) string
	m        *opsMetrics
	next     http.RoundTripper
	now      func() time.Time
	// calls and duration are the platform's series, looked up once: WithLabelValues
	// hashes the labels and takes a lock on every call.
	calls    map[string]prometheus.Counter // by class
	duration prometheus.Observer
}

func newCountingTransport(m *opsMetrics, platform string, classes []string, class func(*http.Request) string, next http.RoundTripper, now func() time.Time) *countingTransport {
	t := &countingTransport{platform: platform, class: class, m: m, next: next, now: now,
		calls: make(map[string]prometheus.Counter, len(classes)), duration: m.apiDuration.WithLabelValues(platform)}
	for _, c := range classes {
		t.calls[c] = m.apiCalls.WithLabelValues(platform, c)
	}
	return t
}

// maxSniff bounds the Slack answers watched for "ok": false.
const maxSniff = 64 << 10

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	class := t.class(r)
	if c, ok := t.calls[class]; ok {
		c.Inc()
	} else {
		t.m.apiCalls.WithLabelValues(t.platform, class).Inc()
	}
	start := t.now()
	resp, err := t.next.RoundTrip(r)
	t.duration.Observe(t.now().Sub(start).Seconds())
	switch {
	case err != nil:
		t.fail(class, "network")
	case resp.StatusCode == http.StatusTooManyRequests:
		t.fail(class, "rate_limited")
	case resp.StatusCode >= 500:
		t.fail(class, "server")
	case resp.StatusCode >= 400:
		t.fail(class, "client")
	case t.platform == "slack" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") &&
		resp.ContentLength >= 0 && resp.ContentLength <= maxSniff:
		resp.Body = &sniffBody{rc: resp.Body, size: int(resp.ContentLength), t: t, class: class}
	}
	return resp, err
}

func (t *countingTransport) fail(class, kind string) {
	t.m.apiErrors.WithLabelValues(t.platform, class, kind).Inc()
}

// okPrefix is how Slack's answers start when all is well.
const okPrefix = `{"ok":true`

// sniffBody hands a Slack JSON answer to its reader unchanged and counts it as an API
// error if its "ok" is false, once it has been read to its end or closed (Close reads what
// the reader left, at most maxSniff bytes in all). The answer is not read twice nor copied
// when it starts as an ok one does, nearly always; else it is kept as it passes, to be
// decoded at the end. Like any body, it is read and closed by one goroutine.
type sniffBody struct {
	rc    io.ReadCloser
	size  int // Content-Length
	t     *countingTransport
	class string

	head  [len(okPrefix)]byte // the answer's start, while it may be okPrefix
	nhead int
	kept  []byte // the whole answer so far, once it does not start with okPrefix
	done  bool   // counted, or nothing to count
}

func (b *sniffBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if !b.done {
		b.see(p[:n])
		switch {
		case err == io.EOF:
			b.finish()
		case err != nil:
			b.done = true // an answer cut short: not counted, as Slack's errors are not
		}
	}
	return n, err
}

// see follows the answer's next bytes p.
func (b *sniffBody) see(p []byte) {
	if b.kept != nil {
		b.kept = append(b.kept, p...)
		return
	}
	m := copy(b.head[b.nhead:], p)
	for i := b.nhead; i < b.nhead+m; i++ {
		if b.head[i] != okPrefix[i] {
			b.kept = make([]byte, 0, b.size)
			b.kept = append(b.kept, b.head[:b.nhead]...)
			b.kept = append(b.kept, p...)
			return
		}
	}
	b.nhead += m
	if b.nhead == len(okPrefix) {
		b.done = true // an ok answer
	}
}

// finish counts the answer, read whole, if its "ok" is false.
func (b *sniffBody) finish() {
	b.done = true
	body := b.kept
	if body == nil {
		body = b.head[:b.nhead] // shorter than okPrefix
	}
	if !bytes.Contains(body, []byte("false")) {
		return // an answer in which "ok" cannot be false: no need to decode it
	}
	var answer struct {
		OK *bool `json:"ok"`
	}
	if json.Unmarshal(body, &answer) == nil && answer.OK != nil && !*answer.OK {
		b.t.fail(b.class, "api")
	}
}

func (b *sniffBody) Close() error {
	if !b.done {
		// The reader stopped early: the rest decides (and the connection is reused).
		var buf [512]byte
		for !b.done {
			if _, err := b.Read(buf[:]); err != nil {
				b.done = true
			}
		}
	}
	return b.rc.Close()
}

// instrumentedClient returns an HTTP client for an adapter whose calls are counted.
func (m *opsMetrics) instrumentedClient(platform string, now func() time.Time) *http.Client {
	class, classes := slackClass, slackClasses
	if platform == "discord" {
		class, classes = discordClass, discordClasses
	}
	// The default transport keeps only 2 idle connections per host, so concurrent replies
	// would open and close connections all the time.
	pooled := http.DefaultTransport.(*http.Transport).Clone()
	pooled.MaxIdleConnsPerHost = 64
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: newCountingTransport(m, platform, classes, class, pooled, now),
	}
}

// redisErrorHook counts failed Redis commands.
type redisErrorHook struct{ m *opsMetrics }

func (h redisErrorHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisErrorHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(ctx, err)
		return err
	}
}

func (h redisErrorHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.count(ctx, err)
		return err
	}
}

func (h redisErrorHook) count(ctx context.Context, err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.TxFailedErr) {
		return
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // the caller went away: not Redis's fault
	}
	var rerr redis.Error
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		h.m.redisErrors.WithLabelValues("unavailable").Inc()
	case errors.As(err, &rerr):
		h.m.redisErrors.WithLabelValues("server").Inc()
	default:
		h.m.redisErrors.WithLabelValues("unreachable").Inc()
	}
}

// backlogCollector reports the scheduler's queue depth, read from Redis at each scrape (two
// counts): jobs due and not yet claimed, the lag's cause when it grows, and jobs in flight.
type backlogCollector struct {
	store *storage.Store
	now   func() time.Time
	due   *prometheus.Desc
	fly   *prometheus.Desc
}

func newBacklogCollector(store *storage.Store, now func() time.Time) *backlogCollector {
	return &backlogCollector{
		store: store, now: now,
		due: prometheus.NewDesc("storybot_scheduler_due_jobs", "Scheduled jobs due now and not yet claimed by any replica (the scheduler's queue depth).", nil, nil),
		fly: prometheus.NewDesc("storybot_scheduler_inflight_jobs", "Scheduled jobs claimed by a replica and not yet finished.", nil, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.due; ch <- c.fly }

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	due, fly, err := c.store.Backlog(ctx, c.now())
	if err != nil {
		// Redis is down: storybot_component_up{store} and the Redis error counters say so.
		// A made-up zero would read as "nothing waiting", and an invalid metric would fail
		// the whole scrape just when it matters: leave the series out.
		return
	}
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(due))
	ch <- prometheus.MustNewConstMetric(c.fly, prometheus.GaugeValue, float64(fly))
}
