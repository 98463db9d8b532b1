package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// This file moves a person's data from an old reference to their one stable reference
// (bot.Merger; issue 16: a Grid or Slack Connect user's commands were once keyed by the
// workspace team id while their DMs were keyed by their own team). Values are decoded under
// the old key and sealed again under the new one, since the key is the ciphertext's
// associated data. Each merge is idempotent: what it moved is deleted from the old
// reference, and a second run finds nothing. Where both references hold something, the new
// one wins (its dialogue when it is the newer, its profile fields, its jobs).

var (
	_ bot.Merger = (*Store)(nil)
	_ bot.Merger = (*Coaching)(nil)
)

// Merge implements bot.Merger for the profile, dialogue, journal and scheduled jobs.
func (s *Store) Merge(ctx context.Context, from, to bot.UserRef) error {
	if from == to {
		return nil
	}
	fk, err := keysFor(from)
	if err != nil {
		return fmt.Errorf("storage: merge %s: %w", from, err)
	}
	tk, err := keysFor(to)
	if err != nil {
		return fmt.Errorf("storage: merge into %s: %w", to, err)
	}
	s.forgetGuess(from)
	s.forgetGuess(to)
	n, err := s.rdb.Exists(ctx, fk.profile, fk.dialogue, fk.journal, fk.plan).Result()
	if err != nil {
		return fmt.Errorf("storage: merge %s: %w", from, err)
	}
	if n > 0 {
		if err := s.mergeProfile(ctx, fk, tk); err != nil {
			return fmt.Errorf("storage: merge %s: profile: %w", from, err)
		}
		if err := s.mergeDialogue(ctx, from, to, fk); err != nil {
			return fmt.Errorf("storage: merge %s: dialogue: %w", from, err)
		}
		if err := s.mergeJournal(ctx, fk, tk); err != nil {
			return fmt.Errorf("storage: merge %s: journal: %w", from, err)
		}
		if err := s.mergePlan(ctx, from, to, fk); err != nil {
			return fmt.Errorf("storage: merge %s: safety plan: %w", from, err)
		}
	}
	if err := s.mergeJobs(ctx, from, to); err != nil {
		return fmt.Errorf("storage: merge %s: jobs: %w", from, err)
	}
	return nil
}

// mergeProfile copies each profile field the new profile lacks (and a zone chosen under the
// old reference over one the new one took from the platform), then deletes the old one.
func (s *Store) mergeProfile(ctx context.Context, fk, tk userKeys) error {
	old, err := s.rdb.HGetAll(ctx, fk.profile).Result()
	if err != nil || len(old) == 0 {
		return err
	}
	_, chosen := old[fieldTZ]
	chosen = chosen && old[fieldTZPlat] != "1"
	if chosen {
		// Only over a zone the new reference took from the platform (or has none): a zone
		// chosen under the new reference wins, like every other field it holds.
		cur, err := s.rdb.HMGet(ctx, tk.profile, fieldTZ, fieldTZPlat).Result()
		if err != nil {
			return err
		}
		if tz, _ := cur[0].(string); tz != "" {
			plat, _ := cur[1].(string)
			chosen = plat == "1"
		}
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for f, v := range old {
			switch {
			case f == fieldForget:
				continue // a confirmation asked under the old reference is not carried over
			case f == fieldTZ && chosen:
				// A zone the user chose with /story tz beats one taken from the platform
				// profile under the new reference.
				p.HSet(ctx, tk.profile, f, v)
				p.HDel(ctx, tk.profile, fieldTZPlat)
				continue
			case f == fieldTZPlat && chosen:
				continue
			}
			p.HSetNX(ctx, tk.profile, f, v)
		}
		p.PExpire(ctx, tk.profile, ProfileTTL)
		return nil
	})
	if err != nil {
		return err
	}
	// Apart from the transaction: the two references hash to different slots, and a cluster
	// refuses a MULTI across slots. Merging again after a failure here copies nothing new.
	return s.rdb.Del(ctx, fk.profile).Err()
}

// mergeDialogue moves an open dialogue across when the new reference has none, or an older
// one; then the old dialogue is deleted.
func (s *Store) mergeDialogue(ctx context.Context, from, to bot.UserRef, fk userKeys) error {
	old, ok, err := s.Dialogue(ctx, from)
	if err != nil {
		return err
	}
	if ok && old.Open() {
		err := s.Turn(ctx, to, func(cur flows.State) (flows.State, *flows.Entry, error) {
			if cur.Open() && !cur.Updated.Before(old.Updated) {
				return cur, nil, nil
			}
			return old, nil, nil
		})
		if err != nil {
			return err
		}
	}
	return s.rdb.Del(ctx, fk.dialogue).Err()
}

