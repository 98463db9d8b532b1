// Command storybot-soak runs whole dialogues through several `storybot serve` replicas on
// one Redis, behind a fake Slack it serves itself, and restarts Redis once in the middle.
// It reports lost and duplicated turns, acknowledgement latency, turns per second, each
// replica's memory, and Redis memory per open dialogue. Everything listens on loopback;
// the run is bounded in time and stops by itself.
//
//	go build -o /tmp/storybot ./cmd/storybot
//	go run ./cmd/storybot-soak -bin /tmp/storybot -users 1000 -d 2m
//
// A "turn" is one user event (a slash command or a DM answer). It is lost when Slack got a
// 200 for it and the user never saw an answer; it is retried, as Slack and a user would,
// when it got a 503 (Slack redelivers) or the bot said it could not save (the user sends
// it again). A dialogue saved twice is a duplicated turn.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/internal/walker"
)

const (
	secret  = "soak-signing-secret"
	team    = "TSOAK"
	noticeW = "can't save right now" // the store-outage notice
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "storybot-soak:", err)
		os.Exit(1)
	}
}

type config struct {
	bin       string
	users     int
	dur       time.Duration
	replicas  int
	restartAt time.Duration
	wait      time.Duration
	verbose   bool
	think     time.Duration // a user's pause between turns
	open      int           // dialogues left open at the end, for the memory figures
	every     time.Duration // how often to print each replica's RSS (0: never)
}

