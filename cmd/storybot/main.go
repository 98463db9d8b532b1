// Command storybot is the "what story am I telling myself?" chat bot: one binary that
// serves Slack and Discord, runs the same dialogues in a terminal, and manages its platform
// registrations. This is the only package where concrete types from different packages meet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

// version is set at release build time with -ldflags "-X main.version=v1.2.3" (see the
// Makefile); when it is not, buildVersion asks the Go build info.
var version string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "storybot:", err)
		os.Exit(1)
	}
}

// buildVersion is the stamped version, else the module version a `go install …@v1.2.3`
// records, else the VCS revision a build from a checkout records, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionFromBuildInfo(bi)
}

func versionFromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "dev+" + rev
}

// run is main without the process: tests call it with their own arguments, environment
// and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	inv := &invocation{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return dispatch(ctx, commands(), args, inv)
}

// newLogger returns the process logger: text lines by default, one JSON object per line
// with LOG_FORMAT=json (for log collectors).
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	// No log line may carry a capability URL (a response_url, a webhook token).
	logger := slog.New(bot.NewRedactingHandler(h))
	// go-redis writes pool and reconnection problems through one process-wide logger of its
	// own (it offers nothing per client); send them to ours so they are structured and
	// levelled like everything else. Its lines name addresses and errors, never values.
	redis.SetLogger(redisLogger{logger})
	return logger
}

// redisLogger adapts slog to go-redis's Printf-style logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// envWithFlags lets flags override environment variables of the same meaning.
func envWithFlags(getenv func(string) string, overrides map[string]*string) func(string) string {
	return func(key string) string {
		if v, ok := overrides[key]; ok && v != nil && *v != "" {
			return *v
		}
		return getenv(key)
	}
}
