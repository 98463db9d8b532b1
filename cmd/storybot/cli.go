package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// invocation is what a command may touch of the process: its environment and streams.
type invocation struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one `storybot …` command. Commands with a space in their name ("keys check")
// are grouped under their first word: `storybot keys` lists them.
type command struct {
	name    string   // "serve", "keys check"
	args    string   // what follows the name in the synopsis: "[--listen ADDR]"
	summary string   // one line for the command list
	env     []string // the environment variables it reads, described in envVars
	// maxArgs is how many positional arguments it takes after its flags; more are an error.
	maxArgs int
	// define declares the command's flags on fs and returns the function that runs it once
	// fs is parsed, with the positional arguments. It must not do I/O: `help` calls it only
	// to list the flags.
	define func(fs *flag.FlagSet, inv *invocation) func(ctx context.Context, args []string) error
}

// commands is every command, in the order the help lists them.
func commands() []command {
	return []command{
		serveCommand(),
		consoleCommand(),
		healthcheckCommand(),
		keysCheckCommand(),
		keysRotateCommand(),
		discordRegisterCommand(),
		slackManifestCommand(),
		trapsCommand(),
		{
			name: "version", summary: "print the version",
			define: func(_ *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
				return func(context.Context, []string) error {
					fmt.Fprintln(inv.stdout, "storybot", buildVersion())
					return nil
				}
			},
		},
	}
}

const intro = `storybot — a private "what story am I telling myself?" pause, in Slack and Discord.
`

// dispatch runs the command args names, or prints help.
func dispatch(ctx context.Context, cmds []command, args []string, inv *invocation) error {
	if len(args) == 0 {
		printCommandList(inv.stderr, cmds, "")
		return errors.New("no command given (try: storybot help)")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 {
			printCommandList(inv.stdout, cmds, "")
			return nil
		}
		topic := strings.Join(args[1:], " ")
		if c, ok := findCommand(cmds, args[1:]); ok && c.name == topic {
			printCommandHelp(inv.stdout, c, inv)
			return nil
		}
		if group := groupOf(cmds, topic); len(group) > 0 {
			printCommandList(inv.stdout, group, topic)
			return nil
		}
		printCommandList(inv.stderr, cmds, "")
		return fmt.Errorf("help: no command %q", topic)
	case "--version", "-version":
		args = []string{"version"}
	}
	c, ok := findCommand(cmds, args)
	if !ok {
		// A group name alone, or with an unknown subcommand, lists the group.
		if group := groupOf(cmds, args[0]); len(group) > 0 {
			printCommandList(inv.stderr, group, args[0])
			if len(args) == 1 {
				return fmt.Errorf("%s: which one? (see the list above)", args[0])
			}
			return fmt.Errorf("%s: unknown command %q", args[0], args[1])
		}
		printCommandList(inv.stderr, cmds, "")
		return fmt.Errorf("unknown command %q", args[0])
	}
	rest := args[len(strings.Fields(c.name)):]
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	// The flag package's own messages are replaced by ours below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	runFn := c.define(fs, inv)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(inv.stdout, c, inv)
			return nil
		}
		fmt.Fprintf(inv.stderr, "Usage: %s\n(storybot help %s shows every flag)\n", synopsis(c), c.name)
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if fs.NArg() > c.maxArgs {
		fmt.Fprintf(inv.stderr, "Usage: %s\n", synopsis(c))
		extra := fs.Args()[c.maxArgs:]
		return fmt.Errorf("%s: unexpected argument %q (flags go before arguments; storybot help %s)", c.name, extra[0], c.name)
	}
	return runFn(ctx, fs.Args())
}

// findCommand returns the command whose name is the longest prefix of args.
func findCommand(cmds []command, args []string) (command, bool) {
	best, found := command{}, false
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && slices.Equal(words, args[:len(words)]) {
			if !found || len(words) > len(strings.Fields(best.name)) {
				best, found = c, true
			}
		}
	}
	return best, found
}

// groupOf returns the commands named "<group> …".
func groupOf(cmds []command, group string) []command {
	var out []command
	for _, c := range cmds {
		if strings.HasPrefix(c.name, group+" ") {
			out = append(out, c)
		}
	}
	return out
}

func synopsis(c command) string {
	s := "storybot " + c.name
	if c.args != "" {
		s += " " + c.args
	}
	return s
}

func printCommandList(w io.Writer, cmds []command, group string) {
	if group == "" {
		fmt.Fprint(w, intro)
	}
	fmt.Fprintln(w, "\nUsage:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", synopsis(c), c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nConfiguration comes from the environment; \"storybot help <command>\" shows a command's")
	fmt.Fprintln(w, "flags and the environment variables it reads.")
}

// printCommandHelp prints one command's synopsis, summary, flags and environment variables.
func printCommandHelp(w io.Writer, c command, inv *invocation) {
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", synopsis(c), upperFirst(c.summary))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.define(fs, inv)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if len(c.env) > 0 {
		fmt.Fprintln(w, "\nEnvironment:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, name := range c.env {
			v, ok := lookupEnvVar(name)
			if !ok {
				// A programming mistake caught by TestEveryCommandEnvVarIsDocumented.
				fmt.Fprintf(tw, "  %s\t\n", name)
				continue
			}
			line := v.meaning
			if v.def != "" {
				line += " (default: " + v.def + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, line)
		}
		tw.Flush()
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
