// Package storetest is a conformance suite for storybot's Redis stores, in the manner of
// testing/slogtest: Run exercises the behaviour package bot relies on (atomic turns, journal
// order and retention, profiles, dedupe, encryption at rest and key rotation) against any
// Redis a test supplies — a real redis-server, the embedded miniredis, a cluster.
//
// The suite takes a Redis client rather than a ready store because several of its checks
// need several stores over the same data (one writes with key A, another reads with keys
// [B, A]) and need to look at the raw stored values (no plaintext at rest).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/storage"
)

// Store is what the suite tests: every store interface package bot consumes, and erasure.
type Store interface {
	bot.DialogueStore
	bot.ProfileStore
	bot.PlanStore
	bot.Deduper
	bot.EventLeases
	bot.OnceTurner
	bot.SnapshotTurner
	bot.Pinger
	bot.ScheduleStore
	bot.JobQueue
	bot.Eraser
	bot.Merger
	// ForgetSchedules erases the user's scheduled jobs (part of Forget).
	ForgetSchedules(ctx context.Context, u bot.UserRef) error
	// ForgetWorkspaceJobs is the engine's WorkspaceJobs: every job of one workspace goes.
	ForgetWorkspaceJobs(ctx context.Context, platform, workspace string) (int, error)
	// PostConsole and TakeConsole are the console's mailbox (bot/console.Mailbox).
	PostConsole(ctx context.Context, u bot.UserRef, text string) error
	TakeConsole(ctx context.Context, u bot.UserRef) ([]string, error)
	// Coaching is the coaching store over the same Redis (bot.CoachStore, and its own
	// Eraser, ExportPart and Merger).
	Coaching() *storage.Coaching
}

var _ Store = (*storage.Store)(nil)

// Run runs the suite. newClient returns a client for a Redis the test may write to; it may
// be shared between tests (every test uses users and event IDs of its own) and is called once
// per subtest.
func Run(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"EmptyState", testEmptyState},
		{"TurnSavesAndReloads", testTurnSavesAndReloads},
		{"FnErrorSavesNothing", testFnErrorSavesNothing},
		{"ZeroStateNotKept", testZeroStateNotKept},
		{"JournalOrderAndLimit", testJournalOrderAndLimit},
		{"Retention", testRetention},
		{"TTLs", testTTLs},
		{"UsersAreSeparate", testUsersAreSeparate},
		{"Profile", testProfile},
		{"MarkWelcomedOnce", testMarkWelcomedOnce},
		{"HomeOpened", testHomeOpened},
		{"FirstSeen", testFirstSeen},
		{"EventLeases", testEventLeases},
		{"ClaimSnapshot", testClaimSnapshot},
		{"TurnFromRaces", testTurnFromRaces},
		{"GuessedTurns", testGuessedTurns},
		{"GuessedTurnRaces", testGuessedTurnRaces},
		{"GuessStartsFromStored", testGuessStartsFromStored},
		{"TurnOnce", testTurnOnce},
		{"Ping", testPing},
		{"EncryptedAtRest", testEncryptedAtRest},
		{"KeyRotation", testKeyRotation},
		{"PlaintextMigration", testPlaintextMigration},
		{"WrongKey", testWrongKey},
		{"ConcurrentTurns", testConcurrentTurns},
		{"Forget", testForget},
		{"SafetyPlan", testSafetyPlan},
		{"EntryByID", testEntryByID},
		{"UpdateEntry", testUpdateEntry},
		{"UpdateEntryEncrypted", testUpdateEntryEncrypted},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Followups", testFollowups},
		{"ForgetCancelsFollowups", testForgetCancelsFollowups},
		{"ScheduleJobs", testScheduleJobs},
		{"ScheduleLifecycle", testScheduleLifecycle},
		{"ScheduleRetryUnmark", testScheduleRetryUnmark},
		{"SchedulePutAbandonsInFlight", testSchedulePutAbandonsInFlight},
		{"ScheduleClaimsOnce", testScheduleClaimsOnce},
		{"ForgetSchedules", testForgetSchedules},
		{"ForgetWorkspaceJobs", testForgetWorkspaceJobs},
		{"CoachClientData", testCoachClientData},
		{"CoachUpdateClientIsAtomic", testCoachUpdateClientIsAtomic},
		{"CoachEntries", testCoachEntries},
		{"CoachNotes", testCoachNotes},
		{"CoachPending", testCoachPending},
		{"CoachEnded", testCoachEnded},
		{"CoachForget", testCoachForget},
		{"CoachExport", testCoachExport},
		{"Merge", testMerge},
		{"ConsoleMailbox", testConsoleMailbox},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{
				rdb:   newClient(t),
				clock: fakeclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)),
			}
			tt.fn(t, h)
		})
	}
	// Event leases expire on the server's clock: real time passes.
	t.Run("EventLeaseRules", func(t *testing.T) {
		RunEventLeases(t, func(t *testing.T) (bot.EventLeases, func(time.Duration)) {
			return storage.NewStore(newClient(t), storage.Config{}), time.Sleep
		})
	})
}

type harness struct {
	rdb   redis.UniversalClient
	clock *fakeclock.Clock
}

// store returns a store over the harness's Redis with the given keys and the fake clock.
func (h *harness) store(keys ...[]byte) *storage.Store {
	return h.storeCfg(storage.Config{EncryptionKeys: keys})
}

func (h *harness) storeCfg(cfg storage.Config) *storage.Store {
	cfg.Now = h.clock.Now
	return storage.NewStore(h.rdb, cfg)
}

// newUser returns a user no other test uses. Its IDs contain ':' and '{' on purpose: they
// must not break the key layout.
func newUser(t *testing.T) bot.UserRef {
	return bot.UserRef{Platform: "test", Workspace: "W:{" + randHex(t, 4), User: "U" + randHex(t, 6)}
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newKey(t *testing.T) []byte {
	b := make([]byte, storage.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// setStory returns a TurnFunc that opens a pause at StepStory holding story, and saves
// entry when it is not nil.
func setStory(story string, entry *flows.Entry) bot.TurnFunc {
	return func(flows.State) (flows.State, *flows.Entry, error) {
		return flows.State{
			Version: flows.StateVersion,
			Flow:    flows.FlowPause,
			Step:    flows.StepStory,
			Trail:   []flows.Step{flows.StepWhat},
			Entry:   flows.Entry{Flow: flows.FlowPause, What: "what " + story, Story: story},
		}, entry, nil
	}
}

// load returns the user's stored state, read through a no-op turn.
func load(t *testing.T, s Store, u bot.UserRef) flows.State {
	t.Helper()
	var got flows.State
	err := s.Turn(context.Background(), u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		got = cur
		return cur, nil, nil
	})
	if err != nil {
		t.Fatalf("Turn(load) = %v", err)
	}
	return got
}

func journal(t *testing.T, s Store, u bot.UserRef, n int) []flows.Entry {
	t.Helper()
	es, err := s.Journal(context.Background(), u, n)
	if err != nil {
		t.Fatalf("Journal(%d) = %v", n, err)
	}
	return es
}

func stories(es []flows.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Story)
	}
	return out
}

func testEmptyState(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	if got := load(t, s, u); !reflect.DeepEqual(got, flows.State{}) {
		t.Errorf("stored state of a new user = %+v, want the zero State", got)
	}
	if got := journal(t, s, u, 5); len(got) != 0 {
		t.Errorf("Journal of a new user = %d entries, want 0", len(got))
	}
}

