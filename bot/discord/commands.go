package discord

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
)

// CommandName is the name of the application command.
const CommandName = "story"

// Commands returns the /story application command with SPEC.md's subcommands and options,
// and the "Pause on this message" context-menu command, both installable to a guild or to a
// user and usable in guilds, in the DM with the bot and in DMs and group DMs between users.
func Commands() []*discordgo.ApplicationCommand {
	str := func(name, desc string, required bool) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: name, Description: desc, Required: required, MaxLength: bot.MaxCommandRunes}
	}
	user := func(desc string) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionUser, Name: "user", Description: desc, Required: true}
	}
	sub := func(name, desc string, opts ...*discordgo.ApplicationCommandOption) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionSubCommand, Name: name, Description: desc, Options: opts}
	}
	minN := 1.0
	contexts := []discordgo.InteractionContextType{discordgo.InteractionContextGuild, discordgo.InteractionContextBotDM, discordgo.InteractionContextPrivateChannel}
	// Guild install and user install: a person whose server never added storybot can add it
	// to their own account and use it anywhere (the private-channel context, DMs and group
	// DMs between users, is reachable only through a user install).
	integrations := []discordgo.ApplicationIntegrationType{discordgo.ApplicationIntegrationGuildInstall, discordgo.ApplicationIntegrationUserInstall}
	return []*discordgo.ApplicationCommand{{
		Type:             discordgo.ChatApplicationCommand,
		Name:             CommandName,
		Description:      "A private pause: what story am I telling myself?",
		Contexts:         &contexts,
		IntegrationTypes: &integrations,
		Options: []*discordgo.ApplicationCommandOption{
			sub("pause", "Start a story check (in your DM with me)", str("text", "What happened, only what a camera would record", false)),
			sub("quick", "A one-minute pause: story, other stories, next step", str("story", "The story you're telling yourself", false)),
			sub("reframe", "Question a story you're telling yourself", str("story", "The story", false)),
			sub("checkin", "Show or set scheduled check-ins", str("schedule", "weekdays 09:00, mon,wed,fri 16:30, daily 08:15, off, pause until 2026-12-31", false)),
			sub("tz", "Show or set your time zone", &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: "zone", Description: "An IANA zone such as Europe/Berlin", Autocomplete: true, MaxLength: 64}),
			sub("history", "Your latest journal entries, in our DM", &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionInteger, Name: "n", Description: "How many entries (default 5)", MinValue: &minN, MaxValue: bot.MaxHistory},
				&discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: "word", Description: "Only the entries that mention this word", MaxLength: 64}),
			sub("followups", "Your check-backs on next steps: list them, cancel one, or turn them off or on",
				&discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: "set", Description: "off stops check-backs (and cancels pending ones); on allows them again", Choices: []*discordgo.ApplicationCommandOptionChoice{{Name: "off", Value: "off"}, {Name: "on", Value: "on"}}},
				&discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionInteger, Name: "cancel", Description: "The number of a check-back to cancel (see the list)", MinValue: &minN, MaxValue: bot.MaxHistory}),
			sub("export", "Your data as a JSON file, in our DM"),
			sub("forget", "Erase everything about you"),
			sub("digest", "A weekly summary in our DM", &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: "mode", Description: "weekly or off", Choices: []*discordgo.ApplicationCommandOptionChoice{{Name: "weekly", Value: "weekly"}, {Name: "off", Value: "off"}}}),
			sub("privacy", "What is stored about you and who sees it"),
			sub("help", "How to use storybot"),
			sub("sos", "Grounding, crisis resources and your safety plan, right now"),
			sub("safety-plan", "Write, in a calm moment, what helps in a hard one"),
			sub("practices", "Practices your coach assigned you", &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionBoolean, Name: "library", Description: "List the whole practice library"}),
			{
				Type: discordgo.ApplicationCommandOptionSubCommandGroup, Name: "coach", Description: "Coach and client: practices, with consent",
				Options: []*discordgo.ApplicationCommandOption{
					sub("invite", "Invite someone to be your client", user("Who to invite")),
					sub("assign", "Assign a practice to a client", user("Your client"),
						str("practice", "A practice id from the library, or your own words", true),
						str("cadence", "daily, weekdays 09:00, mon,wed,fri 16:30 (days alone: 09:00)", true),
						str("until", "Last day, YYYY-MM-DD", false)),
					sub("progress", "A client's practice progress", user("Your client")),
					sub("list", "Your clients"),
					sub("unassign", "Remove a practice", user("Your client"), str("practice", "The practice id (see progress)", true)),
					sub("revoke", "End your link with your coach"),
					sub("ask", "Ask a coach to invite you", user("Your coach")),
				},
			},
		},
	}, {
		// The message that set off the story: a Pause whose "what happened" quotes it.
		Type:             discordgo.MessageApplicationCommand,
		Name:             MessageCommandName,
		Contexts:         &contexts,
		IntegrationTypes: &integrations,
	}}
}

