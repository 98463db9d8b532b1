package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// CommandName is a /story subcommand.
type CommandName int

// The /story subcommands of SPEC.md.
const (
	CmdHelp CommandName = iota
	CmdPause
	CmdQuick
	CmdReframe
	CmdCheckin
	CmdTZ
	CmdHistory
	CmdExport
	CmdForget
	CmdDigest
	CmdPrivacy
	CmdPractices
	CmdCoachInvite
	CmdCoachAssign
	CmdCoachProgress
	CmdCoachList
	CmdCoachUnassign
	CmdCoachRevoke
	CmdSOS        // grounding, resources and the user's own safety plan
	CmdSafetyPlan // write the safety plan, in a calm moment
	CmdCoachAsk   // a client asks a coach to invite them (lifts the re-invite cooldown)
	CmdFollowups
)

var commandNames = [...]string{
	CmdHelp:          "help",
	CmdPause:         "pause",
	CmdQuick:         "quick",
	CmdReframe:       "reframe",
	CmdCheckin:       "checkin",
	CmdTZ:            "tz",
	CmdHistory:       "history",
	CmdExport:        "export",
	CmdForget:        "forget",
	CmdDigest:        "digest",
	CmdPrivacy:       "privacy",
	CmdPractices:     "practices",
	CmdCoachInvite:   "coach invite",
	CmdCoachAssign:   "coach assign",
	CmdCoachProgress: "coach progress",
	CmdCoachList:     "coach list",
	CmdCoachUnassign: "coach unassign",
	CmdCoachRevoke:   "coach revoke",
	CmdSOS:           "sos",
	CmdSafetyPlan:    "safety-plan",
	CmdCoachAsk:      "coach ask",
	CmdFollowups:     "followups",
}

func (c CommandName) String() string {
	if c >= 0 && int(c) < len(commandNames) {
		return commandNames[c]
	}
	return "CommandName(" + strconv.Itoa(int(c)) + ")"
}

// CheckinAction says what a /story checkin command does.
type CheckinAction int

// The check-in actions.
const (
	CheckinShow       CheckinAction = iota // /story checkin
	CheckinSet                             // /story checkin weekdays 09:00
	CheckinOff                             // /story checkin off
	CheckinPauseUntil                      // /story checkin pause until 2026-12-31
)

// Schedule is a weekly cadence at a local time of day: check-ins and practice reminders.
type Schedule struct {
	Days   [7]bool // indexed by time.Weekday
	Hour   int
	Minute int
}

// String renders the schedule in the syntax it is typed in ("weekdays 09:00").
func (s Schedule) String() string {
	return s.DaysString() + fmt.Sprintf(" %02d:%02d", s.Hour, s.Minute)
}

// DaysString renders only the days ("daily", "weekdays", "mon,wed,fri").
func (s Schedule) DaysString() string {
	all, weekdays := true, true
	for d := time.Sunday; d <= time.Saturday; d++ {
		if !s.Days[d] {
			all = false
		}
		isWeekday := d != time.Saturday && d != time.Sunday
		if s.Days[d] != isWeekday {
			weekdays = false
		}
	}
	switch {
	case all:
		return "daily"
	case weekdays:
		return "weekdays"
	}
	var names []string
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		if s.Days[d] {
			names = append(names, dayAbbrev[d])
		}
	}
	return strings.Join(names, ",")
}

var dayAbbrev = map[time.Weekday]string{
	time.Sunday: "sun", time.Monday: "mon", time.Tuesday: "tue", time.Wednesday: "wed",
	time.Thursday: "thu", time.Friday: "fri", time.Saturday: "sat",
}

// Command is a parsed /story command, the same from every platform.
type Command struct {
	Name CommandName
	// Text is the inline text of pause, quick and reframe ("/story pause they ignored me",
	// "/story they ignored me", "/story quick they think I'm slow"), or the free-text
	// practice of coach assign.
	Text string
	// N is the count of history entries (0: the default), or the number of the pending
	// check-back that followups cancel cancels (as /story followups lists them).
	N int
	// Word is the word of /story history <word>: the entries that mention it.
	Word string
	// Followups is "" (list), "off", "on" or "cancel" (/story followups …).
	Followups string
	// Checkin, Schedule and Until carry /story checkin; Schedule and Until also carry the
	// cadence and end date of coach assign.
	Checkin  CheckinAction
	Schedule Schedule
	Until    time.Time // a date (midnight UTC); zero when not given
	// Zone is the IANA zone of /story tz (empty: show the current one).
	Zone string
	// Digest is "weekly", "off" or empty (show).
	Digest string
	// Target is the platform user ID of the coach subcommands' @user.
	Target string
	// Practice is a built-in practice ID for coach assign (empty when Text is free text),
	// or the practice/assignment ID for coach unassign.
	Practice string
	// Library is set by "/story practices library".
	Library bool
	// DefaultTime is set when coach assign's cadence named only days, so its Schedule
	// took DefaultHour:00.
	DefaultTime bool
}

