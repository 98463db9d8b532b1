// Package console is storybot's terminal adapter: `storybot console` runs the same
// dialogues as Slack and Discord on standard input and output, and tests use it to drive the
// whole engine end to end.
package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// Platform is the platform name of console users.
const Platform = "console"

// Handler is what the console feeds events to (the engine).
type Handler interface {
	Handle(ctx context.Context, ev bot.Event) error
}

// Console reads lines from in and writes the bot's messages to out. It is also the
// engine's bot.Sender.
type Console struct {
	in   io.Reader
	out  io.Writer
	user bot.UserRef

	mu sync.Mutex // serializes writes to out
}

var _ bot.Sender = (*Console)(nil)

// New returns a console for the given user name ("you" when empty).
func New(in io.Reader, out io.Writer, user string) *Console {
	if user == "" {
		user = "you"
	}
	return &Console{in: in, out: out, user: User(user)}
}

// User is the bot.UserRef of a console user.
func User(name string) bot.UserRef {
	return bot.UserRef{Platform: Platform, Workspace: "local", User: name}
}

// Send prints m as plain text. The console is the user's DM, so every private destination
// prints here; the guard in front of it has already refused anything else.
func (c *Console) Send(_ context.Context, m bot.Message) error {
	if m.To.User != c.user {
		// Another user's DM (a coaching invitation, say) is not this terminal's to show.
		return fmt.Errorf("console: %s is not at this terminal", m.To.User)
	}
	text := Render(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := fmt.Fprintf(c.out, "%s\n\n", text)
	if err != nil {
		return fmt.Errorf("console: write: %w", err)
	}
	return nil
}

// Render is the console rendering of a message: flows.PlainText, then any file inline.
func Render(m bot.Message) string {
	text := flows.PlainText(flows.Reply{Kind: m.Kind, Text: m.Text, Choices: m.Choices})
	if m.File != nil {
		// A terminal has no attachments: show the file itself, between markers.
		text += fmt.Sprintf("\n--- %s ---\n%s\n--- end of %s ---", m.File.Name, strings.TrimSpace(string(m.File.Content)), m.File.Name)
	}
	return text
}

// Event translates one typed line into an event: "/story …" is a command, anything else
// an answer in the DM.
func (c *Console) Event(line string) bot.Event {
	ev := bot.Event{User: c.user, InDM: true, Route: "console"}
	trimmed := strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(trimmed, "/story"); ok && (rest == "" || rest[0] == ' ') {
		ev.Kind, ev.Text = bot.EventCommand, strings.TrimSpace(rest)
		return ev
	}
	ev.Kind, ev.Text = bot.EventText, line
	return ev
}

// Run reads lines until in ends, "quit" is typed or ctx is done, handing each to h.
// A handler error is shown as a short note; the details are h's to log.
func (c *Console) Run(ctx context.Context, h Handler) error {
	lines := make(chan string)
	readErr := make(chan error, 1)
	// The reader cannot be interrupted while blocked on a terminal; it ends with the
	// process, or when in ends.
	go func() {
		sc := bufio.NewScanner(c.in)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					return fmt.Errorf("console: read: %w", err)
				}
				return nil
			}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "":
				continue
			case "quit", "exit", "/quit":
				return nil
			}
			if err := h.Handle(ctx, c.Event(line)); err != nil && !errors.Is(err, bot.ErrUserTold) {
				c.mu.Lock()
				fmt.Fprintln(c.out, "(that didn't go through — see the log above; nothing you wrote before was lost)")
				c.mu.Unlock()
			}
		}
	}
}
