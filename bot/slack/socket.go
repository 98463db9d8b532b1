package slack

import (
	"context"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/internal/backoff"
)

// runSocketMode receives events over Socket Mode until ctx ends. The connection and its
// reconnects are socketconn.go's. After a failure reconnecting cannot mend (a rejected
// SLACK_APP_TOKEN), Socket Mode stays off, the observer says why, and Run goes on, so
// the HTTP endpoints and the other platform keep working.
func (a *Adapter) runSocketMode(ctx context.Context) error {
	t := a.cfg.socketTiming.withDefaults()
	rnd := &backoff.Policy{Min: t.BackoffMin, Max: t.BackoffMax}
	if t.Seed != 0 {
		rnd = backoff.Seeded(t.BackoffMin, t.BackoffMax, t.Seed)
	}
	obs := a.cfg.Conn
	if obs == nil {
		obs = bot.NopConnObserver{}
	}
	smc := &socketConn{
		Events: make(chan socketmode.Event, 16),
		open: func(ctx context.Context) (string, error) {
			_, url, err := a.client.StartSocketModeContext(ctx)
			return url, err
		},
		dialer: &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: t.Handshake},
		log:    a.log, obs: obs, t: t, rnd: rnd,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { a.socketEvents(ctx, smc) })
	defer wg.Wait()
	if err := smc.run(ctx); err != nil {
		<-ctx.Done()
	}
	return nil
}

// socketEvents acknowledges each Socket Mode envelope and hands it to the same code the HTTP
// endpoints use: callback for events, acceptCommand for commands, routeInteraction for every
// interaction (shortcuts, the modal's submission and buttons, the home's buttons), so both
// transports behave alike.
func (a *Adapter) socketEvents(ctx context.Context, smc *socketConn) {
	var waits sync.WaitGroup // view submissions waiting for their answer
	defer waits.Wait()
	for {
		var evt socketmode.Event
		select {
		case <-ctx.Done():
			return
		case evt = <-smc.Events:
		}
		switch evt.Type {
		case socketmode.EventTypeConnected:
			a.log.InfoContext(ctx, "socket mode connected")
		case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
			var err error
			if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
				err = ce.ErrorObj
			}
			a.log.WarnContext(ctx, "socket mode trouble", "type", string(evt.Type), "err", err)
		case socketmode.EventTypeEventsAPI:
			data, ok := evt.Data.(slackevents.EventsAPIEvent)
			if !ok || data.Type != slackevents.CallbackEvent {
				a.ack(ctx, smc, evt, nil)
				continue
			}
			var eventID string
			if cb, ok := data.Data.(*slackevents.EventsAPICallbackEvent); ok {
				eventID = cb.EventID
			}
			// An envelope left unacknowledged (refused, or held by another connection's
			// process) is sent again by Slack.
			if a.callback(ctx, eventID, data, false) {
				a.ack(ctx, smc, evt, nil)
			}
		case socketmode.EventTypeSlashCommand:
			cmd, ok := evt.Data.(slack.SlashCommand)
			if !ok || cmd.UserID == "" || cmd.TeamID == "" {
				a.ack(ctx, smc, evt, nil)
				continue
			}
			if !a.acceptCommand(ctx, cmd, "") { // Socket Mode: envelopes are not signed requests
				a.ack(ctx, smc, evt, map[string]string{"response_type": "ephemeral", "text": TextBusy})
				continue
			}
			a.ack(ctx, smc, evt, nil)
		case socketmode.EventTypeInteractive:
			ic, ok := evt.Data.(slack.InteractionCallback)
			if !ok || !wellFormedInteraction(ic) {
				a.ack(ctx, smc, evt, nil)
				continue
			}
			route := func() {
				// The same router as the HTTP endpoint; its answer is the ack's payload.
				if rep := a.routeInteraction(ctx, ic); !rep.busy {
					a.ack(ctx, smc, evt, rep.body)
				} // else unacknowledged: Slack tells the user it did not work
			}
			if ic.Type == slack.InteractionTypeViewSubmission {
				// A submission waits (under 3 s) for the engine's answer: off this loop,
				// so that the envelopes behind it are not held up.
				waits.Go(route)
				continue
			}
			route()
		}
	}
}

func (a *Adapter) ack(ctx context.Context, smc *socketConn, evt socketmode.Event, payload any) {
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, payload); err != nil {
		a.log.WarnContext(ctx, "socket mode ack failed", "type", string(evt.Type), "err", err)
	}
}
