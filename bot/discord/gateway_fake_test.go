package discord

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// fakeGateway is a Discord gateway that follows the documented lifecycle
// (https://discord.com/developers/docs/events/gateway): HELLO with heartbeat_interval; a
// heartbeat ACK (op 11) for every heartbeat (op 1); IDENTIFY (op 2) checked for the token,
// the intents and the shard, answered with READY carrying a session_id and a
// resume_gateway_url; RESUME (op 6) on that URL replays the events after the client's
// sequence number and ends with RESUMED; a client close with 1000 or 1001 ends the
// session, any other code keeps it resumable. Each session has its own sequence and log,
// so events sent while its connection is down or silent are replayed on RESUME, as
// Discord does; a session that was invalidated gets nothing more.
//
// The resume URL is a different path from the main URL, and RESUME on the main URL is
// answered with op 9 d=false, so a test can tell which one the client used.
type fakeGateway struct {
	tb      testing.TB
	httpURL string // the server's base URL

	mu             sync.Mutex
	token          string // the bot token IDENTIFY and RESUME must carry
	intervalMS     int    // heartbeat_interval sent in HELLO
	sessions       map[string]*fakeSession
	conns          map[*gwConn]*fakeSession // open connections (session nil until identified)
	identifies     []map[string]any         // IDENTIFY payloads
	identifyTimes  []time.Time
	resumes        []string      // the URL path of each RESUME
	resumed        int           // RESUMEs that succeeded
	connects       []time.Time   // websocket upgrades
	clientCloses   []int         // close codes the clients sent
	dropAfterHello int           // the next n connections are cut right after HELLO
	messages       []fakeMessage // every MESSAGE_CREATE, for GET /channels/{id}/messages
	needShards     int           // IDENTIFY with fewer shards is closed with 4011
	recommended    int           // GET /gateway/bot's "shards"
	sessionsMade   int
}

type fakeSession struct {
	id     string
	log    []fakeDispatch
	conn   *gwConn // nil while no connection carries the session
	silent bool    // a zombie: nothing is sent on conn, not even ACKs
	dead   bool
}

type fakeMessage struct {
	at      time.Time
	channel string
	d       any
}

// channelMessages answers GET /channels/{id}/messages?after=: the channel's messages sent
// after the time the snowflake after stands for, newest first, as Discord lists them.
func (f *fakeGateway) channelMessages(channel, after string, limit int) []any {
	since := time.Time{}
	if after != "" {
		at, err := discordgo.SnowflakeTimestamp(after)
		if err != nil {
			f.tb.Errorf("fake discord: after=%q is not a snowflake", after)
			return nil
		}
		since = at
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for i := len(f.messages) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if m := f.messages[i]; m.channel == channel && !m.at.Before(since) {
			out = append(out, m.d)
		}
	}
	return out
}

type fakeDispatch struct {
	seq int64
	t   string
	d   any
}

type gwConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (g *gwConn) write(v any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.c.WriteJSON(v)
}

func (g *gwConn) closeWith(code int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	g.c.Close()
}

func newFakeGateway(tb testing.TB) *fakeGateway {
	return &fakeGateway{tb: tb, token: "test-token", intervalMS: 41250, sessions: map[string]*fakeSession{},
		conns: map[*gwConn]*fakeSession{}, recommended: 1}
}

func (f *fakeGateway) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(f.httpURL, "http") + path
}

// info is the body of GET /gateway/bot.
func (f *fakeGateway) info() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"url": f.wsURL("/ws"), "shards": f.recommended,
		"session_start_limit": map[string]any{"total": 1000, "remaining": 999, "reset_after": 86400000, "max_concurrency": 1}}
}

func (f *fakeGateway) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for g := range f.conns {
		g.c.Close()
	}
}

