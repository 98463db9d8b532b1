package bot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRedactCapabilityURLs(t *testing.T) {
	secrets := []string{
		`Post "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN": dial tcp: i/o timeout`,
		`PATCH https://discord.com/api/v9/webhooks/123456789/aW50ZXJhY3Rpb246c2VjcmV0/messages/@original 404`,
		`POST https://discord.com/api/v10/interactions/987654321/aW50ZXJhY3Rpb246c2VjcmV0/callback`,
	}
	for _, s := range secrets {
		got := Redact(s)
		if strings.Contains(got, "96rGlfmibIGlgcZRskXaIFfN") || strings.Contains(got, "aW50ZXJhY3Rpb246c2VjcmV0") || !strings.Contains(got, "[redacted]") {
			t.Errorf("Redact(%q) = %q", s, got)
		}
	}
	var buf bytes.Buffer
	log := slog.New(NewRedactingHandler(slog.NewTextHandler(&buf, nil))).With("route", "https://hooks.slack.com/actions/T1/2/SECRETA")
	log.Error("send failed https://hooks.slack.com/commands/T1/2/SECRETB", "err", errors.New(secrets[1]), slog.Group("g", "url", "https://discord.com/api/v9/webhooks/1/SECRETC"))
	for _, s := range []string{"SECRETA", "SECRETB", "aW50ZXJhY3Rpb246c2VjcmV0", "SECRETC"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log line holds %s: %s", s, buf.String())
		}
	}
}

func TestRefusalsLogAtMostOnceAMinutePerReason(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	counted := map[string]int{}
	r := NewRefusals(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now }, func(reason string) { counted[reason]++ })
	for range 100 {
		r.Refuse(context.Background(), "/x", "bad signature")
		r.Refuse(context.Background(), "/x", "malformed")
	}
	if n := strings.Count(buf.String(), "request refused"); n != 2 {
		t.Errorf("%d log lines for 200 refusals within a minute, want 2 (one per reason):\n%s", n, buf.String())
	}
	if counted["bad signature"] != 100 || counted["malformed"] != 100 {
		t.Errorf("counted %v, want 100 each", counted)
	}
	now = now.Add(RefusalLogEvery)
	r.Refuse(context.Background(), "/x", "bad signature")
	if !strings.Contains(buf.String(), "count=100") {
		t.Errorf("the next line does not say how many were refused since: %s", buf.String())
	}
}
