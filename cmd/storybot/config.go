package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/storybot/storybot/storage"
)

// config is everything storybot reads from its environment, validated up front so that a
// mistake stops start-up with a clear message instead of failing later.
type config struct {
	RedisURL       string
	ClusterAddrs   []string
	SentinelAddrs  []string
	SentinelMaster string

	Listen         string
	EncryptionKeys [][]byte
	RetentionDays  int
	Coaches        []string
	CrisisText     string

	SlackSigningSecret string
	SlackBotToken      string
	SlackAppToken      string
	SlackAPIURL        string

	DiscordAppID     string
	DiscordPublicKey string
	DiscordBotToken  string
	DiscordAPIURL    string

	LogLevel slog.Level
}

// loadConfig reads and validates the environment. All problems are reported at once.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		RedisURL:           getenv("REDIS_URL"),
		ClusterAddrs:       splitList(getenv("REDIS_CLUSTER_ADDRS")),
		SentinelAddrs:      splitList(getenv("REDIS_SENTINEL_ADDRS")),
		SentinelMaster:     getenv("REDIS_SENTINEL_MASTER"),
		Listen:             orDefault(getenv("STORYBOT_LISTEN"), ":3000"),
		Coaches:            splitList(getenv("STORYBOT_COACHES")),
		CrisisText:         getenv("STORYBOT_CRISIS_TEXT"),
		SlackSigningSecret: getenv("SLACK_SIGNING_SECRET"),
		SlackBotToken:      getenv("SLACK_BOT_TOKEN"),
		SlackAppToken:      getenv("SLACK_APP_TOKEN"),
		SlackAPIURL:        orDefault(getenv("SLACK_API_URL"), "https://slack.com/api/"),
		DiscordAppID:       getenv("DISCORD_APP_ID"),
		DiscordPublicKey:   getenv("DISCORD_PUBLIC_KEY"),
		DiscordBotToken:    getenv("DISCORD_BOT_TOKEN"),
		DiscordAPIURL:      orDefault(getenv("DISCORD_API_URL"), "https://discord.com/api/v10"),
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	modes := 0
	for _, set := range []bool{c.RedisURL != "", len(c.ClusterAddrs) > 0, len(c.SentinelAddrs) > 0} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		bad("set only one of REDIS_URL, REDIS_CLUSTER_ADDRS and REDIS_SENTINEL_ADDRS")
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("REDIS_URL must look like redis://host:6379/0 or rediss://host:6380")
		}
	}
	if (len(c.SentinelAddrs) > 0) != (c.SentinelMaster != "") {
		bad("REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER go together")
	}
	if k := getenv("STORYBOT_ENCRYPTION_KEY"); k != "" {
		keys, err := storage.ParseKeys(k)
		if err != nil {
			bad("STORYBOT_ENCRYPTION_KEY: %v (make one with: head -c 32 /dev/urandom | base64)", err)
		}
		c.EncryptionKeys = keys
	}
	c.RetentionDays = 180
	if s := getenv("STORYBOT_RETENTION_DAYS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3650 {
			bad("STORYBOT_RETENTION_DAYS must be a whole number of days from 1 to 3650, not %q", s)
		}
		c.RetentionDays = n
	}
	if c.SlackAppToken != "" && !strings.HasPrefix(c.SlackAppToken, "xapp-") {
		bad("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
	}
	if c.SlackAppToken != "" && c.SlackBotToken == "" {
		bad("SLACK_APP_TOKEN (Socket Mode) also needs SLACK_BOT_TOKEN")
	}
	if (c.SlackSigningSecret != "") != (c.SlackBotToken != "") && c.SlackAppToken == "" {
		bad("Slack HTTP mode needs both SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
	}
	if !strings.HasSuffix(c.SlackAPIURL, "/") {
		c.SlackAPIURL += "/" // slack-go joins method names straight onto the base
	}
	if c.DiscordPublicKey != "" {
		if len(c.DiscordPublicKey) != 64 || !isHex(c.DiscordPublicKey) {
			bad("DISCORD_PUBLIC_KEY must be the application's public key: 64 hex characters")
		}
	}
	if (c.DiscordPublicKey != "" || c.DiscordBotToken != "") && c.DiscordAppID == "" {
		bad("Discord needs DISCORD_APP_ID with DISCORD_PUBLIC_KEY or DISCORD_BOT_TOKEN")
	}
	level, err := parseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		bad("%v", err)
	}
	c.LogLevel = level
	return c, errors.Join(errs...)
}

func (c config) slackEnabled() bool   { return c.SlackBotToken != "" }
func (c config) discordEnabled() bool { return c.DiscordAppID != "" }

func (c config) storage(logger *slog.Logger) storage.Config {
	return storage.Config{
		URL:            c.RedisURL,
		ClusterAddrs:   c.ClusterAddrs,
		SentinelAddrs:  c.SentinelAddrs,
		SentinelMaster: c.SentinelMaster,
		EncryptionKeys: c.EncryptionKeys,
		Retention:      time.Duration(c.RetentionDays) * 24 * time.Hour,
		Logger:         logger,
	}
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", s)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
