package slack

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// runSocketMode receives events over Socket Mode until ctx ends. slack-go reconnects on its
// own after a dropped connection, but gives up on authentication errors: this loop starts it
// again with a growing pause, so a rotated or briefly revoked token heals without a restart.
func (a *Adapter) runSocketMode(ctx context.Context) error {
	smc := socketmode.New(a.client, socketmode.OptionLog(slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { a.socketEvents(ctx, smc) })
	defer wg.Wait()

	const minPause, maxPause = time.Second, time.Minute
	pause := minPause
	for {
		started := time.Now()
		err := smc.RunContext(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > maxPause {
			pause = minPause // it ran a good while: start the pauses over
		}
		a.log.WarnContext(ctx, "socket mode stopped; starting again", "err", err, "pause", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, maxPause)
	}
}

// socketEvents acknowledges each Socket Mode envelope at once and hands it to the same
// code the HTTP endpoints use.
func (a *Adapter) socketEvents(ctx context.Context, smc *socketmode.Client) {
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
			a.ack(ctx, smc, evt)
			data, ok := evt.Data.(slackevents.EventsAPIEvent)
			if !ok || data.Type != slackevents.CallbackEvent {
				continue
			}
			var eventID string
			if cb, ok := data.Data.(*slackevents.EventsAPICallbackEvent); ok {
				eventID = cb.EventID
			}
			a.callback(ctx, eventID, data)
		case socketmode.EventTypeSlashCommand:
			a.ack(ctx, smc, evt)
			cmd, ok := evt.Data.(slack.SlashCommand)
			if !ok || cmd.UserID == "" || cmd.TeamID == "" {
				continue
			}
			a.async("command", func(ctx context.Context) { a.command(ctx, cmd) })
		case socketmode.EventTypeInteractive:
			a.ack(ctx, smc, evt)
			if ic, ok := evt.Data.(slack.InteractionCallback); ok {
				a.interaction(ctx, ic)
			}
		}
	}
}

func (a *Adapter) ack(ctx context.Context, smc *socketmode.Client, evt socketmode.Event) {
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	if err := smc.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
		a.log.WarnContext(ctx, "socket mode ack failed", "type", string(evt.Type), "err", err)
	}
}
