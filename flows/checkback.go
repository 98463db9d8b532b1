package flows

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The check-back: after the next step, "when shall I check back?" The answer is resolved
// here, once, to a moment in the user's time zone (Input.Location) and kept on the entry;
// the follow-through scheduler acts on it. Flows reads no clock: "tomorrow" means the day
// after Input.Now.

// Times of day the named choices resolve to, in the user's time zone.
const (
	morningHour   = 9             // "tomorrow", "friday", "next week", "this week" (Friday): 09:00
	laterHour     = 17            // "later today": 17:00, the end of most working days
	laterTodayGap = 3 * time.Hour // "later today" once 17:00 is (nearly) past
	meetingGap    = time.Hour     // "after this meeting": about an hour from now
)

// CheckBackChoices are the check-back buttons. Their IDs are stable: adapters send them back.
func CheckBackChoices() []Choice {
	return []Choice{
		{ID: "checkback-meeting", Label: "After this meeting"},
		{ID: "checkback-later", Label: "Later today"},
		{ID: "checkback-tomorrow", Label: "Tomorrow"},
		{ID: "checkback-week", Label: "This week"},
		{ID: "checkback-none", Label: "No check-back"},
	}
}

// noCheckBack are typed answers that decline a check-back.
var noCheckBack = map[string]bool{
	"no": true, "nope": true, "none": true, "no thanks": true, "no thank you": true, "never": true,
	"no check-back": true, "no check back": true, "no checkback": true, "don't": true, "dont": true,
	"not needed": true, "no need": true, "n": true,
}

var (
	reIn      = regexp.MustCompile(`^in (\d{1,3}|an?|one|two|three|half an) ?(m|min|mins|minute|minutes|h|hr|hrs|hour|hours)$`)
	reClock   = regexp.MustCompile(`^(\d{1,2})(?::(\d{2}))? ?(am|pm)?$`)
	reDayTime = regexp.MustCompile(`^(today|tonight|tomorrow|tmrw|tmr|monday|mon|tuesday|tue|tues|wednesday|wed|thursday|thu|thur|thurs|friday|fri|saturday|sat|sunday|sun|next week)(?: (?:at )?(.+))?$`)
)

// resolveCheckBack reads a check-back answer (a button ID or typed words) at now in loc. It
// returns the moment, or ok with a nil time for "no check-back"; ok is false when the words
// are not a time it can read.
func resolveCheckBack(answer string, now time.Time, loc *time.Location) (*time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	now = now.In(loc)
	t := strings.TrimSuffix(normal(answer), "?")
	t = strings.TrimPrefix(t, "check back ")
	t = strings.TrimPrefix(t, "check in ")
	at := func(v time.Time) (*time.Time, bool) { return &v, true }
	switch t {
	case "checkback-none":
		return nil, true
	case "checkback-meeting", "after this meeting", "after the meeting", "after meeting", "after", "meeting":
		return at(roundUp(now.Add(meetingGap)))
	case "checkback-later", "later today", "later", "this afternoon", "this evening":
		return at(laterToday(now))
	case "checkback-tomorrow", "tomorrow", "tmrw", "tmr", "tomorrow morning":
		return at(dayAt(now, 1, morningHour, 0))
	case "checkback-week", "this week", "end of the week", "end of week":
		return at(thisWeek(now))
	}
	if noCheckBack[t] {
		return nil, true
	}
	t = strings.TrimPrefix(t, "on ")
	if m := reIn.FindStringSubmatch(t); m != nil {
		n := 0
		switch m[1] {
		case "a", "an", "one":
			n = 1
		case "two":
			n = 2
		case "three":
			n = 3
		case "half an":
			if !strings.HasPrefix(m[2], "h") {
				return nil, false
			}
			return at(now.Add(30 * time.Minute))
		default:
			n, _ = strconv.Atoi(m[1])
		}
		unit := time.Minute
		if strings.HasPrefix(m[2], "h") {
			unit = time.Hour
		}
		d := time.Duration(n) * unit
		if d < 5*time.Minute || d > 7*24*time.Hour {
			return nil, false
		}
		return at(now.Add(d))
	}
	if strings.HasPrefix(t, "at ") {
		h, min, ok := clock(strings.TrimPrefix(t, "at "))
		if !ok {
			return nil, false
		}
		v := dayAt(now, 0, h, min)
		if !v.After(now) {
			v = dayAt(now, 1, h, min)
		}
		return at(v)
	}
	if h, min, ok := clock(t); ok && (strings.Contains(t, ":") || strings.HasSuffix(t, "m")) {
		v := dayAt(now, 0, h, min)
		if !v.After(now) {
			v = dayAt(now, 1, h, min)
		}
		return at(v)
	}
	if m := reDayTime.FindStringSubmatch(t); m != nil {
		h, min := morningHour, 0
		if m[2] != "" {
			var ok bool
			if h, min, ok = clock(m[2]); !ok {
				switch m[2] {
				case "morning":
					h, min = morningHour, 0
				case "afternoon":
					h, min = 14, 0
				case "evening", "night":
					h, min = 18, 0
				default:
					return nil, false
				}
			}
		}
		var v time.Time
		switch day := m[1]; day {
		case "today", "tonight":
			if m[2] == "" {
				return at(laterToday(now))
			}
			v = dayAt(now, 0, h, min)
		case "tomorrow", "tmrw", "tmr":
			v = dayAt(now, 1, h, min)
		case "next week":
			v = dayAt(now, daysUntil(now.Weekday(), time.Monday), h, min)
		default:
			wd, _ := weekday(day)
			v = dayAt(now, daysUntil(now.Weekday(), wd), h, min)
		}
		if !v.After(now) {
			return nil, false
		}
		return at(v)
	}
	return nil, false
}

