package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/storybot/storybot/flows"
)

// trapsCommand is `storybot traps "some sentence"`: the thinking traps storybot would suggest
// for a story, with the words behind each, for coaches who want to see how it reads a
// sentence and for debugging the rules. It reads standard input when no sentence is given.
func trapsCommand() command {
	return command{
		name:    "traps",
		args:    `[--list] ["story" | < file]`,
		summary: "show the thinking traps storybot would suggest for a story, and why",
		maxArgs: flows.MaxAnswerRunes, // the words of an unquoted sentence
		define: func(fs *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			list := fs.Bool("list", false, "list the twelve thinking traps instead")
			return func(_ context.Context, args []string) error {
				if *list {
					printTraps(inv.stdout)
					return nil
				}
				story := strings.Join(args, " ")
				if len(args) == 0 {
					// Read one answer's worth, and a little more to tell that it was too long.
					b, err := io.ReadAll(io.LimitReader(inv.stdin, int64(4*flows.MaxAnswerRunes+4)))
					if err != nil {
						return fmt.Errorf("traps: read the story from standard input: %w", err)
					}
					story = string(b)
				}
				story = strings.TrimSpace(story)
				if story == "" {
					fmt.Fprintf(inv.stderr, "Usage: storybot traps \"some sentence\"\n")
					return errors.New(`traps: no story given (try: storybot traps "They will think I'm a fraud")`)
				}
				if n := utf8.RuneCountInString(story); n > flows.MaxAnswerRunes {
					return fmt.Errorf("traps: the story has %d characters; storybot takes answers of up to %d", n, flows.MaxAnswerRunes)
				}
				printSuggestions(inv.stdout, flows.SuggestTraps(story))
				return nil
			}
		},
	}
}

// printSuggestions writes the suggestions as the bot would offer them, with their scores.
func printSuggestions(w io.Writer, ss []flows.Suggestion) {
	if len(ss) == 0 {
		fmt.Fprintln(w, "No thinking trap suggested. (Suggestions are precision first: better none than a wrong one.)")
		return
	}
	for i, s := range ss {
		fmt.Fprintf(w, "%d. %s (%s), score %.2f\n", i+1, s.Label(), s.ID, s.Score)
		fmt.Fprintf(w, "   because you wrote “%s”\n", s.Because)
		fmt.Fprintf(w, "   %s\n", s.Explain)
		fmt.Fprintf(w, "   Hint: %s\n", s.Hint)
	}
}

// printTraps lists every trap storybot knows.
func printTraps(w io.Writer) {
	for i, t := range flows.Traps() {
		fmt.Fprintf(w, "%2d. %s (%s): %s\n", i+1, t.Label(), t.ID, t.Explain)
	}
}