func (f *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	g := &gwConn{c: c}
	c.SetCloseHandler(func(code int, _ string) error {
		f.mu.Lock()
		f.clientCloses = append(f.clientCloses, code)
		if s := f.conns[g]; s != nil && (code == websocket.CloseNormalClosure || code == websocket.CloseGoingAway) {
			s.dead = true // documented: 1000 and 1001 end the session
		}
		f.mu.Unlock()
		return nil
	})
	f.mu.Lock()
	f.connects = append(f.connects, time.Now())
	f.conns[g] = nil
	drop := f.dropAfterHello > 0
	if drop {
		f.dropAfterHello--
	}
	interval := f.intervalMS
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if s := f.conns[g]; s != nil && s.conn == g {
			s.conn, s.silent = nil, false
		}
		delete(f.conns, g)
		f.mu.Unlock()
		c.Close()
	}()
	if g.write(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": interval}}) != nil {
		return
	}
	if drop {
		c.UnderlyingConn().Close() // a network failure right after HELLO
		return
	}
	for {
		var msg struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if err := c.ReadJSON(&msg); err != nil {
			return
		}
		switch msg.Op {
		case 1:
			f.mu.Lock()
			s := f.conns[g]
			silent := s != nil && s.silent
			f.mu.Unlock()
			if !silent {
				g.write(map[string]any{"op": 11})
			}
		case 2:
			if !f.identify(g, msg.D) {
				return
			}
		case 6:
			if !f.resume(g, r.URL.Path, msg.D) {
				return
			}
		default:
			g.closeWith(4001)
			return
		}
	}
}

func (f *fakeGateway) identify(g *gwConn, raw json.RawMessage) bool {
	var d map[string]any
	json.Unmarshal(raw, &d)
	f.mu.Lock()
	f.identifies = append(f.identifies, d)
	f.identifyTimes = append(f.identifyTimes, time.Now())
	token, need := f.token, f.needShards
	f.mu.Unlock()
	if d["token"] != token {
		g.closeWith(4004)
		return false
	}
	if d["intents"] != float64(1<<12) {
		g.closeWith(4014)
		return false
	}
	shard, _ := d["shard"].([]any)
	if len(shard) != 2 || shard[0].(float64) < 0 || shard[0].(float64) >= shard[1].(float64) {
		g.closeWith(4010)
		return false
	}
	if int(shard[1].(float64)) < need {
		g.closeWith(4011)
		return false
	}
	f.mu.Lock()
	f.sessionsMade++
	s := &fakeSession{id: fmt.Sprint("session-", f.sessionsMade), conn: g}
	f.sessions[s.id] = s
	f.conns[g] = s
	seq := s.next("READY", nil)
	f.mu.Unlock()
	ready := map[string]any{
		"v": 10, "session_id": s.id, "resume_gateway_url": f.wsURL("/resume"), "shard": shard,
		"user": map[string]any{"id": "bot-user", "username": "storybot", "bot": true}, "guilds": []any{},
	}
	return g.write(map[string]any{"op": 0, "t": "READY", "s": seq, "d": ready}) == nil
}

// next appends an event to the session's log and returns its sequence number.
func (s *fakeSession) next(t string, d any) int64 {
	seq := int64(len(s.log) + 1)
	s.log = append(s.log, fakeDispatch{seq: seq, t: t, d: d})
	return seq
}

func (f *fakeGateway) resume(g *gwConn, path string, raw json.RawMessage) bool {
	var d struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	json.Unmarshal(raw, &d)
	f.mu.Lock()
	f.resumes = append(f.resumes, path)
	s := f.sessions[d.SessionID]
	ok := d.Token == f.token && s != nil && !s.dead && strings.TrimSuffix(path, "/") == "/resume" && d.Seq <= int64(len(s.log))
	if !ok {
		f.mu.Unlock()
		return g.write(map[string]any{"op": 9, "d": false}) == nil
	}
	f.resumed++
	if s.conn != nil && s.conn != g {
		s.conn.c.Close() // the session moves to the new connection
	}
	s.conn, s.silent = g, false
	f.conns[g] = s
	replay := append([]fakeDispatch(nil), s.log[d.Seq:]...)
	seq := s.next("RESUMED", nil)
	f.mu.Unlock()
	for _, e := range replay {
		if e.t == "READY" {
			continue
		}
		if g.write(map[string]any{"op": 0, "t": e.t, "s": e.seq, "d": e.d}) != nil {
			return false
		}
	}
	return g.write(map[string]any{"op": 0, "t": "RESUMED", "s": seq, "d": map[string]any{}}) == nil
}

