package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
)

func texts(msgs []bot.Message) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, m.Text)
	}
	return strings.Join(parts, "\n---\n")
}

func TestEngineCommandFromChannelGoesToDM(t *testing.T) {
	h := newHarness(t, "")
	msgs := h.command("", false)
	if len(msgs) != 3 {
		t.Fatalf("/story from a channel sent %d messages, want welcome, prompt, pointer:\n%s", len(msgs), texts(msgs))
	}
	// The DM goes first; the pointer says so only once it is true.
	for _, m := range msgs[:2] {
		if m.To.Kind != bot.DestDM || m.To.User != h.user {
			t.Errorf("dialogue message goes to %+v, want the user's DM", m.To)
		}
	}
	if !strings.Contains(msgs[0].Text, "No coach or colleague can read") {
		t.Errorf("first message is not the welcome: %q", msgs[0].Text)
	}
	if p := msgs[2]; p.To.Kind != bot.DestEphemeral || p.To.Route != "route-1" || !strings.Contains(p.Text, "sent you a DM") {
		t.Errorf("last message %q goes to %+v, want the pointer on the ephemeral route", p.Text, p.To)
	}
	// The welcome comes once.
	again := h.command("stop", true)
	again = append(again, h.command("", true)...)
	for _, m := range again {
		if strings.Contains(m.Text, "No coach or colleague can read") {
			t.Errorf("welcome shown twice")
		}
	}
}

