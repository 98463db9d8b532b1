package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/storage/redistest"
)

// echoScript counts its calls per key and answers its argument, so that a test sees both
// which calls ran and that every caller got its own answer.
var echoScript = newScript(`
redis.call('INCR', KEYS[1])
if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
return ARGV[1]
`)

// gate is a redis.Hook that holds the first round trip of scripts until it is opened and
// counts the scripts' round trips (not the connections' HELLO and CLIENT SETINFO).
type gate struct {
	mu     sync.Mutex
	trips  []int // commands per round trip
	held   bool
	open   chan struct{}
	inside chan struct{} // closed when the first round trip is held
}

func newGate() *gate { return &gate{open: make(chan struct{}), inside: make(chan struct{})} }

func (g *gate) wait(n int) {
	g.mu.Lock()
	g.trips = append(g.trips, n)
	first := !g.held
	g.held = true
	g.mu.Unlock()
	if first {
		close(g.inside)
		<-g.open
	}
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			g.wait(1)
		}
		return next(ctx, cmd)
	}
}
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "evalsha" {
			g.wait(len(cmds))
		}
		return next(ctx, cmds)
	}
}

func (g *gate) roundTrips() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.trips...)
}

// waitPending waits until n calls wait for the next batch.
func waitPending(t *testing.T, b *scriptBatcher, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		got := len(b.pending)
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls wait for the next batch, want %d", got, n)
		}
	}
}

func newBatchTest(t *testing.T) (*scriptBatcher, *redis.Client, *gate) {
	t.Helper()
	rdb := redistest.Client(t, redistest.Start(t))
	// Load the script first, so that the round trips counted are the batches alone.
	if err := rdb.ScriptLoad(context.Background(), echoScript.src.(string)).Err(); err != nil {
		t.Fatal(err)
	}
	g := newGate()
	rdb.AddHook(g)
	return &scriptBatcher{rdb: rdb}, rdb, g
}

// Calls made while a batch is out go together in the next one, and each gets its own answer.
func TestScriptBatcherSharesRoundTrips(t *testing.T) {
	b, rdb, g := newBatchTest(t)
	ctx := context.Background()
	const n = 20
	key := "batch:" + t.Name()
	answers := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	call := func(i int) {
		defer wg.Done()
		answers[i], errs[i] = echoScript.run(ctx, b, []string{key}, fmt.Sprint("call ", i)).Text()
	}
	wg.Add(1)
	go call(0)
	<-g.inside // the first call's batch is out, and held
	for i := 1; i < n; i++ {
		wg.Add(1)
		go call(i)
	}
	waitPending(t, b, n-1)
	close(g.open)
	wg.Wait()
	trips := g.roundTrips()
	for i := range n {
		if want := fmt.Sprint("call ", i); errs[i] != nil || answers[i] != want {
			t.Errorf("call %d = %q, %v; want %q", i, answers[i], errs[i], want)
		}
	}
	if len(trips) != 2 || trips[0] != 1 || trips[1] != n-1 {
		t.Errorf("round trips (commands in each) = %v, want [1 %d]", trips, n-1)
	}
	if got, _ := rdb.Get(ctx, key).Int(); got != n {
		t.Errorf("the script ran %d times, want %d", got, n)
	}
}

// A caller whose context ends while it waits gets its context's error at once; the others
// in its batch are answered; a call whose caller is gone before its batch is sent is not
// sent.
func TestScriptBatcherCallerDeadline(t *testing.T) {
	b, rdb, g := newBatchTest(t)
	ctx := context.Background()
	keyOf := func(who string) string { return "batch:" + t.Name() + ":" + who }

	firstDone := make(chan error, 1)
	go func() { firstDone <- echoScript.run(ctx, b, []string{keyOf("first")}, "first").Err() }()
	<-g.inside

	laterDone := make(chan error, 1)
	go func() {
		_, err := echoScript.run(ctx, b, []string{keyOf("later")}, "later").Text()
		laterDone <- err
	}()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := echoScript.run(short, b, []string{keyOf("hasty")}, "hasty").Err()
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > time.Second {
		t.Fatalf("a call whose deadline passed while the batch before it was out = %v after %v, want its deadline's error at once", err, took)
	}
	waitPending(t, b, 2) // the hasty call stays in the batch until it is sent
	close(g.open)
	if err := <-firstDone; err != nil {
		t.Errorf("the held call = %v", err)
	}
	if err := <-laterDone; err != nil {
		t.Errorf("the call batched with one whose caller left = %v", err)
	}
	for who, want := range map[string]int{"first": 1, "later": 1, "hasty": 0} {
		if got, _ := rdb.Get(ctx, keyOf(who)).Int(); got != want {
			t.Errorf("script runs for the %s call = %d, want %d", who, got, want)
		}
	}
}

// One call's error is its own; the script is loaded again when the server forgot it.
func TestScriptBatcherErrorsAndReload(t *testing.T) {
	b, rdb, g := newBatchTest(t)
	ctx := context.Background()
	key := "batch:" + t.Name()
	close(g.open)

	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			arg := "fine"
			if i == 3 {
				arg = "fail"
			}
			errs[i] = echoScript.run(ctx, b, []string{key}, arg).Err()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 3) != (err != nil) {
			t.Errorf("call %d = %v", i, err)
		}
	}

	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := echoScript.run(ctx, b, []string{key}, "after a flush").Text(); err != nil || got != "after a flush" {
		t.Errorf("a call after SCRIPT FLUSH = %q, %v", got, err)
	}
}

// Many callers at once, some of them giving up: every answer is its caller's own (run with
// -race).
func TestScriptBatcherConcurrent(t *testing.T) {
	b, _, g := newBatchTest(t)
	close(g.open)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%7)*time.Millisecond*20)
				want := fmt.Sprint(w, "/", i)
				got, err := echoScript.run(ctx, b, []string{fmt.Sprint("batch:", t.Name(), w)}, want).Text()
				cancel()
				if err == nil && got != want {
					t.Errorf("answer %q, want %q", got, want)
					return
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("call = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if trips, calls := len(g.roundTrips()), 8*200; trips > calls {
		t.Errorf("%d round trips for %d calls", trips, calls)
	}
}
