package slack

import (
	"context"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
)

var _ bot.Availability = (*Adapter)(nil)

// AvailableAt implements bot.Availability with dnd.info: a scheduled message for a user in
// Do Not Disturb (a manual snooze or their DND hours) waits until it ends. Users of other
// platforms are always available.
func (a *Adapter) AvailableAt(ctx context.Context, u bot.UserRef) (time.Time, error) {
	if u.Platform != Platform {
		return time.Time{}, nil
	}
	var st *slack.DNDStatus
	err := a.retry(ctx, "dnd.info", u, func(ctx context.Context) error {
		var err error
		st, err = a.api.GetDNDInfoContext(ctx, &u.User)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	return dndEnd(*st, a.cfg.Now()), nil
}

// dndEnd is when Do Not Disturb ends for a user with status st at now, or the zero time
// when they are not in it.
func dndEnd(st slack.DNDStatus, now time.Time) time.Time {
	var end time.Time
	if st.SnoozeEnabled && st.SnoozeEndTime > 0 {
		end = time.Unix(int64(st.SnoozeEndTime), 0)
	}
	if st.Enabled && st.NextStartTimestamp > 0 && st.NextEndTimestamp > 0 {
		start, stop := time.Unix(int64(st.NextStartTimestamp), 0), time.Unix(int64(st.NextEndTimestamp), 0)
		if !now.Before(start) && now.Before(stop) && stop.After(end) {
			end = stop
		}
	}
	if !end.After(now) {
		return time.Time{}
	}
	return end
}
