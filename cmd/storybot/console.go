package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/storybot/storybot/bot/console"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/internal/wiring"
)

func consoleCommand() command {
	return command{
		name:    "console",
		args:    "[--user NAME]",
		summary: "the same dialogues in this terminal, nothing to set up",
		env:     concat(storeEnv, behaviorEnv, logEnv),
		define: func(fs *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			user := fs.String("user", "you", "who you are in the console (each name has its own journal)")
			return func(ctx context.Context, _ []string) error {
				return runConsole(ctx, *user, inv.getenv, inv.stdin, inv.stdout, inv.stderr)
			}
		},
	}
}

// consolePoll is how often a console looks for messages other terminals left for its user.
const consolePoll = 300 * time.Millisecond

func runConsole(ctx context.Context, user string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	// Info lines would interleave with the dialogue; the console shows warnings and worse
	// unless LOG_LEVEL asks for more.
	level := max(cfg.LogLevel, slog.LevelWarn)
	if getenv("LOG_LEVEL") != "" {
		level = cfg.LogLevel
	}
	logger := newLogger(stderr, level, cfg.LogFormat)
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.checkStore(ctx); err != nil {
		return err
	}

	c := console.New(stdin, stdout, user).WithLogger(logger)
	if !a.store.Embedded() {
		// Terminals on one Redis reach each other: a coach in one, a client in another.
		c.WithMailbox(a.store, consolePoll)
	}
	eng := a.engine(c)
	// Check-ins and reminders arrive in the terminal too, while it is open.
	ctx, cancel := context.WithCancel(ctx)
	sched := engine.NewScheduler(wiring.Scheduler(a.store, eng, nil, a.wiring(c)))
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(ctx) }()
	defer func() {
		cancel()
		<-schedDone
	}()

	fmt.Fprintf(stdout, "storybot console — you are %q. Type /story to start a pause, /story help for more, quit to leave.\n\n", user)
	return c.Run(ctx, eng)
}
