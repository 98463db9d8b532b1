package storage

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

// The scheduler's keys (see keys.go) all carry the hash tag {sched}: they live in one slot,
// so that its scripts are atomic in a Redis Cluster too.
const (
	schedTag    = keyPrefix + "{sched}"
	schedDue    = schedTag + ":due"
	schedProc   = schedTag + ":proc"
	schedBucket = schedTag + ":j:"
	// schedBuckets is the number of job hashes. Each stays small enough (about 61 jobs at a
	// million schedules, hash-max-listpack-entries is 128) for Redis's compact listpack
	// encoding, which costs a few bytes per field instead of a hash table entry.
	schedBuckets = 16384
)

var (
	_ bot.ScheduleStore = (*Store)(nil)
	_ bot.JobQueue      = (*Store)(nil)
)

// Follow-up job IDs. A user may have several follow-ups (one per journal entry), so their
// IDs name the entry too. Two forms exist:
//
//   - compact (first byte 'F', written since the 1,000,000-follow-up benchmark missed its
//     200-byte target): jobID's <platform><workspace>:<user>, then a token of
//     followupTokenLen characters, a hash of the entry ID; the entry ID itself is the tail
//     of the job's record. For Slack IDs the member is 28 bytes, which Redis keeps in a
//     32-byte allocation in the due zset, where the legacy form's 44 take 48.
//   - legacy (first byte 'f', the kind's own byte; written by earlier versions, still
//     claimed, delivered and cancelled): jobID, ':' and the compact entry ID
//     (compactEntryID); its record has no tail.
//
// Two entries of one user whose tokens collide cannot share a job: PutJob finds the other
// entry in the record and stores the second one in the legacy form, which cannot collide.
// Lookups and cancellations therefore try both forms, and act on a compact job only when
// its record names their entry.
const followupCompactKind bot.JobKind = 'F'

const (
	followupTokenLen = 5
	// tokenAlphabet holds only bytes that escapeComponent leaves alone and that are not
	// glob characters (ForgetWorkspaceJobs scans IDs with a pattern).
	tokenAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
)

// jobIDOf is the ID of j: jobID, and for a follow-up its compact form.
func jobIDOf(j bot.Job) (string, error) {
	if j.Kind != bot.JobFollowup {
		return jobID(j.Kind, j.User)
	}
	if j.Entry == "" {
		return "", errors.New("follow-up without an entry id")
	}
	id, err := jobID(followupCompactKind, j.User)
	if err != nil {
		return "", err
	}
	return id + followupToken(j.Entry), nil
}

// followupToken is 30 bits of FNV-1a (64) of entry, in tokenAlphabet.
func followupToken(entry string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(entry); i++ {
		h ^= uint64(entry[i])
		h *= 1099511628211
	}
	var b [followupTokenLen]byte
	for i := range b {
		b[i] = tokenAlphabet[h&63]
		h >>= 6
	}
	return string(b[:])
}

// legacyFollowupID is the ID an earlier version gave the follow-up of entry.
func legacyFollowupID(u bot.UserRef, entry string) (string, error) {
	id, err := jobID(bot.JobFollowup, u)
	if err != nil {
		return "", err
	}
	e, err := compactEntryID(entry)
	if err != nil {
		return "", err
	}
	return id + ":" + e, nil
}

// followupIDs are the compact ID, the record tail that names the entry, and the legacy ID
// of the follow-up of entry.
func followupIDs(u bot.UserRef, entry string) (id, tail, legacy string, err error) {
	if id, err = jobIDOf(bot.Job{Kind: bot.JobFollowup, User: u, Entry: entry}); err != nil {
		return "", "", "", err
	}
	if tail, err = compactEntryID(entry); err != nil {
		return "", "", "", err
	}
	if legacy, err = legacyFollowupID(u, entry); err != nil {
		return "", "", "", err
	}
	return id, tail, legacy, nil
}

