package storage_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/cputime"
	"github.com/storybot/storybot/storage"
	"github.com/storybot/storybot/storage/redistest"
	"github.com/storybot/storybot/storage/storetest"
)

// TestRedis runs the suite against a real redis-server (or REDIS_URL). One server serves
// the whole suite: every subtest keeps to users of its own.
func TestRedis(t *testing.T) {
	url := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) redis.UniversalClient {
		return redistest.Client(t, url)
	})
}

// TestEmbedded runs the suite against the store Open starts when no Redis is configured.
func TestEmbedded(t *testing.T) {
	s, err := storage.Open(context.Background(), storage.Config{})
	if err != nil {
		t.Fatalf("Open(empty config) = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if !s.Embedded() {
		t.Fatalf("Embedded() = false for an empty config")
	}
	storetest.Run(t, func(t *testing.T) redis.UniversalClient { return s.Client() })
}

func TestOpenURL(t *testing.T) {
	url := redistest.Start(t)
	s, err := storage.Open(context.Background(), storage.Config{URL: url})
	if err != nil {
		t.Fatalf("Open(%s) = %v", url, err)
	}
	defer s.Close()
	if s.Embedded() {
		t.Errorf("Embedded() = true with a URL")
	}
	for _, bad := range []storage.Config{
		{URL: "http://user:hunter2@example.com"},
		{SentinelAddrs: []string{"127.0.0.1:1"}},
	} {
		_, err := storage.Open(context.Background(), bad)
		if err == nil {
			t.Errorf("Open(%+v) succeeded, want an error", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open error %q shows the password", err)
		}
	}
}

func pauseTurn(cur flows.State) (flows.State, *flows.Entry, error) {
	next := cur
	next.Flow, next.Step = flows.FlowPause, flows.StepStory
	next.Entry.Story = "a story"
	return next, &flows.Entry{Flow: flows.FlowPause, Story: "a story"}, nil
}

func TestTurnRoundTrips(t *testing.T) {
	url := redistest.Start(t)
	rdb := redistest.Client(t, url)
	var c redistest.Trips
	rdb.AddHook(&c)
	key := make([]byte, storage.KeySize)
	s := storage.NewStore(rdb, storage.Config{EncryptionKeys: [][]byte{key}})
	u := bot.UserRef{Platform: "test", Workspace: "RT", User: "U1"}
	ctx := context.Background()
	// The first turn may load the script (NOSCRIPT, then EVAL): steady state is what counts.
	if err := s.Turn(ctx, u, pauseTurn); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		c.Take()
		if err := s.Turn(ctx, u, pauseTurn); err != nil {
			t.Fatal(err)
		}
		if n := len(c.Take()); n > 2 {
			t.Errorf("uncontended Turn took %d round trips, want at most 2", n)
		}
	}
	c.Take()
	if _, err := s.Journal(ctx, u, 5); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Take()); n > 2 {
		t.Errorf("Journal took %d round trips, want at most 2", n)
	}
}

func BenchmarkTurn(b *testing.B) {
	url := redistest.Start(b)
	rdb := redistest.Client(b, url)
	var c redistest.Trips
	rdb.AddHook(&c)
	key := make([]byte, storage.KeySize)
	s := storage.NewStore(rdb, storage.Config{EncryptionKeys: [][]byte{key}})
	u := bot.UserRef{Platform: "test", Workspace: "BENCH", User: "U1"}
	ctx := context.Background()
	step := func(cur flows.State) (flows.State, *flows.Entry, error) {
		next := cur
		next.Flow, next.Step = flows.FlowPause, flows.StepFacts
		next.Entry.Story = "they ignored my point in the meeting"
		next.Entry.Facts = "she said we'd come back to it"
		return next, nil, nil
	}
	if err := s.Turn(ctx, u, step); err != nil {
		b.Fatal(err)
	}
	c.Take()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Turn(ctx, u, step); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Take()))/float64(b.N), "round-trips/op")
}

