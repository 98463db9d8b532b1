package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
)

// Coaching keeps coach links, practices, practice notes and the pending markers of
// coaching (keys in keys.go). It implements bot.CoachStore, and bot.Eraser and
// bot.ExportPart for that data. Get one from Store.Coaching.
type Coaching struct{ s *Store }

var (
	_ bot.CoachStore = (*Coaching)(nil)
	_ bot.Eraser     = (*Coaching)(nil)
	_ bot.ExportPart = (*Coaching)(nil)
)

// Coaching returns the coaching store over s's client, keys and encryption.
func (s *Store) Coaching() *Coaching { return &Coaching{s: s} }

// coachPendingTTL bounds a pending marker; the engine applies shorter limits itself.
const coachPendingTTL = 24 * time.Hour

// maxNotes bounds the notes read at once; retention keeps real numbers far below.
const maxNotes = 10000

type coachKeys struct {
	links, practices, clients, notes, pending, ended string
	tag                                              string
}

// coachPendingSuffix ends a user's coaching marker key (turnKeys has it too).
const coachPendingSuffix = ":coach:pending"

func (k coachKeys) note(id string) string { return k.tag + ":pn:" + id }

func coachKeysFor(u bot.UserRef) (coachKeys, error) {
	if u.Platform == "" || u.Workspace == "" || u.User == "" {
		return coachKeys{}, errEmptyComponent
	}
	tag := KeyPrefix(u)
	// Cut from one string, as keysFor's.
	const links, practices, clients, notes, pending, ended = ":coach:links", ":coach:prac", ":coach:clients", ":pnotes", coachPendingSuffix, ":coach:ended"
	all := tag + links + tag + practices + tag + clients + tag + notes + tag + pending + tag + ended
	c := keyCutter{all: all, tag: len(tag)}
	return coachKeys{
		tag:       all[:len(tag)],
		links:     c.next(links),
		practices: c.next(practices),
		clients:   c.next(clients),
		notes:     c.next(notes),
		pending:   c.next(pending),
		ended:     c.next(ended),
	}, nil
}

// ClientData implements bot.CoachStore.
func (c *Coaching) ClientData(ctx context.Context, u bot.UserRef) (bot.ClientData, error) {
	k, err := coachKeysFor(u)
	if err != nil {
		return bot.ClientData{}, fmt.Errorf("storage: load coaching %s: %w", u, err)
	}
	d, _, err := c.readClient(ctx, c.s.rdb, k)
	if err != nil {
		return bot.ClientData{}, fmt.Errorf("storage: load coaching %s: %w", u, err)
	}
	return d, nil
}

// plainFields are the stored plaintexts of a client's records, to tell what changed.
type plainFields struct{ links, practices map[string][]byte }

func (c *Coaching) readClient(ctx context.Context, r redis.Cmdable, k coachKeys) (bot.ClientData, plainFields, error) {
	d := bot.ClientData{Links: map[string]bot.CoachLink{}, Practices: map[string]bot.Practice{}}
	pf := plainFields{links: map[string][]byte{}, practices: map[string][]byte{}}
	links, err := r.HGetAll(ctx, k.links).Result()
	if err != nil {
		return d, pf, err
	}
	for id, v := range links {
		var l bot.CoachLink
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			return d, pf, fmt.Errorf("link %s: %w", id, sanitizeJSONError(err))
		}
		d.Links[id] = l
		pf.links[id] = []byte(v)
	}
	ps, err := r.HGetAll(ctx, k.practices).Result()
	if err != nil {
		return d, pf, err
	}
	for id, v := range ps {
		plain, err := c.s.crypt.open([]byte(v), k.practices+"#"+id)
		if err != nil {
			return d, pf, fmt.Errorf("practice %s: %w", id, err)
		}
		var p bot.Practice
		if err := json.Unmarshal(plain, &p); err != nil {
			return d, pf, fmt.Errorf("practice %s: %w", id, sanitizeJSONError(err))
		}
		d.Practices[id] = p
		pf.practices[id] = plain
	}
	return d, pf, nil
}

// maxClientTries bounds the optimistic retries of one UpdateClient. An attempt fails only
// when another writer committed a change to the client's coaching data during it, so each
// failure is another writer's success; updates within one Store wait in line (clientLocks),
// so only other replicas compete, and the bound is generous, as for turns, so a burst
// settles instead of failing the loser.
const maxClientTries = maxTurnTries

