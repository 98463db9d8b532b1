package storetest_test

import (
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/storage/storetest"
)

// TestMemLeases holds the in-process leases (one replica, the adapters' default) to the rules
// the Redis store keeps.
func TestMemLeases(t *testing.T) {
	storetest.RunEventLeases(t, func(t *testing.T) (bot.EventLeases, func(time.Duration)) {
		clock := fakeclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		return bot.NewMemLeases(clock.Now), clock.Add
	})
}