func run() error {
	var c config
	flag.StringVar(&c.bin, "bin", "", "the storybot binary to run (required)")
	flag.IntVar(&c.users, "users", 1000, "simulated users, each running whole dialogues")
	flag.DurationVar(&c.dur, "d", 2*time.Minute, "how long to run the load")
	flag.IntVar(&c.replicas, "replicas", 2, "storybot serve processes")
	flag.DurationVar(&c.restartAt, "restart-at", time.Minute, "when to restart Redis (0: never)")
	flag.BoolVar(&c.verbose, "v", false, "print the first user's conversation at the end")
	flag.DurationVar(&c.wait, "reply-timeout", 15*time.Second, "how long a user waits for an answer before counting the turn lost")
	flag.DurationVar(&c.think, "think", 0, "how long a user pauses between turns (a lighter, longer soak)")
	flag.IntVar(&c.open, "open", 0, "dialogues to leave open at the end for the memory figures (0: one per user)")
	flag.DurationVar(&c.every, "rss-every", 0, "print each replica's RSS this often during the run (0: never)")
	flag.Parse()
	if c.bin == "" {
		return errors.New("-bin is required (go build -o /tmp/storybot ./cmd/storybot)")
	}
	// Interrupted, it stops the load and still stops what it started (replicas, Redis).
	sigCtx, stopSig := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	ctx, cancel := context.WithTimeout(context.Background(), c.dur+5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "storybot-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	redisPort := freePort()
	rs, err := startRedis(ctx, dir, redisPort)
	if err != nil {
		return err
	}
	defer func() { rs.stop() }()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(redisPort)})
	defer rdb.Close()

	fake := newFakeSlack()
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fsrv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go fsrv.Serve(fl)
	defer fsrv.Close()
	fake.base = "http://" + fl.Addr().String()

	var bots []*botProc
	for i := range c.replicas {
		b, err := startBot(ctx, c.bin, dir, i, redisPort, fake.base)
		if err != nil {
			return err
		}
		defer b.stop()
		bots = append(bots, b)
	}
	for _, b := range bots {
		if err := waitReady(ctx, b.url+"/readyz", 20*time.Second); err != nil {
			return fmt.Errorf("replica %d: %w (log: %s)", b.n, err, b.logPath)
		}
	}
	fmt.Printf("soak: %d users, %d replicas, %v, Redis restart at %v\n", c.users, c.replicas, c.dur, c.restartAt)

	st := &stats{}
	loadCtx, stopLoad := context.WithTimeout(sigCtx, c.dur)
	defer stopLoad()
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	for u := range c.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sim := &user{id: fmt.Sprintf("USOAK%05d", u), fake: fake, bots: bots, client: client, st: st, wait: c.wait, think: c.think}
			sim.loop(loadCtx)
		}()
	}
	var rssMax = make([]int64, len(bots))
	loadStart := time.Now()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		lastReport := time.Now()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-t.C:
				var line []string
				for i, b := range bots {
					r := rssKB(b.cmd.Process.Pid)
					if r > rssMax[i] {
						rssMax[i] = r
					}
					line = append(line, fmt.Sprintf("replica %d %.1f MB", i, float64(r)/1024))
				}
				if c.every > 0 && time.Since(lastReport) >= c.every {
					lastReport = time.Now()
					fmt.Printf("soak: %v: RSS %s; turns answered %d, lost %d\n", time.Since(loadStart).Round(time.Second),
						strings.Join(line, ", "), st.answered.Load(), st.lost.Load())
				}
			}
		}
	}()
	if c.restartAt > 0 && c.restartAt < c.dur {
		go func() {
			select {
			case <-loadCtx.Done():
				return
			case <-time.After(c.restartAt):
			}
			fmt.Println("soak: restarting Redis")
			rs.stop()
			time.Sleep(2 * time.Second)
			n, err := startRedis(ctx, dir, redisPort)
			if err != nil {
				fmt.Fprintln(os.Stderr, "soak: restart Redis:", err)
				return
			}
			rs = n
			fmt.Println("soak: Redis is back")
		}()
	}
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start)

	if c.verbose {
		fake.mu.Lock()
		for i, m := range fake.msgs["USOAK00000"] {
			fmt.Printf("--- %d\n%s\n", i, m)
		}
		fake.mu.Unlock()
	}
	// Duplicates: one walk (its number is in the story) saved more than once. A save whose
	// answer was lost to the outage and that the user then could not repeat counts once in
	// the journal and not in "finished": that is not a double.
	saved, dups, err := journalEntries(ctx, rdb)
	if err != nil {
		return fmt.Errorf("count journal entries: %w", err)
	}
	// Redis memory per open dialogue: open one for every user and measure the growth.
	open := c.open
	if open <= 0 {
		open = c.users
	}
	before := usedMemory(ctx, rdb)
	openDialogues(ctx, open, bots, client, fake)
	after := usedMemory(ctx, rdb)
	openRSS := make([]int64, len(bots))
	for i, b := range bots {
		openRSS[i] = rssKB(b.cmd.Process.Pid)
	}

	acks := st.acks()
	fmt.Printf("turns acknowledged: %d, answered: %d, lost: %d, retried after 503/busy: %d, after the outage notice: %d\n",
		st.acked.Load(), st.answered.Load(), st.lost.Load(), st.shed.Load(), st.notices.Load())
	fmt.Printf("dialogues finished by users: %d, journal entries in Redis: %d, saved twice: %d\n",
		st.walks.Load(), saved, dups)
	fmt.Printf("turns/s: %.0f over %v; ack p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		float64(st.answered.Load())/elapsed.Seconds(), elapsed.Round(time.Second), pct(acks, 50), pct(acks, 99), pct(acks, 100))
	for i, b := range bots {
		fmt.Printf("replica %d: peak RSS during the load %.1f MB; with %d dialogues open %.1f MB (log %s)\n", i, float64(rssMax[i])/1024, open, float64(openRSS[i])/1024, b.logPath)
	}
	if open > 0 && after > before {
		fmt.Printf("Redis memory per open dialogue: %d bytes (%d opened)\n", (after-before)/int64(open), open)
	}
	if st.lost.Load() > 0 || dups > 0 {
		return fmt.Errorf("%d lost turns, %d dialogues saved twice", st.lost.Load(), dups)
	}
	return nil
}

// stats are the run's counters, shared by every simulated user.
type stats struct {
	acked, answered, lost, shed, notices, walks atomic.Int64
	mu                                          sync.Mutex
	ackMS                                       []float64
}

func (s *stats) ack(d time.Duration) {
	s.mu.Lock()
	s.ackMS = append(s.ackMS, float64(d.Microseconds())/1000)
	s.mu.Unlock()
}

func (s *stats) acks() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.ackMS)
	slices.Sort(out)
	return out
}

func pct(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted) - 1) * p / 100
	return sorted[i]
}

// user is one simulated person: a quick pause with an inline story, answered from the
// bot's prompts, saved; then again, until the load stops.
type user struct {
	id     string
	fake   *fakeSlack
	bots   []*botProc
	client *http.Client
	st     *stats
	wait   time.Duration
	think  time.Duration // pause between turns
	n      int           // requests sent, to rotate replicas and make IDs
	walks  int           // dialogues started; the number goes into the story, to find doubles
}

func (u *user) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if !u.walk(ctx) {
			return
		}
	}
}

