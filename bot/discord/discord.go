package discord

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/lru"
)

// Platform is the bot.UserRef platform of Discord users.
const Platform = "discord"

// Workspace is the bot.UserRef workspace of every Discord user: one user's data is the
// same in every guild and in the DM.
const Workspace = "dm"

const (
	maxBody  = 1 << 20          // larger interaction bodies get 413
	maxSkew  = 5 * time.Minute  // older (or later) signed timestamps are refused
	tokenTTL = 14 * time.Minute // interaction tokens last 15 minutes; keep a margin
	// dmCacheSize bounds the DM channel IDs kept in memory (a fact that never changes).
	dmCacheSize = 20000
	respondTime = 2500 * time.Millisecond // a gateway interaction must be answered in 3 s
)

// Handler is what the adapter feeds events to (the engine).
type Handler interface {
	Handle(ctx context.Context, ev bot.Event) error
}

// Config configures an Adapter.
type Config struct {
	AppID     string // the application ID
	PublicKey string // the application's Ed25519 public key, hex; needed for Routes
	BotToken  string // the bot token; needed for DMs and the gateway
	// APIURL is the REST base every call goes to (DefaultAPIURL when empty).
	APIURL string
	// HTTPClient supplies the transport and timeout of REST calls; may be nil.
	HTTPClient *http.Client
	// Dedupe keeps the leases of interactions and gateway messages across replicas; when
	// nil, an in-process memory is used (right for one replica only).
	Dedupe bot.EventLeases
	// Work admits the work done after an acknowledgement; nil: the adapter makes its own
	// pool and drains it when Run ends. A pool given here is its owner's to drain.
	Work   *bot.Pool
	Logger *slog.Logger
	Now    func() time.Time
	// WorkTimeout bounds the handling of one event after it was acknowledged (default 30 s).
	WorkTimeout time.Duration
	// OnRefused counts a refused inbound request by reason (a metric); may be nil.
	OnRefused func(reason string)
	// Gateway makes the adapter answer interactions that arrive over the gateway
	// (INTERACTION_CREATE): set it when no interactions endpoint URL is configured.
	Gateway bool
	// Conn hears about the gateway connection (metrics, readiness); may be nil.
	Conn bot.ConnObserver

	gatewayTiming gatewayTiming // tests shrink the gateway's pauses
}

// Adapter connects Discord to a Handler and delivers its messages. It implements
// bot.Sender.
type Adapter struct {
	cfg     Config
	h       Handler
	api     api
	session *discordgo.Session
	pubkey  ed25519.PublicKey
	log     *slog.Logger
	refs    *bot.Refusals // refused requests: counted, logged at most once a minute per reason
	now     func() time.Time
	dedupe  *bot.Dedupe // interactions: leases as long as a request's work
	msgs    *bot.Dedupe // gateway DMs: short leases, so another replica takes over soon
	work    *bot.Pool
	ownWork bool
	checks  atomic.Int64 // takeover checks waiting on timers
	seen    dmSeen       // DM channels heard from, for catching up (catchup.go)

	modals modalWaiters // interactions waiting for the modal they respond with (modal.go)
	// guard is the outbound guard in front of this adapter for what it sends of its own
	// accord (the one-answer box); the engine's messages pass the engine's guard.
	guard *bot.Guard

	mu     sync.Mutex
	dms    *lru.Cache[string, string] // user ID → the DM channel opened with them: never changes
	tokens map[string]*tokenState     // interaction token → state, while its work runs
	self   string                     // the bot's user ID, from READY
}

// tokenState is what the adapter knows about an interaction whose work runs in this
// process: whose it is and whether its original response is filled. It lives only while
// that work runs (and at most tokenTTL): it is about one request, not about the user, so
// no other replica ever needs it.
type tokenState struct {
	user   string
	issued time.Time
	// resolved is true once the original response carries a message (or never will need
	// one): later messages are follow-ups.
	resolved bool
}

var _ bot.Sender = (*Adapter)(nil)

