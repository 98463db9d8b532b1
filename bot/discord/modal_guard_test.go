package discord

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// passing records the messages the engine's guard lets through to the adapter.
type passing struct {
	next bot.Sender
	mu   sync.Mutex
	msgs []bot.Message
}

func (p *passing) Send(ctx context.Context, m bot.Message) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, m)
	p.mu.Unlock()
	return p.next.Send(ctx, m)
}

// TestQuickModalThroughGuard: the quick pause form is a message the engine sends, through its
// outbound guard, as a modal for the user who asked (bot.DestModal); the adapter makes it the
// interaction's response (type 9), within the interaction's deadline.
func TestQuickModalThroughGuard(t *testing.T) {
	rec := &passing{}
	e := newEnvWith(t, 1, false, envOptions{sender: func(next bot.Sender) bot.Sender { rec.next = next; return rec }})
	const user = "u-modal-guard"
	e.welcomed(t, user)
	r := response(t, e.post(t, e.command(user, "g1", "quick", strOpt("story", "they think I'm slow"))))
	if r["type"] != 9.0 {
		t.Fatalf("/story quick in a server answered %v, want a modal (9)", r)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 1 {
		t.Fatalf("the engine sent %d messages, want the form alone: %+v", len(rec.msgs), rec.msgs)
	}
	m := rec.msgs[0]
	if m.To.Kind != bot.DestModal || m.To.User != userRef(user) || !strings.HasPrefix(m.To.Route, routeRespond) || m.Form == nil || m.Form.Story != "they think I'm slow" {
		t.Fatalf("the form went out as %+v, want a modal for %s with the story", m, user)
	}
}

// TestQuickModalOverGateway: an interaction that came over the gateway gets the form from the
// engine the same way, as its callback.
func TestQuickModalOverGateway(t *testing.T) {
	e := newEnv(t, 1, true)
	const user = "u-modal-gw"
	e.welcomed(t, user)
	e.fake.dispatch("INTERACTION_CREATE", e.command(user, "g1", "quick", strOpt("story", "they think I'm slow")))
	var cb call
	waitFor(t, "the interaction's callback", func() bool {
		calls := e.fake.callsTo(http.MethodPost, "interactions/", "/callback")
		if len(calls) == 1 {
			cb = calls[0]
		}
		return len(calls) == 1
	})
	data, _ := cb.Body["data"].(map[string]any)
	if cb.Body["type"] != 9.0 || data["custom_id"] != quickModalID {
		t.Fatalf("gateway /story quick answered %v, want the quick modal", cb.Body)
	}
}

// TestAnswerBoxThroughGuard: the one-answer box behind an "Answer" button is sent through the
// adapter's guard as a modal for the user who pressed it.
func TestAnswerBoxThroughGuard(t *testing.T) {
	e := newEnv(t, 1, false)
	a := e.adapters[0]
	rec := &passing{next: a}
	a.guard = bot.NewGuard(rec, quiet, nil)
	i := e.interaction(3, "u-answer", "g1", map[string]any{"custom_id": answerCustomID, "component_type": 2})
	r := response(t, e.post(t, i))
	data, _ := r["data"].(map[string]any)
	if r["type"] != 9.0 || data["custom_id"] != answerCustomID {
		t.Fatalf("Answer answered %v, want the answer modal", r)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 1 || rec.msgs[0].To.Kind != bot.DestModal || rec.msgs[0].To.User != userRef("u-answer") {
		t.Fatalf("through the guard: %+v, want one modal for u-answer", rec.msgs)
	}
}

// TestQuickModalSlowEngine: when the engine does not send the form within the interaction's
// time, the interaction is answered deferred and ephemeral without waiting for it, and the
// quick pause goes on in the user's DM.
func TestQuickModalSlowEngine(t *testing.T) {
	e := newEnv(t, 1, false)
	const user = "u-modal-slow"
	e.welcomed(t, user)
	slow := modalWait + 2*time.Second
	e.handlers[0].delay.Store(int64(slow))
	start := time.Now()
	w := e.post(t, e.command(user, "g1", "quick", strOpt("story", "they think I'm slow")))
	if since := time.Since(start); since >= slow {
		t.Fatalf("the interaction was answered after %v, after the slow engine (%v): it waited for it", since, slow)
	}
	r := response(t, w)
	if data, _ := r["data"].(map[string]any); r["type"] != 5.0 || data["flags"] != 64.0 {
		t.Fatalf("a late form answered %v, want deferred and ephemeral", r)
	}
	waitFor(t, "the quick pause in the DM", func() bool {
		for _, c := range e.fake.dmPosts(user) {
			if strings.Contains(content(c), "What else could be true") {
				return true
			}
		}
		return false
	})
	st, _, err := e.store.Dialogue(t.Context(), userRef(user))
	if err != nil || !st.Open() || st.Entry.Story != "they think I'm slow" {
		t.Fatalf("dialogue = %+v, %v; want the quick pause open with the story", st, err)
	}
}

// TestModalWaiters: a modal delivered in time is the response; one delivered after the
// interaction gave up is refused, and only once the interaction's other answer is out, so
// that what the engine does instead (the DM, an ephemeral note on the token) comes after it.
func TestModalWaiters(t *testing.T) {
	var s modalWaiters
	nonce, w := s.add()
	if err := s.deliver(t.Context(), nonce, quickModal(flows.QuickForm{Story: "x"})); err != nil {
		t.Fatalf("deliver in time = %v", err)
	}
	if r, answered := s.wait(nonce, w, time.Second); r == nil || answered != nil {
		t.Fatalf("wait after delivery = %v, %v; want the modal", r, answered != nil)
	}

	nonce, w = s.add()
	r, answered := s.wait(nonce, w, time.Millisecond)
	if r != nil || answered == nil {
		t.Fatalf("wait without delivery = %v; want to give up", r)
	}
	late := make(chan error, 1)
	go func() { late <- s.deliver(t.Context(), nonce, quickModal(flows.QuickForm{Story: "x"})) }()
	select {
	case err := <-late:
		t.Fatalf("a late delivery returned (%v) before the other answer was out", err)
	case <-time.After(50 * time.Millisecond):
	}
	answered()
	if err := <-late; err != errModalGone {
		t.Fatalf("late delivery = %v, want errModalGone", err)
	}
	if err := s.deliver(t.Context(), nonce, quickModal(flows.QuickForm{Story: "x"})); err != errModalGone {
		t.Fatalf("delivery after the answer = %v, want errModalGone", err)
	}
	if len(s.m) != 0 {
		t.Errorf("%d waiters left, want none", len(s.m))
	}
}
