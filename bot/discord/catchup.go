package discord

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
)

// Catching up after a new gateway session. A RESUME replays what was missed; a new session
// (after op 9 d=false, close 4007, 4009 or 4011) does not, so DMs sent while no session
// was alive would be lost. When a new session follows an earlier one, the adapter asks
// GET /channels/{id}/messages for the messages after the moment the earlier session was
// last heard from (less a margin) in the DM channels it has seen in the last
// catchUpChannels (the most recent maxCatchUp of them), and hands them to the same path as MESSAGE_CREATE. The dedupe by
// message ID makes each answer once, whichever replica or path sees it first.

const (
	catchUpMargin   = 5 * time.Second  // before the earlier session's last sign of life
	catchUpChannels = time.Hour        // DM channels with a message this recent are asked
	maxCatchUp      = 200              // at most this many channels, the most recent first
	catchUpLimit    = 50               // messages asked per channel
	maxSeenChannels = 10000            // the bound of the seen-channels memory
	catchUpTimeout  = 30 * time.Second // for the whole catch-up
)

// dmSeen remembers the DM channels messages came from, with when; zero value ready.
type dmSeen struct {
	mu       sync.Mutex
	channels map[string]time.Time
}

// note records a DM channel a message came from.
func (d *dmSeen) note(channel string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.channels == nil {
		d.channels = map[string]time.Time{}
	}
	if _, ok := d.channels[channel]; !ok && len(d.channels) >= maxSeenChannels {
		// Full: forget the channel quiet the longest.
		oldest, first := "", true
		for c, t := range d.channels {
			if first || t.Before(d.channels[oldest]) {
				oldest, first = c, false
			}
		}
		delete(d.channels, oldest)
	}
	d.channels[channel] = at
}

// since returns the channels with a message after t, the most recent first, at most n.
func (d *dmSeen) since(t time.Time, n int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for c, at := range d.channels {
		if at.After(t) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return d.channels[out[i]].After(d.channels[out[j]]) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// snowflakeAt is the smallest Discord ID of time t: "after" it means "sent after t".
func snowflakeAt(t time.Time) string {
	ms := t.UnixMilli() - 1420070400000
	if ms < 0 {
		ms = 0
	}
	return strconv.FormatInt(ms<<22, 10)
}

// catchUp fetches and handles the DMs sent since the earlier session was last alive.
func (a *Adapter) catchUp(lastAlive time.Time) {
	channels := a.seen.since(a.now().Add(-catchUpChannels), maxCatchUp)
	if len(channels) == 0 {
		return
	}
	after := snowflakeAt(lastAlive.Add(-catchUpMargin))
	err := a.work.Submit("", "catch_up", func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
		defer cancel()
		r := &restAPI{s: a.session, appID: a.cfg.AppID}
		n := 0
		for _, ch := range channels {
			var msgs []*discordgo.Message
			err := r.call(ctx, "catch up", func(opts ...discordgo.RequestOption) error {
				var err error
				msgs, err = a.session.ChannelMessages(ch, catchUpLimit, "", after, "", opts...)
				return err
			})
			if err != nil {
				a.log.WarnContext(ctx, "catching up on a DM channel failed", "err", err)
				continue
			}
			// Discord lists the newest first: hand them over oldest first.
			for i := len(msgs) - 1; i >= 0; i-- {
				if m := msgs[i]; m != nil && m.GuildID == "" {
					m.ChannelID = ch
					a.onMessageCreate(a.session, &discordgo.MessageCreate{Message: m})
					n++
				}
			}
		}
		a.log.InfoContext(ctx, "caught up on DMs after a new gateway session", "channels", len(channels), "messages", n)
	})
	if err != nil {
		a.log.Warn("no room to catch up on DMs after a new gateway session", "err", err)
	}
}
