package bot

import (
	"testing"
	"time"
)

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func sched(tb testing.TB, days, clock string) Schedule {
	tb.Helper()
	s, err := ParseSchedule([]string{days, clock})
	if err != nil {
		tb.Fatalf("ParseSchedule(%q, %q): %v", days, clock, err)
	}
	return s
}

func TestScheduleNext(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name        string
		zone        string // "" is UTC
		days, clock string
		after       string // RFC 3339
		want        string // RFC 3339, UTC
	}{
		{"utc fallback later today", "", "daily", "09:00", "2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z"},
		{"utc strictly after", "", "daily", "09:00", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z"},
		{"weekdays friday to monday", "", "weekdays", "09:00", "2026-03-06T10:00:00Z", "2026-03-09T09:00:00Z"},
		{"weekdays saturday", "", "weekdays", "09:00", "2026-03-07T08:00:00Z", "2026-03-09T09:00:00Z"},
		{"mon,wed,fri from wed after", "", "mon,wed,fri", "16:30", "2026-03-04T17:00:00Z", "2026-03-06T16:30:00Z"},
		{"single day a week later", "", "tue", "07:00", "2026-03-03T07:00:00Z", "2026-03-10T07:00:00Z"},
		{"berlin winter", "Europe/Berlin", "daily", "09:00", "2026-03-02T00:00:00Z", "2026-03-02T08:00:00Z"},
		{"berlin summer", "Europe/Berlin", "daily", "09:00", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"},
		{"berlin spring forward morning", "Europe/Berlin", "daily", "09:00", "2026-03-28T09:00:00Z", "2026-03-29T07:00:00Z"},
		// 02:30 does not exist on 2026-03-29 in Berlin: the first valid instant, 03:00 CEST.
		{"berlin spring forward gap", "Europe/Berlin", "daily", "02:30", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
		{"berlin day after gap", "Europe/Berlin", "daily", "02:30", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		// 02:30 exists twice on 2026-10-25: once, at the first (CEST).
		{"berlin fall back first", "Europe/Berlin", "daily", "02:30", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
		{"berlin fall back not twice", "Europe/Berlin", "daily", "02:30", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"berlin fall back evening", "Europe/Berlin", "daily", "18:00", "2026-10-25T00:00:00Z", "2026-10-25T17:00:00Z"},
		// New York: spring forward 2026-03-08 02:00 EST -> 03:00 EDT.
		{"new york spring gap", "America/New_York", "daily", "02:30", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
		{"new york spring morning", "America/New_York", "weekdays", "09:00", "2026-03-06T15:00:00Z", "2026-03-09T13:00:00Z"},
		// Fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 exists twice.
		{"new york fall back first", "America/New_York", "daily", "01:30", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
		{"new york fall back not twice", "America/New_York", "daily", "01:30", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		{"kolkata +05:30", "Asia/Kolkata", "daily", "09:00", "2026-03-02T00:00:00Z", "2026-03-02T03:30:00Z"},
		{"kathmandu +05:45", "Asia/Kathmandu", "daily", "09:00", "2026-03-02T00:00:00Z", "2026-03-02T03:15:00Z"},
		{"eucla +08:45", "Australia/Eucla", "daily", "09:00", "2026-03-02T00:00:00Z", "2026-03-02T00:15:00Z"},
		// Adelaide: +10:30 in summer, +09:30 after 2026-04-05 03:00 (fall back to 02:00).
		{"adelaide summer", "Australia/Adelaide", "daily", "09:00", "2026-03-02T00:00:00Z", "2026-03-02T22:30:00Z"},
		{"adelaide fall back 02:30 once", "Australia/Adelaide", "daily", "02:30", "2026-04-04T12:00:00Z", "2026-04-04T16:00:00Z"},
		{"adelaide winter", "Australia/Adelaide", "daily", "09:00", "2026-04-10T00:00:00Z", "2026-04-10T23:30:00Z"},
		{"weekday in local zone, not utc", "Pacific/Auckland", "mon", "08:00", "2026-03-01T00:00:00Z", "2026-03-01T19:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var loc *time.Location
			if tt.zone != "" {
				loc = mustLoc(t, tt.zone)
			}
			s := sched(t, tt.days, tt.clock)
			got := s.Next(utc(tt.after), loc)
			if want := utc(tt.want); !got.Equal(want) {
				t.Errorf("Schedule(%s).Next(%s, %s) = %s, want %s", s, tt.after, tt.zone, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestScheduleNextEveryDayOnce(t *testing.T) {
	// Walking a whole year by Next in zones with DST gives exactly one occurrence per
	// local day, and every one shows the time of day or is the end of a DST gap.
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Adelaide", "Asia/Kathmandu", "UTC"} {
		loc := mustLoc(t, zone)
		for _, clock := range []string{"00:30", "01:30", "02:30", "09:00", "23:59"} {
			s := sched(t, "daily", clock)
			seen := map[string]bool{}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			for i := 0; i < 365; i++ {
				next := s.Next(at, loc)
				if !next.After(at) {
					t.Fatalf("%s %s: Next(%v) = %v, not after", zone, clock, at, next)
				}
				day := next.In(loc).Format("2006-01-02")
				if seen[day] {
					t.Fatalf("%s %s: two occurrences on %s", zone, clock, day)
				}
				seen[day] = true
				at = next
			}
			if len(seen) != 365 {
				t.Errorf("%s %s: %d days, want 365", zone, clock, len(seen))
			}
		}
	}
}

func TestCheckinPauseUntil(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	until, _ := ParseDate("2026-03-10") // a Tuesday
	c := Checkin{Schedule: sched(t, "weekdays", "09:00"), Until: until}
	after := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	got := c.Next(after, berlin)
	want := time.Date(2026, 3, 11, 9, 0, 0, 0, berlin)
	if !got.Equal(want) {
		t.Errorf("Next with pause until 2026-03-10 = %v, want %v", got, want)
	}
	// After the pause, the pause changes nothing.
	if got, want := c.Next(want, berlin), time.Date(2026, 3, 12, 9, 0, 0, 0, berlin); !got.Equal(want) {
		t.Errorf("Next after the pause = %v, want %v", got, want)
	}
	// A user in UTC+14 (Kiritimati): the pause ends at their local midnight.
	kiri := mustLoc(t, "Pacific/Kiritimati")
	c = Checkin{Schedule: sched(t, "daily", "00:00"), Until: until}
	if got, want := c.Next(after, kiri), time.Date(2026, 3, 11, 0, 0, 0, 0, kiri); !got.Equal(want) {
		t.Errorf("Next in Kiritimati = %v, want %v", got, want)
	}
}

func TestJobNextDigestAndSnooze(t *testing.T) {
	j := Job{Kind: JobDigest, TZ: "America/New_York"}
	after := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // a Wednesday
	want := time.Date(2026, 3, 8, 18, 0, 0, 0, mustLoc(t, "America/New_York"))
	if got := j.Next(after); !got.Equal(want) {
		t.Errorf("digest Next = %v, want %v", got, want)
	}
	if got := (Job{Kind: JobSnooze}).Next(after); !got.IsZero() {
		t.Errorf("snooze Next = %v, want zero (one-off)", got)
	}
	if got := (Job{Kind: JobCheckin, TZ: "Not/AZone", Checkin: Checkin{Schedule: sched(t, "daily", "09:00")}}).Next(after); !got.Equal(time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("unknown zone Next = %v, want UTC", got)
	}
}