// New returns an adapter. It does not connect; Run does.
func New(cfg Config, h Handler) (*Adapter, error) {
	if h == nil {
		return nil, errors.New("discord: New needs a handler")
	}
	if cfg.AppID == "" {
		return nil, errors.New("discord: the application ID is required")
	}
	var pub ed25519.PublicKey
	if cfg.PublicKey != "" {
		k, err := hex.DecodeString(cfg.PublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, errors.New("discord: the public key must be 64 hex characters")
		}
		pub = k
	}
	s, err := newSession(cfg.BotToken, cfg.APIURL, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WorkTimeout <= 0 {
		cfg.WorkTimeout = 30 * time.Second
	}
	a := &Adapter{
		cfg: cfg, h: h, api: &restAPI{s: s, appID: cfg.AppID}, session: s, pubkey: pub,
		log: cfg.Logger.With("platform", Platform), now: cfg.Now, work: cfg.Work,
		dms: lru.New[string, string](dmCacheSize), tokens: map[string]*tokenState{},
	}
	a.refs = bot.NewRefusals(a.log, cfg.Now, cfg.OnRefused)
	a.guard = bot.NewGuard(a, a.log, nil)
	var leases bot.EventLeases = cfg.Dedupe
	if leases == nil {
		leases = bot.NewMemLeases(time.Now)
	}
	a.dedupe = bot.NewDedupe(leases, a.log)
	a.msgs = a.dedupe.WithLease(messageLease)
	if a.work == nil {
		a.work, a.ownWork = bot.NewPool(bot.PoolConfig{WorkTimeout: cfg.WorkTimeout, Logger: a.log}), true
	}
	return a, nil
}

// Routes mounts POST /discord/interactions on mux.
func (a *Adapter) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /discord/interactions", a.serveInteractions)
}

// Run connects to the gateway when a bot token is configured, and runs until ctx ends.
// Then it closes the session and drains the work in flight (for up to WorkTimeout).
// Reconnecting, resuming and the close codes that stop the gateway are gateway.go's; a
// stopped gateway does not end Run, so the interactions endpoint keeps working.
func (a *Adapter) Run(ctx context.Context) error {
	defer a.drain()
	if a.cfg.BotToken == "" {
		<-ctx.Done()
		return nil
	}
	a.runGateway(ctx)
	return nil
}

// drain finishes the adapter's own pool of acknowledged work, cancelling what is left
// after WorkTimeout. A pool from Config.Work is its owner's to drain.
func (a *Adapter) drain() {
	if !a.ownWork {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.WorkTimeout)
	defer cancel()
	if err := a.work.Drain(ctx); err != nil {
		a.log.Warn("shutdown: Discord work cut short", "err", err)
	}
}

// handle passes ev to the handler and logs a failure (IDs only, never the text).
func (a *Adapter) handle(ctx context.Context, ev bot.Event) {
	if err := a.h.Handle(ctx, ev); err != nil {
		a.log.ErrorContext(ctx, "handling event failed", "user", ev.User.String(), "kind", int(ev.Kind), "err", err)
	}
}

func (a *Adapter) onReady(_ *discordgo.Session, r *discordgo.Ready) {
	if r.User == nil {
		return
	}
	a.mu.Lock()
	a.self = r.User.ID
	a.mu.Unlock()
}

func (a *Adapter) onMessageCreate(_ *discordgo.Session, m *discordgo.MessageCreate) {
	if m.Message == nil {
		return
	}
	a.mu.Lock()
	self := a.self
	a.mu.Unlock()
	ev, ok := messageEvent(m.Message, self)
	if !ok {
		return
	}
	ev.ID = "discord:msg:" + m.Message.ID
	a.admitMessage(ev, 0)
}

// Gateway DMs. Every replica connected to the gateway receives every DM. Each claims it
// under a short lease; the one that gets it handles it, extending the lease while it works,
// and marks it done. The others look again when the lease would lapse: if the holder died
// mid-reply, one of them takes the message over (the turn commit, which records the
// message ID, keeps a turn that did commit from applying twice).
const (
	messageLease = 5 * time.Second
	// maxChecks bounds the takeover checks waiting on timers in one process.
	maxChecks = 10000
	// maxMessageTries bounds how often one DM is looked at again (held by another replica,
	// or refused by a full pool): about a minute of tries.
	maxMessageTries = 12
)