// mergeJournal moves every journal entry, keeping its ID, creation score and expiry.
func (s *Store) mergeJournal(ctx context.Context, fk, tk userKeys) error {
	zs, err := s.rdb.ZRangeWithScores(ctx, fk.journal, 0, -1).Result()
	if err != nil {
		return err
	}
	for _, z := range zs {
		id, _ := z.Member.(string)
		from, to := fk.entry(id), tk.entry(id)
		v, err := s.rdb.Get(ctx, from).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // expired
		}
		if err != nil {
			return err
		}
		ttl, err := s.rdb.PTTL(ctx, from).Result()
		if err != nil {
			return err
		}
		if ttl <= 0 {
			ttl = s.ret
		}
		var e flows.Entry
		if err := s.decode(v, from, &e); err != nil {
			return fmt.Errorf("entry %s: %w", id, err)
		}
		plain, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("entry %s: %w", id, sanitizeJSONError(err))
		}
		sealed, err := s.crypt.seal(plain, to)
		if err != nil {
			return fmt.Errorf("entry %s: %w", id, err)
		}
		_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, to, sealed, ttl)
			p.ZAdd(ctx, tk.journal, redis.Z{Score: z.Score, Member: id})
			p.PExpire(ctx, tk.journal, s.ret)
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.rdb.Del(ctx, from).Err(); err != nil {
			return err
		}
	}
	return s.rdb.Del(ctx, fk.journal).Err()
}

// mergePlan moves the safety plan when the new reference has none.
func (s *Store) mergePlan(ctx context.Context, from, to bot.UserRef, fk userKeys) error {
	p, ok, err := s.SafetyPlan(ctx, from)
	if err != nil || !ok {
		return err
	}
	if _, has, err := s.SafetyPlan(ctx, to); err != nil {
		return err
	} else if !has {
		if err := s.SavePlan(ctx, to, p); err != nil {
			return err
		}
	}
	return s.rdb.Del(ctx, fk.plan).Err()
}

// mergeJobs moves each scheduled job the new reference does not have yet, due when it was.
func (s *Store) mergeJobs(ctx context.Context, from, to bot.UserRef) error {
	for _, k := range bot.JobKinds {
		j, due, ok, err := s.Job(ctx, from, k)
		if err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		_, _, exists, err := s.Job(ctx, to, k)
		if err != nil {
			return err
		}
		if !exists && !due.IsZero() {
			j.User = to
			if err := s.PutJob(ctx, j, due); err != nil {
				return err
			}
		}
		if err := s.DeleteJob(ctx, from, k); err != nil {
			return err
		}
	}
	return nil
}