// clock reads "16:00", "4pm", "4:30 pm" or "16".
func clock(s string) (hour, minute int, ok bool) {
	m := reClock.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, 0, false
	}
	hour, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		minute, _ = strconv.Atoi(m[2])
	}
	switch m[3] {
	case "am":
		if hour < 1 || hour > 12 {
			return 0, 0, false
		}
		if hour == 12 {
			hour = 0
		}
	case "pm":
		if hour < 1 || hour > 12 {
			return 0, 0, false
		}
		if hour != 12 {
			hour += 12
		}
	}
	if hour > 23 || minute > 59 {
		return 0, 0, false
	}
	return hour, minute, true
}

// weekday reads a day's name or its abbreviation.
func weekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		if s == full || len(s) >= 3 && strings.HasPrefix(full, s) {
			return d, true
		}
	}
	return 0, false
}

// daysUntil is how many days from "from" to the next "to": 1 to 7, never 0, since "friday"
// said on a Friday means next week's.
func daysUntil(from, to time.Weekday) int {
	d := (int(to) - int(from) + 7) % 7
	if d == 0 {
		d = 7
	}
	return d
}

// dayAt is hour:minute local time, days after now's date. time.Date normalises across
// daylight-saving changes.
func dayAt(now time.Time, days, hour, minute int) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d+days, hour, minute, 0, 0, now.Location())
}

// roundUp rounds t up to the next quarter hour, so a check-back reads "10:15", not "10:07".
func roundUp(t time.Time) time.Time {
	r := t.Truncate(15 * time.Minute)
	if r.Before(t) {
		r = r.Add(15 * time.Minute)
	}
	return r
}

// laterToday is 17:00 today; when that is less than an hour away or past, three hours from
// now (rounded up to the quarter hour). An hour, because "later today" should not come
// sooner than "after this meeting".
func laterToday(now time.Time) time.Time {
	if v := dayAt(now, 0, laterHour, 0); !v.Before(now.Add(meetingGap)) {
		return v
	}
	return roundUp(now.Add(laterTodayGap))
}

// thisWeek is Friday 09:00; once that is less than an hour away or past (Friday morning
// on, or the weekend), the next Monday 09:00.
func thisWeek(now time.Time) time.Time {
	if fri := dayAt(now, (int(time.Friday)-int(now.Weekday())+7)%7, morningHour, 0); now.Weekday() >= time.Monday && now.Weekday() <= time.Friday && !fri.Before(now.Add(meetingGap)) {
		return fri
	}
	return dayAt(now, daysUntil(now.Weekday(), time.Monday), morningHour, 0)
}

// whenText says when a check-back is, relative to now, in words: "today at 10:15",
// "tomorrow at 09:00", "Friday at 15:00", "Mon 9 Mar at 09:00".
func whenText(t, now time.Time) string {
	now = now.In(t.Location())
	day := t.Format("Mon 2 Jan")
	switch days := dayDiff(now, t); {
	case days == 0:
		day = "today"
	case days == 1:
		day = "tomorrow"
	case days > 1 && days < 7:
		day = t.Weekday().String()
	}
	return day + " at " + t.Format("15:04")
}

// dayDiff counts calendar days from a to b in b's zone.
func dayDiff(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	da := time.Date(ay, am, ad, 12, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 12, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}
