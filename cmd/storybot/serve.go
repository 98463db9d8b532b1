package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/internal/wiring"
	"github.com/storybot/storybot/storage"
)

// maxBody is the largest request body accepted (SPEC.md: larger ones get 413).
const maxBody = 1 << 20

// app is storybot wired together: the store, the metrics and the engine factory. It is the
// reusable "Main" that serve, console and end-to-end tests share.
type app struct {
	cfg      config
	log      *slog.Logger
	store    *storage.Store
	registry *prometheus.Registry
	metrics  *engine.Metrics
	ready    *readiness
	ops      *opsMetrics
	conns    *connObserver // the platform connections' readiness and metrics
	now      func() time.Time
	// zones is filled by the adapters that can read a profile's time zone (Slack) before
	// the engine handles events; read-only after.
	zones bot.PlatformZones
	// work admits the work after every acknowledgement, of every adapter: one bound for the
	// process. runServe drains it after the adapters and the HTTP server have stopped.
	work *bot.Pool
	// flushers send what the adapters' outboxes still hold (DMs waiting for a rate limit);
	// runServe calls them after draining work, whose replies go there.
	flushers []func(context.Context) error
}

func newApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	// One clock for the store and the engine (and the tests' rig, which fakes it).
	now := time.Now
	sc := cfg.storage(logger)
	sc.Now = now
	store, err := storage.Open(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// storage.Open itself warns loudly about the embedded store and missing encryption.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "storybot_store_circuit_open", Help: "1 while Redis calls fail fast because Redis recently did not answer.",
	}, func() float64 {
		if store.CircuitOpen() {
			return 1
		}
		return 0
	}))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "storybot_build_info", Help: "Always 1; the labels say which build runs.",
	}, []string{"version", "goversion"})
	reg.MustRegister(buildInfo)
	buildInfo.WithLabelValues(buildVersion(), runtime.Version()).Set(1)
	metrics := engine.NewMetrics(reg)
	work := bot.NewPool(bot.PoolConfig{Workers: cfg.Workers, Queue: cfg.Queue, Logger: logger, Observe: metrics.Admission})
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "storybot_work_queue_depth", Help: "Work admitted after an acknowledgement and not yet started.",
	}, func() float64 { return float64(work.Depth()) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "storybot_work_active", Help: "Work after an acknowledgement running now.",
	}, func() float64 { return float64(work.Active()) }))
	a := &app{cfg: cfg, log: logger, store: store, registry: reg, metrics: metrics, now: now, zones: bot.PlatformZones{}, work: work}
	a.ready = newReadiness(reg, a.now, cfg.ReadyGrace)
	a.ops = newOpsMetrics(reg)
	reg.MustRegister(newBacklogCollector(store, a.now))
	a.conns = newConnObserver(reg, a.ready, a.now)
	store.Client().AddHook(redisErrorHook{a.ops})
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

// engine returns an engine that sends through sender (behind the privacy guard), wired by
// internal/wiring, which the engine's test rig shares.
func (a *app) engine(sender bot.Sender) *engine.Engine {
	return engine.NewEngine(wiring.Engine(a.store, a.wiring(sender)))
}

// wiring is the process's part of the engine's configuration: everything but the stores.
func (a *app) wiring(sender bot.Sender) wiring.Options {
	return wiring.Options{
		Sender:        sender,
		Now:           a.now,
		Logger:        a.log,
		Metrics:       a.metrics,
		CrisisText:    a.cfg.CrisisText,
		RetentionDays: a.cfg.RetentionDays,
		Encrypted:     len(a.cfg.EncryptionKeys) > 0,
		Coaches:       a.cfg.Coaches,
		Zones:         a.zones,
	}
}

// opsRoutes mounts health, readiness and metrics on mux.
func (a *app) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /readyz", a.ready.handler(a.store.Ping, a.log))
	mux.Handle("GET /metrics", a.ready.metricsHandler(a.store.Ping, promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})))
}

// handler is the HTTP surface: health, readiness, metrics, and whatever platform
// endpoints are mounted on mux by the caller.
func (a *app) handler(mux *http.ServeMux) http.Handler {
	a.opsRoutes(mux)
	return limitBody(mux, maxBody)
}

// limitBody answers 413 to bodies over limit, before any handler reads them.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func serveCommand() command {
	return command{
		name:    "serve",
		args:    "[--listen ADDR] [--metrics-listen ADDR] [--dev]",
		summary: "run the HTTP server, the platform connections and the scheduler",
		env: concat([]string{"STORYBOT_LISTEN", "STORYBOT_METRICS_LISTEN", "STORYBOT_READY_GRACE", "STORYBOT_PPROF", "STORYBOT_DEV"}, storeEnv, slackEnv, discordEnv,
			behaviorEnv, logEnv),
		define: func(fs *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			listen := fs.String("listen", "", "HTTP listen address (STORYBOT_LISTEN, default :3000)")
			metricsListen := fs.String("metrics-listen", "", "listen address for /metrics, /healthz and /readyz alone (STORYBOT_METRICS_LISTEN)")
			dev := fs.Bool("dev", false, "allow the embedded in-memory store and no platform: for trying storybot out, never for production (STORYBOT_DEV=1)")
			return func(ctx context.Context, _ []string) error {
				getenv := envWithFlags(inv.getenv, map[string]*string{"STORYBOT_LISTEN": listen, "STORYBOT_METRICS_LISTEN": metricsListen})
				return runServe(ctx, getenv, *dev, inv.stdout, inv.stderr)
			}
		},
	}
}

