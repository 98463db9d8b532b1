package flows

import (
	"testing"
	"time"
)

func TestResolveCheckBack(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	// Tuesday 3 March 2026, 10:07 in Berlin.
	now := time.Date(2026, 3, 3, 10, 7, 0, 0, berlin)
	at := func(day, hour, minute int) string {
		return time.Date(2026, 3, day, hour, minute, 0, 0, berlin).Format(time.RFC3339)
	}
	tests := []struct {
		in   string
		want string // RFC 3339 in Berlin; "none" for no check-back; "" for not understood
	}{
		{"checkback-meeting", at(3, 11, 15)},
		{"after this meeting", at(3, 11, 15)},
		{"checkback-later", at(3, 17, 0)},
		{"Later today", at(3, 17, 0)},
		{"checkback-tomorrow", at(4, 9, 0)},
		{"tomorrow", at(4, 9, 0)},
		{"Tomorrow at 14:30", at(4, 14, 30)},
		{"tomorrow 2pm", at(4, 14, 0)},
		{"checkback-week", at(6, 9, 0)},
		{"this week", at(6, 9, 0)},
		{"friday", at(6, 9, 0)},
		{"Friday at 16:00", at(6, 16, 0)},
		{"on thursday afternoon", at(5, 14, 0)},
		{"tue", at(10, 9, 0)}, // today is Tuesday: next week's
		{"next week", at(9, 9, 0)},
		{"at 16:00", at(3, 16, 0)},
		{"16:00", at(3, 16, 0)},
		{"at 9:00", at(4, 9, 0)}, // already past today: tomorrow
		{"4pm", at(3, 16, 0)},
		{"at 12am", at(4, 0, 0)},
		{"in 20 minutes", at(3, 10, 27)},
		{"in 2 hours", at(3, 12, 7)},
		{"in an hour", at(3, 11, 7)},
		{"in half an hour", at(3, 10, 37)},
		{"today at 17:00", at(3, 17, 0)},
		{"no", "none"},
		{"No check-back", "none"},
		{"checkback-none", "none"},
		{"nope", "none"},
		{"in 2 minutes", ""},   // too soon to be a check-back
		{"in 900 hours", ""},   // more than a week
		{"today at 08:00", ""}, // already past
		{"at 25:00", ""},
		{"at 13pm", ""},
		{"whenever", ""},
		{"friday at noonish", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := resolveCheckBack(tt.in, now, berlin)
		var s string
		switch {
		case !ok:
		case got == nil:
			s = "none"
		default:
			s = got.In(berlin).Format(time.RFC3339)
		}
		if s != tt.want {
			t.Errorf("resolveCheckBack(%q, %v) = %q, want %q", tt.in, now, s, tt.want)
		}
	}
}

// TestResolveCheckBackLate checks the edges (issue 12): "later today" is 17:00, or three
// hours from now once 17:00 is less than an hour away; "this week" is Friday 09:00, and from
// Friday morning on, next Monday 09:00.
func TestResolveCheckBackLate(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	tests := []struct {
		now  time.Time
		in   string
		want time.Time
	}{
		{time.Date(2026, 3, 3, 15, 59, 0, 0, loc), "later today", time.Date(2026, 3, 3, 17, 0, 0, 0, loc)},
		{time.Date(2026, 3, 3, 16, 10, 0, 0, loc), "later today", time.Date(2026, 3, 3, 19, 15, 0, 0, loc)},
		{time.Date(2026, 3, 3, 18, 0, 0, 0, loc), "later today", time.Date(2026, 3, 3, 21, 0, 0, 0, loc)},
		{time.Date(2026, 3, 3, 19, 40, 0, 0, loc), "later today", time.Date(2026, 3, 3, 22, 45, 0, 0, loc)},
		{time.Date(2026, 3, 6, 7, 30, 0, 0, loc), "this week", time.Date(2026, 3, 6, 9, 0, 0, 0, loc)},
		{time.Date(2026, 3, 6, 8, 30, 0, 0, loc), "this week", time.Date(2026, 3, 9, 9, 0, 0, 0, loc)},
		{time.Date(2026, 3, 6, 16, 0, 0, 0, loc), "this week", time.Date(2026, 3, 9, 9, 0, 0, 0, loc)},
		{time.Date(2026, 3, 7, 11, 0, 0, 0, loc), "this week", time.Date(2026, 3, 9, 9, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		got, ok := resolveCheckBack(tt.in, tt.now, loc)
		if !ok || got == nil || !got.Equal(tt.want) {
			t.Errorf("resolveCheckBack(%q, %v) = %v, %v, want %v", tt.in, tt.now, got, ok, tt.want)
		}
	}
}

// TestResolveCheckBackDST checks "tomorrow" across the change to summer time: 09:00 local,
// 23 hours later.
func TestResolveCheckBackDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	now := time.Date(2026, 3, 28, 10, 0, 0, 0, berlin) // the clocks go forward that night
	got, ok := resolveCheckBack("tomorrow", now, berlin)
	if !ok || got == nil || got.In(berlin).Hour() != 9 || got.Sub(now) != 22*time.Hour {
		t.Errorf("resolveCheckBack(tomorrow, %v) = %v, want 09:00 local, 22 hours on", now, got)
	}
}

func TestWhenText(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC) // a Tuesday
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 3, 3, 16, 0, 0, 0, time.UTC), "today at 16:00"},
		{time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC), "tomorrow at 09:00"},
		{time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC), "Friday at 15:00"},
		{time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), "Tue 10 Mar at 09:00"},
	}
	for _, tt := range tests {
		if got := whenText(tt.t, now); got != tt.want {
			t.Errorf("whenText(%v, %v) = %q, want %q", tt.t, now, got, tt.want)
		}
	}
}

// FuzzResolveCheckBack checks that no answer panics and that every time read is after now
// and at most a week and a day away.
func FuzzResolveCheckBack(f *testing.F) {
	for _, seed := range []string{"tomorrow", "friday at 16:00", "in 20 minutes", "at 4pm", "no", "in half an hour",
		"today at 25:99", "next week 9", "in 999 h", "at 0:00am", "tomorrow at"} {
		f.Add(seed)
	}
	now := time.Date(2026, 3, 3, 10, 7, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, answer string) {
		got, ok := resolveCheckBack(answer, now, time.UTC)
		if !ok || got == nil {
			return
		}
		if !got.After(now) || got.Sub(now) > 8*24*time.Hour {
			t.Fatalf("resolveCheckBack(%q) = %v, want within a week after %v", answer, got, now)
		}
	})
}
