package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/storage"
)

// plainDialogues hides every method of a store but bot.DialogueStore's: a store that can
// neither start a turn from a snapshot nor record event IDs.
type plainDialogues struct{ bot.DialogueStore }

// finishCounter counts the done marks a lease writes itself.
type finishCounter struct {
	bot.EventLeases
	n atomic.Int64
}

func (f *finishCounter) FinishEvent(ctx context.Context, u bot.UserRef, id string, ttl time.Duration) error {
	f.n.Add(1)
	return f.EventLeases.FinishEvent(ctx, u, id, ttl)
}

// snapSender keeps the texts of the messages it is given.
type snapSender struct {
	mu    sync.Mutex
	texts []string
}

func (s *snapSender) Send(_ context.Context, m bot.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, m.Text)
	return nil
}

// take returns the texts sent since the last take, joined.
func (s *snapSender) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Join(s.texts, "\n---\n")
	s.texts = nil
	return out
}

// snapshotRig is an engine over the embedded store with coaching on; plain hides the
// store's snapshot and once-only turns from the engine.
func snapshotRig(t *testing.T, plain bool) (*storage.Store, *engine.Engine, *snapSender, bot.UserRef) {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var dialogues bot.DialogueStore = st
	if plain {
		dialogues = plainDialogues{st}
	}
	rec := &snapSender{}
	eng := engine.NewEngine(engine.Config{
		Dialogues: dialogues, Profiles: st, Sender: rec, Coaching: st.Coaching(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	u := bot.UserRef{Platform: "slack", Workspace: "T1", User: fmt.Sprintf("USNAP%d", time.Now().UnixNano())}
	return st, eng, rec, u
}

// TestTurnWithoutSnapshotStore: an engine over a store that implements neither
// bot.SnapshotTurner nor bot.OnceTurner still runs dialogues, coaching switched on.
func TestTurnWithoutSnapshotStore(t *testing.T) {
	st, eng, rec, u := snapshotRig(t, true)
	ctx := context.Background()
	if err := eng.Handle(ctx, bot.Event{Kind: bot.EventCommand, User: u, Text: "pause The demo froze.", InDM: true, ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if err := eng.Handle(ctx, bot.Event{Kind: bot.EventText, User: u, Text: "Everyone thinks I'm unprepared.", InDM: true, ID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !strings.Contains(got, "What are you feeling") {
		t.Errorf("answer over a plain store got %q, want the feeling question", got)
	}
	if s, _, _ := st.Dialogue(ctx, u); s.Entry.Story != "Everyone thinks I'm unprepared." {
		t.Errorf("story = %q, want the answer saved", s.Entry.Story)
	}
}

// TestSnapshotFromTheClaim: a DM answer whose claim read the user's data is handled from
// that read, its commit marks the event done (the lease writes nothing after), and a
// snapshot that shows a coaching marker the store no longer has is read again rather than
// trusted (the line is an answer, not a note).
func TestSnapshotFromTheClaim(t *testing.T) {
	st, eng, rec, u := snapshotRig(t, false)
	ctx := context.Background()
	leases := &finishCounter{EventLeases: st}
	dedupe := bot.NewDedupe(leases, nil)
	handle := func(id string, ev bot.Event, stale func(*bot.Snapshot)) string {
		t.Helper()
		lease, v := dedupe.Claim(ctx, u, id)
		if v != bot.New || lease.Snapshot() == nil {
			t.Fatalf("Claim(%s) = %v with snapshot %v, want New with one", id, v, lease.Snapshot())
		}
		ev.User, ev.ID, ev.InDM, ev.Snapshot = u, id, true, lease.Snapshot()
		if stale != nil {
			stale(ev.Snapshot)
		}
		if err := eng.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
		lease.Done(ctx)
		return rec.take()
	}

	handle("slack:cmd:1", bot.Event{Kind: bot.EventCommand, Text: "pause The demo froze."}, nil)
	before := leases.n.Load()
	got := handle("slack:event:T1:Ev1", bot.Event{Kind: bot.EventText, Text: "Everyone thinks I'm unprepared."}, nil)
	if !strings.Contains(got, "What are you feeling") {
		t.Fatalf("answer got %q, want the feeling question", got)
	}
	if n := leases.n.Load() - before; n != 0 {
		t.Errorf("the lease wrote %d done marks after a committed turn, want 0 (the commit marked it)", n)
	}
	if v := func() bot.Verdict { _, v := dedupe.Claim(ctx, u, "slack:event:T1:Ev1"); return v }(); v != bot.Duplicate {
		t.Errorf("a redelivery after the commit: %v, want duplicate", v)
	}

	// The snapshot says a note is awaited; the store says not (an earlier event took it).
	got = handle("slack:event:T1:Ev2", bot.Event{Kind: bot.EventText, Text: "anxious"}, func(s *bot.Snapshot) {
		s.Coach, s.CoachOK = bot.CoachPending{NoteFor: "name-the-story", At: time.Now()}, true
	})
	if !strings.Contains(got, "How strong") {
		t.Errorf("with a stale marker in the snapshot the answer got %q, want the strength question", got)
	}
	if s, _, _ := st.Dialogue(ctx, u); s.Entry.Feeling != "anxious" {
		t.Errorf("feeling = %q, want the answer applied", s.Entry.Feeling)
	}
}