var subcommands = map[string]bot.CommandName{
	"pause": bot.CmdPause, "quick": bot.CmdQuick, "reframe": bot.CmdReframe, "checkin": bot.CmdCheckin,
	"tz": bot.CmdTZ, "history": bot.CmdHistory, "export": bot.CmdExport, "forget": bot.CmdForget,
	"digest": bot.CmdDigest, "privacy": bot.CmdPrivacy, "help": bot.CmdHelp, "practices": bot.CmdPractices,
	"sos": bot.CmdSOS, "safety-plan": bot.CmdSafetyPlan, "followups": bot.CmdFollowups,
}

var coachSubcommands = map[string]bot.CommandName{
	"invite": bot.CmdCoachInvite, "assign": bot.CmdCoachAssign, "progress": bot.CmdCoachProgress,
	"list": bot.CmdCoachList, "unassign": bot.CmdCoachUnassign, "revoke": bot.CmdCoachRevoke,
	"ask": bot.CmdCoachAsk,
}

// errUnknownCommand is a command this adapter did not register (an outdated registration).
var errUnknownCommand = errors.New("discord: unknown command")

// options flattens a subcommand's options by name.
type options map[string]*discordgo.ApplicationCommandInteractionDataOption

func (o options) str(name string) string {
	if v, ok := o[name]; ok {
		if s, ok := v.Value.(string); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

func (o options) num(name string) int {
	if v, ok := o[name]; ok {
		if f, ok := v.Value.(float64); ok {
			return int(f)
		}
	}
	return 0
}

func (o options) flag(name string) bool {
	if v, ok := o[name]; ok {
		b, _ := v.Value.(bool)
		return b
	}
	return false
}

// subcommand returns the path ("pause", "coach assign") and options of an invoked /story.
func subcommand(d discordgo.ApplicationCommandInteractionData) (string, options, error) {
	// Every option may arrive as null ("options":[null]): nothing here may dereference one
	// unchecked.
	if d.Name != CommandName || len(d.Options) == 0 || d.Options[0] == nil {
		return "", nil, fmt.Errorf("%w %q", errUnknownCommand, d.Name)
	}
	o := d.Options[0]
	path := o.Name
	if o.Type == discordgo.ApplicationCommandOptionSubCommandGroup {
		if len(o.Options) == 0 || o.Options[0] == nil {
			return "", nil, fmt.Errorf("%w: group %q without subcommand", errUnknownCommand, o.Name)
		}
		o = o.Options[0]
		path += " " + o.Name
	}
	opts := options{}
	for _, v := range o.Options {
		if v != nil {
			opts[v.Name] = v
		}
	}
	return path, opts, nil
}

// toCommand builds the bot.Command of an invoked /story from its options. A malformed
// argument returns a *bot.ParseError whose message is written for the user.
func toCommand(d discordgo.ApplicationCommandInteractionData) (bot.Command, error) {
	path, o, err := subcommand(d)
	if err != nil {
		return bot.Command{}, err
	}
	if group, sub, ok := strings.Cut(path, " "); ok {
		name, known := coachSubcommands[sub]
		if group != "coach" || !known {
			return bot.Command{}, fmt.Errorf("%w %q", errUnknownCommand, path)
		}
		cmd := bot.Command{Name: name, Target: o.str("user")}
		switch name {
		case bot.CmdCoachUnassign:
			cmd.Practice = o.str("practice")
		case bot.CmdCoachAssign:
			practice := o.str("practice")
			if strings.IndexFunc(practice, unicode.IsSpace) >= 0 {
				cmd.Text = strings.Trim(practice, `"“”'‘’`)
			} else {
				cmd.Practice = strings.ToLower(practice)
			}
			s, defaulted, err := bot.ParseCadence(strings.Fields(o.str("cadence")))
			if err != nil {
				return bot.Command{}, err
			}
			cmd.Schedule, cmd.DefaultTime = s, defaulted
			if u := o.str("until"); u != "" {
				if cmd.Until, err = bot.ParseDate(u); err != nil {
					return bot.Command{}, err
				}
			}
		}
		return cmd, nil
	}
	name, known := subcommands[path]
	if !known {
		return bot.Command{}, fmt.Errorf("%w %q", errUnknownCommand, path)
	}
	cmd := bot.Command{Name: name}
	switch name {
	case bot.CmdPause:
		cmd.Text = o.str("text")
	case bot.CmdQuick, bot.CmdReframe:
		cmd.Text = o.str("story")
	case bot.CmdTZ:
		cmd.Zone = o.str("zone")
	case bot.CmdHistory:
		cmd.N = o.num("n")
		if cmd.N < 0 || cmd.N > bot.MaxHistory {
			return bot.Command{}, &bot.ParseError{Msg: fmt.Sprintf("/story history takes a number from 1 to %d.", bot.MaxHistory)}
		}
		if w := strings.TrimSpace(o.str("word")); w != "" {
			if cmd.N != 0 {
				return bot.Command{}, &bot.ParseError{Msg: "/story history takes a number or a word, not both."}
			}
			// The shared parser says what a word may be.
			return bot.ParseCommand("history " + w)
		}
	case bot.CmdFollowups:
		set, n := strings.ToLower(o.str("set")), o.num("cancel")
		switch {
		case set != "" && n != 0:
			return bot.Command{}, &bot.ParseError{Msg: "/story followups takes set or cancel, not both."}
		case n != 0:
			return bot.ParseCommand(fmt.Sprintf("followups cancel %d", n))
		case set != "":
			return bot.ParseCommand("followups " + set)
		}
	case bot.CmdDigest:
		cmd.Digest = strings.ToLower(o.str("mode"))
	case bot.CmdPractices:
		cmd.Library = o.flag("library")
	case bot.CmdCheckin:
		// The schedule is typed in check-in syntax; the shared parser reads it.
		parsed, err := bot.ParseCommand("checkin " + o.str("schedule"))
		if err != nil {
			return bot.Command{}, err
		}
		cmd = parsed
	}
	for _, s := range []string{cmd.Text} {
		if n := len([]rune(s)); n > bot.MaxCommandRunes {
			return bot.Command{}, &bot.ParseError{Msg: fmt.Sprintf("That's %d characters — I can take up to %d. Could you shorten it?", n, bot.MaxCommandRunes)}
		}
	}
	return cmd, nil
}

// commandText renders an invoked /story as the text a user would type after "/story", so
// that a malformed one can go to the engine's parser, which answers with what was wrong
// and the help (one wording place).
func commandText(d discordgo.ApplicationCommandInteractionData) string {
	path, o, err := subcommand(d)
	if err != nil {
		return "help"
	}
	parts := []string{path}
	names := make([]string, 0, len(o))
	for n := range o {
		names = append(names, n)
	}
	// Positional order as registered: user first, then the rest by name is close enough
	// for an error message; cadence and until go last.
	order := map[string]int{"user": 0, "practice": 1, "cadence": 2, "until": 3}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	for _, n := range names {
		v := o[n]
		switch val := v.Value.(type) {
		case string:
			val = strings.TrimSpace(val)
			if v.Type == discordgo.ApplicationCommandOptionUser {
				parts = append(parts, "<@"+val+">")
				continue
			}
			if n == "until" {
				parts = append(parts, "until")
			}
			parts = append(parts, val)
		case float64:
			parts = append(parts, fmt.Sprint(int(val)))
		case bool:
			if val {
				parts = append(parts, n)
			}
		}
	}
	return strings.Join(parts, " ")
}

// focusedOption returns the value typed so far into the option being autocompleted.
func focusedOption(d discordgo.ApplicationCommandInteractionData) (string, bool) {
	_, o, err := subcommand(d)
	if err != nil {
		return "", false
	}
	for _, v := range o {
		if v.Focused {
			s, _ := v.Value.(string)
			return s, true
		}
	}
	return "", false
}

// maxAutocomplete is Discord's limit on autocomplete choices.
const maxAutocomplete = 25

// completeZone returns up to 25 zone names matching typed: prefix matches of the whole
// name or of the city part first, then any substring match; case and spaces ignored.
func completeZone(typed string) []string {
	q := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(typed), " ", "_"))
	var first, rest []string
	for _, z := range zones {
		lz := strings.ToLower(z)
		_, city, _ := strings.Cut(lz, "/")
		switch {
		case q == "" || strings.HasPrefix(lz, q) || strings.HasPrefix(city, q):
			first = append(first, z)
		case strings.Contains(lz, q):
			rest = append(rest, z)
		}
	}
	out := append(first, rest...)
	if len(out) > maxAutocomplete {
		out = out[:maxAutocomplete]
	}
	return out
}

