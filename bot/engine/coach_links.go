package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// This file holds the links between coaches and clients: invitations and consent, the
// authorization every coach action goes through, the coach's list and the client's revoke.

// newID returns a random ID for links, notes: not guessable, no user data in it.
func newID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// clientOf is the client a coach names: the same platform and workspace as the coach, so a
// coach can only reach people of their own workspace (Slack team; on Discord, "dm").
func clientOf(coach bot.UserRef, target string) bot.UserRef {
	return bot.UserRef{Platform: coach.Platform, Workspace: coach.Workspace, User: target}
}

// linkOf returns the link between coach and the client in data, if any. An expired
// invitation counts as none.
func linkOf(data bot.ClientData, coach bot.UserRef, now time.Time) (bot.CoachLink, bool) {
	for _, l := range data.Links {
		if l.Coach == coach && !l.Expired(now) {
			return l, true
		}
	}
	return bot.CoachLink{}, false
}

// errRefused carries a refusal to show the coach; nothing was changed or sent.
type errRefused struct{ msg string }

func (e *errRefused) Error() string { return e.msg }

// authorize checks, on the server side, that coach may act on target: coaching allowed,
// not themself, and an accepted link on the client's side. It returns the client, their
// data and the link, or an *errRefused saying why not.
func (e *Engine) authorize(ctx context.Context, coach bot.UserRef, target, verb string) (bot.UserRef, bot.ClientData, bot.CoachLink, error) {
	client := clientOf(coach, target)
	if !e.mayCoach(coach) {
		return client, bot.ClientData{}, bot.CoachLink{}, &errRefused{"Coaching in this storybot is open to the people its admin listed, and you're not on that list. Nothing was sent."}
	}
	if target == coach.User {
		return client, bot.ClientData{}, bot.CoachLink{}, &errRefused{"That's you — coaching is between two people. For your own practices, type /story practices."}
	}
	data, err := e.coaching.ClientData(ctx, client)
	if err != nil {
		return client, bot.ClientData{}, bot.CoachLink{}, err
	}
	l, ok := linkOf(data, coach, e.now())
	switch {
	case !ok:
		return client, data, l, &errRefused{fmt.Sprintf("You're not %s's coach in storybot, so I can't %s. I haven't contacted them. To ask, type /story coach invite %s.", mention(client), verb, mention(client))}
	case l.State != bot.LinkAccepted:
		return client, data, l, &errRefused{fmt.Sprintf("%s hasn't accepted your invitation yet, so I can't %s. I haven't contacted them.", mention(client), verb)}
	}
	return client, data, l, nil
}

// refuse answers err to the coach privately: a refusal as it is, anything else as a store
// problem.
func (e *Engine) refuse(ctx context.Context, ev bot.Event, op string, err error) error {
	var r *errRefused
	if errors.As(err, &r) {
		return e.ephemeral(ctx, ev, r.msg)
	}
	return e.storeTrouble(ctx, ev, op, err)
}

