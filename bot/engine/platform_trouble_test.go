package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
)

// refusingDMs is a platform whose API refuses the bot token: DMs fail, while ephemeral
// answers through the event's own response route still arrive.
type refusingDMs struct{ recorder }

var errInvalidAuth = errors.New("slack: chat.postMessage: invalid_auth")

func (r *refusingDMs) Send(ctx context.Context, m bot.Message) error {
	if m.To.Kind == bot.DestDM {
		return errInvalidAuth
	}
	return r.recorder.Send(ctx, m)
}

// TestPlatformTroubleIsNotStoreTrouble: a DM the platform refuses is counted and logged as
// platform trouble, and the user is told what is true, not that the store failed.
func TestPlatformTroubleIsNotStoreTrouble(t *testing.T) {
	h := newHarness(t, "")
	reg := h.reg
	rec := &refusingDMs{}
	eng := h.newEngine(func(c *engine.Config) { c.Sender = rec })
	logs := h.logs
	err := eng.Handle(context.Background(), bot.Event{Kind: bot.EventCommand, User: h.user, Text: "history", Route: "route-1"})
	if !errors.Is(err, errInvalidAuth) || !errors.Is(err, bot.ErrUserTold) {
		t.Errorf("Handle = %v, want the platform's error, marked as told", err)
	}
	if len(rec.sent) != 1 || rec.sent[0].Text != engine.TextPlatformDown || rec.sent[0].To.Kind != bot.DestEphemeral {
		t.Errorf("the user got %+v, want only the platform notice in place", rec.sent)
	}
	if strings.Contains(logs.String(), "store failed") || !strings.Contains(logs.String(), "platform did not take a message") {
		t.Errorf("logged as:\n%s", logs.String())
	}
	mfs, _ := reg.Gather()
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.Counter == nil {
				continue
			}
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	if got["storybot_send_errors_total,slack"] != 1 {
		t.Errorf("storybot_send_errors_total{slack} = %v, want 1", got["storybot_send_errors_total,slack"])
	}
	for k, v := range got {
		if strings.HasPrefix(k, "storybot_store_errors_total") && v != 0 {
			t.Errorf("%s = %v: a platform refusal counted as a store error", k, v)
		}
	}
}

// TestMetricsEveryVectorExists: every metric NewMetrics declares is created and registered,
// so no recording method meets a nil vector (a merge once dropped one).
func TestMetricsEveryVectorExists(t *testing.T) {
	m := engine.NewMetrics(prometheus.NewRegistry())
	for _, outcome := range []string{"admitted", "shed_full"} {
		m.Admission("command", outcome)
	}
}