// zones are common IANA zone names offered by /story tz's autocomplete. A built-in list
// keeps the adapter independent of the system's tzdata; any valid IANA name typed in full
// is still accepted by the engine.
var zones = []string{
	"UTC",
	"Africa/Abidjan", "Africa/Accra", "Africa/Addis_Ababa", "Africa/Algiers", "Africa/Cairo",
	"Africa/Casablanca", "Africa/Dar_es_Salaam", "Africa/Johannesburg", "Africa/Kampala",
	"Africa/Khartoum", "Africa/Kinshasa", "Africa/Lagos", "Africa/Luanda", "Africa/Nairobi",
	"Africa/Tunis",
	"America/Anchorage", "America/Argentina/Buenos_Aires", "America/Bogota", "America/Caracas",
	"America/Chicago", "America/Denver", "America/Edmonton", "America/Guatemala",
	"America/Halifax", "America/Havana", "America/Lima", "America/Los_Angeles",
	"America/Mexico_City", "America/Montevideo", "America/New_York", "America/Panama",
	"America/Phoenix", "America/Puerto_Rico", "America/Regina", "America/Santiago",
	"America/Santo_Domingo", "America/Sao_Paulo", "America/St_Johns", "America/Toronto",
	"America/Vancouver", "America/Winnipeg",
	"Asia/Almaty", "Asia/Amman", "Asia/Baghdad", "Asia/Baku", "Asia/Bangkok", "Asia/Beirut",
	"Asia/Colombo", "Asia/Dhaka", "Asia/Dubai", "Asia/Ho_Chi_Minh", "Asia/Hong_Kong",
	"Asia/Jakarta", "Asia/Jerusalem", "Asia/Kabul", "Asia/Karachi", "Asia/Kathmandu",
	"Asia/Kolkata", "Asia/Kuala_Lumpur", "Asia/Manila", "Asia/Qatar", "Asia/Riyadh",
	"Asia/Seoul", "Asia/Shanghai", "Asia/Singapore", "Asia/Taipei", "Asia/Tashkent",
	"Asia/Tbilisi", "Asia/Tehran", "Asia/Tokyo", "Asia/Ulaanbaatar", "Asia/Yangon",
	"Asia/Yerevan",
	"Atlantic/Azores", "Atlantic/Canary", "Atlantic/Reykjavik",
	"Australia/Adelaide", "Australia/Brisbane", "Australia/Darwin", "Australia/Hobart",
	"Australia/Melbourne", "Australia/Perth", "Australia/Sydney",
	"Europe/Amsterdam", "Europe/Athens", "Europe/Belgrade", "Europe/Berlin", "Europe/Brussels",
	"Europe/Bucharest", "Europe/Budapest", "Europe/Copenhagen", "Europe/Dublin",
	"Europe/Helsinki", "Europe/Istanbul", "Europe/Kyiv", "Europe/Lisbon", "Europe/London",
	"Europe/Madrid", "Europe/Moscow", "Europe/Oslo", "Europe/Paris", "Europe/Prague",
	"Europe/Riga", "Europe/Rome", "Europe/Sofia", "Europe/Stockholm", "Europe/Tallinn",
	"Europe/Vienna", "Europe/Vilnius", "Europe/Warsaw", "Europe/Zurich",
	"Pacific/Auckland", "Pacific/Fiji", "Pacific/Guam", "Pacific/Honolulu", "Pacific/Port_Moresby",
	"Pacific/Tongatapu",
}
