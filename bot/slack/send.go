package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
)

// errNotDM is returned when a DM destination resolved to a channel that is not a DM.
var errNotDM = errors.New("slack: resolved DM channel is not a direct message")

// Send delivers m: to the user's DM with the bot (DestDM), or ephemerally through the
// response_url of the user's own request (DestEphemeral), to a modal (DestModal: modal.go),
// or to the user's App Home tab (DestHome: home.go). It is the second line of defence behind bot.Guard: it
// refuses any DM destination that does not resolve to a DM channel.
func (a *Adapter) Send(ctx context.Context, m bot.Message) error {
	u := m.To.User
	if u.Platform != Platform || u.User == "" {
		return fmt.Errorf("slack: send: not a Slack user: %q", u.String())
	}
	if m.To.Channel != "" {
		a.log.ErrorContext(ctx, "outbound message refused", "reason", "names a channel", "user", u.String())
		return fmt.Errorf("%w: names a channel", bot.ErrRefused)
	}
	switch m.To.Kind {
	case bot.DestDM:
		return a.sendDM(ctx, m)
	case bot.DestModal:
		if handled, err := a.sendModal(ctx, m); handled {
			return err
		}
		return a.sendEphemeral(ctx, m)
	case bot.DestEphemeral:
		return a.sendEphemeral(ctx, m)
	case bot.DestHome:
		return a.sendHome(ctx, m)
	}
	a.log.ErrorContext(ctx, "outbound message refused", "reason", "destination kind", "dest", m.To.Kind.String(), "user", u.String())
	return fmt.Errorf("%w: %s", bot.ErrRefused, m.To.Kind)
}

func (a *Adapter) sendDM(ctx context.Context, m bot.Message) error {
	u := m.To.User
	ch, err := a.dmChannel(ctx, u)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(ch, "D") {
		a.dms.Remove(u.String())
		a.log.ErrorContext(ctx, "outbound message refused", "reason", "not a DM channel", "channel", ch, "user", u.String())
		return fmt.Errorf("%w: %s", errNotDM, ch)
	}
	if m.File != nil {
		if err := a.upload(ctx, ch, u, m.File); err != nil {
			return err
		}
		if m.Text == "" {
			return nil
		}
	}
	return a.outbox.post(ctx, ch, u, m)
}

func (a *Adapter) sendEphemeral(ctx context.Context, m bot.Message) error {
	u := m.To.User
	route, err := url.Parse(m.To.Route)
	if err != nil || (route.Scheme != "https" && route.Scheme != "http") || route.Host == "" {
		a.log.ErrorContext(ctx, "outbound message refused", "reason", "route is not a response_url", "user", u.String())
		return fmt.Errorf("%w: route is not a response_url", bot.ErrRefused)
	}
	text, blocks := render(m)
	return a.retry(ctx, "response_url", u, func(ctx context.Context) error {
		return a.postEphemeral(ctx, route, text, blocks)
	})
}

// knownDM returns the user's DM channel with the bot if this process knows it.
func (a *Adapter) knownDM(u bot.UserRef) string {
	ch, _ := a.dms.Get(u.String())
	return ch
}

// dmChannel returns the user's DM channel with the bot, opening it with conversations.open
// the first time.
func (a *Adapter) dmChannel(ctx context.Context, u bot.UserRef) (string, error) {
	if ch := a.knownDM(u); ch != "" {
		return ch, nil
	}
	var ch *slack.Channel
	err := a.retry(ctx, "conversations.open", u, func(ctx context.Context) error {
		var err error
		ch, _, _, err = a.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{u.User}, ReturnIM: true})
		return err
	})
	if err != nil {
		return "", err
	}
	if ch == nil || ch.ID == "" {
		return "", errors.New("slack: conversations.open returned no channel")
	}
	if strings.HasPrefix(ch.ID, "D") {
		a.dms.Add(u.String(), ch.ID)
	}
	return ch.ID, nil
}

// upload sends a file (the data export) to the DM channel ch.
func (a *Adapter) upload(ctx context.Context, ch string, u bot.UserRef, f *bot.File) error {
	if len(f.Content) == 0 {
		return errors.New("slack: upload: empty file")
	}
	return a.retry(ctx, "files.upload", u, func(ctx context.Context) error {
		_, err := a.api.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader:   bytes.NewReader(f.Content),
			FileSize: len(f.Content),
			Filename: f.Name,
			Title:    f.Name,
			Channel:  ch,
		})
		return err
	})
}

// markChosen replaces a clicked message with its text, no buttons, and the choice, so the
// old buttons cannot be pressed again. Best effort: the choice is handled either way.
func (a *Adapter) markChosen(ctx context.Context, ic slack.InteractionCallback, u bot.UserRef, label string) {
	text, blocks := chosenBlocks(promptOf(ic.Message), label)
	ch, ts := ic.Container.ChannelID, ic.Container.MessageTs
	if ch == "" {
		ch, ts = ic.Channel.ID, ic.Message.Timestamp
	}
	// Like every send, an edit goes only to the user's own DM with the bot: the channel
	// must be the one conversations.open gives for this user, not merely any DM.
	dm, err := a.dmChannel(ctx, u)
	if err != nil {
		a.log.WarnContext(ctx, "could not mark a clicked message", "user", u.String(), "err", err)
		return
	}
	switch {
	case ch == dm && ts != "" && !ic.Container.IsEphemeral:
		err = a.retry(ctx, "chat.update", u, func(ctx context.Context) error {
			_, _, _, err := a.api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
			return err
		})
	case ic.ResponseURL != "":
		err = a.retry(ctx, "response_url", u, func(ctx context.Context) error {
			_, _, err := a.api.PostMessageContext(ctx, "",
				slack.MsgOptionResponseURL(ic.ResponseURL, slack.ResponseTypeEphemeral),
				slack.MsgOptionReplaceOriginal(ic.ResponseURL),
				slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
			return err
		})
	}
	if err != nil {
		a.log.WarnContext(ctx, "could not mark a clicked message", "user", u.String(), "err", err)
	}
}