// admitMessage queues the work for a gateway DM under its user; refused, it tries again
// shortly, since the gateway cannot be told "later".
func (a *Adapter) admitMessage(ev bot.Event, try int) {
	err := a.work.Submit(ev.User.String(), "message", func(ctx context.Context) {
		lease, v := a.msgs.Claim(ctx, ev.User, ev.ID)
		switch v {
		case bot.Duplicate:
			return
		case bot.InProgress:
			a.lookAgain(ev, try, messageLease)
			return
		}
		lease.Keep()
		ev := ev
		ev.Snapshot = lease.Snapshot() // read by the claim: the turn needs no read of its own
		a.handle(ctx, ev)
		lease.Done(ctx)
	})
	if err != nil {
		a.lookAgain(ev, try, time.Second<<min(try, 4))
	}
}

// lookAgain admits ev again after wait, within the bounds above.
func (a *Adapter) lookAgain(ev bot.Event, try int, wait time.Duration) {
	if try+1 >= maxMessageTries || a.checks.Load() >= maxChecks {
		a.log.Error("gateway DM given up", "user", ev.User.String(), "event", ev.ID, "tries", try+1)
		return
	}
	a.checks.Add(1)
	time.AfterFunc(wait, func() {
		a.checks.Add(-1)
		a.admitMessage(ev, try+1)
	})
}

// messageEvent translates a MESSAGE_CREATE into an event: only a user's message in their
// DM with the bot counts; guild messages, bots (this one included) and empty messages don't.
func messageEvent(m *discordgo.Message, self string) (bot.Event, bool) {
	if m.GuildID != "" || m.Author == nil || m.Author.Bot || m.Author.System || m.Author.ID == self || m.Author.ID == "" {
		return bot.Event{}, false
	}
	if m.Type != discordgo.MessageTypeDefault && m.Type != discordgo.MessageTypeReply {
		return bot.Event{}, false
	}
	text := strings.TrimSpace(m.Content)
	if text == "" {
		return bot.Event{}, false
	}
	ev := bot.Event{Kind: bot.EventText, User: userRef(m.Author.ID), Text: text, InDM: true}
	// A typed "/story …" (not picked from the command list) works like the command.
	if rest, ok := strings.CutPrefix(text, "/story"); ok && (rest == "" || rest[0] == ' ') {
		ev.Kind, ev.Text = bot.EventCommand, strings.TrimSpace(rest)
	}
	return ev, true
}

func userRef(id string) bot.UserRef {
	return bot.UserRef{Platform: Platform, Workspace: Workspace, User: id}
}

func (a *Adapter) onInteractionCreate(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
	if !a.cfg.Gateway || ic.Interaction == nil {
		return
	}
	i := ic.Interaction
	err := a.work.Submit("", "interaction", func(ctx context.Context) {
		lease, v := a.dedupe.Claim(ctx, userRef(interactionUser(i)), "discord:interaction:"+i.ID)
		if v == bot.Duplicate || v == bot.InProgress {
			return // another replica answers it
		}
		resp, job, answered := a.accept(ctx, i, lease.Snapshot())
		if resp == nil {
			lease.Done(ctx)
			return
		}
		rctx, cancel := context.WithTimeout(ctx, respondTime)
		err := a.api.respond(rctx, i, resp)
		cancel()
		if answered != nil {
			answered()
		}
		if err != nil {
			lease.Release(ctx)
			a.log.ErrorContext(ctx, "answering a gateway interaction failed", "interaction", i.ID, "err", err)
			return
		}
		if job != nil {
			lease.Keep()
			job(ctx)
		}
		lease.Done(ctx)
	})
	if err != nil {
		// Saturated: say so at once, privately. One bounded call, not queued work.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), respondTime)
			defer cancel()
			if err := a.api.respond(ctx, i, refuse(TextBusy)); err != nil {
				a.log.Warn("answering busy to a gateway interaction failed", "interaction", i.ID, "err", err)
			}
		}()
	}
}