func testTurnSavesAndReloads(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	strength := 7
	want := flows.State{
		Version: flows.StateVersion,
		Flow:    flows.FlowReframe,
		Step:    flows.StepReframeTraps,
		Trail:   []flows.Step{flows.StepReframeStory, flows.StepReframeTrue},
		Entry: flows.Entry{
			Flow: flows.FlowReframe, Story: "they ignored my point ✨", StrengthBefore: &strength,
			Others: []string{"they were tired", "they missed it"}, Traps: []string{"mind_reading"},
			SuggestedTraps: []string{"mind-reading", "labelling"},
		},
		Hints:   []string{"mind_reading"},
		Updated: h.clock.Now(),
		Parked:  flows.StepReframeTrue,
		Pending: &flows.Start{Flow: flows.FlowQuick, Text: "later"},
	}
	if err := s.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		return want, nil, nil
	}); err != nil {
		t.Fatalf("Turn = %v", err)
	}
	got := load(t, s, u)
	if !got.Updated.Equal(want.Updated) {
		t.Errorf("Updated = %v, want %v", got.Updated, want.Updated)
	}
	got.Updated = want.Updated
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reloaded state = %+v, want %+v", got, want)
	}
	// A second store over the same Redis sees the same state: nothing is cached in-process.
	if got2 := load(t, h.store(), u); got2.Entry.Story != want.Entry.Story {
		t.Errorf("state through another store: story %q, want %q", got2.Entry.Story, want.Entry.Story)
	}
}

func testFnErrorSavesNothing(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	if err := s.Turn(ctx, u, setStory("first", nil)); err != nil {
		t.Fatalf("Turn = %v", err)
	}
	boom := errors.New("boom")
	err := s.Turn(ctx, u, func(flows.State) (flows.State, *flows.Entry, error) {
		next, _, _ := setStory("second", nil)(flows.State{})
		return next, &flows.Entry{Story: "second"}, boom
	})
	if err != boom {
		t.Errorf("Turn with failing fn = %v, want the fn's error as is", err)
	}
	if got := load(t, s, u); got.Entry.Story != "first" {
		t.Errorf("story after failed turn = %q, want %q", got.Entry.Story, "first")
	}
	if got := journal(t, s, u, 5); len(got) != 0 {
		t.Errorf("journal after failed turn = %v, want empty", stories(got))
	}
}

