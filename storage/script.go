package storage

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// script is a Lua script run as redis.Script.Run runs it (EVALSHA, then EVAL when the
// server does not know the script yet), for the scripts of a DM answer: it builds the
// command with fewer allocations. go-redis's eval boxes every key, the command's name and
// the script's hash into a fresh []interface{} (an allocation each: about a tenth of the
// allocations of a DM answer); here the hash and source are boxed once, the name is a
// constant, and the keys go in as pointers into the caller's slice, which the client writes
// (and a cluster client hashes to a slot) like strings.
type script struct {
	s        *redis.Script
	sha, src any // boxed once
}

func newScript(src string) *script {
	s := redis.NewScript(src)
	return &script{s: s, sha: s.Hash(), src: src}
}

// processor is the part of a client a script needs (every redis.UniversalClient).
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// run runs the script with keys and args (the args as Script.Run takes them), as
// redis.Script.Run does. keys must not change until the returned command was read.
func (sc *script) run(ctx context.Context, c processor, keys []string, args ...any) *redis.Cmd {
	argv := make([]any, 3+len(keys)+len(args))
	argv[0], argv[1], argv[2] = "evalsha", sc.sha, len(keys)
	for i := range keys {
		argv[3+i] = &keys[i]
	}
	copy(argv[3+len(keys):], args)
	cmd := sc.process(ctx, c, argv, len(keys))
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// First use on this server (or after SCRIPT FLUSH): send the source, which also
		// loads it for the next EVALSHA.
		argv[0], argv[1] = "eval", sc.src
		cmd = sc.process(ctx, c, argv, len(keys))
	}
	return cmd
}

func (sc *script) process(ctx context.Context, c processor, argv []any, nkeys int) *redis.Cmd {
	cmd := redis.NewCmd(ctx, argv...)
	if nkeys > 0 {
		cmd.SetFirstKeyPos(3) // where a cluster client finds the key it routes by
	}
	_ = c.Process(ctx, cmd)
	return cmd
}
