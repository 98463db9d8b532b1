package storage

import (
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
	k, err := keysFor(u)
	if err != nil {
		t.Fatal(err)
	}
	key, err := userDedupeKey([]byte("secret"), k, "slack:event:T1:Ev1")
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