// walk runs one quick pause to the journal; false when the load stopped midway.
func (u *user) walk(ctx context.Context) bool {
	if !u.turn(ctx, false, "stop") { // close whatever the last walk left open
		return false
	}
	u.walks++
	if !u.turn(ctx, true, fmt.Sprintf("quick They think I'm too slow for this project (walk %d).", u.walks)) {
		return false
	}
	for range 12 {
		prompt := u.fake.last(u.id)
		if strings.Contains(prompt, "Saved to your journal") {
			u.st.walks.Add(1)
			return true
		}
		if !u.turn(ctx, false, walker.Answer(prompt)) {
			return false
		}
	}
	return true // the dialogue wandered; start again
}

// turn sends one event and waits for its answer, sending it again after a 503, a busy
// answer or the outage notice. It reports false when the load stopped.
func (u *user) turn(ctx context.Context, command bool, text string) bool {
	if u.think > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(u.think):
		}
	}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		before := u.fake.count(u.id)
		u.n++
		b := u.bots[(u.n+len(u.id))%len(u.bots)]
		var code int
		var err error
		start := time.Now()
		if command {
			code, err = u.post(ctx, b, "/slack/commands", "application/x-www-form-urlencoded", u.slashBody(text))
		} else {
			code, err = u.post(ctx, b, "/slack/events", "application/json", u.eventBody(text))
		}
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if code != http.StatusOK { // 503, or a command's busy note
			u.st.shed.Add(1)
			time.Sleep(time.Second)
			continue
		}
		u.st.ack(time.Since(start))
		u.st.acked.Add(1)
		reply, ok := u.fake.waitReply(ctx, u.id, before, u.wait)
		if !ok {
			if ctx.Err() != nil {
				return false
			}
			if n := u.st.lost.Add(1); n <= 5 {
				fmt.Printf("soak: lost: %s turn %d (%q) to replica %d at %s, acknowledged after %v\n",
					u.id, u.n, text, b.n, start.Format("15:04:05.000"), time.Since(start)-u.wait)
			}
			return true
		}
		if strings.Contains(reply, noticeW) || strings.Contains(reply, "very busy") {
			u.st.notices.Add(1)
			time.Sleep(time.Second)
			continue
		}
		u.st.answered.Add(1)
		return true
	}
}

func (u *user) post(ctx context.Context, b *botProc, path, ct string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, err
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.Contains(string(answer), "very busy") {
		// A slash command refused in the HTTP answer itself: the user sees the busy note
		// at once, and nothing else will come.
		return http.StatusServiceUnavailable, nil
	}
	return resp.StatusCode, nil
}

func (u *user) slashBody(text string) []byte {
	v := url.Values{
		"token": {"legacy"}, "team_id": {team}, "team_domain": {"soak"}, "channel_id": {"D" + u.id},
		"channel_name": {"directmessage"}, "user_id": {u.id}, "user_name": {strings.ToLower(u.id)},
		"command": {"/story"}, "text": {text}, "response_url": {u.fake.base + "/respond/" + u.id},
		"trigger_id": {fmt.Sprintf("%s.%d.%d", u.id, u.n, time.Now().UnixNano())},
	}
	return []byte(v.Encode())
}

func (u *user) eventBody(text string) []byte {
	ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), u.n)
	b, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": team, "api_app_id": "ASOAK", "type": "event_callback",
		"event_id": fmt.Sprintf("Ev%s%d", u.id, u.n), "event_time": time.Now().Unix(),
		"authorizations": []map[string]any{{"team_id": team, "user_id": "UBOT", "is_bot": true}},
		"event": map[string]any{"type": "message", "channel": "D" + u.id, "channel_type": "im", "user": u.id,
			"text": text, "ts": ts, "event_ts": ts},
	})
	return b
}

// openDialogues starts a pause for every user and leaves it open, for the memory figure.
func openDialogues(ctx context.Context, users int, bots []*botProc, client *http.Client, fake *fakeSlack) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u := &user{id: fmt.Sprintf("USOAK%05d", i), fake: fake, bots: bots, client: client, st: &stats{}, wait: 10 * time.Second}
			u.n = 1_000_000
			u.turn(ctx, false, "stop")
			u.turn(ctx, true, "pause The launch slipped a week.")
		}()
	}
	wg.Wait()
}

// fakeSlack answers the Web API calls storybot makes and records every message to a user.
type fakeSlack struct {
	base string
	mu   sync.Mutex
	msgs map[string][]string // user ID → texts posted to their DM or in place, in order
	cond *sync.Cond
}

func newFakeSlack() *fakeSlack {
	f := &fakeSlack{msgs: map[string][]string{}}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeSlack) record(user, text string) {
	f.mu.Lock()
	f.msgs[user] = append(f.msgs[user], text)
	f.mu.Unlock()
	f.cond.Broadcast()
}