// UpdateClient implements bot.CoachStore with WATCH on the client's two hashes (one hash
// slot): a concurrent change fails the EXEC and fn runs again on fresh data. Updates of one
// client within this Store are serialized first: under a burst (a reminder, a click and a
// coach's assignment at once; many goroutines in a test) optimistic retries alone would
// mostly read, compute and lose, and a loser descheduled on a busy machine could lose
// every time until it gave up.
func (c *Coaching) UpdateClient(ctx context.Context, u bot.UserRef, fn func(*bot.ClientData) error) error {
	k, err := coachKeysFor(u)
	if err != nil {
		return fmt.Errorf("storage: update coaching %s: %w", u, err)
	}
	lock, err := c.s.clientLocks.lock(ctx, k.tag)
	if err != nil {
		return fmt.Errorf("storage: update coaching %s: wait for the previous update: %w", u, err)
	}
	defer func() { <-lock }()
	for try := 1; try <= maxClientTries; try++ {
		var fnErr error
		err := c.s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			d, before, err := c.readClient(ctx, tx, k)
			if err != nil {
				return err
			}
			if err := fn(&d); err != nil {
				fnErr = err
				return err
			}
			type write struct {
				key, field string
				val        []byte // nil: delete
			}
			var writes []write
			for id := range before.links {
				if _, ok := d.Links[id]; !ok {
					writes = append(writes, write{k.links, id, nil})
				}
			}
			for id, l := range d.Links {
				v, err := json.Marshal(l)
				if err != nil {
					return err
				}
				if !bytes.Equal(v, before.links[id]) {
					writes = append(writes, write{k.links, id, v})
				}
			}
			for id := range before.practices {
				if _, ok := d.Practices[id]; !ok {
					writes = append(writes, write{k.practices, id, nil})
				}
			}
			for id, p := range d.Practices {
				v, err := json.Marshal(p)
				if err != nil {
					return err
				}
				if bytes.Equal(v, before.practices[id]) {
					continue
				}
				sealed, err := c.s.crypt.seal(v, k.practices+"#"+id)
				if err != nil {
					return err
				}
				writes = append(writes, write{k.practices, id, sealed})
			}
			if len(writes) == 0 {
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, w := range writes {
					if w.val == nil {
						p.HDel(ctx, w.key, w.field)
					} else {
						p.HSet(ctx, w.key, w.field, w.val)
					}
				}
				p.PExpire(ctx, k.links, ProfileTTL)
				p.PExpire(ctx, k.practices, ProfileTTL)
				return nil
			})
			return err
		}, k.links, k.practices)
		if fnErr != nil {
			return fnErr
		}
		if errors.Is(err, redis.TxFailedErr) {
			if err := sleep(ctx, backoff(try)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("storage: update coaching %s: %w", u, err)
		}
		return nil
	}
	return fmt.Errorf("storage: update coaching %s: %w", u, bot.ErrConflict)
}

// CoachEntries implements bot.CoachStore.
func (c *Coaching) CoachEntries(ctx context.Context, coach bot.UserRef) ([]bot.CoachEntry, error) {
	k, err := coachKeysFor(coach)
	if err != nil {
		return nil, fmt.Errorf("storage: load coach index %s: %w", coach, err)
	}
	m, err := c.s.rdb.HGetAll(ctx, k.clients).Result()
	if err != nil {
		return nil, fmt.Errorf("storage: load coach index %s: %w", coach, err)
	}
	out := make([]bot.CoachEntry, 0, len(m))
	for id, v := range m {
		var e bot.CoachEntry
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			return nil, fmt.Errorf("storage: load coach index %s: entry %s: %w", coach, id, sanitizeJSONError(err))
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LinkID < out[j].LinkID })
	return out, nil
}

// PutCoachEntry implements bot.CoachStore.
func (c *Coaching) PutCoachEntry(ctx context.Context, coach bot.UserRef, e bot.CoachEntry) error {
	k, err := coachKeysFor(coach)
	if err != nil {
		return fmt.Errorf("storage: save coach index %s: %w", coach, err)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("storage: save coach index %s: %w", coach, err)
	}
	_, err = c.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k.clients, e.LinkID, v)
		p.PExpire(ctx, k.clients, ProfileTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save coach index %s: %w", coach, err)
	}
	return nil
}

