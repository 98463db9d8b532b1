package engine

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// TestMetricsHotSeries: the series an event touches every time, looked up once at start,
// count into the same series as a lookup by labels would, and values outside the
// vocabulary looked up at start still count under their own labels.
func TestMetricsHotSeries(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	for _, tc := range []struct {
		ev             bot.Event
		platform, kind string
	}{
		{bot.Event{Kind: bot.EventText, User: bot.UserRef{Platform: "slack"}}, "slack", "text"},
		{bot.Event{Kind: bot.EventChoice, User: bot.UserRef{Platform: "discord"}}, "discord", "choice"},
		{bot.Event{Kind: bot.EventForm, User: bot.UserRef{Platform: "slack"}}, "slack", "form"},
		{bot.Event{Kind: bot.EventText, User: bot.UserRef{Platform: "irc"}}, "other", "text"},
	} {
		now := time.Unix(100, 0)
		m.event(tc.ev)
		m.handled(tc.ev, now, func() time.Time { return now.Add(time.Second) })
		if got := counterValue(t, m.events.WithLabelValues(tc.platform, tc.kind)); got != 1 {
			t.Errorf("events{%s,%s} = %v, want 1", tc.platform, tc.kind, got)
		}
		var d dto.Metric
		if err := m.duration.WithLabelValues(tc.platform, tc.kind).(prometheus.Metric).Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetHistogram().GetSampleCount(); got != 1 {
			t.Errorf("duration{%s,%s} count = %d, want 1", tc.platform, tc.kind, got)
		}
	}
	m.reply(flows.ReplyPrompt)
	m.reply(flows.ReplyCrisis)
	m.reply(flows.ReplyKind(42))
	for label, want := range map[string]float64{"prompt": 1, "crisis": 1, "info": 0, "kind42": 1} {
		if got := counterValue(t, m.replies.WithLabelValues(label)); got != want {
			t.Errorf("replies{%s} = %v, want %v", label, got, want)
		}
	}
	m.Admission("message", "admitted")
	m.Admission("message", "shed_user")
	m.Admission("home", "admitted")
	for _, l := range [][2]string{{"message", "admitted"}, {"message", "shed_user"}, {"home", "admitted"}} {
		if got := counterValue(t, m.work.WithLabelValues(l[0], l[1])); got != 1 {
			t.Errorf("work{%s,%s} = %v, want 1", l[0], l[1], got)
		}
	}
	if got := counterValue(t, m.work.WithLabelValues("command", "admitted")); got != 0 {
		t.Errorf("work{command,admitted} = %v, want 0", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
