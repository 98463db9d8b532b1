package engine

import (
	"context"
	"errors"
	"github.com/storybot/storybot/bot"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Deliverer sends one job's message. Engine implements it: check-ins and digests go out
// through the engine's outbound guard like every other DM.
type Deliverer interface {
	Deliver(ctx context.Context, j bot.Job) error
}

// SchedulerConfig configures a Scheduler. Queue and Deliver are required.
type SchedulerConfig struct {
	Queue   bot.JobQueue
	Deliver Deliverer
	// Availability, when set, holds a delivery until the user is available (Slack DND).
	Availability bot.Availability
	Now          func() time.Time // default time.Now
	// Tick is the pause between polls, jittered by ±20%; default 5 s, so a due job goes out
	// well within a minute of its time.
	Tick time.Duration
	// Batch bounds the jobs taken by one claim; default 200.
	Batch int
	// Workers is how many deliveries run at once; default 32.
	Workers int
	// Lease is how long a claim is held before a reaper hands it to another replica;
	// default 2 min. A delivery that takes longer is still never sent twice (MarkSent).
	Lease time.Duration
	// MaxLate is how late a delivery may go out; later ones are dropped and the job moves
	// to its next occurrence. Default 2 h (SPEC.md).
	MaxLate time.Duration
	// MaxHold bounds how long a delivery waits for Availability; default 12 h.
	MaxHold time.Duration
	// RetryDelay is the pause before retrying a rate-limited send that gave no Retry-After;
	// default 30 s.
	RetryDelay time.Duration
	// BusyRetry is how often a job that waits for the user's open dialogue (see
	// waitsForDialogue) tries again; default 1 min. It waits at most holdLimit past its
	// occurrence (a check-in MaxLate, a follow-up MaxHold); a dialogue left alone parks after flows.ParkAfter, so in practice the
	// wait ends within half an hour of the user's last answer.
	BusyRetry time.Duration
	// Pace limits deliveries per platform and workspace (a token bucket each). A platform
	// missing from the map uses DefaultPace; a zero Rate means unlimited.
	Pace        map[string]Pace
	DefaultPace Pace
	Logger      *slog.Logger
	Metrics     *Metrics
}

// Pace is a token bucket: Rate messages a second, bursts of up to Burst. Each replica
// paces on its own: with R replicas, set Rate to the platform's limit divided by R.
type Pace struct {
	Rate  float64
	Burst int
}

// DefaultPaces are conservative paces per workspace: Slack's chat.postMessage allows about
// one message a second per channel and a few hundred a minute per workspace; Discord's
// global limit is 50 requests a second per bot, and a DM takes two (open, send), and every
// Discord DM shares the workspace "dm".
var DefaultPaces = map[string]Pace{
	"slack":   {Rate: 5, Burst: 10},
	"discord": {Rate: 20, Burst: 20},
}

// Scheduler delivers due jobs. Run it on every replica: the queue hands each due job to one
// of them. It owns its goroutines; Run returns once they have all ended.
type Scheduler struct {
	cfg   SchedulerConfig
	log   *slog.Logger
	pacer *pacer
}

// NewScheduler returns a scheduler; it panics when Queue or Deliver is missing.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Queue == nil || cfg.Deliver == nil {
		panic("engine: NewScheduler needs Queue and Deliver")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 5 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 200
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.MaxLate <= 0 {
		cfg.MaxLate = 2 * time.Hour
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = 12 * time.Hour
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 30 * time.Second
	}
	if cfg.BusyRetry <= 0 {
		cfg.BusyRetry = time.Minute
	}
	if cfg.Pace == nil {
		cfg.Pace = DefaultPaces
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger, pacer: newPacer()}
}

// Run polls the queue until ctx ends, then stops claiming, returns the claims not yet
// started to the due set, and waits for the deliveries in flight to finish.
func (s *Scheduler) Run(ctx context.Context) error {
	work := make(chan bot.Claim)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				s.handle(ctx, c)
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		s.poll(ctx, work)
		j := 0.8 + 0.4*rand.Float64()
		timer.Reset(time.Duration(float64(s.cfg.Tick) * j))
	}
}

