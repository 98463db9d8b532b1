package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// SchemaVersion is the version of the data layout this build writes (keys.go). It goes up
// when a change needs more than "old shapes still decode": a new build may then migrate older
// data at start, and an older build refuses to run against it instead of misreading it.
//
//	sb:schema  string, no TTL: the highest SchemaVersion any build has run against this Redis.
const SchemaVersion = 1

const schemaKey = keyPrefix + "schema"

// ErrSchemaTooNew is returned by CheckSchema when the data was written by a newer build.
var ErrSchemaTooNew = errors.New("storage: the data in Redis is from a newer storybot")

// CheckSchema reads the stored schema version. A newer one than this build's is an error
// (run the newer build, or restore a backup taken before the upgrade); an older one or none
// is raised to this build's, which is safe because every version so far reads the shapes of
// the ones before it. It returns the version found (0: none, a new or pre-versioning store).
func (s *Store) CheckSchema(ctx context.Context) (int, error) {
	// One script: replicas starting together with different versions cannot lower it.
	found, err := raiseSchema.Run(ctx, s.rdb, []string{schemaKey}, SchemaVersion).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("storage: read schema version: %w", err)
	}
	if found > SchemaVersion {
		return found, fmt.Errorf("%w: schema version %d, this build knows up to %d. Run the newer storybot (see the CHANGELOG), or restore the backup taken before the upgrade", ErrSchemaTooNew, found, SchemaVersion)
	}
	return found, nil
}

// raiseSchema returns the stored version (0 when none) and raises it to ARGV[1] when lower.
var raiseSchema = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local want = tonumber(ARGV[1])
if cur < want then redis.call('SET', KEYS[1], want) end
return cur`)
