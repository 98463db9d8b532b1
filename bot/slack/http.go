package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// readVerified reads the request body and checks Slack's signature over it. On failure it
// answers (413, 400 or 401) and returns false: nothing has been parsed or stored.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > MaxBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return nil, false
	}
	if len(body) > MaxBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err := verify(r.Header, body, a.cfg.SigningSecret); err != nil {
		a.log.WarnContext(r.Context(), "request refused: bad signature", "path", r.URL.Path, "err", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

// verify checks the v0 HMAC-SHA256 signature and the 5-minute timestamp window with
// slack-go's verifier (constant-time comparison).
func verify(h http.Header, body []byte, secret string) error {
	if secret == "" {
		return errors.New("no signing secret configured")
	}
	sv, err := slack.NewSecretsVerifier(h, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.readVerified(w, r); !ok {
		return
	}
	cmd, err := slack.SlashCommandParse(r)
	if err != nil || cmd.UserID == "" || cmd.TeamID == "" {
		http.Error(w, "malformed slash command", http.StatusBadRequest)
		return
	}
	// An empty 200 shows nothing; the engine's own ephemeral note follows in moments.
	w.WriteHeader(http.StatusOK)
	a.async("command", func(ctx context.Context) { a.command(ctx, cmd) })
}

// command handles a slash command after its acknowledgement.
func (a *Adapter) command(ctx context.Context, cmd slack.SlashCommand) {
	u := userRef(cmd.TeamID, cmd.UserID)
	dm := a.knownDM(u)
	if dm == "" && strings.HasPrefix(cmd.ChannelID, "D") {
		// Invoked in some DM: find out whether it is the one with the bot (cached).
		dm, _ = a.dmChannel(ctx, u)
	}
	a.handle(ctx, commandToEvent(cmd, dm))
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.readVerified(w, r); !ok {
		return
	}
	ic, err := slack.InteractionCallbackParse(r)
	if err != nil {
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	a.interaction(r.Context(), ic)
}

// interaction starts the work for an acknowledged interaction. Only button presses on the
// bot's own messages do anything.
func (a *Adapter) interaction(reqCtx context.Context, ic slack.InteractionCallback) {
	ev, label, ok := actionToEvent(ic)
	if !ok {
		return
	}
	// One press per message: a second press of an old button (or a double click, or a
	// second replica) is dropped before it can answer a later question.
	if ts := ic.Container.MessageTs; ts != "" && !a.firstSeen(reqCtx, "slack:click:"+ic.Container.ChannelID+":"+ts) {
		return
	}
	a.async("interaction", func(ctx context.Context) {
		a.markChosen(ctx, ic, ev.User, label)
		a.handle(ctx, ev)
	})
}

func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r)
	if !ok {
		return
	}
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		EventID   string `json:"event_id"`
		TeamID    string `json:"team_id"`
	}
	if err := json.Unmarshal(body, &outer); err != nil || outer.Type == "" {
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
	if retry := r.Header.Get("X-Slack-Retry-Num"); retry != "" {
		n, _ := strconv.Atoi(retry)
		a.log.InfoContext(r.Context(), "slack retried an event", "event_id", outer.EventID, "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	evt, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	w.WriteHeader(http.StatusOK)
	if err != nil {
		// An event type this slack-go does not know, or an odd shape: acknowledged so that
		// Slack does not retry it, and ignored.
		a.log.DebugContext(r.Context(), "event ignored", "event_id", outer.EventID, "err", err)
		return
	}
	a.callback(r.Context(), outer.EventID, evt)
}

// callback dedupes an Events API callback by its event_id and starts its work. Every
// event ID is recorded, first deliveries too, so a retry never acts twice.
func (a *Adapter) callback(reqCtx context.Context, eventID string, evt slackevents.EventsAPIEvent) {
	m, ok := evt.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		return // app_home_opened and anything else: acknowledged, nothing to do
	}
	var botUser string
	if cb, ok := evt.Data.(*slackevents.EventsAPICallbackEvent); ok {
		for _, au := range cb.Authorizations {
			if au.IsBot {
				botUser = au.UserID
			}
		}
	}
	ev, ok := messageToEvent(evt.TeamID, m, botUser)
	if !ok {
		return
	}
	if eventID != "" && !a.firstSeen(reqCtx, "slack:event:"+evt.TeamID+":"+eventID) {
		return
	}
	// Slack only sends message.im for the bot's own DMs: remember the channel.
	a.dms.Add(ev.User.String(), m.Channel)
	a.async("message", func(ctx context.Context) { a.handle(ctx, ev) })
}

// firstSeen reports whether id is new. If the store cannot tell, the event is handled:
// the engine then tells the user in private that it cannot save right now.
func (a *Adapter) firstSeen(ctx context.Context, id string) bool {
	if a.cfg.Dedupe == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	first, err := a.cfg.Dedupe.FirstSeen(ctx, id, DedupeTTL)
	if err != nil {
		a.log.WarnContext(ctx, "dedupe failed; handling the event anyway", "id", id, "err", err)
		return true
	}
	if !first {
		a.log.InfoContext(ctx, "duplicate dropped", "id", id)
	}
	return first
}