// BenchmarkDMEvent is the store's part of one DM answer, as the adapter and the engine use
// it: the event's claim (which reads the dialogue and the coaching marker), then the turn
// from that read (whose commit marks the event done). Encryption on.
func BenchmarkDMEvent(b *testing.B) {
	url := redistest.Start(b)
	rdb := redistest.Client(b, url)
	var c redistest.Trips
	rdb.AddHook(&c)
	key := make([]byte, storage.KeySize)
	s := storage.NewStore(rdb, storage.Config{EncryptionKeys: [][]byte{key}})
	u := bot.UserRef{Platform: "test", Workspace: "BENCH", User: "U2"}
	ctx := context.Background()
	step := func(cur flows.State) (flows.State, *flows.Entry, error) {
		next := cur
		next.Flow, next.Step = flows.FlowPause, flows.StepFacts
		next.Entry.Story = "they ignored my point in the meeting"
		next.Entry.Facts = "she said we'd come back to it"
		return next, nil, nil
	}
	event := func(i int) {
		id := fmt.Sprintf("slack:event:T1:EvBench%d", i)
		st, snap, err := s.ClaimEvent(ctx, u, id, "token", 10*time.Second)
		if err != nil || st != bot.Claimed || snap == nil {
			b.Fatalf("ClaimEvent = %v, %v, %v", st, snap, err)
		}
		if applied, err := s.TurnFrom(ctx, u, id, snap.Dialogue, step); err != nil || !applied {
			b.Fatalf("TurnFrom = %v, %v", applied, err)
		}
	}
	event(-1) // loads the scripts
	c.Take()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		event(i)
		i++
	}
	b.ReportMetric(float64(len(c.Take()))/float64(b.N), "round-trips/op")
}

// TestCluster runs the suite (every store, the scheduler's queue and coaching) and Open against a real
// three-master Redis Cluster: every multi-key script, MULTI and WATCH must keep its keys in
// one hash slot. One cluster serves all of it (starting one takes about two seconds).
func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	newClient := func(t *testing.T) redis.UniversalClient { return redistest.ClusterClient(t, addrs) }
	t.Run("Suite", func(t *testing.T) { storetest.Run(t, newClient) })
	t.Run("Open", func(t *testing.T) {
		ctx := context.Background()
		// One seed address is enough: the client learns the others from it.
		for _, seeds := range [][]string{addrs, addrs[:1]} {
			s, err := storage.Open(ctx, storage.Config{ClusterAddrs: seeds, EncryptionKeys: [][]byte{make([]byte, storage.KeySize)}})
			if err != nil {
				t.Fatalf("Open(ClusterAddrs: %v) = %v", seeds, err)
			}
			if _, ok := s.Client().(*redis.ClusterClient); !ok {
				t.Errorf("Open(ClusterAddrs: %v) made a %T, want a *redis.ClusterClient", seeds, s.Client())
			}
			u := bot.UserRef{Platform: "test", Workspace: "CLUSTER", User: fmt.Sprintf("U%d", len(seeds))}
			if err := s.Turn(ctx, u, pauseTurn); err != nil {
				t.Fatalf("Turn = %v", err)
			}
			es, err := s.Journal(ctx, u, 5)
			if err != nil || len(es) != 1 || es[0].Story != "a story" {
				t.Errorf("Journal = %+v, %v; want the one entry", es, err)
			}
			if err := s.Forget(ctx, u); err != nil {
				t.Errorf("Forget = %v", err)
			}
			_ = s.Close()
		}
	})
}