// compactEntryID shortens a journal entry ID ("1767225600000-00a1f3c29b7e": unix ms, '-',
// 12 hex digits) for follow-up job IDs, which a million pending check-backs repeat twice
// each: the milliseconds in base 36 (8 characters), then the hex part. Entry IDs of any
// other shape are kept whole behind a '~' (escaped, so they cannot break the ID apart).
func compactEntryID(id string) (string, error) {
	if id == "" {
		return "", errors.New("follow-up without an entry id")
	}
	ms, hexPart, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	// ParseInt also takes a sign ("+000000000000"), which would not survive the round trip.
	if ok && err == nil && len(ms) == 13 && isDigits(ms) && len(hexPart) == 12 && isLowerHex(hexPart) {
		return strconv.FormatInt(n, 36) + hexPart, nil
	}
	return "~" + escapeComponent(id), nil
}

// expandEntryID reverses compactEntryID.
func expandEntryID(c string) (string, bool) {
	if strings.HasPrefix(c, "~") {
		return unescapeComponent(c[1:]), len(c) > 1
	}
	if len(c) <= 12 {
		return "", false
	}
	n, err := strconv.ParseInt(c[:len(c)-12], 36, 64)
	if err != nil || !isLowerHex(c[len(c)-12:]) {
		return "", false
	}
	return fmt.Sprintf("%013d-%s", n, c[len(c)-12:]), true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// jobID is the compact ID of a job: kind, platform, workspace and user (and, for a
// follow-up, its entry: jobIDOf). It is the member of the due and processing sets and the
// field of the job's bucket hash.
func jobID(kind bot.JobKind, u bot.UserRef) (string, error) {
	if u.Platform == "" || u.Workspace == "" || u.User == "" {
		return "", errEmptyComponent
	}
	var b strings.Builder
	b.WriteByte(byte(kind))
	switch u.Platform {
	case "slack":
		b.WriteByte('s')
	case "discord":
		b.WriteByte('d')
	case "console":
		b.WriteByte('c')
	default:
		// '~' is escaped by escapeComponent, so it cannot start a known code's workspace.
		b.WriteString("~" + escapeComponent(u.Platform) + ":")
	}
	b.WriteString(escapeComponent(u.Workspace))
	b.WriteByte(':')
	b.WriteString(escapeComponent(u.User))
	return b.String(), nil
}

// parseJobIDOf reverses jobIDOf and legacyFollowupID. A compact follow-up ID does not name
// its entry: parseRecord fills Job.Entry in from the record.
func parseJobIDOf(id string) (bot.Job, error) {
	if strings.HasPrefix(id, string(followupCompactKind)) {
		if len(id) <= followupTokenLen {
			return bot.Job{}, fmt.Errorf("malformed job id %q", id)
		}
		_, u, err := parseJobID(id[:len(id)-followupTokenLen])
		if err != nil {
			return bot.Job{}, err
		}
		return bot.Job{Kind: bot.JobFollowup, User: u}, nil
	}
	kind, u, err := parseJobID(id)
	if err != nil || kind != bot.JobFollowup {
		return bot.Job{Kind: kind, User: u}, err
	}
	user, entry, ok := strings.Cut(u.User, ":")
	if !ok {
		return bot.Job{}, fmt.Errorf("malformed job id %q", id)
	}
	e, ok := expandEntryID(entry)
	if !ok {
		return bot.Job{}, fmt.Errorf("malformed job id %q", id)
	}
	u.User = unescapeComponent(user)
	return bot.Job{Kind: kind, User: u, Entry: e}, nil
}

// parseJobID reverses jobID. For a follow-up, the user part still holds ":<entry>", escaped
// (parseJobIDOf splits it off).
func parseJobID(id string) (bot.JobKind, bot.UserRef, error) {
	bad := fmt.Errorf("malformed job id %q", id)
	if len(id) < 4 {
		return 0, bot.UserRef{}, bad
	}
	kind := bot.JobKind(id[0])
	rest := id[2:]
	var platform string
	switch id[1] {
	case 's':
		platform = "slack"
	case 'd':
		platform = "discord"
	case 'c':
		platform = "console"
	case '~':
		p, r, ok := strings.Cut(rest, ":")
		if !ok {
			return 0, bot.UserRef{}, bad
		}
		platform, rest = unescapeComponent(p), r
	default:
		return 0, bot.UserRef{}, bad
	}
	w, u, ok := strings.Cut(rest, ":")
	if !ok || w == "" || u == "" {
		return 0, bot.UserRef{}, bad
	}
	if kind == bot.JobFollowup {
		return kind, bot.UserRef{Platform: platform, Workspace: unescapeComponent(w), User: u}, nil
	}
	return kind, bot.UserRef{Platform: platform, Workspace: unescapeComponent(w), User: unescapeComponent(u)}, nil
}

func unescapeComponent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// bucketKey is the hash that holds the record of job id (FNV-1a of the id).
func bucketKey(id string) string {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return schedBucket + strconv.FormatUint(uint64(h%schedBuckets), 36)
}

// A job's record is "<sent>,<occ>|<days><hhmm>|<until>|<tz>": sent is the occurrence last
// marked sent and occ the occurrence now scheduled, both unix seconds in base 36 (sent may
// be empty); days is the weekday bit mask in two hex digits (bit 0: Sunday); until is the
// pause date as YYYYMMDD or empty; tz the IANA zone or empty for UTC. The scripts read and
// write only the part before '|'.

// recordTail encodes the static part of j's record. A follow-up's is its entry ID in
// compactEntryID's form (its time is an instant; a legacy follow-up's record has no tail,
// its ID names the entry).
func recordTail(j bot.Job) (string, error) {
	if j.Kind == bot.JobFollowup {
		return compactEntryID(j.Entry)
	}
	mask := 0
	for d, on := range j.Checkin.Schedule.Days {
		if on {
			mask |= 1 << d
		}
	}
	until := ""
	if !j.Checkin.Until.IsZero() {
		until = j.Checkin.Until.Format("20060102")
	}
	return fmt.Sprintf("%02x%02d%02d|%s|%s", mask, j.Checkin.Schedule.Hour, j.Checkin.Schedule.Minute, until, j.TZ), nil
}

// parseRecord decodes a record into j (whose Kind and User are already set).
func parseRecord(rec string, j *bot.Job) (sent, occ string, err error) {
	head, tail, ok := strings.Cut(rec, "|")
	if !ok {
		return "", "", errors.New("malformed job record")
	}
	sent, occ, _ = strings.Cut(head, ",")
	if j.Kind == bot.JobFollowup {
		if tail != "" {
			e, ok := expandEntryID(tail)
			if !ok {
				return "", "", errors.New("malformed job record")
			}
			j.Entry = e
		}
		if j.Entry == "" {
			return "", "", errors.New("follow-up record without an entry")
		}
		return sent, occ, nil
	}
	parts := strings.Split(tail, "|")
	if len(parts) != 3 || len(parts[0]) != 6 {
		return "", "", errors.New("malformed job record")
	}
	mask, err1 := strconv.ParseUint(parts[0][:2], 16, 8)
	h, err2 := strconv.Atoi(parts[0][2:4])
	m, err3 := strconv.Atoi(parts[0][4:6])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", "", errors.New("malformed job record")
	}
	for d := range j.Checkin.Schedule.Days {
		j.Checkin.Schedule.Days[d] = mask&(1<<d) != 0
	}
	j.Checkin.Schedule.Hour, j.Checkin.Schedule.Minute = h, m
	if parts[1] != "" {
		u, err := time.Parse("20060102", parts[1])
		if err != nil {
			return "", "", errors.New("malformed job record")
		}
		j.Checkin.Until = u
	}
	j.TZ = parts[2]
	return sent, occ, nil
}