// ParseError is a command that could not be understood. Its message is written for the
// user: what was wrong and what works instead.
type ParseError struct {
	Msg string
	// DidYouMean is the subcommand a mistyped word is close to ("quick"), or a dialogue
	// word typed after /story ("stop"). Msg then already holds the question and that one
	// line of help: callers show it alone, without the whole help.
	DidYouMean string
}

func (e *ParseError) Error() string { return e.Msg }

func parseErrorf(format string, args ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, args...)}
}

// MaxCommandRunes bounds the text of one command, like a dialogue answer.
const MaxCommandRunes = 3000

// ParseCommand parses the text after "/story". Empty text starts a pause, and so does text
// that does not begin with a subcommand: it is what happened. A malformed argument returns
// a *ParseError whose message says what to type instead; callers show it together with the
// help, except a "did you mean" (DidYouMean set), which is shown alone.
func ParseCommand(text string) (Command, error) {
	text = strings.TrimSpace(text)
	if n := len([]rune(text)); n > MaxCommandRunes {
		return Command{}, parseErrorf("That's %d characters — I can take up to %d. Could you shorten it?", n, MaxCommandRunes)
	}
	if text == "" {
		return Command{Name: CmdPause}, nil
	}
	word, rest := cutWord(text)
	switch strings.ToLower(word) {
	case "pause", "check":
		return Command{Name: CmdPause, Text: rest}, nil
	case "quick":
		return Command{Name: CmdQuick, Text: rest}, nil
	case "reframe":
		return Command{Name: CmdReframe, Text: rest}, nil
	case "help", "?":
		return Command{Name: CmdHelp}, nil
	case "privacy":
		return noArgs(CmdPrivacy, rest)
	case "export":
		return noArgs(CmdExport, rest)
	case "forget":
		return noArgs(CmdForget, rest)
	case "history":
		return parseHistory(rest)
	case "checkin", "check-in":
		return parseCheckin(rest)
	case "tz", "timezone":
		zone, extra := cutWord(rest)
		if extra != "" {
			return Command{}, parseErrorf("/story tz takes one zone name, like /story tz Europe/Berlin.")
		}
		return Command{Name: CmdTZ, Zone: zone}, nil
	case "digest":
		switch strings.ToLower(rest) {
		case "":
			return Command{Name: CmdDigest}, nil
		case "weekly", "off":
			return Command{Name: CmdDigest, Digest: strings.ToLower(rest)}, nil
		}
		return Command{}, parseErrorf("/story digest takes weekly or off.")
	case "practices", "practice":
		switch strings.ToLower(rest) {
		case "":
			return Command{Name: CmdPractices}, nil
		case "library":
			return Command{Name: CmdPractices, Library: true}, nil
		}
		return Command{}, parseErrorf("/story practices shows your practices; /story practices library lists them all.")
	case "coach":
		return parseCoach(rest)
	case "sos":
		// Whatever follows is read for safety before parsing, and sos needs nothing more:
		// never refuse it.
		return Command{Name: CmdSOS}, nil
	case "safety-plan", "safetyplan", "safety_plan":
		return noArgs(CmdSafetyPlan, rest)
	case "safety":
		if r := strings.ToLower(rest); r == "plan" || r == "" {
			return Command{Name: CmdSafetyPlan}, nil
		}
	case "followups", "followup", "follow-ups", "checkbacks":
		return parseFollowups(rest)
	}
	// Anything that is not a subcommand is what happened: "/story they ignored me in
	// standup" starts a pause with it. A lone word close to a subcommand is more likely a
	// typo than a story, so it gets "did you mean", with that subcommand's one line of help.
	if rest == "" {
		switch w := strings.ToLower(word); w {
		case "stop", "cancel", "back", "skip":
			// A dialogue word, not what happened: say where it works instead of starting
			// a pause about "stop".
			what, typed := map[string]string{"stop": "stop", "cancel": "cancel", "back": "go back a step", "skip": "skip a question"}[w], w
			if w == "cancel" {
				typed = "stop"
			}
			return Command{}, &ParseError{
				Msg:        fmt.Sprintf("To %s, type %s on its own in our DM — no /story needed.", what, typed),
				DidYouMean: w,
			}
		}
		if name, ok := nearSubcommand(word); ok {
			return Command{}, &ParseError{
				Msg:        fmt.Sprintf("Did you mean /story %s?\n%s", name, usage[name]),
				DidYouMean: name,
			}
		}
	}
	return Command{Name: CmdPause, Text: text}, nil
}

