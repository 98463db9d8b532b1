package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/storybot/storybot/bot"
)

// readVerified reads the request body and checks Slack's signature over it. On failure it
// answers (413, 400 or 401) and returns false: nothing has been parsed or stored. r.Body
// reads the body again, for slack-go's form parsers.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, ok := a.readSigned(w, r)
	if ok {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return body, ok
}

// readSigned is readVerified for a handler that reads only the returned body (the Events
// API's), which leaves r.Body read: two allocations fewer for every event.
func (a *Adapter) readSigned(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > MaxBody {
		a.refused(r.Context(), r.URL.Path, "too large")
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	body, err := readBody(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			a.refused(r.Context(), r.URL.Path, "too large")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		a.refused(r.Context(), r.URL.Path, "unreadable")
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return nil, false
	}
	if len(body) > MaxBody {
		a.refused(r.Context(), r.URL.Path, "too large")
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err := a.sig.check(r.Header, body); err != nil {
		a.refused(r.Context(), r.URL.Path, "bad signature")
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// readBody reads r's body, at most MaxBody+1 bytes, as io.ReadAll does. A body whose length
// is announced (Content-Length, at most MaxBody: the caller refused larger ones) is read into
// a buffer of exactly that size, where io.ReadAll would start at 512 bytes and grow by
// copying (a few hundred bytes of garbage per event). A body shorter than announced is
// returned as read, as io.ReadAll returns it; one longer is read on to its end.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > MaxBody {
		return io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	}
	// A value, read through its own method, stays off the heap (io.LimitReader's would not).
	lr := io.LimitedReader{R: r.Body, N: MaxBody + 1}
	buf := make([]byte, n)
	got := 0
	for got < len(buf) {
		m, err := lr.Read(buf[got:])
		got += m
		if err == io.EOF {
			return buf[:got], nil
		}
		if err != nil {
			return buf[:got], err
		}
	}
	// Full: the body should end here. The last read finds out, as io.ReadAll's does.
	var one [1]byte
	for {
		m, err := lr.Read(one[:])
		if m > 0 {
			rest, err := io.ReadAll(io.LimitReader(lr.R, lr.N))
			return append(append(buf, one[0]), rest...), err
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// refused counts a refused request and logs it, at most once a minute per reason.
func (a *Adapter) refused(ctx context.Context, path, reason string) {
	a.refs.Refuse(ctx, path, reason)
}

// workspaceGone tells the handler that Slack says the app was uninstalled from a workspace
// or its tokens were revoked, so that workspace's scheduled jobs stop. Both the workspace
// and its Grid org are named: org users' jobs are kept under the enterprise id. Handled
// once per event_id; it reports whether the event may be acknowledged.
func (a *Adapter) workspaceGone(ctx context.Context, eventID string, evt slackevents.EventsAPIEvent) bool {
	wh, ok := a.h.(bot.WorkspaceHandler)
	if !ok {
		return true
	}
	if tr, ok := evt.InnerEvent.Data.(*slackevents.TokensRevokedEvent); ok && len(tr.Tokens.Bot) == 0 {
		return true // only user tokens were revoked: the bot still reaches everyone
	}
	var teams []string
	for _, t := range []string{evt.TeamID, evt.EnterpriseID} {
		if t != "" {
			teams = append(teams, t)
		}
	}
	if len(teams) == 0 {
		return true
	}
	id := ""
	if eventID != "" {
		id = "slack:event:" + evt.TeamID + ":" + eventID
	}
	lease, v := a.dedupe.Claim(ctx, bot.UserRef{}, id)
	switch v {
	case bot.Duplicate:
		return true
	case bot.InProgress:
		return false
	}
	a.log.InfoContext(ctx, "slack says the app is gone from a workspace; stopping its jobs", "event", evt.InnerEvent.Type, "team", evt.TeamID)
	return a.submit(ctx, "workspace:"+evt.TeamID, "workspace gone", lease, func(ctx context.Context) {
		if err := wh.WorkspaceGone(ctx, Platform, teams); err != nil {
			a.log.ErrorContext(ctx, "stopping a gone workspace's jobs failed", "team", evt.TeamID, "err", err)
		}
	}) == nil
}

// TextBusy is the private answer to a request refused because the bot is saturated.
const TextBusy = "I'm very busy — try that again in a minute. Nothing you wrote before was lost."

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request) {
	if sslCheck(r) {
		// Slack checks the certificate of a command URL from time to time with an unsigned
		// ssl_check=1 form and expects 200. Nothing of it is read further or kept.
		w.WriteHeader(http.StatusOK)
		return
	}
	if _, ok := a.readVerified(w, r); !ok {
		return
	}
	cmd, err := slack.SlashCommandParse(r)
	if err != nil || !wellFormed(cmd) {
		a.refused(r.Context(), r.URL.Path, "malformed")
		http.Error(w, "malformed slash command", http.StatusBadRequest)
		return
	}
	if !a.acceptCommand(r.Context(), cmd, r.Header.Get("X-Slack-Request-Timestamp")) {
		writeBusy(w)
		return
	}
	// An empty 200 shows nothing; the engine's own ephemeral note follows in moments.
	w.WriteHeader(http.StatusOK)
}

// writeBusy answers a slash command with a private busy note, in the HTTP response itself.
func writeBusy(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral", "text": TextBusy})
}

// acceptCommand dedupes a slash command by its trigger_id, the user and, over HTTP, the
// signed request timestamp (a signed request replayed within its five minutes, or a proxy's
// retry, carries the same three and must not run twice; Slack never retries a command, and
// a fresh request is signed afresh) and admits its work. It reports false when the work was
// refused; a duplicate is accepted and does nothing, but for a dialogue start, whose
// duplicate is handed on for the dialogue to judge (see the Duplicate case).
func (a *Adapter) acceptCommand(ctx context.Context, cmd slack.SlashCommand, signedAt string) bool {
	id := ""
	if cmd.TriggerID != "" {
		id = "slack:cmd:" + cmd.TeamID + ":" + cmd.UserID + ":" + cmd.TriggerID + ":" + signedAt
	}
	u := person(cmd.UserID, "", cmd.TeamID, cmd.EnterpriseID)
	lease, v := a.dedupe.Claim(ctx, u, id)
	switch v {
	case bot.InProgress:
		return true
	case bot.Duplicate:
		if !startsDialogue(cmd) {
			return true
		}
		// A dialogue start seen before: the dialogue it started decides. While that one is
		// open the command changes nothing (bot.Event.Request); once it has ended, this
		// is as good as a new /story, and is answered as one (a tool that sends the same
		// trigger_id twice within a second would otherwise get no answer at all).
		return a.submit(ctx, u.String(), "command", nil, func(ctx context.Context) { a.command(ctx, cmd, "", id, nil) }) == nil
	}
	return a.submit(ctx, u.String(), "command", lease, func(ctx context.Context) { a.command(ctx, cmd, id, id, lease.Snapshot()) }) == nil
}

// startsDialogue reports whether cmd starts a Pause or a Reframe (as /story does with no
// text): commands whose replays the open dialogue dedupes (acceptCommand).
func startsDialogue(cmd slack.SlashCommand) bool {
	c, err := bot.ParseCommand(cmd.Text)
	return err == nil && (c.Name == bot.CmdPause || c.Name == bot.CmdReframe)
}

// requestKey is the short name of a command's identity that a dialogue it starts keeps
// (flows.Start.Request): 64 bits of FNV-1a in hex, so the stored state does not carry the
// trigger_id itself.
func requestKey(id string) string {
	if id == "" {
		return ""
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, id)
	return strconv.FormatUint(h.Sum64(), 16)
}

// sslCheck reports whether r is Slack's ssl_check request: a form whose ssl_check is 1.
// It reads at most a small body; anything larger is not one.
func sslCheck(r *http.Request) bool {
	if r.URL.Query().Get("ssl_check") == "1" {
		return true
	}
	if r.ContentLength < 0 || r.ContentLength > 512 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 512))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Get("ssl_check") == "1"
}

// wellFormed reports whether a parsed slash command has what every real one carries: the
// command, the user, the workspace and a response_url to answer on.
func wellFormed(cmd slack.SlashCommand) bool {
	return cmd.Command != "" && cmd.UserID != "" && cmd.TeamID != "" && cmd.ResponseURL != ""
}

// command handles a slash command after its acknowledgement: id is its claim's (empty for
// a replayed dialogue start), request the command's identity (see bot.Event.Request), snap
// what its claim read.
func (a *Adapter) command(ctx context.Context, cmd slack.SlashCommand, id, request string, snap *bot.Snapshot) {
	ev := commandToEvent(cmd, "")
	dm := a.knownDM(ev.User)
	if dm == "" && strings.HasPrefix(cmd.ChannelID, "D") {
		// Invoked in some DM: find out whether it is the one with the bot (cached).
		dm, _ = a.dmChannel(ctx, ev.User)
	}
	ev.InDM = dm != "" && cmd.ChannelID == dm
	ev.ID, ev.Request, ev.Snapshot = id, requestKey(request), snap
	if cmd.TriggerID != "" {
		ev.Trigger = routeTrigger + cmd.TriggerID // /story quick opens the modal with it
	}
	a.handle(ctx, ev)
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.readVerified(w, r); !ok {
		return
	}
	ic, err := slack.InteractionCallbackParse(r)
	if err != nil || !wellFormedInteraction(ic) {
		a.refused(r.Context(), r.URL.Path, "malformed")
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	rep := a.routeInteraction(r.Context(), ic)
	switch {
	case rep.busy:
		// Saturated: a non-2xx makes Slack show the user that the click did not work, so
		// they can press again; nothing was recorded.
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case rep.body != nil:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep.body)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// interaction admits the work for an interaction, and reports false when it was refused.
// Only button presses on the bot's own messages do anything.
func (a *Adapter) interaction(ctx context.Context, ic slack.InteractionCallback) bool {
	ev, label, ok := actionToEvent(ic)
	if !ok {
		return true
	}
	// One press per message: a second press of an old button (or a double click, or a
	// second replica) is dropped before it can answer a later question.
	id := ""
	if ts := ic.Container.MessageTs; ts != "" {
		id = "slack:click:" + ic.Container.ChannelID + ":" + ts
	}
	lease, v := a.dedupe.Claim(ctx, ev.User, id)
	if v == bot.Duplicate || v == bot.InProgress {
		return true
	}
	ev.ID, ev.Snapshot = id, lease.Snapshot()
	return a.submit(ctx, ev.User.String(), "interaction", lease, func(ctx context.Context) {
		a.markChosen(ctx, ic, ev.User, label)
		a.handle(ctx, ev)
	}) == nil
}

// eventHead is the envelope of an Events API request.
type eventHead struct {
	Type         string `json:"type"`
	Challenge    string `json:"challenge"`
	EventID      string `json:"event_id"`
	TeamID       string `json:"team_id"`
	EnterpriseID string `json:"enterprise_id"`
}

// eventEnvelope is an Events API request as the adapter reads it in one pass: the envelope,
// the installations it was delivered for, and a message event's fields.
type eventEnvelope struct {
	eventHead
	Authorizations []authorization `json:"authorizations"`
	Event          *dmMessage      `json:"event"`
}

// authorization is one installation an event was delivered for.
type authorization struct {
	UserID string `json:"user_id"`
	IsBot  bool   `json:"is_bot"`
}

// botUser is the bot's own user id in the workspace the event was delivered for.
func (e *eventEnvelope) botUser() string {
	var u string
	for _, au := range e.Authorizations {
		if au.IsBot {
			u = au.UserID
		}
	}
	return u
}

// decodeEnvelope reads an Events API request in one pass: the envelope, the installations
// and a message event's fields. fast reports that the whole body has that shape; when it
// does not (some part of the event is not a message's), only the envelope is read, and the
// event is left to slack-go's parser (env.Type is "" when even the envelope is unreadable).
// The hand-written reader takes the bodies it is sure of, nearly every DM; encoding/json
// reads the rest, to the same result (readEnvelope).
func decodeEnvelope(body []byte) (env eventEnvelope, fast bool) {
	if readEnvelope(body, &env) {
		return env, true
	}
	env = eventEnvelope{}
	if json.Unmarshal(body, &env) == nil {
		return env, true
	}
	env = eventEnvelope{}
	if err := json.Unmarshal(body, &env.eventHead); err != nil {
		env.Type = ""
	}
	return env, false
}

func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readSigned(w, r)
	if !ok {
		return
	}
	env, fast := decodeEnvelope(body)
	outer := env.eventHead
	if outer.Type == "" || outer.Type == slackevents.CallbackEvent && outer.TeamID == "" && outer.EnterpriseID == "" {
		// Every callback names the workspace it is for; one that does not cannot be
		// anyone's, so it is refused before anything is read from it.
		a.refused(r.Context(), r.URL.Path, "malformed")
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	switch outer.Type {
	case slackevents.URLVerification:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, outer.Challenge)
		return
	case slackevents.CallbackEvent:
	default:
		w.WriteHeader(http.StatusOK)
		return
	}
	lastTry := false
	if retry := r.Header.Get("X-Slack-Retry-Num"); retry != "" {
		n, _ := strconv.Atoi(retry)
		a.log.InfoContext(r.Context(), "slack retried an event", "event_id", outer.EventID, "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
		lastTry = n >= slackLastRetry
	}
	if fast && env.Event != nil && env.Event.Type == string(slackevents.Message) {
		// A DM, nearly every event the bot gets: read in the one pass above.
		if !a.message(r.Context(), outer.EventID, outer.TeamID, outer.EnterpriseID, env.Event, env.botUser(), lastTry) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	evt, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		// An event type this slack-go does not know, or an odd shape: acknowledged so that
		// Slack does not retry it, and ignored.
		a.log.DebugContext(r.Context(), "event ignored", "event_id", outer.EventID, "err", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	if !a.callback(r.Context(), outer.EventID, evt, lastTry) {
		// Not acknowledged as done: refused (saturated), or another process is handling it
		// right now and may yet die. Slack delivers it again later.
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// slackLastRetry is the X-Slack-Retry-Num of Slack's last redelivery of an event: after it
// is refused, Slack never sends that event again.
const slackLastRetry = 3

// callback claims an Events API callback by its event_id and admits its work. It reports
// whether the event may be acknowledged: false when the work was refused or another process
// holds the event's lease, so that Slack delivers it again. lastTry says this is Slack's
// last delivery of the event.
func (a *Adapter) callback(reqCtx context.Context, eventID string, evt slackevents.EventsAPIEvent, lastTry bool) bool {
	switch slackevents.EventsAPIType(evt.InnerEvent.Type) {
	case slackevents.AppUninstalled, slackevents.TokensRevoked:
		return a.workspaceGone(reqCtx, eventID, evt)
	}
	if h, ok := evt.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok {
		return a.homeOpened(reqCtx, eventID, evt, h)
	}
	m, ok := evt.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		return true // anything else: acknowledged, nothing to do
	}
	var botUser string
	if cb, ok := evt.Data.(*slackevents.EventsAPICallbackEvent); ok {
		for _, au := range cb.Authorizations {
			if au.IsBot {
				botUser = au.UserID
			}
		}
	}
	return a.message(reqCtx, eventID, evt.TeamID, evt.EnterpriseID, dmOf(m), botUser, lastTry)
}

// message claims a message event by its event_id and admits its work; it reports whether
// the event may be acknowledged (as callback). When Slack's last delivery of a DM is
// refused for want of room, the message is lost for good: the handler hears so (a
// bot.LossNotifier), so the user can be told to send it again.
func (a *Adapter) message(reqCtx context.Context, eventID, team, enterprise string, m *dmMessage, botUser string, lastTry bool) bool {
	ev, ok := dmToEvent(team, enterprise, m, botUser)
	if !ok {
		return true
	}
	id := ""
	if eventID != "" {
		id = "slack:event:" + team + ":" + eventID
	}
	// The claim also reads the user's dialogue and coaching marker (one round trip before
	// the acknowledgement); they travel with the event, so the turn's commit is the only
	// other round trip of a DM answer. When this process remembers the user's dialogue, the
	// claim is folded into the commit instead (bot.Dedupe.ClaimTurn): one round trip, and
	// the acknowledgement waits for it below.
	lease, v := a.dedupe.ClaimTurn(reqCtx, ev.User, id)
	switch v {
	case bot.Duplicate:
		return true
	case bot.InProgress:
		return false
	}
	// Slack only sends message.im for the bot's own DMs: remember the channel.
	key := ev.User.String() // made once: it is the cache's key and the pool's
	a.dms.Add(key, m.Channel)
	ev.ID, ev.Snapshot = id, lease.Snapshot()
	err := a.submit(reqCtx, key, "message", lease, func(ctx context.Context) { a.handle(ctx, ev) })
	if err != nil && lastTry && bot.IsShed(err) {
		a.lost(ev.User)
	}
	if err != nil {
		return false
	}
	// An event claimed from memory is durable only once its commit ran: acknowledge it
	// then, or not at all when another process turned out to hold it.
	return lease.Settled(reqCtx, guessSettleWait)
}

// guessSettleWait bounds how long the acknowledgement of a DM claimed from the store's
// memory (bot.Dedupe.ClaimTurn) waits for its commit, well inside Slack's 3 s. Past it the
// event is acknowledged as admitted work, as a claimed one is.
const guessSettleWait = time.Second

// lost tells the handler, when it listens (bot.LossNotifier), that a message of u's will
// never be handled. It runs as work of its own (not the user's: their queue is full), so
// it is bounded, drained at shutdown, and simply dropped when the pool has no room at all.
func (a *Adapter) lost(u bot.UserRef) {
	ln, ok := a.h.(bot.LossNotifier)
	if !ok {
		return
	}
	if err := a.work.Submit("", "lost", func(ctx context.Context) { ln.MessageLost(ctx, u) }); err != nil {
		a.log.Warn("a lost message could not be reported to the user", "user", u.String(), "err", err)
	}
}

// homeOpened claims an app_home_opened callback by its event_id and admits the publish of
// that user's home: one per open, however often Slack retries it. It reports whether the
// event may be acknowledged, as callback does.
func (a *Adapter) homeOpened(reqCtx context.Context, eventID string, evt slackevents.EventsAPIEvent, h *slackevents.AppHomeOpenedEvent) bool {
	ev, ok := homeOpenedEvent(evt.TeamID, evt.EnterpriseID, h)
	if !ok {
		return true // the Messages tab, or no user: nothing to publish
	}
	id := ""
	if eventID != "" {
		id = "slack:event:" + evt.TeamID + ":" + eventID
	}
	lease, v := a.dedupe.Claim(reqCtx, ev.User, id)
	switch v {
	case bot.Duplicate:
		return true
	case bot.InProgress:
		return false
	}
	ev.ID = id
	return a.submit(reqCtx, ev.User.String(), "home", lease, func(ctx context.Context) { a.handle(ctx, ev) }) == nil
}