// AddNote implements bot.CoachStore. The note expires the retention after its creation;
// notes older than that are trimmed from the index on every add.
func (c *Coaching) AddNote(ctx context.Context, u bot.UserRef, n bot.Note) error {
	k, err := coachKeysFor(u)
	if err != nil {
		return fmt.Errorf("storage: add note %s: %w", u, err)
	}
	if n.ID == "" {
		return fmt.Errorf("storage: add note %s: no id", u)
	}
	v, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("storage: add note %s: %w", u, err)
	}
	key := k.note(n.ID)
	sealed, err := c.s.crypt.seal(v, key)
	if err != nil {
		return fmt.Errorf("storage: add note %s: %w", u, err)
	}
	now := c.s.now()
	ttl := n.Created.Add(c.s.ret).Sub(now)
	if ttl <= 0 {
		return nil // already past the retention: nothing to keep
	}
	cutoff := now.Add(-c.s.ret).UnixMilli()
	_, err = c.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, sealed, ttl)
		p.ZAdd(ctx, k.notes, redis.Z{Score: float64(n.Created.UnixMilli()), Member: n.ID})
		p.ZRemRangeByScore(ctx, k.notes, "-inf", "("+strconv.FormatInt(cutoff, 10))
		p.PExpire(ctx, k.notes, c.s.ret)
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: add note %s: %w", u, err)
	}
	return nil
}

// ShareNote implements bot.CoachStore; the note keeps its expiry.
func (c *Coaching) ShareNote(ctx context.Context, u bot.UserRef, id string, shared bool) (bool, error) {
	k, err := coachKeysFor(u)
	if err != nil {
		return false, fmt.Errorf("storage: share note %s: %w", u, err)
	}
	key := k.note(id)
	v, err := c.s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: share note %s: %w", u, err)
	}
	var n bot.Note
	if err := c.s.decode(v, key, &n); err != nil {
		return false, fmt.Errorf("storage: share note %s: %w", u, err)
	}
	n.Shared = shared
	plain, err := json.Marshal(n)
	if err != nil {
		return false, fmt.Errorf("storage: share note %s: %w", u, err)
	}
	sealed, err := c.s.crypt.seal(plain, key)
	if err != nil {
		return false, fmt.Errorf("storage: share note %s: %w", u, err)
	}
	// XX: a note that expired meanwhile stays gone.
	ok, err := c.s.rdb.SetArgs(ctx, key, sealed, redis.SetArgs{Mode: "XX", KeepTTL: true}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: share note %s: %w", u, err)
	}
	return ok == "OK", nil
}

// Notes implements bot.CoachStore.
func (c *Coaching) Notes(ctx context.Context, u bot.UserRef) ([]bot.Note, error) {
	k, err := coachKeysFor(u)
	if err != nil {
		return nil, fmt.Errorf("storage: load notes %s: %w", u, err)
	}
	cutoff := c.s.now().Add(-c.s.ret).UnixMilli()
	ids, err := c.s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: k.notes, Start: strconv.FormatInt(cutoff, 10), Stop: "+inf", ByScore: true, Count: maxNotes}).Result()
	if err != nil {
		return nil, fmt.Errorf("storage: load notes %s: %w", u, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = k.note(id)
	}
	vals, err := c.s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("storage: load notes %s: %w", u, err)
	}
	out := make([]bot.Note, 0, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // expired
		}
		var n bot.Note
		if err := c.s.decode([]byte(str), keys[i], &n); err != nil {
			return nil, fmt.Errorf("storage: load notes %s: note %s: %w", u, ids[i], err)
		}
		out = append(out, n)
	}
	return out, nil
}

// Pending implements bot.CoachStore.
func (c *Coaching) Pending(ctx context.Context, u bot.UserRef) (bot.CoachPending, bool, error) {
	k, err := coachKeysFor(u)
	if err != nil {
		return bot.CoachPending{}, false, fmt.Errorf("storage: load coaching marker %s: %w", u, err)
	}
	v, err := c.s.rdb.Get(ctx, k.pending).Bytes()
	if errors.Is(err, redis.Nil) {
		return bot.CoachPending{}, false, nil
	}
	if err != nil {
		return bot.CoachPending{}, false, fmt.Errorf("storage: load coaching marker %s: %w", u, err)
	}
	var p bot.CoachPending
	if err := json.Unmarshal(v, &p); err != nil {
		return bot.CoachPending{}, false, fmt.Errorf("storage: load coaching marker %s: %w", u, sanitizeJSONError(err))
	}
	return p, true, nil
}