func (e *Engine) coachInvite(ctx context.Context, ev bot.Event, target string) error {
	coach := ev.User // coachGate checked who may coach, and whom
	client := clientOf(coach, target)
	now := e.now()
	ended, err := e.coaching.Ended(ctx, client)
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach invite", err)
	}
	if at, ok := ended[coach]; ok && !at.IsZero() && now.Sub(at) < bot.ReinviteCooldown {
		return e.ephemeral(ctx, ev, fmt.Sprintf("%s said no to coaching with you on %s, so I won't invite them again for 30 days (until %s). "+
			"If they'd like to work with you sooner, they can ask you with /story coach ask %s. I haven't contacted them.",
			mention(client), dateText(at), dateText(at.Add(bot.ReinviteCooldown)), mention(coach)))
	}
	var (
		link    bot.CoachLink
		already *bot.CoachLink
	)
	err = e.coaching.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		already = nil
		for id, l := range d.Links {
			if l.Coach != coach {
				continue
			}
			if l.Expired(now) {
				delete(d.Links, id)
				continue
			}
			found := l
			already = &found
			return nil
		}
		link = bot.CoachLink{ID: newID(), Coach: coach, Client: client, State: bot.LinkPending, Invited: now}
		d.Links[link.ID] = link
		return nil
	})
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach invite", err)
	}
	if already != nil {
		if already.State == bot.LinkAccepted {
			return e.ephemeral(ctx, ev, fmt.Sprintf("You're already %s's coach. /story coach progress %s shows how their practices are going.", mention(client), mention(client)))
		}
		return e.ephemeral(ctx, ev, fmt.Sprintf("Your invitation to %s is still waiting for their answer (it expires %s). I won't send it again.", mention(client), dateText(already.Invited.Add(bot.InviteTTL))))
	}
	if err := e.coaching.PutCoachEntry(ctx, coach, bot.CoachEntry{LinkID: link.ID, Client: client, State: bot.LinkPending, Since: now}); err != nil {
		return e.storeTrouble(ctx, ev, "coach invite", err)
	}
	m := bot.Message{
		To:   bot.Destination{Kind: bot.DestDM, User: client},
		Kind: flows.ReplyPrompt,
		Text: fmt.Sprintf("%s would like to be your coach here.\n"+
			"If you accept, they will see only this: the practices they give you, how often you mark them done or missed, your streak, and notes you choose to share.\n"+
			"They will never see your journal, your pauses or anything else you write here.\n"+
			"You can end it any time with /story coach revoke. The invitation expires %s.",
			mention(coach), dateText(now.Add(bot.InviteTTL))),
		Choices: []flows.Choice{
			{ID: prefixCoach + "accept:" + link.ID, Label: "Accept"},
			{ID: prefixCoach + "decline:" + link.ID, Label: "Decline"},
		},
	}
	if err := e.offer(ctx, m); err != nil {
		return fmt.Errorf("engine: send invitation to %s: %w", client, err)
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("Invitation sent to %s. It tells them exactly what you'd see — practice completion, streaks and notes they choose to share, never their journal. Nothing else is possible until they accept; it expires in 7 days.", mention(client)))
}

// answerInvite handles Accept or Decline from the invited client.
func (e *Engine) answerInvite(ctx context.Context, ev bot.Event, linkID string, accept bool) error {
	client := ev.User
	now := e.now()
	var (
		link  bot.CoachLink
		found bool
	)
	err := e.coaching.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		l, ok := d.Links[linkID]
		found = ok && l.Client == client
		if !found {
			return nil
		}
		link = l
		switch {
		case l.Expired(now):
			delete(d.Links, linkID)
		case l.State == bot.LinkPending && accept:
			l.State, l.Accepted = bot.LinkAccepted, now
			d.Links[linkID] = l
		case l.State == bot.LinkPending:
			delete(d.Links, linkID)
		}
		return nil
	})
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach answer", err)
	}
	if !found {
		return e.ephemeral(ctx, ev, "That invitation is no longer open. Nothing was shared.")
	}
	e.clearOffer(ctx, client)
	coach := link.Coach
	switch {
	case link.Expired(now):
		e.coachSide(ctx, coach, bot.CoachEntry{LinkID: linkID, Client: client, State: bot.LinkExpired, Since: now})
		return e.ephemeral(ctx, ev, fmt.Sprintf("That invitation has expired. Nothing was shared. If you'd like, ask %s to send a new one.", mention(coach)))
	case link.State == bot.LinkAccepted:
		return e.ephemeral(ctx, ev, fmt.Sprintf("You've already accepted — %s is your coach. /story coach revoke ends it.", mention(coach)))
	case accept:
		e.coachSide(ctx, coach, bot.CoachEntry{LinkID: linkID, Client: client, State: bot.LinkAccepted, Since: now})
		if err := e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: coach}, Kind: flows.ReplyInfo,
			Text: fmt.Sprintf("%s accepted your invitation. Give them a practice with /story coach assign %s <practice> <cadence>; /story practices library lists them.", mention(client), mention(client))}); err != nil {
			e.log.WarnContext(ctx, "coach notice failed", "user", coach.String(), "err", err)
		}
		return e.ephemeral(ctx, ev, fmt.Sprintf("You've accepted. %s can now give you practices and see only their completion and the notes you choose to share. /story coach revoke ends it any time.", mention(coach)))
	}
	e.coachSide(ctx, coach, bot.CoachEntry{LinkID: linkID, Client: client, State: bot.LinkDeclined, Since: now})
	if err := e.coaching.SetEnded(ctx, client, coach, now); err != nil {
		return e.storeTrouble(ctx, ev, "coach answer", err)
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("Declined. Nothing was shared, and %s can't invite you again for 30 days. If you change your mind, /story coach ask %s asks them to.", mention(coach), mention(coach)))
}

