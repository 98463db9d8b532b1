package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/storybot/storybot/bot"
)

// The App Home tab (SPEC.md, "Platform-native, for the meeting"). The engine decides what a
// user's home shows (bot.HomeView) and when it is published; this file renders it as a home
// view, publishes it with views.publish for that one user, and translates app_home_opened
// and the presses of the home's buttons into events. The view carries no words of the
// user's: Show sends an entry's words to the DM.

// homeCallbackID names the home view, so its button presses are told from others.
const homeCallbackID = "storybot_home"

// homeAction prefixes the action_id of the home's buttons; the choice ID is the value.
const homeAction = "storybot_home"

var _ bot.HomeShower = (*Adapter)(nil)

// ShowsHome implements bot.HomeShower: every Slack user has an App Home tab.
func (a *Adapter) ShowsHome(u bot.UserRef) bool { return u.Platform == Platform }

// sendHome publishes m's home view for its user.
func (a *Adapter) sendHome(ctx context.Context, m bot.Message) error {
	u := m.To.User
	if m.Home == nil {
		return fmt.Errorf("%w: a home message without a view", bot.ErrRefused)
	}
	req := slack.PublishViewContextRequest{UserID: u.User, View: homeView(*m.Home)}
	return a.retry(ctx, "views.publish", u, func(ctx context.Context) error {
		_, err := a.api.PublishViewContext(ctx, req)
		return err
	})
}

// homeView renders a home: the intro and its buttons, the check-in and check-backs, the
// entries each with a Show button, and the privacy line. Plain text throughout: nothing in
// it is read as markup.
func homeView(v bot.HomeView) slack.HomeTabViewRequest {
	var blocks []slack.Block
	section := func(id, text string) *slack.SectionBlock {
		return slack.NewSectionBlock(plain(cut(text, maxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(id))
	}
	blocks = append(blocks, section("home_intro", v.Intro))
	if len(v.Actions) > 0 {
		var elems []slack.BlockElement
		for i, c := range v.Actions[:min(len(v.Actions), maxActionsItems)] {
			b := slack.NewButtonBlockElement(fmt.Sprintf("%s_action_%d", homeAction, i), cut(c.ID, maxButtonValue), plain(cut(c.Label, maxButtonText)))
			if i == 0 {
				b.Style = slack.StylePrimary
			}
			elems = append(elems, b)
		}
		blocks = append(blocks, slack.NewActionBlock("home_actions", elems...))
	}
	blocks = append(blocks, slack.NewDividerBlock())
	if v.Checkin != "" {
		blocks = append(blocks, section("home_checkin", v.Checkin))
	}
	if len(v.Checkbacks) > 0 {
		blocks = append(blocks, section("home_checkbacks", "Check-backs coming:\n• "+strings.Join(v.Checkbacks, "\n• ")))
	}
	if v.EntriesTitle != "" {
		blocks = append(blocks, section("home_entries", v.EntriesTitle))
	}
	for i, en := range v.Entries {
		s := section(fmt.Sprintf("home_entry_%d", i), en.Label)
		s.Accessory = slack.NewAccessory(slack.NewButtonBlockElement(fmt.Sprintf("%s_show_%d", homeAction, i), cut(en.Show.ID, maxButtonValue), plain(cut(en.Show.Label, maxButtonText))))
		blocks = append(blocks, s)
	}
	if v.Privacy != "" {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewContextBlock("home_privacy", plain(cut(v.Privacy, maxSectionText))))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, CallbackID: homeCallbackID, Blocks: slack.Blocks{BlockSet: blocks}}
}

// homeOpenedEvent translates app_home_opened: the Home tab only (the Messages tab is the
// DM, which needs nothing published).
func homeOpenedEvent(team, enterprise string, h *slackevents.AppHomeOpenedEvent) (bot.Event, bool) {
	if h == nil || h.Tab != "home" || h.User == "" {
		return bot.Event{}, false
	}
	u := person(h.User, "", team, enterprise)
	if u.Workspace == "" {
		return bot.Event{}, false
	}
	return bot.Event{Kind: bot.EventHome, User: u, Alias: alias(u, team)}, true
}

// homeActionEvent translates a press of a home button (block_actions from the home view)
// into a choice event; the click's trigger_id lets Quick pause open the form.
func homeActionEvent(ic slack.InteractionCallback) (bot.Event, bool) {
	if ic.Type != slack.InteractionTypeBlockActions || ic.View.CallbackID != homeCallbackID || len(ic.ActionCallback.BlockActions) == 0 {
		return bot.Event{}, false
	}
	act := ic.ActionCallback.BlockActions[0]
	if act == nil || !strings.HasPrefix(act.ActionID, homeAction) || !bot.IsHomeChoice(act.Value) {
		return bot.Event{}, false
	}
	u := interactionPerson(ic)
	if u.Workspace == "" {
		return bot.Event{}, false
	}
	ev := bot.Event{Kind: bot.EventChoice, User: u, Alias: alias(u, interactionTeam(ic)), Choice: act.Value}
	if ic.TriggerID != "" {
		ev.Trigger = routeTrigger + ic.TriggerID
		// One handling per press: a redelivered payload carries the same trigger_id.
		ev.ID = "slack:homeclick:" + u.Workspace + ":" + ic.TriggerID
	}
	return ev, true
}