// poll reaps lapsed leases and claims batches until the due set is drained (or ctx ends).
func (s *Scheduler) poll(ctx context.Context, work chan<- bot.Claim) {
	now := s.cfg.Now()
	if n, err := s.cfg.Queue.Reap(ctx, now, s.cfg.Batch); err != nil {
		s.log.WarnContext(ctx, "scheduler: reap failed", "err", err)
	} else if n > 0 {
		s.cfg.Metrics.scheduled("reaped", n)
	}
	s.pacer.prune(time.Now())
	for ctx.Err() == nil {
		now := s.cfg.Now()
		claims, err := s.cfg.Queue.Claim(ctx, now, s.cfg.Batch, now.Add(s.cfg.Lease))
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "scheduler: claim failed", "err", err)
			}
			return
		}
		for i, c := range claims {
			select {
			case work <- c:
			case <-ctx.Done():
				s.giveBack(claims[i:])
				return
			}
		}
		if len(claims) < s.cfg.Batch {
			return
		}
	}
}

// giveBack returns claims not started to the due set, unchanged, on shutdown.
func (s *Scheduler) giveBack(cs []bot.Claim) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range cs {
		if err := s.cfg.Queue.Retry(ctx, c, c.Due, false); err != nil {
			s.log.Warn("scheduler: give back failed; the lease will return it", "err", err)
		}
	}
}

// handle takes one claim to its end: delivered, dropped, held or retried. A delivery that
// has started runs to its end even when ctx ends (shutdown drains it).
func (s *Scheduler) handle(ctx context.Context, c bot.Claim) {
	now := s.cfg.Now()
	j := c.Job
	bg := context.WithoutCancel(ctx)
	finish := func(outcome string) {
		s.cfg.Metrics.scheduled(outcome, 1)
		if err := s.cfg.Queue.Finish(bg, c, j.Next(now)); err != nil {
			s.log.WarnContext(ctx, "scheduler: finish failed; the lease will return it", "user", j.User.String(), "err", err)
		}
	}
	if c.Sent {
		finish("already_sent")
		return
	}
	if now.Sub(c.Due) > s.cfg.MaxLate {
		finish("dropped_late")
		return
	}
	if s.cfg.Availability != nil {
		at, err := s.cfg.Availability.AvailableAt(ctx, j.User)
		switch {
		case err != nil:
			s.log.WarnContext(ctx, "scheduler: availability check failed; sending", "user", j.User.String(), "err", err)
		case at.After(now):
			next := j.Next(now)
			if at.Sub(c.Due) > s.cfg.MaxHold || !next.IsZero() && !at.Before(next) {
				finish("dropped_unavailable")
				return
			}
			s.cfg.Metrics.scheduled("held", 1)
			if err := s.cfg.Queue.Retry(bg, c, at, false); err != nil {
				s.log.WarnContext(ctx, "scheduler: hold failed", "user", j.User.String(), "err", err)
			}
			return
		}
	}
	// Pacing: a message over its workspace's pace goes back to the due set for later,
	// spread over a few seconds, so that one busy workspace never holds up the workers (no
	// head-of-line blocking) and the claim it holds is short.
	if wait := s.pacer.take(j.User.Platform+":"+j.User.Workspace, s.pace(j.User.Platform)); wait > 0 {
		s.cfg.Metrics.scheduled("paced", 1)
		at := now.Add(wait + time.Duration(rand.Int64N(int64(s.cfg.Tick)*2)))
		if err := s.cfg.Queue.Retry(bg, c, at, false); err != nil {
			s.log.WarnContext(ctx, "scheduler: pace retry failed", "user", j.User.String(), "err", err)
		}
		return
	}
	if ctx.Err() != nil {
		s.giveBack([]bot.Claim{c}) // shutting down before the send began
		return
	}
	ok, err := s.cfg.Queue.MarkSent(bg, c)
	if err != nil {
		s.log.WarnContext(ctx, "scheduler: mark failed; the lease will return it", "user", j.User.String(), "err", err)
		return
	}
	if !ok {
		finish("already_sent")
		return
	}
	sendCtx, cancel := context.WithTimeout(bg, 30*time.Second)
	err = s.cfg.Deliver.Deliver(sendCtx, j)
	cancel()
	var rl *bot.RateLimitError
	switch {
	case err == nil:
		s.cfg.Metrics.lateness(j.Kind, s.cfg.Now().Sub(c.Due))
		finish("sent")
	case errors.As(err, &rl):
		d := rl.RetryAfter
		if d <= 0 {
			d = s.cfg.RetryDelay
		}
		s.cfg.Metrics.scheduled("rate_limited", 1)
		if err := s.cfg.Queue.Retry(bg, c, now.Add(d), true); err != nil {
			s.log.WarnContext(ctx, "scheduler: retry failed", "user", j.User.String(), "err", err)
		}
	case errors.Is(err, bot.ErrBusy):
		if waitsForDialogue(j.Kind) && now.Sub(c.Occurrence) < s.holdLimit(j.Kind) {
			// Nothing was sent: unmark, and come back once the dialogue may have closed.
			s.cfg.Metrics.scheduled("held_busy", 1)
			if err := s.cfg.Queue.Retry(bg, c, now.Add(s.cfg.BusyRetry), true); err != nil {
				s.log.WarnContext(ctx, "scheduler: busy retry failed", "user", j.User.String(), "err", err)
			}
			return
		}
		finish("skipped_busy")
	case errors.Is(err, bot.ErrUserGone):
		// The platform says the user is gone: the engine cancelled their schedules.
		s.cfg.Metrics.scheduled("user_gone", 1)
		if err := s.cfg.Queue.Finish(bg, c, time.Time{}); err != nil {
			s.log.WarnContext(ctx, "scheduler: finish failed; the lease will return it", "user", j.User.String(), "err", err)
		}
	default:
		// The send may or may not have reached the user: never risk a second one.
		s.log.WarnContext(ctx, "scheduler: delivery failed", "kind", j.Kind.String(), "user", j.User.String(), "err", err)
		finish("failed")
	}
}