// coachSide updates the coach's index. The client's side is the truth, so a failure here
// only makes the coach's list stale: it is logged, not shown.
func (e *Engine) coachSide(ctx context.Context, coach bot.UserRef, entry bot.CoachEntry) {
	if err := e.coaching.PutCoachEntry(ctx, coach, entry); err != nil {
		e.metrics.storeError("coach index")
		e.log.ErrorContext(ctx, "store failed", "op", "coach index", "user", coach.String(), "err", err)
	}
}

// coachRevoke ends the client's coaching link: with linkID, that one; without, the only
// one, or it asks which.
func (e *Engine) coachRevoke(ctx context.Context, ev bot.Event, linkID string) error {
	client := ev.User
	data, err := e.coaching.ClientData(ctx, client)
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach revoke", err)
	}
	var links []bot.CoachLink
	for _, l := range data.Links {
		if linkID == "" || l.ID == linkID {
			links = append(links, l)
		}
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Invited.Before(links[j].Invited) })
	switch {
	case len(links) == 0 && linkID != "":
		return e.ephemeral(ctx, ev, "That coaching link has already ended.")
	case len(links) == 0:
		return e.ephemeral(ctx, ev, "You have no coach in storybot, so there's nothing to end.")
	case len(links) > 1:
		var choices []flows.Choice
		for _, l := range links {
			choices = append(choices, flows.Choice{ID: prefixCoach + "revoke:" + l.ID, Label: "End with " + mention(l.Coach)})
		}
		return e.out.Send(ctx, bot.Message{To: e.inPlace(ev), Kind: flows.ReplyPrompt, Text: "You have more than one coach. Which link shall I end?", Choices: choices})
	}
	l := links[0]
	if err := e.endLink(ctx, client, l.ID); err != nil {
		return e.storeTrouble(ctx, ev, "coach revoke", err)
	}
	now := e.now()
	state := bot.LinkRevoked
	if l.State == bot.LinkPending {
		state = bot.LinkDeclined
	}
	e.coachSide(ctx, l.Coach, bot.CoachEntry{LinkID: l.ID, Client: client, State: state, Since: now})
	if err := e.coaching.SetEnded(ctx, client, l.Coach, now); err != nil {
		return e.storeTrouble(ctx, ev, "coach revoke", err)
	}
	if err := e.reschedulePractices(ctx, client); err != nil {
		e.log.WarnContext(ctx, "practice reschedule failed", "user", client.String(), "err", err)
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("Done — %s is no longer your coach and can't see anything from now on. Their practices and reminders have stopped. Your notes stay yours (/story export).", mention(l.Coach)))
}

