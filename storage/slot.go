package storage

import (
	"strconv"
	"strings"
	"sync"
)

// Hash slots. A Lua script may touch several keys in Redis Cluster only when they all hash
// to one slot. An event's lease must share its user's slot, so that one script claims the
// event and reads the user's dialogue, but its key must not name the user (a lease outlives
// /story forget by up to DefaultDoneTTL, and the user's own hash tag is their IDs). So the
// lease key carries a tag of its own, chosen to land in the user's slot: slotTag.

// numSlots is the number of hash slots of Redis Cluster.
const numSlots = 16384

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster
// hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// hashSlot returns the Redis Cluster slot of key, with Redis's hash tag rule: when key has
// a '{' followed later by a '}' with something between them, only that something is hashed.
func hashSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % numSlots)
}

var (
	slotSeedsOnce sync.Once
	slotSeeds     []uint32 // slot -> n such that the tag "d" + base36(n) hashes to slot
)

// slotTag returns a short hash tag, "d" followed by a base-36 number, that hashes to slot.
// The table behind it is built once, on first use (about 170,000 checksums of a few bytes,
// a few milliseconds), and holds 64 KiB.
func slotTag(slot int) string {
	slotSeedsOnce.Do(func() {
		seeds := make([]uint32, numSlots)
		found := make([]bool, numSlots)
		left := numSlots
		var buf []byte
		for n := uint32(0); left > 0; n++ {
			buf = strconv.AppendUint(append(buf[:0], 'd'), uint64(n), 36)
			s := int(crc16(string(buf)) % numSlots)
			if !found[s] {
				found[s], seeds[s] = true, n
				left--
			}
		}
		slotSeeds = seeds
	})
	return "d" + strconv.FormatUint(uint64(slotSeeds[slot]), 36)
}