// dispatch sends an event to every live session: at once on its connection, or later
// when it resumes.
func (f *fakeGateway) dispatch(t string, d any) {
	type send struct {
		g   *gwConn
		seq int64
	}
	var sends []send
	f.mu.Lock()
	if m, ok := d.(map[string]any); ok && t == "MESSAGE_CREATE" {
		ch, _ := m["channel_id"].(string)
		f.messages = append(f.messages, fakeMessage{at: time.Now(), channel: ch, d: d})
	}
	for _, s := range f.sessions {
		if s.dead {
			continue
		}
		seq := s.next(t, d)
		if s.conn != nil && !s.silent {
			sends = append(sends, send{s.conn, seq})
		}
	}
	f.mu.Unlock()
	for _, x := range sends {
		x.g.write(map[string]any{"op": 0, "t": t, "s": x.seq, "d": d}) // a failed write is a lost connection: RESUME replays it
	}
}

// silence makes every connection a zombie: nothing more is sent on it, ACKs included.
func (f *fakeGateway) silence() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if s.conn != nil {
			s.silent = true
		}
	}
}

// ordered returns the sessions oldest first; f.mu must be held.
func (f *fakeGateway) ordered() []*fakeSession {
	var out []*fakeSession
	for i := 1; i <= f.sessionsMade; i++ {
		if s := f.sessions[fmt.Sprint("session-", i)]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// sendOp sends op (7 or 9) on the connections of the first limit live sessions (all when
// limit is 0) and detaches each session from its connection: Discord sends nothing more
// there. With invalidate the sessions end.
func (f *fakeGateway) sendOp(op int, d any, invalidate bool, limit int) {
	f.mu.Lock()
	var conns []*gwConn
	for _, s := range f.ordered() {
		if s.conn == nil || s.dead {
			continue
		}
		if limit > 0 && len(conns) == limit {
			break
		}
		conns = append(conns, s.conn)
		s.conn = nil
		s.dead = invalidate
	}
	f.mu.Unlock()
	for _, g := range conns {
		g.write(map[string]any{"op": op, "d": d})
	}
}

// closeSessions closes every session's connection with code (e.g. 4004, 4011).
func (f *fakeGateway) closeSessions(code int) {
	f.mu.Lock()
	var conns []*gwConn
	for _, s := range f.sessions {
		if s.conn != nil && !s.dead {
			conns = append(conns, s.conn)
			s.conn = nil
			s.dead = code == 4004 || code == 4011 || (code >= 4010 && code <= 4014) || code == 4007 || code == 4009
		}
	}
	f.mu.Unlock()
	for _, g := range conns {
		g.closeWith(code)
	}
}

// drop cuts every connection abruptly, as a network failure would; sessions stay resumable.
func (f *fakeGateway) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for g, s := range f.conns {
		g.c.UnderlyingConn().Close()
		if s != nil && s.conn == g {
			s.conn = nil
		}
	}
}

// live is the number of sessions with a connection that is not silent.
func (f *fakeGateway) live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.sessions {
		if s.conn != nil && !s.silent && !s.dead {
			n++
		}
	}
	return n
}

func (f *fakeGateway) counts() (connects, identifies, resumes, resumed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.connects), len(f.identifies), len(f.resumes), f.resumed
}