// coachAsk is a client asking a coach to invite them: it lifts the re-invite cooldown for
// that coach and tells the coach, in their DM, how to send the invitation. The client still
// accepts the invitation as usual; nothing is shared before that.
func (e *Engine) coachAsk(ctx context.Context, ev bot.Event, target string) error {
	client := ev.User
	coach := clientOf(client, target) // same platform and workspace, like every coaching link
	if target == client.User {
		return e.ephemeral(ctx, ev, "That's you — name the coach you'd like to work with, like /story coach ask @sam.")
	}
	if client.Workspace == bot.UnplacedWorkspace && ev.Place == "" {
		return e.ephemeral(ctx, ev, "Ask inside a server you share with your coach — run this there. I haven't contacted anyone.")
	}
	if !e.mayCoach(coach) {
		return e.ephemeral(ctx, ev, fmt.Sprintf("%s isn't among the coaches this storybot's admin listed, so I can't ask them. Nothing was sent.", mention(coach)))
	}
	ended, err := e.coaching.Ended(ctx, client)
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach ask", err)
	}
	if at, ok := ended[coach]; ok && at.IsZero() {
		return e.ephemeral(ctx, ev, fmt.Sprintf("You've already asked %s; I won't send it twice. They can invite you with /story coach invite.", mention(coach)))
	}
	if err := e.coaching.SetEnded(ctx, client, coach, time.Time{}); err != nil {
		return e.storeTrouble(ctx, ev, "coach ask", err)
	}
	if err := e.out.Send(ctx, bot.Message{To: bot.Destination{Kind: bot.DestDM, User: coach}, Kind: flows.ReplyInfo,
		Text: fmt.Sprintf("%s would like you to be their coach in storybot. To invite them, type /story coach invite %s — they'll be asked to accept, as always.", mention(client), mention(client))}); err != nil {
		return fmt.Errorf("engine: send coach ask to %s: %w", coach, err)
	}
	return e.ephemeral(ctx, ev, fmt.Sprintf("I've asked %s to invite you. When they do, you'll get the invitation to accept or decline, saying exactly what they would see.", mention(coach)))
}

// endLink removes a link from the client's side with the practices given under it.
func (e *Engine) endLink(ctx context.Context, client bot.UserRef, linkID string) error {
	return e.coaching.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		delete(d.Links, linkID)
		for id, p := range d.Practices {
			if p.LinkID == linkID {
				delete(d.Practices, id)
			}
		}
		return nil
	})
}

// coachList shows the coach's clients and where each link stands.
func (e *Engine) coachList(ctx context.Context, ev bot.Event) error {
	coach := ev.User
	if !e.mayCoach(coach) {
		return e.ephemeral(ctx, ev, "Coaching in this storybot is open to the people its admin listed, and you're not on that list.")
	}
	entries, err := e.coaching.CoachEntries(ctx, coach)
	if err != nil {
		return e.storeTrouble(ctx, ev, "coach list", err)
	}
	if len(entries) == 0 {
		return e.ephemeral(ctx, ev, "You have no clients yet. Invite someone with /story coach invite @name.")
	}
	now := e.now()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Since.After(entries[j].Since) })
	var b strings.Builder
	b.WriteString("Your clients:")
	for _, en := range entries {
		b.WriteString("\n- ")
		switch en.State {
		case bot.LinkGone:
			fmt.Fprintf(&b, "a client who erased their storybot data (%s)", dateText(en.Since))
			continue
		case bot.LinkAccepted:
			fmt.Fprintf(&b, "%s — connected since %s", mention(en.Client), dateText(en.Since))
		case bot.LinkPending:
			if now.Sub(en.Since) > bot.InviteTTL {
				fmt.Fprintf(&b, "%s — invitation expired unanswered", mention(en.Client))
			} else {
				fmt.Fprintf(&b, "%s — invited %s, waiting for their answer", mention(en.Client), dateText(en.Since))
			}
		case bot.LinkDeclined:
			fmt.Fprintf(&b, "%s — did not accept", mention(en.Client))
		case bot.LinkRevoked:
			fmt.Fprintf(&b, "%s — ended the link on %s", mention(en.Client), dateText(en.Since))
		case bot.LinkExpired:
			fmt.Fprintf(&b, "%s — invitation expired unanswered", mention(en.Client))
		}
	}
	return e.ephemeral(ctx, ev, b.String())
}

// dateText is a short date, like "Mon 9 Mar".
func dateText(t time.Time) string { return t.UTC().Format("Mon 2 Jan") }
