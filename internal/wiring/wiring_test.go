package wiring_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/internal/wiring"
	"github.com/storybot/storybot/storage"
)

type nopSender struct{}

type always struct{}

func (always) AvailableAt(context.Context, bot.UserRef) (time.Time, error) { return time.Time{}, nil }

func (nopSender) Send(context.Context, bot.Message) error { return nil }

// TestEngineSetsEveryField: with every option given, Engine leaves no field of engine.Config
// unset. A field added to the engine (a new store, say) fails here until serve — and with
// it every test built on this package — wires it.
func TestEngineSetsEveryField(t *testing.T) {
	st, err := storage.Open(context.Background(), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := wiring.Engine(st, wiring.Options{
		Sender:        nopSender{},
		Now:           time.Now,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:       engine.NewMetrics(prometheus.NewRegistry()),
		CrisisText:    "Call someone.",
		RetentionDays: 180,
		Encrypted:     true,
		Coaches:       []string{"U1"},
		Zones:         bot.PlatformZones{},
	})
	v := reflect.ValueOf(cfg)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("engine.Config.%s is not set by wiring.Engine", v.Type().Field(i).Name)
		}
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"Erasers", len(cfg.Erasers)}, {"ExportParts", len(cfg.ExportParts)}, {"Mergers", len(cfg.Mergers)}} {
		if f.n == 0 {
			t.Errorf("engine.Config.%s is empty", f.name)
		}
	}

	eng := engine.NewEngine(cfg)
	sc := wiring.Scheduler(st, eng, always{}, wiring.Options{Now: time.Now, Logger: cfg.Logger, Metrics: cfg.Metrics})
	if sc.Queue == nil || sc.Deliver == nil || sc.Availability == nil || sc.Now == nil || sc.Logger == nil || sc.Metrics == nil {
		t.Errorf("wiring.Scheduler = %+v, want queue, deliverer, availability, clock, logger and metrics", sc)
	}
}