// TextBusy is the private answer to an interaction refused because the bot is saturated.
const TextBusy = "I'm very busy — try that again in a minute. Nothing you wrote before was lost."

// serveInteractions is POST /discord/interactions: the signature is checked before
// anything else is read, stored or sent.
func (a *Adapter) serveInteractions(w http.ResponseWriter, r *http.Request) {
	// A payload this code does not expect must never take the connection down with a
	// stack trace in the log (it may hold what a user typed): answer 500, log one line.
	defer func() {
		if p := recover(); p != nil {
			a.refs.Refuse(r.Context(), r.URL.Path, "panic")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	if r.ContentLength > maxBody {
		a.refs.Refuse(r.Context(), r.URL.Path, "too large")
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.refs.Refuse(r.Context(), r.URL.Path, "too large")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		a.refs.Refuse(r.Context(), r.URL.Path, "unreadable")
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if a.pubkey == nil || !discordgo.VerifyInteraction(r, a.pubkey) || !a.fresh(r.Header.Get("X-Signature-Timestamp")) {
		a.refs.Refuse(r.Context(), r.URL.Path, "bad signature")
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	var i discordgo.Interaction
	if err := json.Unmarshal(body, &i); err != nil || i.Type == 0 {
		a.refs.Refuse(r.Context(), r.URL.Path, "malformed")
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	var (
		resp    *discordgo.InteractionResponse
		written = make(chan struct{})
	)
	switch {
	case i.Type == discordgo.InteractionPing:
		resp = &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}
	case i.ID == "" || i.Token == "" || interactionUser(&i) == "":
		a.refs.Refuse(r.Context(), r.URL.Path, "malformed")
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	default:
		lease, v := a.dedupe.Claim(r.Context(), userRef(interactionUser(&i)), "discord:interaction:"+i.ID)
		if v == bot.Duplicate || v == bot.InProgress {
			resp = deferred() // a redelivery: acknowledge, do nothing twice
			break
		}
		var (
			job      func(context.Context)
			answered func()
		)
		resp, job, answered = a.accept(r.Context(), &i, lease.Snapshot())
		if answered != nil {
			defer answered() // after the response below is written (defers run last first)
		}
		if resp == nil {
			lease.Release(r.Context())
			http.Error(w, "unsupported interaction", http.StatusBadRequest)
			return
		}
		if job == nil {
			lease.Done(r.Context())
			break
		}
		// Admitted before the answer, so that a refusal can be the answer: the work
		// waits for the response to be written (follow-ups must come after it). A full
		// queue makes the answer wait a moment for a place before it says busy.
		err := a.work.Admit(r.Context(), interactionUser(&i), "interaction", func(ctx context.Context) {
			select {
			case <-written:
			case <-ctx.Done():
			}
			lease.Keep()
			job(ctx)
			lease.Done(ctx)
		})
		if err != nil {
			lease.Release(r.Context())
			a.forgetToken(i.Token)
			resp = refuse(TextBusy)
		}
	}
	defer close(written)
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(resp); err != nil {
		a.log.WarnContext(r.Context(), "writing interaction response", "err", err)
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // the response must reach Discord before the follow-ups do
	}
}

// fresh reports whether a signed timestamp (Unix seconds) is within maxSkew of now.
func (a *Adapter) fresh(ts string) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := a.now().Sub(time.Unix(sec, 0))
	return d <= maxSkew && d >= -maxSkew
}

func deferred() *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource, Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}
}

// interactionUser is the ID of the user who acted.
func interactionUser(i *discordgo.Interaction) string {
	if i.Member != nil && i.Member.User != nil {
		return i.Member.User.ID
	}
	if i.User != nil {
		return i.User.ID
	}
	return ""
}

// interactionEvent translates an interaction into the event it carries, if any, and says
// how to answer it at once. Pure, apart from reading the interaction.
func interactionEvent(i *discordgo.Interaction) (resp *discordgo.InteractionResponse, ev *bot.Event) {
	uid := interactionUser(i)
	if uid == "" {
		return nil, nil
	}
	base := bot.Event{User: userRef(uid), Route: i.Token, InDM: i.GuildID == "" && i.Context != discordgo.InteractionContextPrivateChannel}
	if resp, ev, ok := nativeEvent(i, base); ok {
		return resp, ev
	}
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		d, ok := i.Data.(discordgo.ApplicationCommandInteractionData)
		if !ok {
			return nil, nil // no data: nothing to do, and ApplicationCommandData would panic
		}
		if refusal := coachRefusal(i.GuildID, d); refusal != "" {
			return refuse(refusal), nil
		}
		base.Kind = bot.EventCommand
		// The shared place the engine's coaching check needs: coachRefusal let the command
		// through, so a user it names is a member of this server.
		base.Place = i.GuildID
		if cmd, err := toCommand(d); err == nil {
			base.Command = &cmd
		} else if errors.Is(err, errUnknownCommand) {
			// A subcommand this build never registered: its name is not what happened,
			// so it must not start a pause; the help says what there is.
			base.Text = "help"
		} else {
			base.Text = commandText(d) // the engine's parser says what was wrong, with the help
		}
		return deferred(), &base
	case discordgo.InteractionApplicationCommandAutocomplete:
		typed, _ := focusedOption(i.ApplicationCommandData())
		var choices []*discordgo.ApplicationCommandOptionChoice
		for _, z := range completeZone(typed) {
			choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: z, Value: z})
		}
		return &discordgo.InteractionResponse{Type: discordgo.InteractionApplicationCommandAutocompleteResult, Data: &discordgo.InteractionResponseData{Choices: choices}}, nil
	case discordgo.InteractionMessageComponent:
		id := i.MessageComponentData().CustomID
		if id == answerCustomID {
			return openAnswer, nil
		}
		choice, ok := strings.CutPrefix(id, choicePrefix)
		if !ok || choice == "" {
			return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}, nil
		}
		label := buttonLabel(i.Message, id)
		if label == "" {
			label = choice
		}
		content := ""
		if i.Message != nil {
			content = i.Message.Content
		}
		base.Kind, base.Choice = bot.EventChoice, choice
		return chosen(content, label), &base
	case discordgo.InteractionModalSubmit:
		d := i.ModalSubmitData()
		text, ok := modalAnswer(d)
		if d.CustomID != answerCustomID || !ok {
			return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}, nil
		}
		base.Kind, base.Text = bot.EventText, text
		if i.Message != nil {
			return chosen(i.Message.Content, text), &base
		}
		return deferred(), &base
	}
	return nil, nil
}