func (f *fakeSlack) count(user string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs[user])
}

func (f *fakeSlack) last(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs[user]
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

// waitReply waits until user has a message past index from, then a moment more for the
// rest of the turn's messages, and returns them joined.
func (f *fakeSlack) waitReply(ctx context.Context, user string, from int, timeout time.Duration) (string, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if f.count(user) > from {
			time.Sleep(50 * time.Millisecond)
			f.mu.Lock()
			out := strings.Join(f.msgs[user][from:], "\n")
			f.mu.Unlock()
			return out, true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", false
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	p := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					p[k] = s
				}
			}
		}
	} else if vals, err := url.ParseQuery(string(body)); err == nil {
		for k, v := range vals {
			p[k] = v[0]
		}
	}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	w.Header().Set("Content-Type", "application/json")
	if user, ok := strings.CutPrefix(r.URL.Path, "/respond/"); ok {
		if p["replace_original"] != "true" && p["delete_original"] != "true" {
			f.record(user, p["text"])
		}
		io.WriteString(w, `{"ok":true}`)
		return
	}
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	switch method {
	case "auth.test":
		io.WriteString(w, `{"ok":true,"url":"https://soak.slack.com/","team":"soak","user":"bot","team_id":"`+team+`","user_id":"UBOT","bot_id":"BSOAK"}`)
	case "apps.connections.open":
		io.WriteString(w, `{"ok":false,"error":"not_allowed_token_type"}`)
	case "conversations.open":
		users := p["users"]
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{"id": "D" + users, "is_im": true}})
	case "chat.postMessage":
		ch := p["channel"]
		f.record(strings.TrimPrefix(ch, "D"), p["text"])
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": strconv.FormatInt(time.Now().UnixNano(), 10)})
	case "chat.postEphemeral":
		f.record(p["user"], p["text"])
		io.WriteString(w, `{"ok":true,"message_ts":"1.1"}`)
	case "users.info":
		io.WriteString(w, `{"ok":true,"user":{"id":"`+p["user"]+`","tz":"Europe/Berlin"}}`)
	case "dnd.info":
		io.WriteString(w, `{"ok":true,"dnd_enabled":false,"snooze_enabled":false}`)
	default:
		io.WriteString(w, `{"ok":true}`)
	}
}

// redisServer is a redis-server process with an append-only file in dir, so a restart
// keeps what was written (SHUTDOWN flushes it).
type redisServer struct{ cmd *exec.Cmd }

func startRedis(ctx context.Context, dir string, port int) (*redisServer, error) {
	cmd := exec.CommandContext(ctx, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server (Debian: apt-get install redis-server): %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer rdb.Close()
	for range 100 {
		if rdb.Ping(ctx).Err() == nil {
			return &redisServer{cmd: cmd}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, errors.New("redis-server did not answer")
}

func (r *redisServer) stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
	}
}

type botProc struct {
	n       int
	cmd     *exec.Cmd
	url     string
	logPath string
}

func startBot(ctx context.Context, bin, dir string, n, redisPort int, fakeBase string) (*botProc, error) {
	port := freePort()
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("storybot-soak-replica%d.log", n))
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(),
		"SLACK_SIGNING_SECRET="+secret, "SLACK_BOT_TOKEN=xoxb-soak", "SLACK_API_URL="+fakeBase+"/api/",
		"REDIS_URL=redis://127.0.0.1:"+strconv.Itoa(redisPort)+"/0", "STORYBOT_LISTEN=127.0.0.1:"+strconv.Itoa(port),
		"LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return &botProc{n: n, cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), logPath: logPath}, nil
}

func (b *botProc) stop() {
	b.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
	}
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v", url, within)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func usedMemory(ctx context.Context, rdb *redis.Client) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, ln := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(ln, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// journalEntries counts the journal entries in Redis, and the walks saved more than once
// (the same user and walk number). The soak runs without an encryption key, so entries are
// plain JSON.
func journalEntries(ctx context.Context, rdb *redis.Client) (total, doubles int64, err error) {
	seen := map[string]int{}
	iter := rdb.Scan(ctx, 0, "sb:*:j:*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		v, err := rdb.Get(ctx, key).Result()
		if err != nil {
			return 0, 0, err
		}
		var e struct {
			Story string `json:"story"`
		}
		if json.Unmarshal([]byte(v), &e) != nil {
			continue
		}
		total++
		user := key[:strings.Index(key, "}")]
		if seen[user+"|"+e.Story]++; seen[user+"|"+e.Story] == 2 {
			doubles++
		}
	}
	return total, doubles, iter.Err()
}
