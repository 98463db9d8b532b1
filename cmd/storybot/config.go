package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

	Listen        string
	MetricsListen string
	// Pprof is a loopback address for net/http/pprof (STORYBOT_PPROF); empty: off.
	Pprof          string
	ReadyGrace     time.Duration
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

	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	// Workers and Queue size the pool of work done after acknowledgements
	// (STORYBOT_WORKERS, STORYBOT_QUEUE); 0: bot.PoolConfig's defaults from GOMAXPROCS.
	Workers int
	Queue   int

	// Dev allows what a real deployment must not do: the embedded in-memory store and no
	// platform at all (STORYBOT_DEV=1 or serve --dev).
	Dev bool
}

// envVar documents one environment variable storybot reads. envVars is the one list: the
// help of each command shows its variables from here, and the deploy files are checked
// against it (deploy_test.go), so a variable named anywhere exists here.
type envVar struct {
	name, meaning, def string
}

var envVars = []envVar{
	{"REDIS_URL", "redis:// or rediss:// URL of the Redis that keeps all state", "unset: an embedded in-memory store (console, or serve --dev)"},
	{"REDIS_CLUSTER_ADDRS", "comma-separated seed addresses of a Redis Cluster", ""},
	{"REDIS_SENTINEL_ADDRS", "comma-separated Sentinel addresses (with REDIS_SENTINEL_MASTER)", ""},
	{"REDIS_SENTINEL_MASTER", "the Sentinel master name", ""},
	{"STORYBOT_LISTEN", "HTTP listen address for the platform endpoints", ":3000"},
	{"STORYBOT_METRICS_LISTEN", "a separate listen address for /metrics, /healthz and /readyz", "unset: served on STORYBOT_LISTEN"},
	{"STORYBOT_PPROF", "a loopback address (127.0.0.1:6060) for Go's profiler, /debug/pprof/; for measuring, off in production", "unset: off"},
	{"STORYBOT_READY_GRACE", "how long a platform connection or check may be down before /readyz answers 503 (a Go duration: 90s, 2m)", "60s"},
	{"STORYBOT_ENCRYPTION_KEY", "base64 of 32 random bytes; comma-separated keys: the first encrypts, all decrypt", "unset: stored unencrypted, with a warning"},
	{"STORYBOT_RETENTION_DAYS", "days a journal entry is kept", "180"},
	{"STORYBOT_COACHES", "comma-separated user ids allowed to coach", "anyone"},
	{"STORYBOT_CRISIS_TEXT", "the crisis resources message", "built-in"},
	{"STORYBOT_WORKERS", "how many pieces of acknowledged work run at once", "10 per CPU"},
	{"STORYBOT_QUEUE", "how many pieces of acknowledged work may wait; beyond it requests are refused honestly (busy, 503)", "64 per CPU"},
	{"STORYBOT_DEV", "1: allow the embedded store and no platform (trying it out, never production)", ""},
	{"SLACK_SIGNING_SECRET", "Slack HTTP mode: the app's signing secret", ""},
	{"SLACK_BOT_TOKEN", "Slack bot token (xoxb-…)", "unset: Slack off"},
	{"SLACK_APP_TOKEN", "Slack Socket Mode app-level token (xapp-…)", ""},
	{"SLACK_API_URL", "Slack Web API base", "https://slack.com/api/"},
	{"DISCORD_APP_ID", "Discord application id", "unset: Discord off"},
	{"DISCORD_PUBLIC_KEY", "Discord application public key, 64 hex characters (interactions URL)", ""},
	{"DISCORD_BOT_TOKEN", "Discord bot token (DMs, the gateway, register)", ""},
	{"DISCORD_API_URL", "Discord REST base", "https://discord.com/api/v10"},
	{"LOG_LEVEL", "debug, info, warn or error", "info"},
	{"LOG_FORMAT", "text or json (one JSON object per line)", "text"},
}

func lookupEnvVar(name string) (envVar, bool) {
	for _, v := range envVars {
		if v.name == name {
			return v, true
		}
	}
	return envVar{}, false
}

