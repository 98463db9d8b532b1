package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage"
)

// The coaching store (bot.CoachStore) with its Eraser, ExportPart and Merger: links and
// practices on the client's side, the coach's index, notes, the pending marker and the
// re-invite record.

var (
	_ bot.CoachStore = (*storage.Coaching)(nil)
	_ bot.Eraser     = (*storage.Coaching)(nil)
	_ bot.ExportPart = (*storage.Coaching)(nil)
	_ bot.Merger     = (*storage.Coaching)(nil)
)

// linked puts an accepted link of coach and client, with one active practice, on the
// client's side and in the coach's index, as the engine does when an invitation is accepted.
func linked(t *testing.T, c bot.CoachStore, coach, client bot.UserRef, at time.Time) bot.CoachLink {
	t.Helper()
	ctx := context.Background()
	link := bot.CoachLink{ID: "l-" + randHex(t, 3), Coach: coach, Client: client, State: bot.LinkAccepted, Invited: at, Accepted: at}
	err := c.UpdateClient(ctx, client, func(d *bot.ClientData) error {
		d.Links[link.ID] = link
		d.Practices["p-"+link.ID] = bot.Practice{ID: "p-" + link.ID, LinkID: link.ID, Library: "name-the-story", Status: bot.PracticeActive, Assigned: at}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutCoachEntry(ctx, coach, bot.CoachEntry{LinkID: link.ID, Client: client, State: bot.LinkAccepted, Since: at}); err != nil {
		t.Fatal(err)
	}
	return link
}

// testCoachClientData: a client never seen has empty (not nil) maps; what UpdateClient saves
// another replica reads, sealed at rest; an error from fn (ErrNoCoachLink included) is
// returned as is and saves nothing.
func testCoachClientData(t *testing.T, h *harness) {
	key := newKey(t)
	a, b := h.store(key).Coaching(), h.store(key).Coaching()
	ctx := context.Background()
	client, coach := newUser(t), newUser(t)
	d, err := a.ClientData(ctx, client)
	if err != nil || d.Links == nil || d.Practices == nil || len(d.Links)+len(d.Practices) != 0 {
		t.Fatalf("ClientData(never seen) = %+v, %v; want empty maps", d, err)
	}
	link := linked(t, a, coach, client, h.clock.Now())
	p := bot.Practice{ID: "free", LinkID: link.ID, Text: secret, Status: bot.PracticeActive, Assigned: h.clock.Now(), Done: 3,
		Completions: []bot.Completion{{At: h.clock.Now(), Kind: "done"}}}
	if err := a.UpdateClient(ctx, client, func(d *bot.ClientData) error { d.Practices[p.ID] = p; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := b.ClientData(ctx, client)
	if err != nil || len(got.Links) != 1 || len(got.Practices) != 2 {
		t.Fatalf("ClientData from another replica = %+v, %v; want the link and two practices", got, err)
	}
	if gl := got.Links[link.ID]; !gl.Invited.Equal(link.Invited) || gl.Coach != coach || gl.Client != client || gl.State != bot.LinkAccepted {
		t.Errorf("link = %+v, want %+v", gl, link)
	}
	if gp := got.Practices["free"]; gp.Text != secret || gp.Done != 3 || len(gp.Completions) != 1 || gp.LinkID != link.ID {
		t.Errorf("practice = %+v, want %+v", gp, p)
	}
	for _, v := range rawValues(t, h.rdb, client) {
		if strings.Contains(v.value, secret) {
			t.Errorf("%s holds the coach's practice text in plaintext", v.key)
		}
	}
	for _, want := range []error{errors.New("boom"), bot.ErrNoCoachLink} {
		err := a.UpdateClient(ctx, client, func(d *bot.ClientData) error {
			delete(d.Practices, "free")
			delete(d.Links, link.ID)
			return want
		})
		if err != want {
			t.Errorf("UpdateClient = %v, want fn's error %v as is", err, want)
		}
	}
	if d, _ := b.ClientData(ctx, client); len(d.Practices) != 2 || len(d.Links) != 1 {
		t.Errorf("a failed update changed the data: %+v", d)
	}
}

// testCoachUpdateClientIsAtomic increments one practice's counter from many goroutines
// through two stores (two replicas): no increment is lost.
func testCoachUpdateClientIsAtomic(t *testing.T, h *harness) {
	ctx := context.Background()
	key := newKey(t)
	stores := []*storage.Coaching{h.store(key).Coaching(), h.store(key).Coaching()}
	u := newUser(t)
	err := stores[0].UpdateClient(ctx, u, func(d *bot.ClientData) error {
		d.Practices["p"] = bot.Practice{ID: "p", Status: bot.PracticeActive}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		c := stores[i%2]
		wg.Go(func() {
			err := c.UpdateClient(ctx, u, func(d *bot.ClientData) error {
				p := d.Practices["p"]
				p.Done++
				d.Practices["p"] = p
				return nil
			})
			if err != nil {
				t.Errorf("UpdateClient: %v", err)
			}
		})
	}
	wg.Wait()
	d, err := stores[1].ClientData(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Practices["p"].Done; got != n {
		t.Errorf("after %d concurrent increments Done = %d", n, got)
	}
}

// testCoachEntries: the coach's index holds one entry per link, replaced by PutCoachEntry,
// and belongs to that coach.
func testCoachEntries(t *testing.T, h *harness) {
	c := h.store().Coaching()
	ctx := context.Background()
	coach, other, c1, c2 := newUser(t), newUser(t), newUser(t), newUser(t)
	if es, err := c.CoachEntries(ctx, coach); err != nil || len(es) != 0 {
		t.Fatalf("CoachEntries(never seen) = %+v, %v; want none", es, err)
	}
	at := h.clock.Now().UTC()
	e1 := bot.CoachEntry{LinkID: "l1", Client: c1, State: bot.LinkPending, Since: at}
	e2 := bot.CoachEntry{LinkID: "l2", Client: c2, State: bot.LinkAccepted, Since: at.Add(time.Minute)}
	for _, e := range []bot.CoachEntry{e1, e2} {
		if err := c.PutCoachEntry(ctx, coach, e); err != nil {
			t.Fatal(err)
		}
	}
	e1.State, e1.Since = bot.LinkAccepted, at.Add(time.Hour)
	if err := c.PutCoachEntry(ctx, coach, e1); err != nil {
		t.Fatal(err)
	}
	es, err := c.CoachEntries(ctx, coach)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bot.CoachEntry{}
	for _, e := range es {
		got[e.LinkID] = e
	}
	if len(es) != 2 || got["l1"].State != bot.LinkAccepted || !got["l1"].Since.Equal(e1.Since) || got["l1"].Client != c1 ||
		got["l2"].Client != c2 || !got["l2"].Since.Equal(e2.Since) {
		t.Errorf("CoachEntries = %+v, want l1 replaced (accepted) and l2", es)
	}
	if es, _ := c.CoachEntries(ctx, other); len(es) != 0 {
		t.Errorf("another coach's index = %+v, want empty", es)
	}
}

// testCoachNotes: notes come back oldest first; a note past the retention is not kept;
// notes are sealed at rest and expire with the retention; sharing keeps the expiry; a
// missing note cannot be shared; notes belong to one user.
func testCoachNotes(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.storeCfg(storage.Config{EncryptionKeys: [][]byte{newKey(t)}, Retention: 10 * 24 * time.Hour})
	c := s.Coaching()
	u := newUser(t)
	now := h.clock.Now()
	old := bot.Note{ID: "n0", Practice: "p", Created: now.Add(-11 * 24 * time.Hour), Text: "old-note-text"}
	first := bot.Note{ID: "n1", Practice: "p", LinkID: "l1", Created: now.Add(-time.Hour), Text: "first-note-" + secret}
	second := bot.Note{ID: "n2", Practice: "p", LinkID: "l1", Created: now, Text: "second-note-" + secret}
	for _, n := range []bot.Note{second, old, first} {
		if err := c.AddNote(ctx, u, n); err != nil {
			t.Fatal(err)
		}
	}
	notes, err := c.Notes(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 || notes[0].Text != first.Text || notes[1].Text != second.Text || notes[0].Shared || notes[1].LinkID != "l1" {
		t.Fatalf("Notes = %+v, want the two fresh private ones, oldest first", notes)
	}
	for _, v := range rawValues(t, h.rdb, u) {
		if strings.Contains(v.value, secret) || strings.Contains(v.value, "old-note-text") {
			t.Errorf("%s holds a note in plaintext", v.key)
		}
	}
	key := storage.KeyPrefix(u) + ":pn:n2"
	ttl := h.rdb.TTL(ctx, key).Val()
	if ttl <= 0 || ttl > 10*24*time.Hour {
		t.Errorf("note TTL = %v, want the retention", ttl)
	}
	if ok, err := c.ShareNote(ctx, u, "n2", true); !ok || err != nil {
		t.Fatalf("ShareNote = %v, %v", ok, err)
	}
	if ttl2 := h.rdb.TTL(ctx, key).Val(); ttl2 <= 0 || ttl2 > ttl {
		t.Errorf("sharing changed the TTL from %v to %v", ttl, ttl2)
	}
	if ok, err := c.ShareNote(ctx, u, "missing", true); ok || err != nil {
		t.Errorf("ShareNote(missing) = %v, %v; want false, nil", ok, err)
	}
	if notes, _ = c.Notes(ctx, u); len(notes) != 2 || notes[0].Shared || !notes[1].Shared {
		t.Errorf("after sharing n2 Notes = %+v", notes)
	}
	if notes, _ := c.Notes(ctx, newUser(t)); len(notes) != 0 {
		t.Errorf("another user's notes = %+v, want none", notes)
	}
	// The retention passes: the index no longer offers them even before Redis expires them.
	h.clock.Add(11 * 24 * time.Hour)
	if notes, _ := c.Notes(ctx, u); len(notes) != 0 {
		t.Errorf("Notes past the retention = %+v, want none", notes)
	}
}

// testCoachPending: none until set; set replaces; the zero value removes it.
func testCoachPending(t *testing.T, h *harness) {
	c := h.store(newKey(t)).Coaching()
	ctx := context.Background()
	u := newUser(t)
	if p, ok, err := c.Pending(ctx, u); ok || err != nil || !reflect.DeepEqual(p, bot.CoachPending{}) {
		t.Fatalf("Pending(never set) = %+v, %v, %v", p, ok, err)
	}
	at := h.clock.Now().UTC()
	for _, p := range []bot.CoachPending{
		{NoteFor: "p1", At: at},
		{Offer: []flows.Choice{{ID: "practice:done:p1", Label: "Done"}}, At: at.Add(time.Minute)},
	} {
		if err := c.SetPending(ctx, u, p); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Pending(ctx, u)
		if !ok || err != nil || got.NoteFor != p.NoteFor || !got.At.Equal(p.At) || !reflect.DeepEqual(got.Offer, p.Offer) {
			t.Errorf("Pending = %+v, %v, %v; want %+v", got, ok, err, p)
		}
	}
	if err := c.SetPending(ctx, u, bot.CoachPending{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Pending(ctx, u); ok || err != nil {
		t.Errorf("Pending after setting the zero value = %v, %v; want none", ok, err)
	}
}

// testCoachEnded: the client's record of links they ended, per coach; the zero time records
// an ask (the cooldown lifted) and is kept.
func testCoachEnded(t *testing.T, h *harness) {
	c := h.store().Coaching()
	ctx := context.Background()
	u, coachA, coachB := newUser(t), newUser(t), newUser(t)
	if m, err := c.Ended(ctx, u); err != nil || len(m) != 0 {
		t.Fatalf("Ended(never set) = %v, %v; want empty", m, err)
	}
	at := h.clock.Now().UTC()
	if err := c.SetEnded(ctx, u, coachA, at); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEnded(ctx, u, coachB, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEnded(ctx, u, coachB, time.Time{}); err != nil { // u asked coachB to invite them
		t.Fatal(err)
	}
	m, err := c.Ended(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m[coachA]; len(m) != 2 || !ok || !a.Equal(at) {
		t.Errorf("Ended = %v, want coachA at %v and coachB", m, at)
	}
	if b, ok := m[coachB]; !ok || !b.IsZero() {
		t.Errorf("Ended[coachB] = %v, %v; want kept with the zero time (asked)", b, ok)
	}
	if m, _ := c.Ended(ctx, coachA); len(m) != 0 {
		t.Errorf("the coach's own Ended = %v, want empty (it is the client's record)", m)
	}
}

// testCoachForget: forgetting a client erases their side and leaves the coach's index naming
// nobody; forgetting a coach ends their links on every client's side; both are idempotent
// and leave no key of the user.
func testCoachForget(t *testing.T, h *harness) {
	c := h.store(newKey(t)).Coaching()
	ctx := context.Background()
	coach, client, other := newUser(t), newUser(t), newUser(t)
	now := h.clock.Now()
	linked(t, c, coach, client, now)
	kept := linked(t, c, other, client, now)
	if err := c.AddNote(ctx, client, bot.Note{ID: "n1", Practice: "p", Created: now, Text: "note"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPending(ctx, client, bot.CoachPending{NoteFor: "p", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEnded(ctx, client, other, now); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Forget(ctx, coach); err != nil {
			t.Fatal(err)
		}
	}
	d, err := c.ClientData(ctx, client)
	if err != nil || len(d.Links) != 1 || len(d.Practices) != 1 || d.Links[kept.ID].Coach != other {
		t.Errorf("client's data after one coach forgot = %+v, %v; want only the other coach's link and practice", d, err)
	}
	if vals := rawValues(t, h.rdb, coach); len(vals) != 0 {
		t.Errorf("after Forget the coach's keys remain: %v", vals[0].key)
	}
	for range 2 {
		if err := c.Forget(ctx, client); err != nil {
			t.Fatal(err)
		}
	}
	if vals := rawValues(t, h.rdb, client); len(vals) != 0 {
		t.Errorf("after Forget the client's keys remain: %v", vals[0].key)
	}
	es, err := c.CoachEntries(ctx, other)
	if err != nil || len(es) != 1 || es[0].Client != (bot.UserRef{}) || es[0].State != bot.LinkGone {
		t.Errorf("the other coach's index after the client forgot = %+v, %v; want one entry naming nobody, gone", es, err)
	}
	for _, v := range rawValues(t, h.rdb, other) {
		if strings.Contains(v.value, client.User) {
			t.Errorf("the other coach's %s still names the client", v.key)
		}
	}
	if n, _ := c.Notes(ctx, client); len(n) != 0 {
		t.Errorf("notes after Forget = %+v", n)
	}
}

// testCoachExport: the export part is named "coaching" and holds the user's links,
// practices, notes and, for a coach, their index; a user with nothing exports no error.
func testCoachExport(t *testing.T, h *harness) {
	c := h.store(newKey(t)).Coaching()
	ctx := context.Background()
	coach, client := newUser(t), newUser(t)
	link := linked(t, c, coach, client, h.clock.Now())
	if err := c.AddNote(ctx, client, bot.Note{ID: "n1", Practice: "p-" + link.ID, Created: h.clock.Now(), Text: "export-note-text"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		u    bot.UserRef
		want []string
	}{
		{client, []string{link.ID, "name-the-story", "export-note-text"}},
		{coach, []string{link.ID, client.User}},
		{newUser(t), nil},
	} {
		name, v, err := c.ExportPart(ctx, tc.u)
		if err != nil || name != "coaching" {
			t.Fatalf("ExportPart = %q, %v; want coaching", name, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("the export part does not encode: %v", err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("export of %s lacks %q: %s", tc.u, w, out)
			}
		}
	}
}

// testMerge: Merge moves what an old reference of a person holds (journal, profile, jobs,
// coaching on both sides) to their current one; a second merge and an empty from change
// nothing; where both hold a value, the current one's wins.
func testMerge(t *testing.T, h *harness) {
	s := h.store(newKey(t))
	c := s.Coaching()
	ctx := context.Background()
	old, cur, coach := newUser(t), newUser(t), newUser(t)
	secretTurn(t, s, old)
	if err := s.SaveProfile(ctx, old, bot.Profile{Welcomed: true, TZ: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProfile(ctx, cur, bot.Profile{TZ: "Asia/Tokyo"}); err != nil { // chosen with /story tz
		t.Fatal(err)
	}
	// A zone chosen under the old reference beats one the new one took from the platform.
	oldPlat, curPlat := newUser(t), newUser(t)
	if err := s.SaveProfile(ctx, oldPlat, bot.Profile{TZ: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProfile(ctx, curPlat, bot.Profile{TZ: "Asia/Tokyo", TZFromPlatform: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(ctx, oldPlat, curPlat); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := s.Profile(ctx, curPlat); p.TZ != "Europe/Paris" || p.TZFromPlatform {
		t.Errorf("profile after merging a chosen zone over a platform one = %+v, want the chosen Europe/Paris", p)
	}
	due := era(2103)
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobDigest, User: old}, due); err != nil {
		t.Fatal(err)
	}
	link := linked(t, c, coach, old, h.clock.Now())
	for range 2 {
		for _, m := range []bot.Merger{s, c} {
			if err := m.Merge(ctx, old, cur); err != nil {
				t.Fatalf("%T.Merge = %v", m, err)
			}
		}
	}
	if err := s.Merge(ctx, newUser(t), cur); err != nil {
		t.Errorf("Merge(from nobody) = %v", err)
	}
	if es := journal(t, s, cur, 10); len(es) != 1 || es[0].Story != secret {
		t.Errorf("journal after Merge = %+v, want the old reference's entry", es)
	}
	if p, _, _ := s.Profile(ctx, cur); p.TZ != "Asia/Tokyo" || !p.Welcomed {
		t.Errorf("profile after Merge = %+v, want the current reference's chosen zone kept and the old welcome carried over", p)
	}
	if j, d, ok, _ := s.Job(ctx, cur, bot.JobDigest); !ok || !d.Equal(due) || j.User != cur {
		t.Errorf("digest after Merge = %+v due %v (%v), want it under the current reference", j, d, ok)
	}
	if d, _ := c.ClientData(ctx, cur); d.Links[link.ID].Client != cur {
		t.Errorf("link after Merge = %+v, want it to name the current reference", d.Links[link.ID])
	}
	if es, _ := c.CoachEntries(ctx, coach); len(es) != 1 || es[0].Client != cur {
		t.Errorf("coach's index after Merge = %+v, want it to name the current reference", es)
	}
	if vals := rawValues(t, h.rdb, old); len(vals) != 0 {
		t.Errorf("after Merge the old reference keeps %s", vals[0].key)
	}
	if _, _, ok, _ := s.Job(ctx, old, bot.JobDigest); ok {
		t.Errorf("the old reference keeps its digest")
	}
	if err := s.ForgetSchedules(ctx, cur); err != nil {
		t.Fatal(err)
	}
}