// TestSentinel: Open with Sentinel addresses finds the master, the suite passes through it,
// and a turn goes through.
func TestSentinel(t *testing.T) {
	addrs := redistest.StartSentinel(t)
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Config{SentinelAddrs: addrs, SentinelMaster: redistest.SentinelMaster})
	if err != nil {
		t.Fatalf("Open(SentinelAddrs: %v) = %v", addrs, err)
	}
	defer s.Close()
	// The whole suite through the client Open made: it follows the master Sentinel names.
	t.Run("Suite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) redis.UniversalClient { return s.Client() })
	})
	u := bot.UserRef{Platform: "test", Workspace: "SENTINEL", User: "U1"}
	if err := s.Turn(ctx, u, pauseTurn); err != nil {
		t.Fatalf("Turn = %v", err)
	}
	if es, err := s.Journal(ctx, u, 5); err != nil || len(es) != 1 {
		t.Errorf("Journal = %+v, %v; want one entry", es, err)
	}
}

// BenchmarkGuessedTurn is the store's part of a DM answer from this process's memory of the
// user's dialogue (bot.Guesser): the hot path of a replica answering a user it answered a
// moment ago. Guess, then TurnFrom, whose one script checks that memory, claims the event
// and commits. The dialogue is a Pause half way through; each op moves it one step on or
// back, as a user's answers and "back" would. Encryption on. It reports the CPU time of this
// process per op (the Redis server's is not in it) and the round trips.
func BenchmarkGuessedTurn(b *testing.B) {
	url := redistest.Start(b)
	rdb := redistest.Client(b, url)
	var trips atomic.Int64
	rdb.AddHook(countTrips{&trips})
	key := make([]byte, storage.KeySize)
	s := storage.NewStore(rdb, storage.Config{EncryptionKeys: [][]byte{key}})
	u := bot.UserRef{Platform: "slack", Workspace: "TBENCH", User: "UGUESS"}
	ctx := context.Background()
	now := time.Now().UTC()
	four := 4
	start := func(flows.State) (flows.State, *flows.Entry, error) {
		return flows.State{
			Version: flows.StateVersion, Flow: flows.FlowPause, Step: flows.StepFeeling,
			Trail: []flows.Step{flows.StepWhat, flows.StepStory},
			Entry: flows.Entry{
				Flow: flows.FlowPause, Created: now, What: "The demo froze in front of the whole team.",
				Story: "They think I can't ship anything that works.", StrengthBefore: &four,
			},
			Hints:   []string{"mind-reading"},
			Updated: now,
		}, nil, nil
	}
	step := func(cur flows.State) (flows.State, *flows.Entry, error) {
		next := cur
		if cur.Step == flows.StepFeeling {
			next.Step, next.Entry.Feeling = flows.StepStrength, "anxious"
			next.Trail = append(next.Trail, cur.Step)
		} else {
			next.Step, next.Entry.Feeling = flows.StepFeeling, ""
			next.Trail = next.Trail[:len(next.Trail)-1]
		}
		next.Updated = time.Now().UTC()
		return next, nil, nil
	}
	if err := s.Turn(ctx, u, start); err != nil {
		b.Fatal(err)
	}
	i := 0
	event := func() {
		i++
		snap := s.Guess(u)
		if snap == nil || snap.Dialogue == nil {
			b.Fatal("Guess remembered nothing of a dialogue this store just wrote")
		}
		snap.Dialogue.Guess = bot.NewGuess("token", 10*time.Second)
		id := "slack:event:TBENCH:EvGuess" + strconv.Itoa(i)
		if applied, err := s.TurnFrom(ctx, u, id, snap.Dialogue, step); err != nil || !applied {
			b.Fatalf("TurnFrom = %v, %v", applied, err)
		}
	}
	event() // loads the script
	trips.Store(0)
	c0, cpuOK := cputime.Process()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		event()
	}
	b.StopTimer()
	if c1, ok := cputime.Process(); cpuOK && ok {
		b.ReportMetric(float64((c1-c0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	b.ReportMetric(float64(trips.Load())/float64(b.N), "round-trips/op")
}

// countTrips counts round trips (a command or a pipeline), without allocating.
type countTrips struct{ n *atomic.Int64 }

func (c countTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c countTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c countTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}