// coachInGuild are the coach commands that name a client: they work only in a guild, on
// one of its members. Every Discord user's data lives under the workspace "dm", so the
// guild is what tells that coach and client share a place; the adapter checks it before
// the engine sees the command.
var coachInGuild = map[string]bool{"coach invite": true, "coach assign": true, "coach progress": true, "coach unassign": true, "coach ask": true}

const textCoachOutsideGuild = "Coaching works inside a server you share with your client — run this there."

// coachRefusal says why a coach command naming a client may not run here, or "" when it
// may: outside a guild, or naming a user who is not a member of it. The USER option of a
// guild command resolves to a member exactly when the user belongs to the guild.
func coachRefusal(guildID string, d discordgo.ApplicationCommandInteractionData) string {
	path, o, err := subcommand(d)
	if err != nil || !coachInGuild[path] {
		return ""
	}
	if guildID == "" {
		return textCoachOutsideGuild
	}
	target := o.str("user")
	if target == "" {
		return "" // the engine's parser says what is missing
	}
	if d.Resolved == nil || d.Resolved.Members[target] == nil {
		return "<@" + target + "> isn't a member of this server, so I can't do that here. " +
			"Coaching works inside a server you share with your client — run it there. I haven't contacted them."
	}
	return ""
}

// refuse answers an interaction at once, privately, with text; nothing else happens.
func refuse(text string) *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: &discordgo.InteractionResponseData{
		Content: text, Flags: discordgo.MessageFlagsEphemeral, AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
	}}
}