// usage is the one line of help for each subcommand a typo may be near.
var usage = map[string]string{
	"pause":       "/story pause [what happened] — a full pause, about two minutes",
	"quick":       "/story quick [story] — story, other stories, next step: under a minute",
	"reframe":     "/story reframe [story] — question a story more deeply",
	"help":        "/story help — everything storybot can do",
	"privacy":     "/story privacy — what is stored and who can see it",
	"export":      "/story export — all your data as a file",
	"forget":      "/story forget — erase all of it",
	"history":     "/story history [n] — your last n journal entries",
	"checkin":     "/story checkin weekdays 09:00 — a DM check-in (also daily, mon,wed,fri, off)",
	"timezone":    "/story tz <zone> — your time zone, like Europe/Berlin",
	"digest":      "/story digest weekly — a Sunday-evening summary of your week",
	"practices":   "/story practices — the practices your coach assigned you",
	"coach":       "/story coach invite|assign|progress|list|unassign @name — for coaches",
	"safety-plan": "/story safety-plan — write down, in a calm moment, what helps in a hard one",
}

// Usage returns the one line of help for a subcommand ("quick"), or "" for an unknown one.
func Usage(name string) string { return usage[name] }

// nearSubcommand reports the subcommand a single typed word is close to: one edit away
// (a typo, a swapped pair of letters; two for names of seven letters or more), or the
// start of a name of at least three letters ("hist"). Short subcommands like tz are left
// out: too many ordinary words are one letter away from them.
func nearSubcommand(word string) (string, bool) {
	w := strings.ToLower(word)
	if len([]rune(w)) < 3 {
		return "", false
	}
	best, bestD := "", 3
	for _, name := range []string{"pause", "quick", "reframe", "help", "privacy", "export", "forget",
		"history", "checkin", "timezone", "digest", "practices", "coach", "safety-plan"} {
		if strings.HasPrefix(name, w) {
			return name, true
		}
		limit := 1
		if len(name) >= 7 {
			limit = 2
		}
		if d := editDistance(w, name); d <= limit && d < bestD {
			best, bestD = name, d
		}
	}
	return best, best != ""
}

// editDistance is the optimal string alignment distance between a and b: insertions,
// deletions, substitutions and swaps of two neighbouring letters each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 40 || len(rb) > 40 {
		return 99 // no subcommand is that long; skip the work
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func noArgs(name CommandName, rest string) (Command, error) {
	if rest != "" {
		return Command{}, parseErrorf("/story %s takes nothing after it.", name)
	}
	return Command{Name: name}, nil
}

// parseFollowups reads /story followups [off | on | cancel <n>].
func parseFollowups(rest string) (Command, error) {
	word, arg := cutWord(rest)
	switch strings.ToLower(word) {
	case "", "list":
		if arg == "" {
			return Command{Name: CmdFollowups}, nil
		}
	case "off", "on":
		if arg == "" {
			return Command{Name: CmdFollowups, Followups: strings.ToLower(word)}, nil
		}
	case "cancel":
		n, err := strconv.Atoi(arg)
		if err == nil && n >= 1 && n <= MaxHistory {
			return Command{Name: CmdFollowups, Followups: "cancel", N: n}, nil
		}
		return Command{}, parseErrorf("/story followups cancel takes the number of a check-back, like /story followups cancel 1 (see /story followups).")
	}
	return Command{}, parseErrorf("/story followups lists your check-backs; add off or on to stop or allow them, or cancel 1 to cancel the first.")
}

// MaxHistory bounds /story history n so one reply stays readable.
const MaxHistory = 50

