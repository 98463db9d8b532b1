package bot

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func days(ds ...time.Weekday) [7]bool {
	var out [7]bool
	for _, d := range ds {
		out[d] = true
	}
	return out
}

func TestParseCommand(t *testing.T) {
	weekdays := days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday)
	all := days(0, 1, 2, 3, 4, 5, 6)
	date := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want Command
	}{
		{"", Command{Name: CmdPause}},
		{"   ", Command{Name: CmdPause}},
		{"pause", Command{Name: CmdPause}},
		{"pause they ignored my point", Command{Name: CmdPause, Text: "they ignored my point"}},
		{"PAUSE  Sam  left early ", Command{Name: CmdPause, Text: "Sam  left early"}},
		{"quick", Command{Name: CmdQuick}},
		{"quick they think I'm slow", Command{Name: CmdQuick, Text: "they think I'm slow"}},
		{"they ignored me in standup", Command{Name: CmdPause, Text: "they ignored me in standup"}},
		{"Sam  cut me off", Command{Name: CmdPause, Text: "Sam  cut me off"}},
		{"dance", Command{Name: CmdPause, Text: "dance"}},
		{"quik they think I'm slow", Command{Name: CmdPause, Text: "quik they think I'm slow"}},
		{"he", Command{Name: CmdPause, Text: "he"}},
		{"tx", Command{Name: CmdPause, Text: "tx"}},
		{"standup", Command{Name: CmdPause, Text: "standup"}},
		{"sos", Command{Name: CmdSOS}},
		{"SOS please", Command{Name: CmdSOS}},
		{"safety-plan", Command{Name: CmdSafetyPlan}},
		{"safety plan", Command{Name: CmdSafetyPlan}},
		{"safety is our first value here", Command{Name: CmdPause, Text: "safety is our first value here"}},
		{"plan to ask Sam", Command{Name: CmdPause, Text: "plan to ask Sam"}},
		{"reframe", Command{Name: CmdReframe}},
		{"reframe they think I'm incompetent", Command{Name: CmdReframe, Text: "they think I'm incompetent"}},
		{"help", Command{Name: CmdHelp}},
		{"privacy", Command{Name: CmdPrivacy}},
		{"export", Command{Name: CmdExport}},
		{"forget", Command{Name: CmdForget}},
		{"history", Command{Name: CmdHistory}},
		{"history 12", Command{Name: CmdHistory, N: 12}},
		{"history Sam", Command{Name: CmdHistory, Word: "Sam"}},
		{"followups", Command{Name: CmdFollowups}},
		{"followups off", Command{Name: CmdFollowups, Followups: "off"}},
		{"Followups ON", Command{Name: CmdFollowups, Followups: "on"}},
		{"followups cancel 2", Command{Name: CmdFollowups, Followups: "cancel", N: 2}},
		{"checkin", Command{Name: CmdCheckin, Checkin: CheckinShow}},
		{"checkin off", Command{Name: CmdCheckin, Checkin: CheckinOff}},
		{"checkin weekdays 09:00", Command{Name: CmdCheckin, Checkin: CheckinSet, Schedule: Schedule{Days: weekdays, Hour: 9}}},
		{"checkin daily 08:15", Command{Name: CmdCheckin, Checkin: CheckinSet, Schedule: Schedule{Days: all, Hour: 8, Minute: 15}}},
		{"checkin mon,wed,fri 16:30", Command{Name: CmdCheckin, Checkin: CheckinSet, Schedule: Schedule{Days: days(time.Monday, time.Wednesday, time.Friday), Hour: 16, Minute: 30}}},
		{"checkin Monday,Thursday 7:05", Command{Name: CmdCheckin, Checkin: CheckinSet, Schedule: Schedule{Days: days(time.Monday, time.Thursday), Hour: 7, Minute: 5}}},
		{"checkin pause until 2026-12-31", Command{Name: CmdCheckin, Checkin: CheckinPauseUntil, Until: date}},
		{"tz", Command{Name: CmdTZ}},
		{"tz Europe/Berlin", Command{Name: CmdTZ, Zone: "Europe/Berlin"}},
		{"digest", Command{Name: CmdDigest}},
		{"digest weekly", Command{Name: CmdDigest, Digest: "weekly"}},
		{"digest OFF", Command{Name: CmdDigest, Digest: "off"}},
		{"practices", Command{Name: CmdPractices}},
		{"practices library", Command{Name: CmdPractices, Library: true}},
		{"coach invite <@U123>", Command{Name: CmdCoachInvite, Target: "U123"}},
		{"coach invite <@U123|sam>", Command{Name: CmdCoachInvite, Target: "U123"}},
		{"coach invite <@!80351110224678912>", Command{Name: CmdCoachInvite, Target: "80351110224678912"}},
		{"coach progress @sam", Command{Name: CmdCoachProgress, Target: "sam"}},
		{"coach list", Command{Name: CmdCoachList}},
		{"coach revoke", Command{Name: CmdCoachRevoke}},
		{"coach unassign <@U1> p-3", Command{Name: CmdCoachUnassign, Target: "U1", Practice: "p-3"}},
		{"coach assign <@U1|ann> name-the-story weekdays 09:00",
			Command{Name: CmdCoachAssign, Target: "U1", Practice: "name-the-story", Schedule: Schedule{Days: weekdays, Hour: 9}}},
		{"coach assign <@U1> Facts-vs-Story daily 18:00 until 2026-12-31",
			Command{Name: CmdCoachAssign, Target: "U1", Practice: "facts-vs-story", Schedule: Schedule{Days: all, Hour: 18}, Until: date}},
		{`coach assign <@U1> "Notice one story at lunch" mon,fri 12:30`,
			Command{Name: CmdCoachAssign, Target: "U1", Text: "Notice one story at lunch", Schedule: Schedule{Days: days(time.Monday, time.Friday), Hour: 12, Minute: 30}}},
		{`coach assign <@U1> "Notice one story a day" daily`,
			Command{Name: CmdCoachAssign, Target: "U1", Text: "Notice one story a day", Schedule: Schedule{Days: all, Hour: 9}, DefaultTime: true}},
		{"coach assign <@U1> name-the-story weekdays",
			Command{Name: CmdCoachAssign, Target: "U1", Practice: "name-the-story", Schedule: Schedule{Days: weekdays, Hour: 9}, DefaultTime: true}},
		{"coach assign <@U1> name-the-story mon,wed until 2026-12-31",
			Command{Name: CmdCoachAssign, Target: "U1", Practice: "name-the-story", Schedule: Schedule{Days: days(time.Monday, time.Wednesday), Hour: 9}, Until: date, DefaultTime: true}},
		{"coach assign <@U1> “Breathe before replying” daily 09:00",
			Command{Name: CmdCoachAssign, Target: "U1", Text: "Breathe before replying", Schedule: Schedule{Days: all, Hour: 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCommand(tt.in)
			if err != nil {
				t.Fatalf("ParseCommand(%q) error = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		in       string
		wantText string // part of the message the user sees
	}{
		{"quik", "Did you mean /story quick?\n/story quick [story]"},
		{"stop", "To stop, type stop on its own in our DM"},
		{"Cancel", "To cancel, type stop on its own in our DM"},
		{"back", "To go back a step, type back on its own"},
		{"history -1", "1 to 50"},
		{"history 51", "1 to 50"},
		{"history two words", "1 to 50"},
		{"followups cancel", "cancel 1"},
		{"followups cancel x", "cancel 1"},
		{"followups maybe", "off or on"},
		{"followups off now", "off or on"},
		{"checkin weekdays", "days and a time"},
		{"checkin funday 09:00", "I don't know the day “funday”"},
		{"checkin daily 25:00", "24-hour HH:MM"},
		{"checkin daily 9", "24-hour HH:MM"},
		{"checkin daily 09:7", "24-hour HH:MM"},
		{"checkin pause until tomorrow", "YYYY-MM-DD"},
		{"checkin pause", "pause until"},
		{"checkin pause until 2026-02-30", "YYYY-MM-DD"},
		{"tz Europe/Berlin please", "one zone name"},
		{"digest monthly", "weekly or off"},
		{"coach", "invite, assign"},
		{"coach invite", "Name one person"},
		{"coach invite sam", "Name one person"},
		{"coach invite <@U1> <@U2>", "Name one person"},
		{"coach assign <@U1>", "coach assign @sam"},
		{`coach assign <@U1> "unterminated daily 09:00`, "closing quote"},
		{`coach assign <@U1> "" daily 09:00`, "empty"},
		{"coach assign <@U1> name-the-story", "coach assign @sam"},
		{"coach assign <@U1> name-the-story funday", "I don't know the day “funday”"},
		{"coach unassign <@U1>", "unassign @sam"},
		{"export now", "takes nothing"},
		{"pause " + strings.Repeat("x", 3001), "3007 characters"},
	}
	for _, tt := range tests {
		t.Run(Truncate(tt.in, 40), func(t *testing.T) {
			got, err := ParseCommand(tt.in)
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("ParseCommand(%q) = %+v, %v; want a *ParseError", tt.in, got, err)
			}
			if !strings.Contains(perr.Msg, tt.wantText) {
				t.Errorf("ParseCommand(%q) message = %q, want it to contain %q", tt.in, perr.Msg, tt.wantText)
			}
		})
	}
}

func TestParseCommandDidYouMean(t *testing.T) {
	tests := []struct {
		in   string
		want string // the subcommand suggested
	}{
		{"quik", "quick"},
		{"QUIK", "quick"},
		{"qiuck", "quick"},
		{"puase", "pause"},
		{"refrmae", "reframe"},
		{"histroy", "history"},
		{"hist", "history"},
		{"priv", "privacy"},
		{"exprot", "export"},
		{"forgot", "forget"},
		{"chekin", "checkin"},
		{"digets", "digest"},
		{"practises", "practices"},
		{"hlep", "help"},
		{"timezon", "timezone"},
		{"coah", "coach"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCommand(tt.in)
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("ParseCommand(%q) = %+v, %v; want a did-you-mean *ParseError", tt.in, got, err)
			}
			if perr.DidYouMean != tt.want {
				t.Errorf("ParseCommand(%q) DidYouMean = %q, want %q", tt.in, perr.DidYouMean, tt.want)
			}
			want := "Did you mean /story " + tt.want + "?\n" + Usage(tt.want)
			if perr.Msg != want || Usage(tt.want) == "" {
				t.Errorf("ParseCommand(%q) message = %q, want %q", tt.in, perr.Msg, want)
			}
		})
	}
	// Ordinary words that are not typos of a subcommand start a pause.
	for _, in := range []string{"meeting", "ignored", "they", "fine", "deadline", "standup", "feedback"} {
		if got, err := ParseCommand(in); err != nil || got.Name != CmdPause || got.Text != in {
			t.Errorf("ParseCommand(%q) = %+v, %v; want a pause with %q", in, got, err, in)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"quick", "quick", 0}, {"quik", "quick", 1}, {"qiuck", "quick", 1},
		{"quack", "quick", 1}, {"qk", "quick", 3}, {"", "abc", 3}, {"ca", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestScheduleString(t *testing.T) {
	for _, in := range []string{"weekdays 09:00", "daily 08:15", "mon,wed,fri 16:30", "sun 07:00"} {
		s, err := ParseSchedule(strings.Fields(in))
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", in, err)
		}
		if got := s.String(); got != in {
			t.Errorf("ParseSchedule(%q).String() = %q, want %q", in, got, in)
		}
	}
}

func TestParseMention(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"<@U123>", "U123", true},
		{"<@U123|sam>", "U123", true},
		{"<@!42>", "42", true},
		{"@sam", "sam", true},
		{"sam", "", false},
		{"<@>", "", false},
		{"<@U1 2>", "U1 2", false},
		{"<#C123>", "", false},
		{"@", "", false},
	}
	for _, tt := range tests {
		got, ok := ParseMention(tt.in)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("ParseMention(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// FuzzParseCommand checks that no input panics, that every failure is a *ParseError with
// a message for the user, and that successes are well-formed.
func FuzzParseCommand(f *testing.F) {
	for _, seed := range []string{
		"", "pause x", "quick", "quik", "they ignored me", "quick they think I'm slow", "reframe they hate me", "checkin weekdays 09:00", "checkin mon,wed 7:30",
		"checkin pause until 2026-12-31", "tz Asia/Kolkata", "history 3", "coach invite <@U1|a>",
		`coach assign <@U1> "free text" daily 09:00 until 2027-01-01`, "coach assign <@U1> “x”", "digest weekly",
		"coach unassign <@U1> p1", "\x00", "checkin ,,, 00:00", "coach assign <@U1> \"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cmd, err := ParseCommand(in)
		if err != nil {
			var perr *ParseError
			if !errors.As(err, &perr) || perr.Msg == "" {
				t.Fatalf("ParseCommand(%q) error %v is not a *ParseError with a message", in, err)
			}
			return
		}
		if cmd.Name < CmdHelp || cmd.Name > CmdCoachRevoke {
			t.Fatalf("ParseCommand(%q) = unknown name %d", in, cmd.Name)
		}
		if cmd.Schedule.Hour < 0 || cmd.Schedule.Hour > 23 || cmd.Schedule.Minute < 0 || cmd.Schedule.Minute > 59 {
			t.Fatalf("ParseCommand(%q) schedule out of range: %+v", in, cmd.Schedule)
		}
		switch cmd.Name {
		case CmdCoachInvite, CmdCoachProgress, CmdCoachAssign, CmdCoachUnassign:
			if !validID(cmd.Target) {
				t.Fatalf("ParseCommand(%q) target %q is not a valid ID", in, cmd.Target)
			}
		}
	})
}