func b36(t time.Time) string { return strconv.FormatInt(t.Unix(), 36) }

func fromB36(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 36, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// putScript replaces a job: the record (keeping its sent mark), out of processing, into due.
//
//	KEYS[1] due, KEYS[2] proc, KEYS[3] bucket; ARGV[1] id, ARGV[2] record tail,
//	ARGV[3] due (unix s), ARGV[4] occurrence (base 36)
var putScript = redis.NewScript(`
local rec = redis.call('HGET', KEYS[3], ARGV[1])
local sent = ''
if rec then sent = string.match(rec, '^([^,]*),') or '' end
redis.call('HSET', KEYS[3], ARGV[1], sent .. ',' .. ARGV[4] .. '|' .. ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`)

// putFollowupScript puts a follow-up under its compact ID, unless that ID holds another
// entry's follow-up (a token collision): then it returns 0 and changes nothing. It removes
// the entry's legacy job, if any, keeping its sent mark: one job per entry.
//
//	KEYS[1] due, KEYS[2] proc, KEYS[3] bucket, KEYS[4] legacy bucket; ARGV[1] id,
//	ARGV[2] record tail (the entry), ARGV[3] due (unix s), ARGV[4] occurrence (base 36),
//	ARGV[5] legacy id
var putFollowupScript = redis.NewScript(`
local rec = redis.call('HGET', KEYS[3], ARGV[1])
local sent = ''
if rec then
  local s, tail = string.match(rec, '^([^,]*),[^|]*|(.*)$')
  if tail ~= ARGV[2] then return 0 end
  sent = s
else
  local old = redis.call('HGET', KEYS[4], ARGV[5])
  if old then sent = string.match(old, '^([^,]*),') or '' end
end
redis.call('HSET', KEYS[3], ARGV[1], sent .. ',' .. ARGV[4] .. '|' .. ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('HDEL', KEYS[4], ARGV[5])
return 1
`)

// PutJob implements bot.ScheduleStore.
func (s *Store) PutJob(ctx context.Context, j bot.Job, due time.Time) error {
	if due.IsZero() {
		return fmt.Errorf("storage: put job %s: no due time", j.User)
	}
	if j.Kind == bot.JobFollowup {
		if err := s.putFollowup(ctx, s.rdb, j, due); err != nil {
			return fmt.Errorf("storage: put job %s: %w", j.User, err)
		}
		return nil
	}
	id, err := jobIDOf(j)
	if err != nil {
		return fmt.Errorf("storage: put job %s: %w", j.User, err)
	}
	tail, err := recordTail(j)
	if err != nil {
		return fmt.Errorf("storage: put job %s: %w", j.User, err)
	}
	err = putScript.Run(ctx, s.rdb, []string{schedDue, schedProc, bucketKey(id)},
		id, tail, due.Unix(), b36(due)).Err()
	if err != nil {
		return fmt.Errorf("storage: put job %s: %w", j.User, err)
	}
	return nil
}

// putFollowup puts follow-up j under its compact ID, or under its legacy ID when the
// compact one is taken by another entry of the same user.
func (s *Store) putFollowup(ctx context.Context, c redis.Scripter, j bot.Job, due time.Time) error {
	id, tail, legacy, err := followupIDs(j.User, j.Entry)
	if err != nil {
		return err
	}
	n, err := putFollowupScript.Run(ctx, c, []string{schedDue, schedProc, bucketKey(id), bucketKey(legacy)},
		id, tail, due.Unix(), b36(due), legacy).Int()
	if err != nil || n == 1 {
		return err
	}
	return putScript.Run(ctx, c, []string{schedDue, schedProc, bucketKey(legacy)},
		legacy, "", due.Unix(), b36(due)).Err()
}

// Job implements bot.ScheduleStore. The due time is the occurrence scheduled (a delivery
// held for Do Not Disturb or a rate limit goes out a little later).
func (s *Store) Job(ctx context.Context, u bot.UserRef, k bot.JobKind) (bot.Job, time.Time, bool, error) {
	id, err := jobID(k, u)
	if err != nil {
		return bot.Job{}, time.Time{}, false, fmt.Errorf("storage: load job %s: %w", u, err)
	}
	rec, err := s.rdb.HGet(ctx, bucketKey(id), id).Result()
	if errors.Is(err, redis.Nil) {
		return bot.Job{}, time.Time{}, false, nil
	}
	if err != nil {
		return bot.Job{}, time.Time{}, false, fmt.Errorf("storage: load job %s: %w", u, err)
	}
	j := bot.Job{Kind: k, User: u}
	_, occ, err := parseRecord(rec, &j)
	if err != nil {
		return bot.Job{}, time.Time{}, false, fmt.Errorf("storage: load job %s: %w", u, err)
	}
	due, _ := fromB36(occ)
	return j, due, true, nil
}

// DeleteJob implements bot.ScheduleStore.
func (s *Store) DeleteJob(ctx context.Context, u bot.UserRef, k bot.JobKind) error {
	if err := s.deleteJobs(ctx, u, k); err != nil {
		return fmt.Errorf("storage: delete job %s: %w", u, err)
	}
	return nil
}

func (s *Store) deleteJobs(ctx context.Context, u bot.UserRef, kinds ...bot.JobKind) error {
	ids := make([]string, 0, len(kinds))
	for _, k := range kinds {
		id, err := jobID(k, u)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	return s.deleteIDs(ctx, ids)
}

// deleteIDs removes jobs by ID from the due and processing sets and their buckets, in one
// MULTI (one slot: every scheduler key has the {sched} tag).
func (s *Store) deleteIDs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, schedDue, anys(ids)...)
		p.ZRem(ctx, schedProc, anys(ids)...)
		for _, id := range ids {
			p.HDel(ctx, bucketKey(id), id)
		}
		return nil
	})
	return err
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// FollowupsDue implements bot.ScheduleStore: one pipeline of two HGETs per entry (the
// compact and the legacy ID).
func (s *Store) FollowupsDue(ctx context.Context, u bot.UserRef, entries []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	if len(entries) == 0 {
		return out, nil
	}
	type lookup struct{ id, tail, legacy string }
	ls := make([]lookup, len(entries))
	for i, e := range entries {
		id, tail, legacy, err := followupIDs(u, e)
		if err != nil {
			return nil, fmt.Errorf("storage: follow-ups of %s: %w", u, err)
		}
		ls[i] = lookup{id, tail, legacy}
	}
	cmds := make([]*redis.StringCmd, 2*len(ls))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, l := range ls {
			cmds[2*i] = p.HGet(ctx, bucketKey(l.id), l.id)
			cmds[2*i+1] = p.HGet(ctx, bucketKey(l.legacy), l.legacy)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("storage: follow-ups of %s: %w", u, err)
	}
	for i, cmd := range cmds {
		rec, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("storage: follow-ups of %s: %w", u, err)
		}
		l := ls[i/2]
		j := bot.Job{Kind: bot.JobFollowup}
		if i%2 == 1 {
			j.Entry = entries[i/2] // a legacy record has no tail
		} else if _, tail, _ := strings.Cut(rec, "|"); tail != l.tail {
			continue // another entry's follow-up under a colliding token
		}
		sent, occ, err := parseRecord(rec, &j)
		if err != nil {
			continue
		}
		if sent != "" && sent == occ {
			continue // sent, finishing: no longer pending
		}
		if t, ok := fromB36(occ); ok {
			out[entries[i/2]] = t
		}
	}
	return out, nil
}