func testZeroStateNotKept(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	if err := s.Turn(ctx, u, setStory("open", nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.Turn(ctx, u, func(flows.State) (flows.State, *flows.Entry, error) {
		return flows.State{}, &flows.Entry{Flow: flows.FlowPause, Story: "open"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := load(t, s, u); !reflect.DeepEqual(got, flows.State{}) {
		t.Errorf("state after closing = %+v, want the zero State", got)
	}
	// The closed dialogue's text is gone from Redis at once; only the journal keeps it.
	for _, v := range rawValues(t, h.rdb, u) {
		if strings.Contains(v.value, "what open") {
			t.Errorf("%s still holds the closed dialogue's text", v.key)
		}
	}
}

func testJournalOrderAndLimit(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		e := &flows.Entry{Flow: flows.FlowPause, Story: fmt.Sprintf("story %d", i)}
		if err := s.Turn(ctx, u, setStory("x", e)); err != nil {
			t.Fatal(err)
		}
		if e.ID == "" {
			t.Fatalf("entry %d: ID not set by Turn", i)
		}
		ids = append(ids, e.ID)
		h.clock.Add(time.Minute)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("entry IDs %v are not time-ordered", ids)
	}
	if c := slices.Compact(slices.Clone(ids)); len(c) != len(ids) {
		t.Errorf("entry IDs %v are not unique", ids)
	}
	got := journal(t, s, u, 3)
	if want := []string{"story 4", "story 3", "story 2"}; !slices.Equal(stories(got), want) {
		t.Errorf("Journal(3) = %q, want %q", stories(got), want)
	}
	if len(got) > 0 && got[0].ID != ids[4] {
		t.Errorf("Journal(3)[0].ID = %q, want %q", got[0].ID, ids[4])
	}
	if got := journal(t, s, u, 10); len(got) != 5 {
		t.Errorf("Journal(10) = %d entries, want 5", len(got))
	}
	if got := journal(t, s, u, 0); len(got) != 0 {
		t.Errorf("Journal(0) = %d entries, want 0", len(got))
	}
	// Several entries in the same millisecond keep their order too.
	for i := range 3 {
		if err := s.Turn(ctx, u, setStory("x", &flows.Entry{Story: fmt.Sprintf("same ms %d", i)})); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := stories(journal(t, s, u, 3)), []string{"same ms 2", "same ms 1", "same ms 0"}; !slices.Equal(got, want) {
		t.Errorf("Journal(3) within one millisecond = %q, want %q", got, want)
	}
}

func testRetention(t *testing.T, h *harness) {
	s := h.storeCfg(storage.Config{Retention: 24 * time.Hour})
	u := newUser(t)
	ctx := context.Background()
	add := func(story string) {
		t.Helper()
		if err := s.Turn(ctx, u, setStory("x", &flows.Entry{Story: story})); err != nil {
			t.Fatal(err)
		}
	}
	add("old")
	h.clock.Add(23 * time.Hour)
	add("newer")
	if got, want := stories(journal(t, s, u, 10)), []string{"newer", "old"}; !slices.Equal(got, want) {
		t.Errorf("Journal within retention = %q, want %q", got, want)
	}
	h.clock.Add(2 * time.Hour) // "old" is 25 h old now
	if got, want := stories(journal(t, s, u, 10)), []string{"newer"}; !slices.Equal(got, want) {
		t.Errorf("Journal after retention = %q, want %q", got, want)
	}
	add("newest")
	k := indexKey(t, u)
	if n := h.rdb.ZCard(ctx, k).Val(); n != 2 {
		t.Errorf("ZCARD of the index after a write past retention = %d, want 2 (trimmed)", n)
	}
}

func testTTLs(t *testing.T, h *harness) {
	s := h.storeCfg(storage.Config{Retention: 48 * time.Hour, DialogueTTL: 3 * time.Hour})
	u := newUser(t)
	ctx := context.Background()
	if err := s.Turn(ctx, u, setStory("x", &flows.Entry{Story: "kept"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkWelcomed(ctx, u); err != nil {
		t.Fatal(err)
	}
	vals := rawValues(t, h.rdb, u)
	if len(vals) != 4 {
		t.Errorf("keys of the user = %d, want 4 (dialogue, index, entry, profile)", len(vals))
	}
	for _, v := range vals {
		ttl := h.rdb.PTTL(ctx, v.key).Val()
		var want time.Duration
		switch {
		case strings.HasSuffix(v.key, ":dialogue"):
			want = 3 * time.Hour
		case strings.HasSuffix(v.key, ":profile"):
			want = storage.ProfileTTL
		default: // journal index and entries
			want = 48 * time.Hour
		}
		if ttl <= want-time.Minute || ttl > want {
			t.Errorf("PTTL %s = %v, want about %v", v.key, ttl, want)
		}
	}

	// A profile outlives the user's last dialogue, not only its last write: a dialogue's
	// first turn, its last, and a turn that saves an entry start its TTL again (plain, and
	// from the store's memory of the dialogue); a turn in between leaves it alone.
	var profile string
	for _, v := range vals {
		if strings.HasSuffix(v.key, ":profile") {
			profile = v.key
		}
	}
	end := func(flows.State) (flows.State, *flows.Entry, error) { return flows.State{}, nil, nil }
	saveEntry := func(cur flows.State) (flows.State, *flows.Entry, error) {
		return cur, &flows.Entry{Story: "kept"}, nil
	}
	for _, tc := range []struct {
		name    string
		fn      bot.TurnFunc
		touches bool
	}{
		{"a middle turn", appendStep, false},
		{"a turn that saves an entry", saveEntry, true},
		{"the last turn", end, true},
		{"the first turn", setStory("again", nil), true},
		{"the second turn", appendStep, false},
	} {
		for _, guessed := range []bool{false, true} {
			if tc.name == "the first turn" && guessed {
				continue // the memory of a dialogue that ended is of no dialogue
			}
			if err := h.rdb.PExpire(ctx, profile, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if guessed {
				if _, _, applied, err := guessedTurn(t, s, u, "slack:event:T1:Ev"+randHex(t, 6), tc.fn); err != nil || !applied {
					t.Fatalf("%s, guessed = %v, %v", tc.name, applied, err)
				}
			} else if err := s.Turn(ctx, u, tc.fn); err != nil {
				t.Fatal(err)
			}
			ttl := h.rdb.PTTL(ctx, profile).Val()
			if got := ttl > storage.ProfileTTL-time.Minute; got != tc.touches || !tc.touches && ttl <= 0 {
				t.Errorf("profile PTTL after %s (from memory: %v) = %v, want about %v", tc.name, guessed, ttl,
					map[bool]time.Duration{true: storage.ProfileTTL, false: time.Hour}[tc.touches])
			}
			if tc.name == "the last turn" {
				break // once ended, there is no dialogue for a second last turn
			}
		}
	}
}

func testUsersAreSeparate(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	suffix := randHex(t, 4)
	// Without escaping these would both be "sb:{u:p:a:b:c}".
	a := bot.UserRef{Platform: "p", Workspace: "a:b" + suffix, User: "c"}
	b := bot.UserRef{Platform: "p", Workspace: "a", User: "b" + suffix + ":c"}
	if err := s.Turn(ctx, a, setStory("for a", &flows.Entry{Story: "for a"})); err != nil {
		t.Fatal(err)
	}
	if got := load(t, s, b); !reflect.DeepEqual(got, flows.State{}) {
		t.Errorf("user b sees state %+v of user a", got)
	}
	if got := journal(t, s, b, 5); len(got) != 0 {
		t.Errorf("user b sees journal %q of user a", stories(got))
	}
	if _, err := s.MarkWelcomed(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Profile(ctx, b); ok {
		t.Errorf("user b sees the profile of user a")
	}
	for _, bad := range []bot.UserRef{{}, {Platform: "p", Workspace: "w"}, {Platform: "p", User: "u"}} {
		if err := s.Turn(ctx, bad, setStory("x", nil)); err == nil {
			t.Errorf("Turn(%+v) succeeded, want an error for an incomplete user ref", bad)
		}
	}
}

func testProfile(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	p, ok, err := s.Profile(ctx, u)
	if err != nil || ok || p != (bot.Profile{}) {
		t.Errorf("Profile(new user) = %+v, %v, %v; want zero, false, nil", p, ok, err)
	}
	want := bot.Profile{TZ: "Europe/Berlin", TZFromPlatform: true, NoFollowups: true}
	if err := s.SaveProfile(ctx, u, want); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.Profile(ctx, u); err != nil || !ok || p != want {
		t.Errorf("Profile = %+v, %v, %v; want %+v, true, nil", p, ok, err, want)
	}
	if first, err := s.MarkWelcomed(ctx, u); err != nil || !first {
		t.Errorf("MarkWelcomed = %v, %v; want true, nil", first, err)
	}
	want.Welcomed = true
	if p, _, _ := s.Profile(ctx, u); p != want {
		t.Errorf("Profile after MarkWelcomed = %+v, want %+v", p, want)
	}
	if first, err := s.MarkWelcomed(ctx, u); err != nil || first {
		t.Errorf("second MarkWelcomed = %v, %v; want false, nil", first, err)
	}
	// SaveProfile replaces: the zero profile is still a profile.
	if err := s.SaveProfile(ctx, u, bot.Profile{}); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.Profile(ctx, u); err != nil || !ok || p != (bot.Profile{}) {
		t.Errorf("Profile after saving the zero profile = %+v, %v, %v; want zero, true, nil", p, ok, err)
	}

	// The platform's zone fills an empty zone only; a zone the user chose stays.
	if set, err := s.SetPlatformTZ(ctx, u, "America/Chicago"); err != nil || !set {
		t.Errorf("SetPlatformTZ on no zone = %v, %v; want true, nil", set, err)
	}
	if p, _, _ := s.Profile(ctx, u); p.TZ != "America/Chicago" || !p.TZFromPlatform {
		t.Errorf("Profile after SetPlatformTZ = %+v", p)
	}
	if err := s.SaveProfile(ctx, u, bot.Profile{TZ: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	if set, err := s.SetPlatformTZ(ctx, u, "America/Chicago"); err != nil || set {
		t.Errorf("SetPlatformTZ over a chosen zone = %v, %v; want false, nil", set, err)
	}
	if p, _, _ := s.Profile(ctx, u); p.TZ != "Asia/Kolkata" || p.TZFromPlatform {
		t.Errorf("SetPlatformTZ overwrote the chosen zone: %+v", p)
	}

	// An unconfirmed forget request survives a round trip at second precision.
	asked := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	if err := s.SaveProfile(ctx, u, bot.Profile{ForgetAsked: asked}); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := s.Profile(ctx, u); !p.ForgetAsked.Equal(asked) {
		t.Errorf("ForgetAsked = %v, want %v", p.ForgetAsked, asked)
	}
}

// testHomeOpened: the home-opened mark (bot.Profile.HomeOpened) is recorded for a known user
// only when asked so, survives SaveProfile (which never writes it false), is shared by every
// store over the Redis (replicas), and goes with the profile; a profile saved without it
// (as every profile stored before it existed) reads false.
func testHomeOpened(t *testing.T, h *harness) {
	ctx := context.Background()
	a, b := h.store(), h.store() // two replicas
	u := newUser(t)
	if set, err := a.MarkHomeOpened(ctx, u, true); err != nil || set {
		t.Errorf("MarkHomeOpened(never seen, ifKnown) = %v, %v; want false, nil", set, err)
	}
	if p, ok, err := b.Profile(ctx, u); err != nil || ok || p != (bot.Profile{}) {
		t.Fatalf("Profile after MarkHomeOpened(never seen, ifKnown) = %+v, %v, %v; want nothing stored", p, ok, err)
	}
	if err := a.SaveProfile(ctx, u, bot.Profile{TZ: "Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := b.Profile(ctx, u); err != nil || !ok || p.HomeOpened {
		t.Errorf("Profile saved without the mark = %+v, %v, %v; want HomeOpened false", p, ok, err)
	}
	if set, err := a.MarkHomeOpened(ctx, u, true); err != nil || !set {
		t.Errorf("MarkHomeOpened(known, ifKnown) = %v, %v; want true, nil", set, err)
	}
	want := bot.Profile{TZ: "Europe/Berlin", HomeOpened: true}
	if p, _, err := b.Profile(ctx, u); err != nil || p != want {
		t.Errorf("Profile on the other replica = %+v, %v; want %+v", p, err, want)
	}
	// A save that read the profile before the mark keeps it; the other fields are replaced.
	if err := b.SaveProfile(ctx, u, bot.Profile{NoFollowups: true}); err != nil {
		t.Fatal(err)
	}
	want = bot.Profile{NoFollowups: true, HomeOpened: true}
	if p, _, err := a.Profile(ctx, u); err != nil || p != want {
		t.Errorf("Profile after a save without the mark = %+v, %v; want %+v", p, err, want)
	}
	if err := a.Forget(ctx, u); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := b.Profile(ctx, u); err != nil || ok || p.HomeOpened {
		t.Errorf("Profile after Forget = %+v, %v, %v; want nothing", p, ok, err)
	}
	if set, err := a.MarkHomeOpened(ctx, u, true); err != nil || set {
		t.Errorf("MarkHomeOpened(erased, ifKnown) = %v, %v; want false, nil", set, err)
	}
	if _, ok, _ := b.Profile(ctx, u); ok {
		t.Errorf("MarkHomeOpened(erased, ifKnown) stored a profile")
	}
	// Asked without ifKnown (a press on the home), the mark makes a profile of its own, with
	// the profile's TTL.
	if set, err := a.MarkHomeOpened(ctx, u, false); err != nil || !set {
		t.Errorf("MarkHomeOpened(unknown) = %v, %v; want true, nil", set, err)
	}
	if p, ok, err := b.Profile(ctx, u); err != nil || !ok || p != (bot.Profile{HomeOpened: true}) {
		t.Errorf("Profile after MarkHomeOpened(unknown) = %+v, %v, %v; want only HomeOpened", p, ok, err)
	}
	if ttl, err := h.rdb.PTTL(ctx, storage.KeyPrefix(u)+":profile").Result(); err != nil || ttl <= storage.ProfileTTL-time.Minute || ttl > storage.ProfileTTL {
		t.Errorf("profile PTTL after MarkHomeOpened = %v, %v; want about %v", ttl, err, storage.ProfileTTL)
	}
}

func testMarkWelcomedOnce(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		firsts int
	)
	for range 20 {
		wg.Go(func() {
			first, err := s.MarkWelcomed(context.Background(), u)
			if err != nil {
				t.Error(err)
				return
			}
			if first {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Errorf("MarkWelcomed returned true %d times among 20 racers, want 1", firsts)
	}
}

func testFirstSeen(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	id := "Ev:" + randHex(t, 6)
	for i, want := range []bool{true, false, false} {
		got, err := s.FirstSeen(ctx, id, 10*time.Minute)
		if err != nil || got != want {
			t.Errorf("FirstSeen #%d = %v, %v; want %v, nil", i+1, got, err, want)
		}
	}
	if got, err := s.FirstSeen(ctx, id+"x", time.Minute); err != nil || !got {
		t.Errorf("FirstSeen(other id) = %v, %v; want true, nil", got, err)
	}
	// The keys hold a keyed hash of the id, never the id (it may name a user's DM).
	var ttls []time.Duration
	for _, k := range scanKeys(t, h.rdb, "sb:dedupe:*") {
		if strings.Contains(k, id[3:]) {
			t.Errorf("dedupe key %q holds the id", k)
		}
		ttls = append(ttls, h.rdb.PTTL(ctx, k).Val())
	}
	long := 0
	for _, ttl := range ttls {
		if ttl > 9*time.Minute && ttl <= 10*time.Minute {
			long++
		}
	}
	if long != 1 {
		t.Errorf("PTTLs of the dedupe keys = %v, want one of about 10m", ttls)
	}
}

func testPing(t *testing.T, h *harness) {
	if err := h.store().Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

const secret = "my boss thinks I am useless"

// secretTurn writes secret into the dialogue state and into a journal entry.
func secretTurn(t *testing.T, s Store, u bot.UserRef) {
	t.Helper()
	if err := s.Turn(context.Background(), u, setStory(secret, &flows.Entry{Flow: flows.FlowPause, Story: secret, Others: []string{secret}})); err != nil {
		t.Fatalf("Turn = %v", err)
	}
}

// checkReadable fails unless s reads the secret back from both the state and the journal.
func checkReadable(t *testing.T, s Store, u bot.UserRef) {
	t.Helper()
	if got := load(t, s, u); got.Entry.Story != secret {
		t.Errorf("state story = %q, want %q", got.Entry.Story, secret)
	}
	if got := journal(t, s, u, 1); len(got) != 1 || got[0].Story != secret {
		t.Errorf("journal = %q, want [%q]", stories(got), secret)
	}
}

func testEncryptedAtRest(t *testing.T, h *harness) {
	s := h.store(newKey(t))
	u := newUser(t)
	secretTurn(t, s, u)
	checkReadable(t, s, u)
	vals := rawValues(t, h.rdb, u)
	if len(vals) < 3 {
		t.Fatalf("found %d keys of the user, want at least 3", len(vals))
	}
	for _, v := range vals {
		for _, frag := range []string{secret, "boss", "useless"} {
			if strings.Contains(v.value, frag) {
				t.Errorf("%s holds plaintext %q", v.key, frag)
			}
		}
	}
}

func testKeyRotation(t *testing.T, h *harness) {
	a, b := newKey(t), newKey(t)
	u := newUser(t)
	secretTurn(t, h.store(a), u)
	rotated := h.store(b, a)
	checkReadable(t, rotated, u)
	// New writes use B: a store with only B reads them, one with only A does not.
	v := newUser(t)
	secretTurn(t, rotated, v)
	checkReadable(t, h.store(b), v)
	if err := h.store(a).Turn(context.Background(), v, setStory("x", nil)); err == nil {
		t.Errorf("Turn with only the old key on data written with the new key succeeded, want an error")
	}
}

func testPlaintextMigration(t *testing.T, h *harness) {
	u := newUser(t)
	secretTurn(t, h.store(), u) // before encryption was enabled
	enc := h.store(newKey(t))
	checkReadable(t, enc, u)
	secretTurn(t, enc, u) // rewrites the state sealed; the first entry stays plain until it expires
	err := h.store().Turn(context.Background(), u, setStory("x", nil))
	if err == nil || !strings.Contains(err.Error(), "no encryption key") {
		t.Errorf("Turn without keys on encrypted data = %v, want an error saying no key is configured", err)
	}
}

func testWrongKey(t *testing.T, h *harness) {
	u := newUser(t)
	secretTurn(t, h.store(newKey(t)), u)
	wrong := h.store(newKey(t))
	err := wrong.Turn(context.Background(), u, setStory("x", nil))
	checkErr := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with the wrong key succeeded, want an error", op)
			return
		}
		if !strings.Contains(err.Error(), "not configured") {
			t.Errorf("%s with the wrong key = %q, want it to say the key is not configured", op, err)
		}
		if strings.Contains(err.Error(), "boss") {
			t.Errorf("%s error %q holds user text", op, err)
		}
	}
	checkErr("Turn", err)
	_, err = wrong.Journal(context.Background(), u, 5)
	checkErr("Journal", err)
}

func testConcurrentTurns(t *testing.T, h *harness) {
	const goroutines, turns, stores = 50, 20, 5
	// Several stores over one Redis stand for several replicas: a store may serialize its
	// own turns in-process, but across stores only the optimistic check in Redis protects.
	key := newKey(t)
	var ss []Store
	for range stores {
		ss = append(ss, h.store(key))
	}
	s := ss[0]
	u := newUser(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range turns {
				marker := fmt.Sprintf("g%02d-t%02d", g, i)
				err := ss[g%stores].Turn(context.Background(), u, func(cur flows.State) (flows.State, *flows.Entry, error) {
					// fn must be pure: build a new slice rather than appending in place.
					next := cur
					next.Flow = flows.FlowPause
					next.Entry.Others = append(slices.Clip(cur.Entry.Others), marker)
					return next, nil, nil
				})
				if err != nil {
					t.Errorf("Turn(%s) = %v", marker, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := load(t, s, u).Entry.Others
	if len(got) != goroutines*turns {
		t.Errorf("markers after %d concurrent turns = %d", goroutines*turns, len(got))
	}
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m] {
			t.Errorf("marker %s applied twice", m)
		}
		seen[m] = true
	}
	for g := range goroutines {
		for i := range turns {
			if m := fmt.Sprintf("g%02d-t%02d", g, i); !seen[m] {
				t.Errorf("marker %s lost", m)
			}
		}
	}
}

type rawValue struct {
	key, value string
}

// rawValues returns every key of u with its raw contents, whatever its type, found with SCAN
// over the user's hash tag (so it also finds keys the store might write by mistake).
func rawValues(t *testing.T, rdb redis.UniversalClient, u bot.UserRef) []rawValue {
	t.Helper()
	return readValues(t, rdb, scanKeys(t, rdb, tagOf(t, u)+":*"))
}

// readValues returns the raw contents of keys, whatever their types.
func readValues(t *testing.T, rdb redis.UniversalClient, keys []string) []rawValue {
	t.Helper()
	ctx := context.Background()
	var out []rawValue
	for _, k := range keys {
		var b strings.Builder
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			b.WriteString(rdb.Get(ctx, k).Val())
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "zset":
			for _, m := range rdb.ZRange(ctx, k, 0, -1).Val() {
				b.WriteString(m + "\n")
			}
		case "set":
			for _, m := range rdb.SMembers(ctx, k).Val() {
				b.WriteString(m + "\n")
			}
		case "list":
			for _, m := range rdb.LRange(ctx, k, 0, -1).Val() {
				b.WriteString(m + "\n")
			}
		case "none":
			continue // expired between SCAN and TYPE
		default:
			t.Errorf("%s has type %s, which the suite cannot read", k, typ)
		}
		out = append(out, rawValue{key: k, value: b.String()})
	}
	return out
}

// scanKeys returns the keys that match pattern, found with SCAN: in a cluster, on every
// master (a SCAN through a cluster client sees only the node it lands on).
func scanKeys(t *testing.T, rdb redis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan)
	} else if c, ok := rdb.(*redis.Client); ok {
		err = scan(ctx, c)
	} else {
		t.Fatalf("scanKeys: unsupported client %T", rdb)
	}
	if err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return keys
}

// tagOf returns the prefix all of u's keys share.
func tagOf(t *testing.T, u bot.UserRef) string {
	t.Helper()
	return storage.KeyPrefix(u)
}

// indexKey returns the key of u's journal index.
func indexKey(t *testing.T, u bot.UserRef) string {
	t.Helper()
	return storage.KeyPrefix(u) + ":journal"
}

func testForget(t *testing.T, h *harness) {
	s := h.store(newKey(t))
	u, other := newUser(t), newUser(t)
	ctx := context.Background()
	for _, x := range []bot.UserRef{u, other} {
		for range 3 {
			secretTurn(t, s, x)
		}
		if err := s.SaveProfile(ctx, x, bot.Profile{TZ: "UTC"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SavePlan(ctx, x, flows.SafetyPlan{Helps: secret, Updated: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Forget(ctx, u); err != nil {
		t.Fatalf("Forget = %v", err)
	}
	if vals := rawValues(t, h.rdb, u); len(vals) != 0 {
		t.Errorf("after Forget, %d keys of the user remain, first %s", len(vals), vals[0].key)
	}
	if got := load(t, s, u); !reflect.DeepEqual(got, flows.State{}) {
		t.Errorf("state after Forget = %+v, want the zero State", got)
	}
	if _, ok, _ := s.Profile(ctx, u); ok {
		t.Errorf("profile still there after Forget")
	}
	if _, ok, err := s.SafetyPlan(ctx, u); ok || err != nil {
		t.Errorf("safety plan after Forget = %v, %v; want none", ok, err)
	}
	if p, ok, err := s.SafetyPlan(ctx, other); !ok || err != nil || p.Helps != secret {
		t.Errorf("another user's safety plan after Forget = %+v, %v, %v; want it kept", p, ok, err)
	}
	checkReadable(t, s, other)
	if got := journal(t, s, other, 10); len(got) != 3 {
		t.Errorf("another user's journal after Forget = %d entries, want 3", len(got))
	}
}

// testSafetyPlan: none until saved; saved plans read back, replace the earlier one, are
// sealed at rest, expire with the retention, belong to one user, and old plaintext reads.
func testSafetyPlan(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.storeCfg(storage.Config{EncryptionKeys: [][]byte{newKey(t)}, Retention: 72 * time.Hour})
	u, other := newUser(t), newUser(t)
	if p, ok, err := s.SafetyPlan(ctx, u); ok || err != nil || !p.Empty() {
		t.Fatalf("SafetyPlan of a new user = %+v, %v, %v; want none", p, ok, err)
	}
	first := flows.SafetyPlan{WarningSigns: "I stop sleeping", Helps: secret, People: "Ana 0151 555 0101", Updated: h.clock.Now()}
	if err := s.SavePlan(ctx, u, first); err != nil {
		t.Fatalf("SavePlan = %v", err)
	}
	got, ok, err := s.SafetyPlan(ctx, u)
	if !ok || err != nil || got.WarningSigns != first.WarningSigns || got.Helps != first.Helps || got.People != first.People || !got.Updated.Equal(first.Updated) {
		t.Errorf("SafetyPlan = %+v, %v, %v; want %+v", got, ok, err, first)
	}
	second := flows.SafetyPlan{People: "the river path", Updated: h.clock.Now().Add(time.Hour)}
	if err := s.SavePlan(ctx, u, second); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.SafetyPlan(ctx, u); got.Helps != "" || got.People != "the river path" {
		t.Errorf("SafetyPlan after a second save = %+v, want only the second plan", got)
	}
	if err := s.SavePlan(ctx, u, first); err != nil {
		t.Fatal(err)
	}
	for _, v := range rawValues(t, h.rdb, u) {
		for _, frag := range []string{"sleeping", "boss", "useless", "0151"} {
			if strings.Contains(v.value, frag) {
				t.Errorf("%s holds plaintext %q", v.key, frag)
			}
		}
		if ttl := h.rdb.PTTL(ctx, v.key).Val(); ttl <= 72*time.Hour-time.Minute || ttl > 72*time.Hour {
			t.Errorf("PTTL %s = %v, want about the retention, 72h", v.key, ttl)
		}
	}
	if _, ok, _ := s.SafetyPlan(ctx, other); ok {
		t.Errorf("another user has u's safety plan")
	}
	if _, _, err := h.store(newKey(t)).SafetyPlan(ctx, u); err == nil || strings.Contains(err.Error(), "sleeping") {
		t.Errorf("SafetyPlan with the wrong key = %v, want an error without the user's words", err)
	}
	// A plan written before encryption was enabled still reads.
	plain := newUser(t)
	if err := h.store().SavePlan(ctx, plain, first); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.SafetyPlan(ctx, plain); !ok || err != nil || got.Helps != secret {
		t.Errorf("plaintext plan read with a key = %+v, %v, %v", got, ok, err)
	}
}

func testEventLeases(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	// Leases of no one user's events, and of a user's (kept in that user's hash slot).
	for _, u := range []bot.UserRef{{}, newUser(t)} {
		id := "slack:event:T1:Ev" + randHex(t, 6)
		claim := func(token string, want bot.ClaimState) {
			t.Helper()
			if got, _, err := s.ClaimEvent(ctx, u, id, token, 10*time.Second); err != nil || got != want {
				t.Fatalf("ClaimEvent(%v, %s) = %v, %v; want %v", u, token, got, err, want)
			}
		}
		claim("a", bot.Claimed)
		claim("b", bot.Held)
		// Only the holder may release.
		if err := s.ReleaseEvent(ctx, u, id, "b"); err != nil {
			t.Fatalf("ReleaseEvent(other token) = %v", err)
		}
		claim("b", bot.Held)
		if err := s.ExtendEvent(ctx, u, id, "a", time.Minute); err != nil {
			t.Fatalf("ExtendEvent = %v", err)
		}
		if err := s.ReleaseEvent(ctx, u, id, "a"); err != nil {
			t.Fatalf("ReleaseEvent = %v", err)
		}
		claim("c", bot.Claimed) // released: a redelivery is handled
		if err := s.FinishEvent(ctx, u, id, 10*time.Minute); err != nil {
			t.Fatalf("FinishEvent = %v", err)
		}
		claim("d", bot.Handled)
	}
	// An ID FirstSeen recorded counts as handled.
	old := "slack:event:T1:Old" + randHex(t, 6)
	if _, err := s.FirstSeen(ctx, old, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.ClaimEvent(ctx, bot.UserRef{}, old, "x", time.Second); err != nil || got != bot.Handled {
		t.Errorf("ClaimEvent(id FirstSeen recorded) = %v, %v; want Handled", got, err)
	}
}

// testClaimSnapshot: a user's claim reads the dialogue and the coaching marker in its round
// trip; a turn started from that read commits once and marks the event done; a stale read
// costs a second attempt, never a lost update.
func testClaimSnapshot(t *testing.T, h *harness) {
	s := h.store(newKey(t))
	ctx := context.Background()
	u := newUser(t)
	id := "slack:event:T1:Ev" + randHex(t, 6)

	// Nothing stored: a zero snapshot.
	st, snap, err := s.ClaimEvent(ctx, u, id, "a", 10*time.Second)
	if err != nil || st != bot.Claimed || snap == nil {
		t.Fatalf("ClaimEvent(new user) = %v, %v, %v; want Claimed with a snapshot", st, snap, err)
	}
	if snap.Dialogue == nil || snap.Dialogue.Version != 0 || snap.Dialogue.State.Open() || snap.CoachOK {
		t.Errorf("snapshot of a new user = %+v, want version 0, no dialogue, no marker", snap)
	}
	if err := s.ReleaseEvent(ctx, u, id, "a"); err != nil {
		t.Fatal(err)
	}

	start := func(cur flows.State) (flows.State, *flows.Entry, error) {
		cur.Flow, cur.Step = flows.FlowPause, flows.StepWhat
		cur.Entry.What = "the meeting"
		return cur, nil, nil
	}
	if err := s.Turn(ctx, u, start); err != nil {
		t.Fatal(err)
	}
	marker := bot.CoachPending{NoteFor: "name-the-story", At: h.clock.Now()}
	if err := s.Coaching().SetPending(ctx, u, marker); err != nil {
		t.Fatal(err)
	}
	st, snap, err = s.ClaimEvent(ctx, u, id, "b", 10*time.Second)
	if err != nil || st != bot.Claimed || snap == nil {
		t.Fatalf("ClaimEvent = %v, %v, %v; want Claimed with a snapshot", st, snap, err)
	}
	if snap.Dialogue == nil {
		t.Fatal("the claim's snapshot has no dialogue")
	}
	if snap.Dialogue.Version != 1 || snap.Dialogue.State.Entry.What != "the meeting" {
		t.Errorf("snapshot dialogue = version %d, what %q; want 1, %q", snap.Dialogue.Version, snap.Dialogue.State.Entry.What, "the meeting")
	}
	if !snap.CoachOK || snap.Coach.NoteFor != marker.NoteFor {
		t.Errorf("snapshot marker = %+v (ok %v), want %+v", snap.Coach, snap.CoachOK, marker)
	}
	if read, err := s.Snapshot(ctx, u); err != nil || read.Dialogue == nil || read.Dialogue.Version != 1 || read.Dialogue.State.Entry.What != "the meeting" || !read.CoachOK || read.Coach.NoteFor != marker.NoteFor {
		t.Errorf("Snapshot = %+v, %v; want what the claim read", read, err)
	}

	// The turn starts from the claim's read: fn sees it once and the commit marks the event
	// done, so a redelivery is handled already.
	var seen []string
	answer := func(cur flows.State) (flows.State, *flows.Entry, error) {
		seen = append(seen, cur.Entry.What)
		cur.Entry.Story = "they think I'm careless"
		return cur, nil, nil
	}
	applied, err := s.TurnFrom(ctx, u, id, snap.Dialogue, answer)
	if err != nil || !applied || len(seen) != 1 || seen[0] != "the meeting" {
		t.Fatalf("TurnFrom = %v, %v, fn saw %q; want applied once from the snapshot", applied, err, seen)
	}
	if got, _, err := s.ClaimEvent(ctx, u, id, "c", 10*time.Second); err != nil || got != bot.Handled {
		t.Errorf("ClaimEvent after the commit = %v, %v; want Handled (the commit marked it done)", got, err)
	}
	// Again from the same read: fn may run (nothing was read to tell), the commit refuses.
	if applied, err := s.TurnFrom(ctx, u, id, snap.Dialogue, answer); err != nil || applied {
		t.Errorf("TurnFrom again = %v, %v; want not applied", applied, err)
	}
	if read, err := s.Snapshot(ctx, u); err != nil || read.Dialogue == nil || read.Dialogue.Version != 2 {
		t.Errorf("after a replayed TurnFrom: %+v, %v; want version 2 (nothing committed)", read, err)
	}

	// A stale snapshot: another turn committed after the claim read. The first attempt
	// loses, the second reads again; nothing is lost.
	id2 := "slack:event:T1:Ev" + randHex(t, 6)
	_, snap2, err := s.ClaimEvent(ctx, u, id2, "d", 10*time.Second)
	if err != nil || snap2 == nil || snap2.Dialogue == nil {
		t.Fatalf("ClaimEvent = %v, %v", snap2, err)
	}
	if err := s.Turn(ctx, u, func(cur flows.State) (flows.State, *flows.Entry, error) {
		cur.Entry.Feeling = "anxious"
		return cur, nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	applied, err = s.TurnFrom(ctx, u, id2, snap2.Dialogue, func(cur flows.State) (flows.State, *flows.Entry, error) {
		calls++
		cur.Entry.Facts = "I always mess up"
		return cur, nil, nil
	})
	if err != nil || !applied || calls != 2 {
		t.Fatalf("TurnFrom(stale) = %v, %v, fn called %d times; want applied on the second call", applied, err, calls)
	}
	got, _, err := s.Dialogue(ctx, u)
	if err != nil || got.Entry.Feeling != "anxious" || got.Entry.Facts != "I always mess up" || got.Entry.Story != "they think I'm careless" {
		t.Errorf("after a stale snapshot the dialogue = %+v, %v; want every turn's change kept", got.Entry, err)
	}

	// A claim of an event whose turn committed (in a rolling deploy, by a build that kept the
	// lease elsewhere) finds it handled, in the same round trip.
	id3 := "slack:event:T1:Ev" + randHex(t, 6)
	if applied, err := s.TurnOnce(ctx, u, id3, answer); err != nil || !applied {
		t.Fatalf("TurnOnce = %v, %v", applied, err)
	}
	if got, _, err := s.ClaimEvent(ctx, u, id3, "e", 10*time.Second); err != nil || got != bot.Handled {
		t.Errorf("ClaimEvent of an applied event = %v, %v; want Handled", got, err)
	}

	// The claim also reads what a dialogue's start needs of the profile.
	for _, p := range []bot.Profile{{}, {Welcomed: true}, {NoFollowups: true}, {Welcomed: true, NoFollowups: true, TZ: "Europe/Berlin"}} {
		if err := s.SaveProfile(ctx, u, p); err != nil {
			t.Fatal(err)
		}
		id := "slack:event:T1:Ev" + randHex(t, 6)
		st, snap, err := s.ClaimEvent(ctx, u, id, "f", 10*time.Second)
		if err != nil || st != bot.Claimed || snap == nil || snap.Prefs == nil {
			t.Fatalf("ClaimEvent = %v, %+v, %v; want claimed with the start preferences", st, snap, err)
		}
		if want := (bot.StartPrefs{NoFollowups: p.NoFollowups, Welcomed: p.Welcomed}); *snap.Prefs != want {
			t.Errorf("claim's start preferences for profile %+v = %+v, want %+v", p, *snap.Prefs, want)
		}
	}
	if err := s.Forget(ctx, u); err != nil {
		t.Fatal(err)
	}
	if st, snap, err := s.ClaimEvent(ctx, u, "slack:event:T1:Ev"+randHex(t, 6), "g", 10*time.Second); err != nil || st != bot.Claimed || snap == nil || snap.Prefs == nil || *snap.Prefs != (bot.StartPrefs{}) {
		t.Errorf("claim after forget = %v, %+v, %v; want claimed, no preferences set", st, snap, err)
	}
}

func testTurnOnce(t *testing.T, h *harness) {
	s := h.store()
	ctx := context.Background()
	u := newUser(t)
	calls := 0
	step := func(cur flows.State) (flows.State, *flows.Entry, error) {
		calls++
		cur.Flow = flows.FlowPause
		cur.Trail = append(cur.Trail, cur.Step)
		return cur, nil, nil
	}
	for i, want := range []bool{true, false, false} {
		applied, err := s.TurnOnce(ctx, u, "slack:cmd:T1:trigger-1", step)
		if err != nil || applied != want {
			t.Fatalf("TurnOnce #%d = %v, %v; want %v", i+1, applied, err, want)
		}
	}
	if applied, err := s.TurnOnce(ctx, u, "slack:cmd:T1:trigger-2", step); err != nil || !applied {
		t.Fatalf("TurnOnce(another event) = %v, %v; want true", applied, err)
	}
	if err := s.Turn(ctx, u, step); err != nil { // no event ID: always applied
		t.Fatal(err)
	}
	st, _, err := s.Dialogue(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || len(st.Trail) != 3 {
		t.Errorf("fn called %d times, %d turns stored; want 3 and 3", calls, len(st.Trail))
	}
	// Racing replays of one event: exactly one applies.
	var wg sync.WaitGroup
	var n atomic.Int32
	for range 8 {
		wg.Go(func() {
			s2 := h.store()
			applied, err := s2.TurnOnce(ctx, u, "discord:msg:race", func(cur flows.State) (flows.State, *flows.Entry, error) {
				cur.Trail = append(cur.Trail, cur.Step)
				return cur, nil, nil
			})
			if err != nil {
				t.Errorf("TurnOnce = %v", err)
			}
			if applied {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Errorf("racing replays applied %d times, want 1", n.Load())
	}

	// An event marked done by other means (FinishEvent) while its turn started from a
	// snapshot that is still current: the commit's own check refuses it, with no read.
	_, snap, err := s.ClaimEvent(ctx, u, "slack:event:T1:probe", "probe-token", time.Minute)
	if err != nil || snap == nil || snap.Dialogue == nil {
		t.Fatalf("ClaimEvent = %v, %v", snap, err)
	}
	if err := s.FinishEvent(ctx, u, "slack:event:T1:finished", time.Minute); err != nil {
		t.Fatal(err)
	}
	before, _, _ := s.Dialogue(ctx, u)
	applied, err := s.TurnFrom(ctx, u, "slack:event:T1:finished", snap.Dialogue, step)
	if err != nil || applied {
		t.Errorf("TurnFrom of an event marked done = %v, %v; want not applied", applied, err)
	}
	if after, _, _ := s.Dialogue(ctx, u); len(after.Trail) != len(before.Trail) {
		t.Errorf("a turn of an event marked done was applied: trail %v, want %v", after.Trail, before.Trail)
	}
}

// saveEntry saves one journal entry through a turn and returns its ID.
func saveEntry(t *testing.T, s Store, u bot.UserRef, e flows.Entry) string {
	t.Helper()
	var id string
	err := s.Turn(context.Background(), u, func(flows.State) (flows.State, *flows.Entry, error) {
		cp := e
		return flows.State{}, &cp, nil
	})
	if err != nil {
		t.Fatalf("Turn(save) = %v", err)
	}
	es := journal(t, s, u, 1)
	if len(es) != 1 || es[0].ID == "" {
		t.Fatalf("journal after save = %+v, want one entry with an ID", es)
	}
	id = es[0].ID
	return id
}

func testEntryByID(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	id := saveEntry(t, s, u, flows.Entry{Flow: flows.FlowQuick, Story: "they left me out", Next: "Ask Sam"})
	got, ok, err := s.Entry(ctx, u, id)
	if err != nil || !ok || got.ID != id || got.Next != "Ask Sam" || got.Story != "they left me out" {
		t.Errorf("Entry(%s) = %+v, %v, %v, want the saved entry", id, got, ok, err)
	}
	if _, ok, err := s.Entry(ctx, newUser(t), id); ok || err != nil {
		t.Errorf("Entry of another user = %v, %v, want false, nil", ok, err)
	}
	if _, ok, err := s.Entry(ctx, u, "1767225600000-0000deadbeef"); ok || err != nil {
		t.Errorf("Entry(missing) = %v, %v, want false, nil", ok, err)
	}
	for _, bad := range []string{"", "../x", "a:b", "*", "{x}"} {
		if _, ok, err := s.Entry(ctx, u, bad); ok || err == nil {
			t.Errorf("Entry(%q) = %v, %v, want an error", bad, ok, err)
		}
	}
}

func testUpdateEntry(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	id := saveEntry(t, s, u, flows.Entry{Flow: flows.FlowQuick, Story: "s", Next: "Ask Sam"})
	before, _, _ := s.Entry(ctx, u, id)
	key := tagOf(t, u) + ":j:" + id
	ttl := h.rdb.PTTL(ctx, key).Val()
	v := 3
	ok, err := s.UpdateEntry(ctx, u, id, func(e *flows.Entry) error {
		e.FollowUp = &flows.FollowUp{Outcome: flows.OutcomeDone, FoundOut: "Sam was busy", HowTrue: &v, At: h.clock.Now(), Asked: 1}
		e.ID, e.Created = "other", time.Time{} // ignored: identity is the store's
		return nil
	})
	if err != nil || !ok {
		t.Fatalf("UpdateEntry = %v, %v, want true, nil", ok, err)
	}
	got, _, _ := s.Entry(ctx, u, id)
	if got.FollowUp == nil || got.FollowUp.Outcome != flows.OutcomeDone || got.FollowUp.FoundOut != "Sam was busy" || *got.FollowUp.HowTrue != 3 {
		t.Errorf("entry after UpdateEntry = %+v, want the follow-up", got.FollowUp)
	}
	if got.ID != id || !got.Created.Equal(before.Created) || got.Story != "s" {
		t.Errorf("entry after UpdateEntry = %+v, want ID, Created and story kept", got)
	}
	if es := journal(t, s, u, 5); len(es) != 1 || es[0].FollowUp == nil {
		t.Errorf("journal after UpdateEntry = %+v, want one entry with its follow-up", es)
	}
	if after := h.rdb.PTTL(ctx, key).Val(); after <= 0 || after > ttl {
		t.Errorf("TTL after UpdateEntry = %v, want kept (at most %v, positive)", after, ttl)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateEntry(ctx, u, id, func(e *flows.Entry) error { e.Next = "changed"; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateEntry(fn error) = %v, want %v", err, boom)
	}
	if got, _, _ := s.Entry(ctx, u, id); got.Next != "Ask Sam" {
		t.Errorf("after a failed fn, Next = %q, want unchanged", got.Next)
	}
	called := false
	ok, err = s.UpdateEntry(ctx, u, "1767225600000-0000deadbeef", func(*flows.Entry) error { called = true; return nil })
	if ok || err != nil || called {
		t.Errorf("UpdateEntry(missing) = %v, %v (fn called %v), want false, nil, not called", ok, err, called)
	}
}

func testUpdateEntryEncrypted(t *testing.T, h *harness) {
	s := h.store(newKey(t))
	u := newUser(t)
	ctx := context.Background()
	id := saveEntry(t, s, u, flows.Entry{Flow: flows.FlowQuick, Story: "s", Next: "n"})
	if _, err := s.UpdateEntry(ctx, u, id, func(e *flows.Entry) error {
		e.FollowUp = &flows.FollowUp{Outcome: flows.OutcomeDone, FoundOut: secret}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, v := range rawValues(t, h.rdb, u) {
		if strings.Contains(v.value, secret) || strings.Contains(v.value, "found_out") {
			t.Errorf("%s holds the follow-up in plaintext", v.key)
		}
	}
	if got, _, _ := s.Entry(ctx, u, id); got.FollowUp == nil || got.FollowUp.FoundOut != secret {
		t.Errorf("encrypted follow-up read back = %+v, want %q", got.FollowUp, secret)
	}
}

// testConcurrentUpdates: updates racing from several stores (replicas) are never lost.
func testConcurrentUpdates(t *testing.T, h *harness) {
	u := newUser(t)
	id := saveEntry(t, h.store(), u, flows.Entry{Flow: flows.FlowQuick, Story: "s", Next: "n"})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := h.store() // a store per goroutine: no in-process lock helps
			_, err := s.UpdateEntry(context.Background(), u, id, func(e *flows.Entry) error {
				e.Others = append(e.Others, fmt.Sprint(i))
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateEntry = %v", err)
		}
	}
	got, _, _ := h.store().Entry(context.Background(), u, id)
	if len(got.Others) != n {
		t.Errorf("after %d concurrent updates, %d were kept", n, len(got.Others))
	}
}

func testFollowups(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	a := saveEntry(t, s, u, flows.Entry{Flow: flows.FlowQuick, Next: "a"})
	h.clock.Add(time.Millisecond)
	b := saveEntry(t, s, u, flows.Entry{Flow: flows.FlowQuick, Next: "b"})
	due := h.clock.Now().Add(24 * time.Hour).Truncate(time.Second)
	for i, e := range []string{a, b} {
		if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: e}, due.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatalf("PutJob(follow-up) = %v", err)
		}
	}
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u}, due); err == nil {
		t.Errorf("PutJob(follow-up without entry) = nil, want an error")
	}
	got, err := s.FollowupsDue(ctx, u, []string{a, b, "1767225600000-0000deadbeef"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[a].Equal(due) || !got[b].Equal(due.Add(time.Hour)) {
		t.Errorf("FollowupsDue = %v, want %s at %v and %s an hour later", got, a, due, b)
	}
	if other, _ := s.FollowupsDue(ctx, newUser(t), []string{a, b}); len(other) != 0 {
		t.Errorf("FollowupsDue of another user = %v, want none", other)
	}
	if err := s.DeleteFollowups(ctx, u, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FollowupsDue(ctx, u, []string{a, b}); len(got) != 1 || got[b].IsZero() {
		t.Errorf("FollowupsDue after cancelling %s = %v, want only %s", a, got, b)
	}
	// The queue hands the follow-up out with its entry.
	cs, err := s.Claim(ctx, due.Add(2*time.Hour), 1000, due.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var mine []bot.Claim
	for _, c := range cs {
		if c.Job.User == u {
			mine = append(mine, c)
			continue
		}
		_ = s.Retry(ctx, c, c.Due, false) // leave other tests' jobs as they were
	}
	if len(mine) != 1 || mine[0].Job.Kind != bot.JobFollowup || mine[0].Job.Entry != b {
		t.Fatalf("claimed %+v, want the follow-up of %s", mine, b)
	}
	if ok, err := s.MarkSent(ctx, mine[0]); !ok || err != nil {
		t.Fatalf("MarkSent = %v, %v", ok, err)
	}
	if err := s.Finish(ctx, mine[0], time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FollowupsDue(ctx, u, []string{a, b}); len(got) != 0 {
		t.Errorf("FollowupsDue after delivery = %v, want none (one-off)", got)
	}
}

func testForgetCancelsFollowups(t *testing.T, h *harness) {
	s := h.store()
	u := newUser(t)
	ctx := context.Background()
	id := saveEntry(t, s, u, flows.Entry{Flow: flows.FlowQuick, Next: "a"})
	if err := s.PutJob(ctx, bot.Job{Kind: bot.JobFollowup, User: u, Entry: id}, h.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FollowupsDue(ctx, u, []string{id}); len(got) != 0 {
		t.Errorf("FollowupsDue after Forget = %v, want none", got)
	}
	cs, err := s.Claim(ctx, h.clock.Now().Add(2*time.Hour), 10000, h.clock.Now().Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Job.User == u {
			t.Errorf("Claim after Forget handed out %+v", c.Job)
		}
		_ = s.Retry(ctx, c, c.Due, false) // leave other tests' jobs as they were
	}
}