// accept decides the immediate response to an interaction and returns the work to do
// after it was sent; snap is what the interaction's claim read of the user's data. A modal response goes through a guard first (modal.go); when it comes
// too late, answered (not nil) must be called once the response was written.
func (a *Adapter) accept(ctx context.Context, i *discordgo.Interaction, snap *bot.Snapshot) (resp *discordgo.InteractionResponse, job func(context.Context), answered func()) {
	resp, ev := interactionEvent(i)
	switch {
	case resp == nil:
		return nil, nil, nil
	case resp == openForm:
		resp, answered = a.openQuickForm(i, *ev)
		return resp, nil, answered
	case resp == openAnswer:
		return a.openAnswerBox(ctx, i), nil, nil
	case ev == nil:
		return resp, nil, nil
	}
	isDeferred := resp.Type == discordgo.InteractionResponseDeferredChannelMessageWithSource
	ev.ID, ev.Snapshot = "discord:interaction:"+i.ID, snap
	a.rememberToken(ev.User.User, i.Token, !isDeferred)
	return resp, func(ctx context.Context) {
		defer a.forgetToken(i.Token)
		a.handle(ctx, *ev)
		if isDeferred && a.claimOriginal(i.Token) {
			// Nothing was said in place (everything went to the DM): remove "thinking…".
			if err := a.api.deleteOriginal(ctx, i.Token); err != nil {
				a.log.WarnContext(ctx, "removing a deferred response", "err", err)
			}
		}
	}, nil
}

func (a *Adapter) rememberToken(user, token string, resolved bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, st := range a.tokens {
		if now.Sub(st.issued) > tokenTTL {
			delete(a.tokens, t) // work that outlived its token; nothing can use it now
		}
	}
	a.tokens[token] = &tokenState{user: user, issued: now, resolved: resolved}
}

// forgetToken drops token once its work is done.
func (a *Adapter) forgetToken(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.tokens, token)
}

// claimOriginal reports whether the caller is the one to fill the original response of
// token (exactly once).
func (a *Adapter) claimOriginal(token string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.tokens[token]
	if st == nil || st.resolved {
		return false
	}
	st.resolved = true
	return true
}

// Send delivers m: a DM goes to the DM channel the adapter opened with the user, an
// ephemeral message to the interaction token in m.To.Route. Anything else is refused.
func (a *Adapter) Send(ctx context.Context, m bot.Message) error {
	if m.To.User.Platform != Platform || m.To.User.User == "" {
		return fmt.Errorf("%w: not a Discord user", bot.ErrRefused)
	}
	if m.To.Channel != "" {
		return fmt.Errorf("%w: names a channel", bot.ErrRefused)
	}
	switch m.To.Kind {
	case bot.DestDM:
		return a.sendDM(ctx, m)
	case bot.DestModal:
		if nonce, ok := strings.CutPrefix(m.To.Route, routeRespond); ok {
			return a.modals.deliver(ctx, nonce, modalFor(m)) // the response of a waiting interaction
		}
		return a.sendInPlace(ctx, m.To.Route, m)
	case bot.DestEphemeral:
		return a.sendInPlace(ctx, m.To.Route, m)
	case bot.DestHome:
		return nil // Discord has no home page: nothing to show, nothing sent
	}
	return fmt.Errorf("%w: destination %s", bot.ErrRefused, m.To.Kind)
}

// sendInPlace sends an ephemeral (or modal) message on token. A modal can only open as the
// answer to a click; as a follow-up it is a message.
func (a *Adapter) sendInPlace(ctx context.Context, token string, m bot.Message) error {
	return a.sendEphemeral(ctx, token, m.To.User.User, m, m.Kind == flows.ReplyPrompt && len(m.Choices) == 0)
}

