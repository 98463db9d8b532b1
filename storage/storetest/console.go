package storetest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// testConsoleMailbox: the console's mailbox (bot/console.Mailbox) hands a user's messages
// over oldest first and once, sealed at rest, expiring within the hour, one user's apart from
// another's, erased by Forget.
func testConsoleMailbox(t *testing.T, h *harness) {
	s := h.store(newKey(t))
	ctx := context.Background()
	u, other := newUser(t), newUser(t)
	if got, err := s.TakeConsole(ctx, u); err != nil || len(got) != 0 {
		t.Fatalf("TakeConsole(empty) = %q, %v", got, err)
	}
	msgs := []string{"first " + secret, "second", "third"}
	for _, m := range msgs {
		if err := s.PostConsole(ctx, u, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PostConsole(ctx, other, "for the other"); err != nil {
		t.Fatal(err)
	}
	for _, v := range rawValues(t, h.rdb, u) {
		if strings.Contains(v.value, secret) {
			t.Errorf("%s holds a console message in plaintext", v.key)
		}
		if ttl := h.rdb.TTL(ctx, v.key).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s TTL = %v, want at most an hour", v.key, ttl)
		}
	}
	got, err := s.TakeConsole(ctx, u)
	if err != nil || strings.Join(got, "|") != strings.Join(msgs, "|") {
		t.Fatalf("TakeConsole = %q, %v; want %q", got, err, msgs)
	}
	if got, _ := s.TakeConsole(ctx, u); len(got) != 0 {
		t.Errorf("second TakeConsole = %q, want nothing (taken once)", got)
	}
	if err := s.Forget(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TakeConsole(ctx, other); len(got) != 0 {
		t.Errorf("TakeConsole after Forget = %q, want nothing", got)
	}
}