// Environment variable sets, for the commands' help.
var (
	storeEnv    = []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "STORYBOT_ENCRYPTION_KEY", "STORYBOT_RETENTION_DAYS"}
	logEnv      = []string{"LOG_LEVEL", "LOG_FORMAT"}
	slackEnv    = []string{"SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL"}
	discordEnv  = []string{"DISCORD_APP_ID", "DISCORD_PUBLIC_KEY", "DISCORD_BOT_TOKEN", "DISCORD_API_URL"}
	behaviorEnv = []string{"STORYBOT_COACHES", "STORYBOT_CRISIS_TEXT", "STORYBOT_WORKERS", "STORYBOT_QUEUE"}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// loadConfig reads and validates the environment. All problems are reported at once.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		RedisURL:           getenv("REDIS_URL"),
		ClusterAddrs:       splitList(getenv("REDIS_CLUSTER_ADDRS")),
		SentinelAddrs:      splitList(getenv("REDIS_SENTINEL_ADDRS")),
		SentinelMaster:     getenv("REDIS_SENTINEL_MASTER"),
		Listen:             orDefault(getenv("STORYBOT_LISTEN"), ":3000"),
		MetricsListen:      getenv("STORYBOT_METRICS_LISTEN"),
		Pprof:              getenv("STORYBOT_PPROF"),
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
	if c.Pprof != "" && !loopback(c.Pprof) {
		// The profiler shows memory and goroutine stacks: never on a reachable address.
		bad("STORYBOT_PPROF must be a loopback address like 127.0.0.1:6060, not %q", c.Pprof)
	}
	c.ReadyGrace = DefaultReadyGrace
	if s := getenv("STORYBOT_READY_GRACE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad("STORYBOT_READY_GRACE must be a positive duration like 60s or 2m, not %q", s)
		}
		c.ReadyGrace = d
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
	for _, v := range []struct {
		name string
		into *int
	}{{"STORYBOT_WORKERS", &c.Workers}, {"STORYBOT_QUEUE", &c.Queue}} {
		if s := getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 100000 {
				bad("%s must be a whole number from 1 to 100000, not %q", v.name, s)
			}
			*v.into = n
		}
	}
	level, err := parseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		bad("%v", err)
	}
	c.LogLevel = level
	switch f := strings.ToLower(getenv("LOG_FORMAT")); f {
	case "", "text":
		c.LogFormat = "text"
	case "json":
		c.LogFormat = "json"
	default:
		bad("LOG_FORMAT must be text or json, not %q", getenv("LOG_FORMAT"))
	}
	switch d := getenv("STORYBOT_DEV"); d {
	case "", "0", "false":
	case "1", "true":
		c.Dev = true
	default:
		bad("STORYBOT_DEV must be 1 or unset, not %q", d)
	}
	return c, errors.Join(errs...)
}

// loopback reports whether addr is host:port with a loopback IP or localhost as the host.
func loopback(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c config) slackEnabled() bool   { return c.SlackBotToken != "" }
func (c config) discordEnabled() bool { return c.DiscordAppID != "" }
func (c config) embeddedStore() bool {
	return c.RedisURL == "" && len(c.ClusterAddrs) == 0 && len(c.SentinelAddrs) == 0
}

// servable says why serve must not start with this configuration: things that are fine in
// the console or a trial but lose data or do nothing in a deployment.
func (c config) servable() error {
	if c.Dev {
		return nil
	}
	var errs []error
	if c.embeddedStore() {
		errs = append(errs, errors.New("no Redis configured: set REDIS_URL (or REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS); the embedded in-memory store loses everything on restart and is allowed only with --dev or STORYBOT_DEV=1"))
	}
	if !c.slackEnabled() && !c.discordEnabled() {
		errs = append(errs, errors.New("no platform configured: set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, or DISCORD_APP_ID with DISCORD_PUBLIC_KEY or DISCORD_BOT_TOKEN; to run without one, pass --dev or STORYBOT_DEV=1"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("serve refuses to start:\n%w", errors.Join(errs...))
	}
	return nil
}

func (c config) logger(w io.Writer) *slog.Logger { return newLogger(w, c.LogLevel, c.LogFormat) }

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