// deleteFollowupsScript removes follow-ups: for each entry, the compact job when its record
// names the entry, and the legacy job.
//
//	KEYS[1] due, KEYS[2] proc, then per entry KEYS[2+2i-1] bucket, KEYS[2+2i] legacy bucket;
//	per entry ARGV[3i-2] id, ARGV[3i-1] record tail, ARGV[3i] legacy id
var deleteFollowupsScript = redis.NewScript(`
for i = 1, #ARGV / 3 do
  local id, tail, legacy = ARGV[3*i-2], ARGV[3*i-1], ARGV[3*i]
  local bucket, lbucket = KEYS[1+2*i], KEYS[2+2*i]
  local rec = redis.call('HGET', bucket, id)
  if rec and string.match(rec, '^[^|]*|(.*)$') == tail then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', bucket, id)
  end
  redis.call('ZREM', KEYS[1], legacy)
  redis.call('ZREM', KEYS[2], legacy)
  redis.call('HDEL', lbucket, legacy)
end
return 1
`)

// DeleteFollowups implements bot.ScheduleStore: one script, atomic (one slot).
func (s *Store) DeleteFollowups(ctx context.Context, u bot.UserRef, entries ...string) error {
	if len(entries) == 0 {
		return nil
	}
	keys := make([]string, 0, 2+2*len(entries))
	args := make([]any, 0, 3*len(entries))
	keys = append(keys, schedDue, schedProc)
	for _, e := range entries {
		id, tail, legacy, err := followupIDs(u, e)
		if err != nil {
			return fmt.Errorf("storage: cancel follow-ups of %s: %w", u, err)
		}
		keys = append(keys, bucketKey(id), bucketKey(legacy))
		args = append(args, id, tail, legacy)
	}
	if err := deleteFollowupsScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("storage: cancel follow-ups of %s: %w", u, err)
	}
	return nil
}