// waitsForDialogue reports whether a job of kind k, due while the user is in the middle of
// a dialogue, waits until that dialogue closes or parks (rather than being skipped): a
// follow-up the user asked for must not be lost to an unrelated pause, nor a check-in.
func waitsForDialogue(k bot.JobKind) bool {
	return k == bot.JobFollowup || k == bot.JobCheckin || k == bot.JobSnooze
}

// holdLimit is how long past its occurrence a job may wait for the user's dialogue: a
// check-in no longer than any late check-in (MaxLate, 2 h: never a stale one), a
// follow-up up to MaxHold.
func (s *Scheduler) holdLimit(k bot.JobKind) time.Duration {
	if k == bot.JobFollowup {
		return s.cfg.MaxHold
	}
	return s.cfg.MaxLate
}

func (s *Scheduler) pace(platform string) Pace {
	if p, ok := s.cfg.Pace[platform]; ok {
		return p
	}
	return s.cfg.DefaultPace
}

// pacer is a set of token buckets (GCRA) keyed by platform and workspace. It uses the real
// monotonic clock: pacing is about the platforms' limits, not about the schedule's clock.
type pacer struct {
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time of the next message
}

func newPacer() *pacer { return &pacer{tat: make(map[string]time.Time)} }

// take takes a slot for a message to key if one is free now and returns 0; otherwise it
// takes nothing and returns how long until one is free.
func (p *pacer) take(key string, pace Pace) time.Duration {
	if pace.Rate <= 0 {
		return 0
	}
	interval := time.Duration(float64(time.Second) / pace.Rate)
	burst := max(pace.Burst, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	tat := p.tat[key]
	if tat.Before(now) {
		tat = now
	}
	if at := tat.Add(-time.Duration(burst-1) * interval); at.After(now) {
		return at.Sub(now)
	}
	p.tat[key] = tat.Add(interval)
	return 0
}

// prune forgets buckets that are full again, so the map holds only busy workspaces.
func (p *pacer) prune(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, t := range p.tat {
		if t.Before(now) {
			delete(p.tat, k)
		}
	}
}
