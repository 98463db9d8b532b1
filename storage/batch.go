package storage

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// scriptBatcher sends the scripts of concurrent turns to Redis together, as one pipeline:
// one write and one read on each side instead of one of each per turn. Those system calls
// (and the wake-ups they cause) were the largest share of both storybot's and Redis's CPU
// in the peer kit's DM load, where storybot and Redis share one core; under that load a
// batch carries about four turns.
//
// Nothing waits for company: a call that finds no batch being sent starts a goroutine that
// sends one at once, so a lone turn costs a goroutine hop more than before. Calls that
// arrive while a batch is out go in the next one, sent as soon as that one is answered; at
// most one batch is out at a time (a Redis server runs one command at a time anyway; a
// cluster client splits a batch by node itself). Before taking a batch the sender yields
// once, so that the goroutines already runnable (requests read, turns computed) can add
// their calls: on one CPU that turned batches of 1.7 calls into batches of 4.
//
// Each caller waits only until its own context is done. A call whose context ends while
// its batch is out returns ctx.Err(), as go-redis does when a read times out: the script
// may have run or not, which every caller already handles (a turn's commit is recorded
// with its event's done mark; a commit checks the version it read). A batch is sent with
// the latest deadline of its calls and none of their cancellations, so a caller that went
// away does not fail the others; go-redis's read timeout still bounds each batch.
//
// go-redis (v9.23) ships an AutoPipeliner that batches commands the same way, and more
// (shards, a full-duplex mode, a cluster router). It is not used here yet: its API is
// marked experimental, and its blocking face (Process) waits for the batch whatever the
// caller's context says, so a caller's deadline would not hold; its deferred face with
// AutoFuture.WaitContext would, and is the piece to move to once that API settles (the
// tests in batch_test.go say what it must keep).
type scriptBatcher struct {
	rdb redis.UniversalClient

	mu       sync.Mutex
	pending  []*batchCall
	spare    []*batchCall // the slice of the batch sent last, for the next
	flushing bool         // a goroutine is sending batches
}

// batchCall is one script call in a batch. The batch runs a command of its own (sent),
// copied into the caller's when the caller still waits: a caller whose context ended has
// returned its command already, and the batch must not write into it after that.
type batchCall struct {
	ctx   context.Context
	sent  *redis.Cmd
	own   *redis.Cmd    // the caller's
	state atomic.Int32  // callWaiting, callAnswered or callGone
	done  chan struct{} // one value when the call was answered (or dropped)
}

const (
	callWaiting = iota
	callAnswered
	callGone
)

// batchCalls are the calls whose callers saw them answered, for reuse.
var batchCalls = sync.Pool{New: func() any { return &batchCall{done: make(chan struct{}, 1)} }}

var _ processor = (*scriptBatcher)(nil)

// Process implements processor (what script.run needs): a *redis.Cmd goes in the next
// batch; anything else is sent on its own. What cmd's arguments hold or point to must not
// change until the batch was sent, which can be after Process returned ctx's error: the
// callers pass keys and arguments made for the call (or strings never changed).
func (b *scriptBatcher) Process(ctx context.Context, cmd redis.Cmder) error {
	own, ok := cmd.(*redis.Cmd)
	if !ok {
		return b.rdb.Process(ctx, cmd)
	}
	if err := ctx.Err(); err != nil {
		own.SetErr(err)
		return err
	}
	args := own.Args()
	sent := redis.NewCmd(ctx, args...)
	if len(args) > 3 {
		// An EVALSHA with keys, as script.process sets it: where a cluster client finds
		// the key it routes by.
		sent.SetFirstKeyPos(3)
	}
	c := batchCalls.Get().(*batchCall)
	c.ctx, c.sent, c.own = ctx, sent, own
	c.state.Store(callWaiting)
	b.mu.Lock()
	b.pending = append(b.pending, c)
	start := !b.flushing
	b.flushing = true
	b.mu.Unlock()
	if start {
		go b.flush()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callWaiting, callGone) {
			// The batch still holds c and will signal done (buffered) when it is answered
			// or dropped; c is left to the collector rather than reused.
			own.SetErr(ctx.Err())
			return ctx.Err()
		}
		<-c.done // answered just now: own is filled in
	}
	c.ctx, c.sent, c.own = nil, nil, nil
	batchCalls.Put(c)
	return own.Err()
}

// flush sends batches until no call is waiting.
func (b *scriptBatcher) flush() {
	for {
		runtime.Gosched() // let the calls that are about to be made join this batch
		b.mu.Lock()
		batch := b.pending
		if len(batch) == 0 {
			b.flushing = false
			b.mu.Unlock()
			return
		}
		b.pending = b.spare[:0]
		b.mu.Unlock()

		b.send(batch)
		for i, c := range batch {
			batch[i] = nil // the caller may reuse c once it is answered
			if c.state.CompareAndSwap(callWaiting, callAnswered) {
				c.own.SetVal(c.sent.Val())
				c.own.SetErr(c.sent.Err())
			}
			c.done <- struct{}{}
		}
		b.mu.Lock()
		b.spare = batch[:0]
		b.mu.Unlock()
	}
}

// send runs one batch. A call whose caller is gone already is not sent.
func (b *scriptBatcher) send(batch []*batchCall) {
	var (
		first    context.Context
		deadline time.Time
		open     bool // a call without a deadline: go-redis's read timeout alone bounds it
		cmds     = make([]redis.Cmder, 0, len(batch))
	)
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.sent.SetErr(err)
			continue
		}
		if first == nil {
			first = c.ctx
		}
		if d, ok := c.ctx.Deadline(); !ok {
			open = true
		} else if d.After(deadline) {
			deadline = d
		}
		cmds = append(cmds, c.sent)
	}
	if len(cmds) == 0 {
		return
	}
	ctx := context.WithoutCancel(first)
	if !open {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if len(cmds) == 1 {
		_ = b.rdb.Process(ctx, cmds[0])
		return
	}
	_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range cmds {
			_ = p.Process(ctx, c)
		}
		return nil
	})
}