// ForgetSchedules erases every job of u (check-in, snooze, digest): afterwards no scheduler
// key holds u's IDs. It is part of /story forget.
func (s *Store) ForgetSchedules(ctx context.Context, u bot.UserRef) error {
	if err := s.deleteJobs(ctx, u, bot.JobKinds...); err != nil {
		return fmt.Errorf("storage: forget schedules %s: %w", u, err)
	}
	return nil
}

// claimScript moves up to n due jobs into processing under a lease. The processing score is
// the lease's end in unix ms plus a random part: the claim's token.
//
//	KEYS[1] due, KEYS[2] proc; ARGV[1] now (unix s), ARGV[2] n, ARGV[3] token
var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #ids, 2 do
  redis.call('ZREM', KEYS[1], ids[i])
  redis.call('ZADD', KEYS[2], ARGV[3], ids[i])
end
return ids
`)

// Claim implements bot.JobQueue: one script, then one pipelined read of the records.
func (s *Store) Claim(ctx context.Context, now time.Time, n int, lease time.Time) ([]bot.Claim, error) {
	token := lease.UnixMilli()*1000 + mrand.Int64N(1000) // exact in a double up to 2^53
	res, err := claimScript.Run(ctx, s.rdb, []string{schedDue, schedProc}, now.Unix(), n, token).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("storage: claim jobs: %w", err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, 0, len(res)/2)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < len(res); i += 2 {
			cmds = append(cmds, p.HGet(ctx, bucketKey(res[i]), res[i]))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		// The jobs stay in processing; the reaper returns them after the lease.
		return nil, fmt.Errorf("storage: claim jobs: read records: %w", err)
	}
	out := make([]bot.Claim, 0, len(cmds))
	for i, cmd := range cmds {
		id := res[2*i]
		score, _ := strconv.ParseFloat(res[2*i+1], 64)
		job, err := parseJobIDOf(id)
		rec, rerr := cmd.Result()
		if err != nil || rerr != nil {
			// Erased or corrupt: drop it from processing so it does not come back.
			s.log.Warn("storage: dropping unreadable job", "job", id)
			s.rdb.ZRem(ctx, schedProc, id)
			continue
		}
		c := bot.Claim{Job: job, Due: time.Unix(int64(score), 0), Lease: lease, Token: token, ID: id}
		sent, occ, err := parseRecord(rec, &c.Job)
		if err != nil {
			s.log.Warn("storage: dropping unreadable job", "job", id)
			s.rdb.ZRem(ctx, schedProc, id)
			continue
		}
		c.Occurrence, _ = fromB36(occ)
		c.Sent = sent != "" && sent == occ
		out = append(out, c)
	}
	return out, nil
}

// markScript: KEYS[1] proc, KEYS[2] bucket; ARGV[1] id, ARGV[2] token, ARGV[3] occurrence
var markScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) ~= tonumber(ARGV[2]) then return 0 end
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local sent, occ, rest = string.match(rec, '^([^,]*),([^|]*)(|.*)$')
if occ ~= ARGV[3] or sent == occ then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], occ .. ',' .. occ .. rest)
return 1
`)