func TestEngineFullPauseSavesToJournal(t *testing.T) {
	h := newHarness(t, redistest.Start(t))
	h.command("pause Sam cut me off in standup", true)
	for _, answer := range []string{
		"they think I'm incompetent",
		"anxious", "7",
		"I was cut off once",
		"Sam is stressed about the deadline",
		"whether the deadline moved",
		"ask Sam for five minutes after",
		"no",
		"4",
	} {
		h.say(answer)
	}
	msgs := h.say("save to journal")
	if len(msgs) == 0 {
		t.Fatal("no reply to save")
	}
	hist := h.command("history", true)
	got := texts(hist)
	for _, want := range []string{"they think I'm incompetent", "Sam is stressed about the deadline", "ask Sam for five minutes after", "anxious 7 → 4"} {
		if !strings.Contains(got, want) {
			t.Errorf("history lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(h.logs.String(), "incompetent") {
		t.Errorf("user text in logs:\n%s", h.logs.String())
	}
}

func TestEngineStoreOutageLosesNothing(t *testing.T) {
	h := newHarness(t, "")
	h.command("quick", true)
	h.say("they think I'm incompetent")

	h.flaky.down.Store(true)
	msgs, err := h.handle(bot.Event{Kind: bot.EventText, Text: "Sam is just busy", InDM: true})
	if !errors.Is(err, errOutage) || !errors.Is(err, bot.ErrUserTold) {
		t.Errorf("Handle during outage = %v, want the store error, marked as told to the user, for the adapter to log", err)
	}
	if len(msgs) != 1 || msgs[0].Text != engine.TextStoreDown || msgs[0].To.Kind != bot.DestDM {
		t.Fatalf("during outage got %+v, want one DM saying %q", msgs, engine.TextStoreDown)
	}
	if strings.Contains(h.logs.String(), "Sam is just busy") {
		t.Errorf("user text in logs: %s", h.logs.String())
	}

	// Back up: the same answer is taken at the same step, and the dialogue goes on.
	h.flaky.down.Store(false)
	msgs = h.say("Sam is just busy")
	if got := texts(msgs); !strings.Contains(strings.ToLower(got), "next step") {
		t.Errorf("after the outage the reply is %q, want the next-step prompt", got)
	}
	h.say("ask Sam after the meeting")
	msgs = h.say("no check-back")
	if got := texts(msgs); !strings.Contains(got, "they think I'm incompetent") || !strings.Contains(got, "Sam is just busy") {
		t.Errorf("summary lacks the answers given around the outage:\n%s", got)
	}
}

func TestEngineOutageOnCommandFromChannelAnswersEphemerally(t *testing.T) {
	h := newHarness(t, "")
	h.command("history", true) // meet the bot first: the welcome is behind us
	h.flaky.down.Store(true)
	msgs, _ := h.handle(bot.Event{Kind: bot.EventCommand, Text: "history", Route: "route-1"})
	if len(msgs) != 1 || msgs[0].To.Kind != bot.DestEphemeral || msgs[0].Text != engine.TextStoreDown {
		t.Fatalf("got %+v, want one ephemeral outage notice", msgs)
	}
}

func TestEngineTypoAsksDidYouMean(t *testing.T) {
	h := newHarness(t, "")
	msgs := h.command("quik", false)
	if len(msgs) != 1 || msgs[0].To.Kind != bot.DestEphemeral {
		t.Fatalf("got %+v, want one ephemeral reply", msgs)
	}
	want := "Did you mean /story quick?\n" + bot.Usage("quick")
	if msgs[0].Text != want {
		t.Errorf("/story quik = %q, want %q (the one line of help, not all of it)", msgs[0].Text, want)
	}
}

func TestEngineMalformedCommandShowsHelp(t *testing.T) {
	h := newHarness(t, "")
	msgs := h.command("history 99", false)
	if len(msgs) != 1 || msgs[0].To.Kind != bot.DestEphemeral {
		t.Fatalf("got %+v, want one ephemeral reply", msgs)
	}
	if !strings.Contains(msgs[0].Text, "1 to 50") || !strings.Contains(msgs[0].Text, "/story quick") {
		t.Errorf("reply = %q, want the problem and the help", msgs[0].Text)
	}
}

func TestEngineTimezone(t *testing.T) {
	h := newHarness(t, "")
	if got := texts(h.command("tz", false)); !strings.Contains(got, "UTC") {
		t.Errorf("/story tz with none set = %q, want it to say UTC", got)
	}
	if got := texts(h.command("tz Mars/Olympus", false)); !strings.Contains(got, "don't know the time zone") {
		t.Errorf("/story tz Mars/Olympus = %q", got)
	}
	h.command("tz Asia/Kolkata", false)
	if got := texts(h.command("tz", false)); !strings.Contains(got, "Asia/Kolkata") {
		t.Errorf("/story tz after setting = %q", got)
	}
}

// TestEngineConcurrentTurnsOneUser sends "back" for one user from many goroutines at once,
// through two engines (two replicas) over one real Redis. Each "back" moves exactly one step,
// so the step reached shows that none was lost and none applied twice.
func TestEngineConcurrentTurnsOneUser(t *testing.T) {
	url := redistest.Start(t)
	h1 := newHarness(t, url)
	h2 := h1.replica()
	h1.command("pause", true)
	for _, a := range []string{"a meeting", "they are angry", "angry", "6", "they raised their voice", "they are tired", "skip", "ask them later", "no", "3"} {
		h1.say(a)
	}
	if got := currentStep(t, h1); got != flows.StepSummary {
		t.Fatalf("after all answers the step is %v, want %v", got, flows.StepSummary)
	}
	const backs = 8 // summary -> after -> check-back -> next -> rumble -> others -> facts -> strength -> feeling
	var wg sync.WaitGroup
	for i := 0; i < backs; i++ {
		wg.Add(1)
		go func(h *harness) {
			defer wg.Done()
			if err := h.eng.Handle(context.Background(), bot.Event{Kind: bot.EventText, Text: "back", InDM: true, User: h.user}); err != nil {
				t.Errorf("Handle: %v", err)
			}
		}([]*harness{h1, h2}[i%2])
	}
	wg.Wait()
	if got := currentStep(t, h1); got != flows.StepFeeling {
		t.Errorf("after %d concurrent backs the step is %v, want %v", backs, got, flows.StepFeeling)
	}
}

// currentStep reads the user's stored dialogue step without changing it.
func currentStep(tb testing.TB, h *harness) flows.Step {
	tb.Helper()
	var step flows.Step
	err := h.store.Turn(context.Background(), h.user, func(cur flows.State) (flows.State, *flows.Entry, error) {
		step = cur.Step
		return cur, nil, nil
	})
	if err != nil {
		tb.Fatalf("read state: %v", err)
	}
	return step
}

// hangingStore is a store whose calls block until their context ends, like a Redis that
// stopped answering.
type hangingStore struct{ *storage.Store }

func (hangingStore) Turn(ctx context.Context, _ bot.UserRef, _ bot.TurnFunc) error {
	<-ctx.Done()
	return ctx.Err()
}

func (hangingStore) TurnOnce(ctx context.Context, _ bot.UserRef, _ string, _ bot.TurnFunc) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func (hangingStore) TurnFrom(ctx context.Context, _ bot.UserRef, _ string, _ *bot.DialogueRead, _ bot.TurnFunc) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func (hangingStore) Snapshot(ctx context.Context, _ bot.UserRef) (*bot.Snapshot, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// deadlineSender records messages like a platform would take them: not after the context
// ended.
type deadlineSender struct{ recorder }

func (d *deadlineSender) Send(ctx context.Context, m bot.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.recorder.Send(ctx, m)
}

func TestEngineOutageNoticeOutlivesTheDeadline(t *testing.T) {
	h := newHarness(t, "")
	h.command("history", true) // the welcome is behind us
	rec := &deadlineSender{}
	eng := h.newEngine(func(c *engine.Config) {
		c.Dialogues, c.Sender, c.Logger = hangingStore{h.store}, rec, slog.New(slog.DiscardHandler)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := eng.Handle(ctx, bot.Event{Kind: bot.EventText, User: h.user, Text: "an answer", InDM: true})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Handle = %v, want the deadline", err)
	}
	if len(rec.sent) != 1 || rec.sent[0].Text != engine.TextStoreDown {
		t.Errorf("after the deadline the user got %+v, want the outage notice", rec.sent)
	}
}
