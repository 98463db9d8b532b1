package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
)

func TestHashSlot(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	if got := crc16("123456789"); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	for key, want := range map[string]int{
		"foo":                  12182,
		"somekey":              11058,
		"{user1000}.following": 3443,
		"foo{{bar}}zap":        hashSlot("{bar"), // the tag is "{bar"
	} {
		if got := hashSlot(key); got != want {
			t.Errorf("hashSlot(%q) = %d, want %d", key, got, want)
		}
	}
	if hashSlot("foo{}{bar}") != int(crc16("foo{}{bar}")%numSlots) {
		t.Error("a key whose first tag is empty must hash whole")
	}
}

// TestSlotTag: every slot has a tag, and a user's lease key lands in the user's slot.
func TestSlotTag(t *testing.T) {
	for slot := range numSlots {
		if got := hashSlot("{" + slotTag(slot) + "}"); got != slot {
			t.Fatalf("slotTag(%d) = %q hashes to %d", slot, slotTag(slot), got)
		}
	}
	u := bot.UserRef{Platform: "slack", Workspace: "T:{1}", User: "U1"}
	k, err := turnKeysFor(u)
	if err != nil {
		t.Fatal(err)
	}
	key, err := (&Store{}).leaseKey([]byte("secret"), k, "slack:event:T1:Ev1")
	if err != nil {
		t.Fatal(err)
	}
	if hashSlot(key) != hashSlot(k.dialogue) {
		t.Errorf("lease key %q is in slot %d, the user's dialogue in %d", key, hashSlot(key), hashSlot(k.dialogue))
	}
	for _, part := range []string{"slack", "T", "U1", "Ev1"} {
		if strings.Contains(key[len(dedupePrefix):], part) {
			t.Errorf("lease key %q names %q", key, part)
		}
	}
}

// TestTurnKeys: the keys a turn builds once per user are those the rest of the package
// builds, and a lease key is the documented one (keys.go) whatever MAC state the pool
// hands out, for one secret or another.
func TestTurnKeys(t *testing.T) {
	s := &Store{}
	for _, u := range []bot.UserRef{
		{Platform: "slack", Workspace: "T1", User: "U1"},
		{Platform: "discord", Workspace: "g:{7}", User: "50%"},
	} {
		k, err := turnKeysFor(u)
		if err != nil {
			t.Fatal(err)
		}
		uk, _ := keysFor(u)
		ck, _ := coachKeysFor(u)
		if k.userKeys != uk || k.user != u || k.pending != ck.pending || k.stateAD != uk.dialogue+"#state" {
			t.Errorf("turnKeysFor(%v) = %+v; want keysFor's, coaching marker %q, AD %q", u, k, ck.pending, uk.dialogue+"#state")
		}
		for _, secret := range []string{"secret", "another secret", "secret"} {
			for _, id := range []string{"slack:event:T1:Ev1", "slack:event:T1:Ev2", "x"} {
				m := hmac.New(sha256.New, []byte(secret))
				m.Write([]byte(id))
				want := dedupePrefix + "{" + slotTag(hashSlot(uk.tag)) + "}:" + hex.EncodeToString(m.Sum(nil))
				if got, err := s.leaseKey([]byte(secret), k, id); err != nil || got != want {
					t.Errorf("leaseKey(%q, %v, %q) = %q, %v; want %q", secret, u, id, got, err, want)
				}
			}
		}
	}
	if _, err := s.leaseKey([]byte("secret"), &turnKeys{}, ""); err == nil {
		t.Error("leaseKey of an empty id: no error")
	}
}