// sendDM posts m to the user's DM. When Discord refuses (the user closed DMs from server
// members, 50007), it returns bot.ErrNoDM and the engine answers in place instead.
func (a *Adapter) sendDM(ctx context.Context, m bot.Message) error {
	user := m.To.User.User
	ch, err := a.dmChannel(ctx, user)
	if err == nil {
		err = a.postDM(ctx, ch, user, m)
	}
	if err != nil && (restErrorCode(err) == discordgo.ErrCodeCannotSendMessagesToThisUser || errors.Is(err, errNotDM)) {
		return fmt.Errorf("discord: %w: %w", bot.ErrNoDM, err)
	}
	if err != nil && restErrorCode(err) == discordgo.ErrCodeUnknownUser {
		// Discord says the user no longer exists: the engine cancels their schedules.
		return fmt.Errorf("discord: %w: %w", bot.ErrUserGone, err)
	}
	return err
}

// errNotDM is a channel Discord handed out that is not a one-to-one DM.
var errNotDM = errors.New("discord: channel is not a DM")

// dmChannel returns the DM channel with user, opening it once.
func (a *Adapter) dmChannel(ctx context.Context, user string) (string, error) {
	if ch, ok := a.dms.Get(user); ok {
		return ch, nil
	}
	c, err := a.api.openDM(ctx, user)
	if err != nil {
		return "", err
	}
	if c == nil || c.ID == "" || c.Type != discordgo.ChannelTypeDM || c.GuildID != "" {
		return "", errNotDM
	}
	a.dms.Add(user, c.ID)
	return c.ID, nil
}

// postDM posts m to channel, after checking that channel is the DM opened with user: a
// second line of defence behind bot.Guard, so nothing reaches a guild channel.
func (a *Adapter) postDM(ctx context.Context, channel, user string, m bot.Message) error {
	if ch, ok := a.dms.Get(user); !ok || ch != channel {
		a.log.ErrorContext(ctx, "refused to post outside the user's DM", "user", user)
		return fmt.Errorf("%w: channel is not the user's DM", bot.ErrRefused)
	}
	r := render(m, false)
	for n, content := range r.Contents {
		send := &discordgo.MessageSend{Content: content, AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}}
		if n == len(r.Contents)-1 {
			send.Components = r.Components
			if m.File != nil {
				send.Files = []*discordgo.File{{Name: m.File.Name, ContentType: "application/json", Reader: bytes.NewReader(m.File.Content)}}
			}
		}
		if err := a.api.sendMessage(ctx, channel, send); err != nil {
			return err
		}
	}
	return nil
}

// sendEphemeral sends m on an interaction token of user: into the deferred original
// response if it is still empty, else as an ephemeral follow-up.
func (a *Adapter) sendEphemeral(ctx context.Context, token, user string, m bot.Message, withAnswer bool) error {
	a.mu.Lock()
	st := a.tokens[token]
	ok := st != nil && st.user == user && a.now().Sub(st.issued) <= tokenTTL
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: not a current interaction of this user", bot.ErrRefused)
	}
	r := render(m, withAnswer)
	for n, content := range r.Contents {
		last := n == len(r.Contents)-1
		comps := []discordgo.MessageComponent{}
		if last {
			comps = r.Components
		}
		if !(last && m.File != nil) && a.claimOriginal(token) {
			c := content
			if err := a.api.editOriginal(ctx, token, &discordgo.WebhookEdit{Content: &c, Components: &comps, AllowedMentions: &discordgo.MessageAllowedMentions{}}); err != nil {
				return err
			}
			continue
		}
		p := &discordgo.WebhookParams{Content: content, Components: comps, Flags: discordgo.MessageFlagsEphemeral, AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}}
		if last && m.File != nil {
			p.Files = []*discordgo.File{{Name: m.File.Name, ContentType: "application/json", Reader: bytes.NewReader(m.File.Content)}}
		}
		if err := a.api.followup(ctx, token, p); err != nil {
			return err
		}
	}
	return nil
}