// SetPending implements bot.CoachStore.
func (c *Coaching) SetPending(ctx context.Context, u bot.UserRef, p bot.CoachPending) error {
	k, err := coachKeysFor(u)
	if err != nil {
		return fmt.Errorf("storage: save coaching marker %s: %w", u, err)
	}
	if p.NoteFor == "" && len(p.Offer) == 0 {
		err = c.s.rdb.Del(ctx, k.pending).Err()
	} else {
		// The user's next line may mean something else now: no turn of theirs starts from
		// this process's memory of the dialogue until it is read again (guess.go). (A
		// marker set by another process is caught by the guessed commit itself.)
		c.s.forgetGuess(u)
		var v []byte
		if v, err = json.Marshal(p); err == nil {
			err = c.s.rdb.Set(ctx, k.pending, v, coachPendingTTL).Err()
		}
	}
	if err != nil {
		return fmt.Errorf("storage: save coaching marker %s: %w", u, err)
	}
	return nil
}

// endedField names a coach in the ended hash: platform:workspace:user, escaped.
func endedField(coach bot.UserRef) string {
	return escapeComponent(coach.Platform) + ":" + escapeComponent(coach.Workspace) + ":" + escapeComponent(coach.User)
}

// Ended implements bot.CoachStore.
func (c *Coaching) Ended(ctx context.Context, u bot.UserRef) (map[bot.UserRef]time.Time, error) {
	k, err := coachKeysFor(u)
	if err != nil {
		return nil, fmt.Errorf("storage: load ended links %s: %w", u, err)
	}
	m, err := c.s.rdb.HGetAll(ctx, k.ended).Result()
	if err != nil {
		return nil, fmt.Errorf("storage: load ended links %s: %w", u, err)
	}
	out := make(map[bot.UserRef]time.Time, len(m))
	for f, v := range m {
		parts := strings.Split(f, ":")
		if len(parts) != 3 {
			continue
		}
		coach := bot.UserRef{Platform: unescapeComponent(parts[0]), Workspace: unescapeComponent(parts[1]), User: unescapeComponent(parts[2])}
		var at time.Time
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			at = time.Unix(n, 0).UTC()
		}
		out[coach] = at
	}
	return out, nil
}

// SetEnded implements bot.CoachStore.
func (c *Coaching) SetEnded(ctx context.Context, u, coach bot.UserRef, at time.Time) error {
	k, err := coachKeysFor(u)
	if err != nil {
		return fmt.Errorf("storage: save ended link %s: %w", u, err)
	}
	v := "0"
	if !at.IsZero() {
		v = strconv.FormatInt(at.Unix(), 10)
	}
	_, err = c.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k.ended, endedField(coach), v)
		p.PExpire(ctx, k.ended, ProfileTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: save ended link %s: %w", u, err)
	}
	return nil
}