// ForgetWorkspaceJobs removes every scheduled job of the users of one workspace (the app
// was uninstalled there) and reports how many. It scans the due and processing sets for the
// workspace's job IDs: a rare, one-off walk.
func (s *Store) ForgetWorkspaceJobs(ctx context.Context, platform, workspace string) (int, error) {
	probe, err := jobID(bot.JobCheckin, bot.UserRef{Platform: platform, Workspace: workspace, User: "x"})
	if err != nil {
		return 0, fmt.Errorf("storage: forget workspace jobs: %w", err)
	}
	// "?<platform code><workspace>:*": any kind, this workspace. Glob characters cannot
	// occur in an escaped component; the prefix is checked again after parsing.
	pattern := "?" + strings.TrimSuffix(probe[1:], "x") + "*"
	n := 0
	for _, set := range []string{schedDue, schedProc} {
		var cursor uint64
		for {
			ids, next, err := s.rdb.ZScan(ctx, set, cursor, pattern, 500).Result()
			if err != nil {
				return n, fmt.Errorf("storage: forget workspace jobs: %w", err)
			}
			for i := 0; i < len(ids); i += 2 { // member, score
				// Deleted by the scanned ID itself: a follow-up's cannot be rebuilt from
				// the parts (the compact form's entry is in its record).
				_, u, err := parseJobID(ids[i])
				if err != nil || u.Platform != platform || u.Workspace != workspace {
					continue
				}
				if err := s.deleteIDs(ctx, []string{ids[i]}); err != nil {
					return n, fmt.Errorf("storage: forget workspace jobs: %w", err)
				}
				n++
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return n, nil
}

// Merge implements bot.Merger for coaching: the client's links, practices, notes and
// marker, the coach's index, and the other side of every link, which names the person too.
func (c *Coaching) Merge(ctx context.Context, from, to bot.UserRef) error {
	if from == to {
		return nil
	}
	fk, err := coachKeysFor(from)
	if err != nil {
		return fmt.Errorf("storage: merge coaching %s: %w", from, err)
	}
	if _, err := coachKeysFor(to); err != nil {
		return fmt.Errorf("storage: merge coaching into %s: %w", to, err)
	}
	n, err := c.s.rdb.Exists(ctx, fk.links, fk.practices, fk.clients, fk.notes, fk.pending, fk.ended).Result()
	if err != nil || n == 0 {
		if err != nil {
			return fmt.Errorf("storage: merge coaching %s: %w", from, err)
		}
		return nil
	}
	wrap := func(what string, err error) error {
		return fmt.Errorf("storage: merge coaching %s: %s: %w", from, what, err)
	}
	// As a client: links and practices move, and each coach's index names the new ref.
	old, err := c.ClientData(ctx, from)
	if err != nil {
		return wrap("client", err)
	}
	if len(old.Links)+len(old.Practices) > 0 {
		err := c.UpdateClient(ctx, to, func(d *bot.ClientData) error {
			for id, l := range old.Links {
				if _, ok := d.Links[id]; !ok {
					l.Client = to
					d.Links[id] = l
				}
			}
			for id, p := range old.Practices {
				if _, ok := d.Practices[id]; !ok {
					d.Practices[id] = p
				}
			}
			return nil
		})
		if err != nil {
			return wrap("client", err)
		}
		for _, l := range old.Links {
			if err := c.renameInIndex(ctx, l.Coach, l.ID, to); err != nil {
				return wrap("coach index", err)
			}
		}
	}
	// Notes keep their IDs and expiry.
	notes, err := c.Notes(ctx, from)
	if err != nil {
		return wrap("notes", err)
	}
	for _, nt := range notes {
		ttl := nt.Created.Add(c.s.ret).Sub(c.s.now())
		if ttl <= 0 {
			continue
		}
		if err := c.AddNote(ctx, to, nt); err != nil {
			return wrap("notes", err)
		}
	}
	// The pending marker, when the new ref has none.
	if p, ok, err := c.Pending(ctx, from); err != nil {
		return wrap("marker", err)
	} else if ok {
		if _, has, err := c.Pending(ctx, to); err != nil {
			return wrap("marker", err)
		} else if !has {
			if err := c.SetPending(ctx, to, p); err != nil {
				return wrap("marker", err)
			}
		}
	}
	// Ended links (the re-invite cooldown) move with their coaches' entries renamed.
	ended, err := c.Ended(ctx, from)
	if err != nil {
		return wrap("ended links", err)
	}
	for coach, at := range ended {
		if err := c.SetEnded(ctx, to, coach, at); err != nil {
			return wrap("ended links", err)
		}
		es, err := c.CoachEntries(ctx, coach)
		if err != nil {
			return wrap("ended links", err)
		}
		for _, e := range es {
			if e.Client == from {
				e.Client = to
				if err := c.PutCoachEntry(ctx, coach, e); err != nil {
					return wrap("ended links", err)
				}
			}
		}
	}
	// As a coach: the index moves, and each client's link names the new coach ref.
	entries, err := c.CoachEntries(ctx, from)
	if err != nil {
		return wrap("coach index", err)
	}
	for _, e := range entries {
		if err := c.PutCoachEntry(ctx, to, e); err != nil {
			return wrap("coach index", err)
		}
		if e.Client.User == "" {
			continue
		}
		err := c.UpdateClient(ctx, e.Client, func(d *bot.ClientData) error {
			if l, ok := d.Links[e.LinkID]; ok && l.Coach == from {
				l.Coach = to
				d.Links[e.LinkID] = l
			}
			return nil
		})
		if err != nil {
			return wrap("client link", err)
		}
	}
	keys := []string{fk.links, fk.practices, fk.clients, fk.notes, fk.pending, fk.ended}
	for _, nt := range notes {
		keys = append(keys, fk.note(nt.ID))
	}
	if err := c.s.rdb.Del(ctx, keys...).Err(); err != nil {
		return wrap("delete", err)
	}
	return nil
}

// renameInIndex makes the coach's index entry for linkID name client.
func (c *Coaching) renameInIndex(ctx context.Context, coach bot.UserRef, linkID string, client bot.UserRef) error {
	entries, err := c.CoachEntries(ctx, coach)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.LinkID == linkID && e.Client.User != "" {
			e.Client = client
			return c.PutCoachEntry(ctx, coach, e)
		}
	}
	return nil
}
