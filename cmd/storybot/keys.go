package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/storybot/storybot/storage"
)

// checkStore runs the checks that must pass before storybot touches user data: the stored
// schema is one this build understands, and the configured encryption keys can read what is
// stored (the key ring's canaries). Both fail loudly with what to do.
func (a *app) checkStore(ctx context.Context) error {
	found, err := a.store.CheckSchema(ctx)
	if err != nil {
		return err
	}
	if found != 0 && found < storage.SchemaVersion {
		a.log.Info("storage: schema upgraded", "from", found, "to", storage.SchemaVersion)
	}
	if err := a.store.CheckKeys(ctx); err != nil {
		return fmt.Errorf("%w\n(`storybot keys check` shows which keys protect how much data)", err)
	}
	return nil
}

func keysCheckCommand() command {
	return command{
		name:    "keys check",
		summary: "report how many stored values each encryption key protects, and retire keys that protect none",
		env:     concat(storeEnv, logEnv),
		define: func(_ *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			return func(ctx context.Context, _ []string) error {
				return withStore(ctx, inv, func(s *storage.Store, _ *slog.Logger) error { return keysCheck(ctx, s, inv.stdout) })
			}
		},
	}
}

func keysRotateCommand() command {
	return command{
		name:    "keys rotate",
		summary: "re-encrypt every stored value with the first key of STORYBOT_ENCRYPTION_KEY (resumable; replicas keep serving)",
		env:     concat(storeEnv, logEnv),
		define: func(fs *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			every := fs.Duration("progress", 5*time.Second, "how often to print progress")
			return func(ctx context.Context, _ []string) error {
				return withStore(ctx, inv, func(s *storage.Store, log *slog.Logger) error {
					return keysRotate(ctx, s, *every, inv.stdout)
				})
			}
		},
	}
}

// withStore opens the configured Redis (never the embedded store: there is nothing to check
// in an empty memory) for a maintenance command.
func withStore(ctx context.Context, inv *invocation, fn func(*storage.Store, *slog.Logger) error) error {
	cfg, err := loadConfig(inv.getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.embeddedStore() {
		return errors.New("no Redis configured: set REDIS_URL (or REDIS_CLUSTER_ADDRS, REDIS_SENTINEL_ADDRS) to the Redis storybot uses")
	}
	logger := cfg.logger(inv.stderr)
	s, err := storage.Open(ctx, cfg.storage(logger))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer s.Close()
	if _, err := s.CheckSchema(ctx); err != nil {
		return err
	}
	return fn(s, logger)
}

// keysCheck prints the report and retires keys that protect nothing. It fails when a value
// cannot be read or a key that is not configured still protects values.
func keysCheck(ctx context.Context, s *storage.Store, w io.Writer) error {
	rep, err := s.CountKeys(ctx, nil)
	if err != nil {
		return err
	}
	retired, err := s.RetireUnusedKeys(ctx, rep)
	if err != nil {
		return err
	}
	isRetired := map[string]bool{}
	for _, id := range retired {
		isRetired[id] = true
	}
	fmt.Fprintf(w, "Scanned %d keys.\n\nEncryption keys and the stored values each one protects:\n", rep.Scanned)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  position\tkey id\tvalues\t")
	var problems []error
	if len(rep.Keys) == 0 {
		fmt.Fprintln(tw, "  (none: no key is configured and nothing is encrypted)\t\t\t")
	}
	for _, k := range rep.Keys {
		pos, note := "-", ""
		switch {
		case k.Position == 1:
			pos, note = "1", "encrypts new values"
		case k.Position > 1 && k.Values > 0:
			pos, note = fmt.Sprint(k.Position), "still needed: run `storybot keys rotate`, or keep it until these values expire"
		case k.Position > 1:
			pos, note = fmt.Sprint(k.Position), "protects nothing: it may be dropped from STORYBOT_ENCRYPTION_KEY"
		case k.Values > 0:
			note = "NOT CONFIGURED: these values cannot be read; add this key to STORYBOT_ENCRYPTION_KEY"
			problems = append(problems, fmt.Errorf("%d values are encrypted with key id %s, which is not configured", k.Values, k.ID))
		default:
			note = "not configured, protects nothing"
		}
		if isRetired[k.ID] {
			note += "; retired from the key ring"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", pos, k.ID, k.Values, note)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nUnencrypted values in users' data: %d", rep.Plain)
	if rep.Plain > 0 {
		fmt.Fprint(w, " (written while no key was configured; they stay readable and expire with the retention)")
	}
	fmt.Fprintf(w, "\nValues no configured key opens: %d\n", rep.Unreadable)
	if rep.Unreadable > 0 {
		problems = append(problems, fmt.Errorf("%d values cannot be opened by any configured key", rep.Unreadable))
	}
	if len(problems) > 0 {
		return fmt.Errorf("keys check:\n%w", errors.Join(problems...))
	}
	return nil
}

func keysRotate(ctx context.Context, s *storage.Store, every time.Duration, w io.Writer) error {
	started := time.Now()
	last := started
	p, err := s.Rotate(ctx, func(p storage.RotateProgress) {
		if time.Since(last) >= every {
			last = time.Now()
			fmt.Fprintf(w, "… %d keys scanned, %d values re-encrypted (%s)\n", p.Scanned, p.Resealed, time.Since(started).Round(time.Second))
		}
	})
	if p.Resumed {
		fmt.Fprintln(w, "Resumed an earlier rotation from where it stopped.")
	}
	if err != nil {
		fmt.Fprintf(w, "Stopped after %d keys scanned, %d values re-encrypted; run `storybot keys rotate` again to resume.\n", p.Scanned, p.Resealed)
		return fmt.Errorf("keys rotate: %w", err)
	}
	fmt.Fprintf(w, "Done: %d keys scanned, %d values re-encrypted in %s.\n\n", p.Scanned, p.Resealed, time.Since(started).Round(time.Millisecond))
	return keysCheck(ctx, s, w)
}