// Forget implements bot.Eraser for coaching, on both sides of every link of u:
//   - as a client: each coach's index entry for the link becomes LinkGone and loses u's
//     reference; u's links, practices, notes, marker and reminder job are deleted;
//   - as a coach: the link and the practices given under it are removed from each
//     client's side (their reminders stop; the clients' own notes stay theirs), and u's
//     index is deleted.
//
// Afterwards no coaching key or value names u. It is idempotent.
func (c *Coaching) Forget(ctx context.Context, u bot.UserRef) error {
	k, err := coachKeysFor(u)
	if err != nil {
		return fmt.Errorf("storage: forget coaching %s: %w", u, err)
	}
	now := c.s.now().UTC()
	// As a client.
	links, err := c.s.rdb.HGetAll(ctx, k.links).Result()
	if err != nil {
		return fmt.Errorf("storage: forget coaching %s: %w", u, err)
	}
	for id, v := range links {
		var l bot.CoachLink
		if json.Unmarshal([]byte(v), &l) != nil || l.Coach.User == "" {
			continue
		}
		if err := c.PutCoachEntry(ctx, l.Coach, bot.CoachEntry{LinkID: id, State: bot.LinkGone, Since: now}); err != nil {
			return fmt.Errorf("storage: forget coaching %s: %w", u, err)
		}
	}
	// Links u declined or ended are gone from u's side, but the coach's index still names
	// u: scrub those entries too.
	ended, err := c.Ended(ctx, u)
	if err != nil {
		return fmt.Errorf("storage: forget coaching %s: %w", u, err)
	}
	for coach := range ended {
		es, err := c.CoachEntries(ctx, coach)
		if err != nil {
			return fmt.Errorf("storage: forget coaching %s: %w", u, err)
		}
		for _, e := range es {
			if e.Client != u {
				continue
			}
			if err := c.PutCoachEntry(ctx, coach, bot.CoachEntry{LinkID: e.LinkID, State: bot.LinkGone, Since: now}); err != nil {
				return fmt.Errorf("storage: forget coaching %s: %w", u, err)
			}
		}
	}
	// As a coach.
	entries, err := c.CoachEntries(ctx, u)
	if err != nil {
		return fmt.Errorf("storage: forget coaching %s: %w", u, err)
	}
	for _, e := range entries {
		if e.Client.User == "" {
			continue
		}
		err := c.UpdateClient(ctx, e.Client, func(d *bot.ClientData) error {
			for id, l := range d.Links {
				if l.Coach == u {
					delete(d.Links, id)
				}
			}
			for id, p := range d.Practices {
				if _, ok := d.Links[p.LinkID]; !ok && p.LinkID == e.LinkID {
					delete(d.Practices, id)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("storage: forget coaching %s: %w", u, err)
		}
		// An invitation still on offer to the client names this link: drop the offer.
		if p, ok, err := c.Pending(ctx, e.Client); err == nil && ok && len(p.Offer) > 0 {
			p.Offer = nil
			if err := c.SetPending(ctx, e.Client, p); err != nil {
				return fmt.Errorf("storage: forget coaching %s: %w", u, err)
			}
		}
	}
	// Everything of u's own.
	ids, err := c.s.rdb.ZRange(ctx, k.notes, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("storage: forget coaching %s: %w", u, err)
	}
	keys := []string{k.links, k.practices, k.clients, k.notes, k.pending, k.ended}
	for _, id := range ids {
		keys = append(keys, k.note(id))
	}
	if err := c.s.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("storage: forget coaching %s: %w", u, err)
	}
	if err := c.s.deleteJobs(ctx, u, bot.JobPractice); err != nil {
		return fmt.Errorf("storage: forget coaching %s: reminder job: %w", u, err)
	}
	return nil
}

// CoachingExport is the "coaching" section of /story export.
type CoachingExport struct {
	// AsClient: the user's links to coaches, the practices given to them with every
	// recorded completion, and their notes (private and shared).
	AsClient struct {
		Links     []bot.CoachLink `json:"links"`
		Practices []bot.Practice  `json:"practices"`
		Notes     []bot.Note      `json:"notes"`
	} `json:"as_client"`
	// AsCoach: the user's index of clients (no client data: that is the clients').
	AsCoach struct {
		Clients []bot.CoachEntry `json:"clients"`
	} `json:"as_coach"`
}

// ExportPart implements bot.ExportPart: the section "coaching".
func (c *Coaching) ExportPart(ctx context.Context, u bot.UserRef) (string, any, error) {
	const name = "coaching"
	var out CoachingExport
	d, err := c.ClientData(ctx, u)
	if err != nil {
		return name, nil, err
	}
	out.AsClient.Links = []bot.CoachLink{}
	for _, l := range d.Links {
		out.AsClient.Links = append(out.AsClient.Links, l)
	}
	sort.Slice(out.AsClient.Links, func(i, j int) bool { return out.AsClient.Links[i].Invited.Before(out.AsClient.Links[j].Invited) })
	out.AsClient.Practices = []bot.Practice{}
	for _, p := range d.Practices {
		out.AsClient.Practices = append(out.AsClient.Practices, p)
	}
	sort.Slice(out.AsClient.Practices, func(i, j int) bool {
		return out.AsClient.Practices[i].Assigned.Before(out.AsClient.Practices[j].Assigned)
	})
	if out.AsClient.Notes, err = c.Notes(ctx, u); err != nil {
		return name, nil, err
	}
	if out.AsClient.Notes == nil {
		out.AsClient.Notes = []bot.Note{}
	}
	if out.AsCoach.Clients, err = c.CoachEntries(ctx, u); err != nil {
		return name, nil, err
	}
	return name, out, nil
}
