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
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

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

const usage = `storybot — a private "what story am I telling myself?" pause, in Slack and Discord.

Usage:
  storybot serve                         run the HTTP server, platform connections and scheduler
  storybot console [--user NAME]         the same dialogues in this terminal, nothing to set up
  storybot discord register              create or overwrite the /story Discord command
  storybot slack manifest --url URL      print a Slack app manifest for that public URL
  storybot version                       print the version

Configuration comes from the environment (see README.md): REDIS_URL, STORYBOT_LISTEN,
STORYBOT_ENCRYPTION_KEY, SLACK_*, DISCORD_*, LOG_LEVEL, …
Run "storybot <command> --help" for a command's flags.
`

// run is main without the process: tests call it with their own arguments, environment
// and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "storybot", version)
		return nil
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "console":
		return runConsole(ctx, rest, getenv, stdin, stdout, stderr)
	case "discord":
		return runDiscord(ctx, rest, getenv, stdout, stderr)
	case "slack":
		return runSlack(ctx, rest, getenv, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// newFlagSet returns a flag set that prints its usage to stderr and returns errors.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: storybot %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
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

func runSlack(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "manifest" {
		fmt.Fprintln(stderr, "Usage: storybot slack manifest --url https://HOST [--socket-mode]")
		return errors.New("unknown slack command")
	}
	return runSlackManifest(args[1:], getenv, stdout, stderr)
}

func runDiscord(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "register" {
		fmt.Fprintln(stderr, "Usage: storybot discord register")
		return errors.New("unknown discord command")
	}
	return runDiscordRegister(ctx, args[1:], getenv, stdout, stderr)
}