func runServe(ctx context.Context, getenv func(string) string, dev bool, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	cfg.Dev = cfg.Dev || dev
	if err := cfg.servable(); err != nil {
		return err
	}
	logger := cfg.logger(stderr)
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.checkStore(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	senders := bot.PlatformSenders{}
	eng := a.engine(senders)
	var runners []func(context.Context) error
	for _, mount := range []func(context.Context, *app, *engine.Engine, bot.PlatformSenders, *http.ServeMux) (func(context.Context) error, error){mountSlack, mountDiscord} {
		run, err := mount(ctx, a, eng, senders, mux)
		if err != nil {
			return err
		}
		if run != nil {
			runners = append(runners, run)
		}
	}
	sched := engine.NewScheduler(wiring.Scheduler(a.store, eng, availability(senders), a.wiring(senders)))
	runners = append(runners, sched.Run)
	if !cfg.slackEnabled() {
		logger.Info("Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN (HTTP) or SLACK_APP_TOKEN and SLACK_BOT_TOKEN (Socket Mode)")
	}
	if !cfg.discordEnabled() {
		logger.Info("Discord is not configured: set DISCORD_APP_ID with DISCORD_PUBLIC_KEY (interactions URL) and DISCORD_BOT_TOKEN (DMs)")
	}

	checks := credentialChecks(cfg, a.ops.instrumentedClient("slack", a.now), a.ops.instrumentedClient("discord", a.now))
	retry, err := runCredentialChecks(ctx, checks, a.ready, logger)
	if err != nil {
		return err
	}
	if len(retry) > 0 {
		runners = append(runners, func(ctx context.Context) error { return retryChecks(ctx, retry, a.ready, logger) })
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var handlers []func(context.Context) error
	if cfg.MetricsListen == "" {
		h := a.handler(mux)
		handlers = append(handlers, func(ctx context.Context) error { return serveHTTP(ctx, ln, h, logger) })
	} else {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (STORYBOT_METRICS_LISTEN): %w", cfg.MetricsListen, err)
		}
		opsMux := http.NewServeMux()
		a.opsRoutes(opsMux)
		h := limitBody(mux, maxBody)
		handlers = append(handlers,
			func(ctx context.Context) error { return serveHTTP(ctx, ln, h, logger) },
			func(ctx context.Context) error { return serveHTTP(ctx, mln, opsMux, logger) })
		fmt.Fprintf(stdout, "storybot %s serving /metrics, /healthz and /readyz on %s\n", buildVersion(), mln.Addr())
	}
	if cfg.Pprof != "" {
		pln, err := net.Listen("tcp", cfg.Pprof)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (STORYBOT_PPROF): %w", cfg.Pprof, err)
		}
		h := pprofMux()
		// No write timeout: a CPU profile answers after its seconds have passed.
		handlers = append(handlers, func(ctx context.Context) error { return serveHTTPTimeout(ctx, pln, h, logger, 0) })
		logger.Warn("the Go profiler is on (STORYBOT_PPROF): for measuring only", "addr", pln.Addr().String())
	}
	fmt.Fprintf(stdout, "storybot %s listening on %s\n", buildVersion(), ln.Addr())

	// Every part runs until ctx ends; the first to fail stops the others.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(runners)+len(handlers))
	var wg sync.WaitGroup
	start := func(run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	for _, run := range runners {
		start(run)
	}
	for _, h := range handlers {
		start(h)
	}
	wg.Wait()
	a.shutdown(logger)
	close(errc)
	return <-errc
}

// Shutdown budget, within the orchestrators' grace (compose 15 s, Kubernetes 30 s).
const (
	drainTimeout    = 10 * time.Second // acknowledged work
	shutdownTimeout = 13 * time.Second // work and then the outboxes
)

// shutdown finishes what was acknowledged and then sends its replies. Nothing is admitted
// any more: the work drains first (each piece bounded by its own deadline, what is left
// cancelled after drainTimeout), because its replies go to the adapters' outboxes; then the
// outboxes send what waits for a rate limit, once each, in what is left of shutdownTimeout.
// The other order dropped the replies of work that finished during the drain.
func (a *app) shutdown(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	drainCtx, cancelDrain := context.WithTimeout(ctx, drainTimeout)
	defer cancelDrain()
	if err := a.work.Drain(drainCtx); err != nil {
		logger.Warn("shutdown: acknowledged work cut short", "err", err)
	}
	for _, flush := range a.flushers {
		if err := flush(ctx); err != nil {
			logger.Warn("shutdown: replies not sent", "err", err)
		}
	}
}

// pprofMux serves net/http/pprof's handlers on their own mux: importing the package for
// its side effect would put them on http.DefaultServeMux, which storybot does not serve.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveHTTP serves until ctx is done, then drains in-flight requests for up to 10 seconds.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return serveHTTPTimeout(ctx, ln, h, logger, 10*time.Second)
}

// serveHTTPTimeout is serveHTTP with the given write timeout (0: none).
func serveHTTPTimeout(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, writeTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// availability asks the adapter of the user's platform when the user may be messaged, where
// the adapter can tell (Slack's Do Not Disturb); other platforms are always available.
type availability bot.PlatformSenders

func (a availability) AvailableAt(ctx context.Context, u bot.UserRef) (time.Time, error) {
	if av, ok := a[u.Platform].(bot.Availability); ok {
		return av.AvailableAt(ctx, u)
	}
	return time.Time{}, nil
}