func parseHistory(rest string) (Command, error) {
	if rest == "" {
		return Command{Name: CmdHistory}, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil && !strings.ContainsAny(rest, " \t\n") && !strings.HasPrefix(rest, "-") {
		// One word that is not a number: the entries that mention it.
		return Command{Name: CmdHistory, Word: rest}, nil
	}
	if err != nil || n < 1 || n > MaxHistory {
		return Command{}, parseErrorf("/story history takes a number from 1 to %d, like /story history 10.", MaxHistory)
	}
	return Command{Name: CmdHistory, N: n}, nil
}

func parseCheckin(rest string) (Command, error) {
	fields := strings.Fields(strings.ToLower(rest))
	switch {
	case len(fields) == 0:
		return Command{Name: CmdCheckin, Checkin: CheckinShow}, nil
	case len(fields) == 1 && fields[0] == "off":
		return Command{Name: CmdCheckin, Checkin: CheckinOff}, nil
	case fields[0] == "pause":
		if len(fields) != 3 || fields[1] != "until" {
			return Command{}, parseErrorf("To pause check-ins, type /story checkin pause until 2026-12-31.")
		}
		until, err := ParseDate(fields[2])
		if err != nil {
			return Command{}, err
		}
		return Command{Name: CmdCheckin, Checkin: CheckinPauseUntil, Until: until}, nil
	}
	s, err := ParseSchedule(fields)
	if err != nil {
		return Command{}, err
	}
	return Command{Name: CmdCheckin, Checkin: CheckinSet, Schedule: s}, nil
}

func parseCoach(rest string) (Command, error) {
	sub, rest := cutWord(rest)
	sub = strings.ToLower(sub)
	switch sub {
	case "list":
		return noArgs(CmdCoachList, rest)
	case "revoke":
		return noArgs(CmdCoachRevoke, rest)
	case "invite", "progress", "ask":
		target, extra := cutWord(rest)
		id, ok := ParseMention(target)
		if !ok || extra != "" {
			return Command{}, parseErrorf("Name one person, like /story coach %s @sam.", sub)
		}
		name := map[string]CommandName{"invite": CmdCoachInvite, "progress": CmdCoachProgress, "ask": CmdCoachAsk}[sub]
		return Command{Name: name, Target: id}, nil
	case "unassign":
		target, rest := cutWord(rest)
		id, ok := ParseMention(target)
		practice, extra := cutWord(rest)
		if !ok || practice == "" || extra != "" {
			return Command{}, parseErrorf("Type /story coach unassign @sam <practice id>; /story coach progress @sam shows the ids.")
		}
		return Command{Name: CmdCoachUnassign, Target: id, Practice: practice}, nil
	case "assign":
		return parseAssign(rest)
	}
	return Command{}, parseErrorf("The coach commands are invite, assign, progress, list, unassign and revoke; ask @coach asks a coach to invite you.")
}

func parseAssign(rest string) (Command, error) {
	const usage = `Type /story coach assign @sam <practice id or "your own words"> <cadence> [until 2026-12-31], like /story coach assign @sam name-the-story weekdays 09:00 (days alone mean 09:00).`
	target, rest := cutWord(rest)
	id, ok := ParseMention(target)
	if !ok {
		return Command{}, parseErrorf("%s", usage)
	}
	cmd := Command{Name: CmdCoachAssign, Target: id}
	rest = strings.TrimSpace(rest)
	if q := openingQuote(rest); q != "" {
		closing := closingQuote(q)
		end := strings.Index(rest[len(q):], closing)
		if end < 0 {
			return Command{}, parseErrorf("The practice text needs a closing quote. %s", usage)
		}
		cmd.Text = strings.TrimSpace(rest[len(q) : len(q)+end])
		rest = rest[len(q)+end+len(closing):]
		if cmd.Text == "" {
			return Command{}, parseErrorf("The practice text is empty. %s", usage)
		}
	} else {
		cmd.Practice, rest = cutWord(rest)
		cmd.Practice = strings.ToLower(cmd.Practice)
	}
	fields := strings.Fields(strings.ToLower(rest))
	if n := len(fields); n >= 2 && fields[n-2] == "until" {
		until, err := ParseDate(fields[n-1])
		if err != nil {
			return Command{}, err
		}
		cmd.Until = until
		fields = fields[:n-2]
	}
	if cmd.Practice == "" && cmd.Text == "" || len(fields) == 0 {
		return Command{}, parseErrorf("%s", usage)
	}
	s, defaulted, err := ParseCadence(fields)
	if err != nil {
		return Command{}, err
	}
	cmd.Schedule, cmd.DefaultTime = s, defaulted
	return cmd, nil
}

// DefaultHour is the time of day a coach's cadence takes when it names only days
// ("daily", "weekdays", "mon,wed"): 09:00 in the client's time zone.
const DefaultHour = 9

// ParseCadence parses a practice cadence: check-in syntax, or days alone, which take
// DefaultHour:00 (defaulted is then true, so the reply can say so).
func ParseCadence(fields []string) (s Schedule, defaulted bool, err error) {
	if len(fields) == 1 {
		s, err = ParseSchedule([]string{fields[0], fmt.Sprintf("%02d:00", DefaultHour)})
		return s, err == nil, err
	}
	s, err = ParseSchedule(fields)
	return s, false, err
}

var quotePairs = map[string]string{`"`: `"`, "“": "”", "'": "'", "‘": "’"}

func openingQuote(s string) string {
	for open := range quotePairs {
		if strings.HasPrefix(s, open) {
			return open
		}
	}
	return ""
}

func closingQuote(open string) string { return quotePairs[open] }

// ParseSchedule parses a cadence in check-in syntax: "daily 08:15", "weekdays 09:00",
// "mon,wed,fri 16:30" (fields already split on white space).
func ParseSchedule(fields []string) (Schedule, error) {
	const example = "Try /story checkin weekdays 09:00, daily 08:15 or mon,wed,fri 16:30."
	if len(fields) != 2 {
		return Schedule{}, parseErrorf("I need days and a time. %s", example)
	}
	var s Schedule
	switch days := strings.ToLower(fields[0]); days {
	case "daily", "everyday":
		for d := range s.Days {
			s.Days[d] = true
		}
	case "weekdays":
		for d := time.Monday; d <= time.Friday; d++ {
			s.Days[d] = true
		}
	case "weekends":
		s.Days[time.Saturday], s.Days[time.Sunday] = true, true
	default:
		for _, name := range strings.Split(days, ",") {
			d, ok := parseDay(name)
			if !ok {
				return Schedule{}, parseErrorf("I don't know the day “%s”. Use mon, tue, wed, thu, fri, sat, sun, weekdays or daily.", Truncate(name, 20))
			}
			s.Days[d] = true
		}
	}
	h, m, err := parseClock(fields[1])
	if err != nil {
		return Schedule{}, err
	}
	s.Hour, s.Minute = h, m
	return s, nil
}

func parseDay(name string) (time.Weekday, bool) {
	name = strings.TrimSpace(name)
	if len(name) < 3 {
		return 0, false
	}
	for d, abbrev := range dayAbbrev {
		full := strings.ToLower(d.String())
		if name == abbrev || strings.HasPrefix(full, name) {
			return d, true
		}
	}
	return 0, false
}

func parseClock(s string) (hour, minute int, err error) {
	h, m, ok := strings.Cut(s, ":")
	hour, errH := strconv.Atoi(h)
	minute, errM := strconv.Atoi(m)
	if !ok || errH != nil || errM != nil || len(m) != 2 || len(h) > 2 || hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return 0, 0, parseErrorf("“%s” isn't a time I can read. Use 24-hour HH:MM, like 09:00 or 16:30.", Truncate(s, 20))
	}
	return hour, minute, nil
}

// ParseDate parses a YYYY-MM-DD date as midnight UTC.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, parseErrorf("“%s” isn't a date I can read. Use YYYY-MM-DD, like 2026-12-31.", Truncate(s, 20))
	}
	return t, nil
}

// ParseMention extracts a user ID from a mention: Slack's escaped <@U123> or <@U123|name>,
// Discord's <@123> or <@!123>, or a bare @name (the console).
func ParseMention(s string) (string, bool) {
	if strings.HasPrefix(s, "<@") && strings.HasSuffix(s, ">") {
		id := strings.TrimPrefix(s[2:len(s)-1], "!")
		id, _, _ = strings.Cut(id, "|")
		return id, validID(id)
	}
	if strings.HasPrefix(s, "@") {
		return s[1:], validID(s[1:])
	}
	return "", false
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

// cutWord splits off the first white-space separated word.
func cutWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// Truncate shortens s to at most n runes, marking a cut with an ellipsis; for echoing
// user input back in messages without letting it run long.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