// claimID is the ID c was claimed under.
func claimID(c bot.Claim) (string, error) {
	if c.ID != "" {
		return c.ID, nil
	}
	return jobIDOf(c.Job)
}

// MarkSent implements bot.JobQueue.
func (s *Store) MarkSent(ctx context.Context, c bot.Claim) (bool, error) {
	id, err := claimID(c)
	if err != nil {
		return false, fmt.Errorf("storage: mark job %s: %w", c.Job.User, err)
	}
	n, err := markScript.Run(ctx, s.rdb, []string{schedProc, bucketKey(id)}, id, c.Token, b36(c.Occurrence)).Int()
	if err != nil {
		return false, fmt.Errorf("storage: mark job %s: %w", c.Job.User, err)
	}
	return n == 1, nil
}

// releaseScript ends a claim if it is still the caller's.
//
//	KEYS[1] proc, KEYS[2] due, KEYS[3] bucket; ARGV[1] id, ARGV[2] token,
//	ARGV[3] due (unix s; "" removes the job), ARGV[4] new occurrence ("" keeps it),
//	ARGV[5] "1": clear the sent mark of the current occurrence
var releaseScript = redis.NewScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then return 1 end
local sent, occ, rest = string.match(rec, '^([^,]*),([^|]*)(|.*)$')
if ARGV[5] == '1' and sent == occ then sent = '' end
if ARGV[4] ~= '' then occ = ARGV[4] end
redis.call('HSET', KEYS[3], ARGV[1], sent .. ',' .. occ .. rest)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

