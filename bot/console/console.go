package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

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
	in      io.Reader
	out     io.Writer
	user    bot.UserRef
	mailbox Mailbox
	poll    time.Duration
	log     *slog.Logger

	mu sync.Mutex // serializes writes to out
}

// Mailbox carries messages between console processes on one shared store, one terminal per
// user: what this terminal's engine sends to another user is posted there, and what others
// posted for this terminal's user is printed here.
type Mailbox interface {
	PostConsole(ctx context.Context, u bot.UserRef, text string) error
	TakeConsole(ctx context.Context, u bot.UserRef) ([]string, error)
}

// ErrNotHere is returned by Send for a message to another user when there is no mailbox:
// nobody else can be at this terminal, and no other terminal shares its store.
var ErrNotHere = errors.New("that person is not at this terminal")

// WithMailbox makes c pass messages for other users through mb, checking for its own every
// poll. Without one (the embedded store), messages to others cannot arrive anywhere.
func (c *Console) WithMailbox(mb Mailbox, poll time.Duration) *Console {
	c.mailbox, c.poll = mb, poll
	return c
}

// WithLogger makes c log the errors it reports in short; without one it says less.
func (c *Console) WithLogger(l *slog.Logger) *Console {
	c.log = l
	return c
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
func (c *Console) Send(ctx context.Context, m bot.Message) error {
	if m.To.Kind == bot.DestHome {
		return nil // a terminal has no home page
	}
	text := Render(m)
	if m.To.User != c.user {
		// Another user's DM (a coaching invitation, say) is not this terminal's to show: it
		// goes to their terminal through the shared store, when there is one.
		if c.mailbox == nil || m.To.User.Platform != Platform {
			return fmt.Errorf("console: %s: %w", m.To.User.User, ErrNotHere)
		}
		if err := c.mailbox.PostConsole(ctx, m.To.User, text); err != nil {
			return fmt.Errorf("console: post for %s: %w", m.To.User.User, err)
		}
		return nil
	}
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
	var tick <-chan time.Time
	if c.mailbox != nil {
		t := time.NewTicker(c.poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			c.deliverMail(ctx)
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
				c.note(err)
			}
		}
	}
}

// deliverMail prints what other terminals left for this one.
func (c *Console) deliverMail(ctx context.Context) {
	texts, err := c.mailbox.TakeConsole(ctx, c.user)
	if err != nil && c.log != nil {
		c.log.WarnContext(ctx, "console: read messages from other terminals", "err", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range texts {
		fmt.Fprintf(c.out, "%s\n\n", t)
	}
}

// note tells the user, in one line, that their line did not go through: plainly when the
// reason is that the message was for someone at no terminal, else pointing to the log line
// it writes first (or, without a logger, saying only that nothing was lost).
func (c *Console) note(err error) {
	var msg string
	switch {
	case errors.Is(err, ErrNotHere):
		msg = "(the other person was not told: in the console, each person is a terminal of their own, and terminals reach each other only through a shared Redis. Set REDIS_URL in both and run `storybot console --user NAME` in the other one)"
	case c.log != nil:
		c.log.Error("console: that line did not go through", "err", err)
		msg = "(that didn't go through — the error is logged just above; nothing you wrote before was lost)"
	default:
		msg = "(that didn't go through; nothing you wrote before was lost)"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.out, msg)
}
