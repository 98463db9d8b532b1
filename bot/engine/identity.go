package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/storybot/storybot/bot"
)

// This file holds the engine's side of one identity per person (issue 16): an event may
// name an alias, the reference an earlier storybot kept the same person's data under
// (bot.Event.Alias). Before the event is handled, every Merger moves what the alias holds
// into the person's one reference. It runs once per alias in a process: a merged alias
// stays empty, because nothing keys new data by it any more.

// maxMerged bounds the in-process memory of aliases already merged; past it the memory
// starts over (merging an empty alias again costs a few reads and changes nothing).
const maxMerged = 100000

// mergedSet remembers which alias → user merges this process has done.
type mergedSet struct {
	mu   sync.Mutex
	done map[string]struct{}
}

func (s *mergedSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.done[k]
	return ok
}

func (s *mergedSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil || len(s.done) >= maxMerged {
		s.done = make(map[string]struct{})
	}
	s.done[k] = struct{}{}
}

// adopt merges the data kept under ev's alias into ev.User. A failure is logged and the
// event goes on (it is tried again with the next event): the person's current data is
// whole either way, and a merge never loses what it has not yet moved.
func (e *Engine) adopt(ctx context.Context, ev bot.Event) {
	a := ev.Alias
	if a.User == "" || a == ev.User || a.Platform != ev.User.Platform || a.User != ev.User.User || len(e.mergers) == 0 {
		return
	}
	key := a.String() + ">" + ev.User.String()
	if e.merged.has(key) {
		return
	}
	var errs []error
	for _, m := range e.mergers {
		if err := m.Merge(ctx, a, ev.User); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		e.metrics.storeError("merge identity")
		e.log.ErrorContext(ctx, "store failed", "op", "merge identity", "user", ev.User.String(), "err", err)
		return
	}
	e.merged.add(key)
}

// WorkspaceGone implements bot.WorkspaceHandler: the platform says the app was removed
// from these workspaces, so their scheduled jobs stop (nothing could be delivered). The
// users' data stays until retention or forget.
func (e *Engine) WorkspaceGone(ctx context.Context, platform string, workspaces []string) error {
	if e.workspaceJobs == nil {
		return nil
	}
	var errs []error
	for _, w := range workspaces {
		n, err := e.workspaceJobs.ForgetWorkspaceJobs(ctx, platform, w)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.log.InfoContext(ctx, "workspace gone: scheduled jobs stopped", "platform", platform, "workspace", w, "jobs", n)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("engine: workspace gone: %w", err)
	}
	return nil
}

// userGone cancels u's scheduled jobs after the platform said u no longer exists or was
// deactivated. Their data stays until retention or forget.
func (e *Engine) userGone(ctx context.Context, u bot.UserRef) {
	if e.schedules == nil {
		return
	}
	for _, k := range bot.JobKinds {
		if err := e.schedules.DeleteJob(ctx, u, k); err != nil {
			e.log.WarnContext(ctx, "cancelling a gone user's schedules failed", "user", u.String(), "err", err)
			return
		}
	}
	e.log.InfoContext(ctx, "the platform says the user is gone: their schedules are cancelled", "user", u.String())
}
