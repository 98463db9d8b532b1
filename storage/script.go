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
// constant, and the keys go in as pointers (into the caller's slice, with run), which the
// client writes (and a cluster client hashes to a slot) like strings. A turn's commit
// builds its whole command line in one allocation (turnCmd, runArgv).
type script struct {
	sha, src any // boxed once
}

func newScript(src string) *script {
	return &script{sha: redis.NewScript(src).Hash(), src: src}
}

// processor is the part of a client a script needs (every redis.UniversalClient).
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// run runs the script with keys and args (the args as Script.Run takes them), as
// redis.Script.Run does. keys must not change until the returned command was read.
func (sc *script) run(ctx context.Context, c processor, keys []string, args ...any) *redis.Cmd {
	argv := make([]any, 3+len(keys)+len(args))
	for i := range keys {
		argv[3+i] = &keys[i]
	}
	copy(argv[3+len(keys):], args)
	return sc.runArgv(ctx, c, argv, len(keys))
}

// runArgv is run for a command line built by the caller: argv's first three places are
// left for runArgv (the command, the script and nkeys), then come nkeys keys and the args.
func (sc *script) runArgv(ctx context.Context, c processor, argv []any, nkeys int) *redis.Cmd {
	argv[0], argv[1], argv[2] = "evalsha", sc.sha, nkeys
	cmd := sc.process(ctx, c, argv, nkeys)
	if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// First use on this server (or after SCRIPT FLUSH): send the source, which also
		// loads it for the next EVALSHA.
		argv[0], argv[1] = "eval", sc.src
		cmd = sc.process(ctx, c, argv, nkeys)
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
