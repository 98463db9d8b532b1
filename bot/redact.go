package bot

import (
	"context"
	"log/slog"
	"regexp"
)

// capabilityURL matches the secret part of URLs that are capabilities: whoever holds one
// may post as the bot to a user (a Slack response_url, a Discord webhook or interaction
// token). They turn up in errors from HTTP clients ("Post \"https://…\": …"), so every log
// line passes through Redact.
var capabilityURL = regexp.MustCompile(`(hooks\.slack\.com/(?:commands|actions|services|app)/)[^\s"'<>]+` +
	`|(/webhooks/\d+/)[^\s"'/?<>]+` +
	`|(/interactions/\d+/)[^\s"'/?<>]+`)

// Redact replaces the secret part of capability URLs in s with [redacted].
func Redact(s string) string {
	return capabilityURL.ReplaceAllString(s, "${1}${2}${3}[redacted]")
}

// RedactingHandler wraps a slog.Handler so that no message or attribute it passes on holds
// a capability URL (Redact): strings, errors and anything else that prints as text.
type RedactingHandler struct{ next slog.Handler }

// NewRedactingHandler returns next behind redaction.
func NewRedactingHandler(next slog.Handler) *RedactingHandler { return &RedactingHandler{next: next} }

var _ slog.Handler = (*RedactingHandler)(nil)

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		as := v.Group()
		red := make([]any, len(as))
		for i, g := range as {
			red[i] = redactAttr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, Redact(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