func (s *Store) release(ctx context.Context, c bot.Claim, due time.Time, occ string, unmark bool) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	dueArg, um := "", "0"
	if !due.IsZero() {
		dueArg = strconv.FormatInt(due.Unix(), 10)
	}
	if unmark {
		um = "1"
	}
	return releaseScript.Run(ctx, s.rdb, []string{schedProc, schedDue, bucketKey(id)}, id, c.Token, dueArg, occ, um).Err()
}

// Finish implements bot.JobQueue.
func (s *Store) Finish(ctx context.Context, c bot.Claim, next time.Time) error {
	occ := ""
	if !next.IsZero() {
		occ = b36(next)
	}
	if err := s.release(ctx, c, next, occ, false); err != nil {
		return fmt.Errorf("storage: finish job %s: %w", c.Job.User, err)
	}
	return nil
}

// Retry implements bot.JobQueue.
func (s *Store) Retry(ctx context.Context, c bot.Claim, at time.Time, unmark bool) error {
	if at.IsZero() {
		return fmt.Errorf("storage: retry job %s: no time", c.Job.User)
	}
	if err := s.release(ctx, c, at, "", unmark); err != nil {
		return fmt.Errorf("storage: retry job %s: %w", c.Job.User, err)
	}
	return nil
}

// reapScript: KEYS[1] proc, KEYS[2] due; ARGV[1] now as a token (lease end ms * 1000), ARGV[2] n
var reapScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #ids, 2 do
  redis.call('ZREM', KEYS[1], ids[i])
  redis.call('ZADD', KEYS[2], math.floor(tonumber(ids[i+1]) / 1000000), ids[i])
end
return #ids / 2
`)

// Reap implements bot.JobQueue.
func (s *Store) Reap(ctx context.Context, now time.Time, n int) (int, error) {
	k, err := reapScript.Run(ctx, s.rdb, []string{schedProc, schedDue}, now.UnixMilli()*1000, n).Int()
	if err != nil {
		return 0, fmt.Errorf("storage: reap jobs: %w", err)
	}
	return k, nil
}

// JobAt is a job and its next due time, for PutJobs.
type JobAt struct {
	Job bot.Job
	Due time.Time
}

// PutJobs is PutJob for many jobs in one pipeline: for loading and migrations. A
// follow-up whose compact ID collides is put again, alone, in its legacy form.
func (s *Store) PutJobs(ctx context.Context, jobs []JobAt) error {
	for _, sc := range []*redis.Script{putScript, putFollowupScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("storage: put jobs: %w", err)
		}
	}
	fus := make(map[int]*redis.Cmd)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ja := range jobs {
			if ja.Job.Kind == bot.JobFollowup {
				id, tail, legacy, err := followupIDs(ja.Job.User, ja.Job.Entry)
				if err != nil {
					return err
				}
				fus[i] = putFollowupScript.EvalSha(ctx, p, []string{schedDue, schedProc, bucketKey(id), bucketKey(legacy)},
					id, tail, ja.Due.Unix(), b36(ja.Due), legacy)
				continue
			}
			id, err := jobIDOf(ja.Job)
			if err != nil {
				return err
			}
			tail, err := recordTail(ja.Job)
			if err != nil {
				return err
			}
			putScript.EvalSha(ctx, p, []string{schedDue, schedProc, bucketKey(id)},
				id, tail, ja.Due.Unix(), b36(ja.Due))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: put jobs: %w", err)
	}
	for i, cmd := range fus {
		if n, _ := cmd.Int(); n == 0 {
			if err := s.putFollowup(ctx, s.rdb, jobs[i].Job, jobs[i].Due); err != nil {
				return fmt.Errorf("storage: put jobs: %w", err)
			}
		}
	}
	return nil
}

// Backlog returns how many scheduled jobs are due at now and not yet claimed, and how many
// are claimed and in flight: the scheduler's queue depth, for metrics. Two O(log n) counts.
func (s *Store) Backlog(ctx context.Context, now time.Time) (due, inFlight int64, err error) {
	pipe := s.rdb.Pipeline()
	d := pipe.ZCount(ctx, schedDue, "-inf", strconv.FormatInt(now.Unix(), 10))
	p := pipe.ZCard(ctx, schedProc)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, fmt.Errorf("storage: scheduler backlog: %w", err)
	}
	return d.Val(), p.Val(), nil
}
