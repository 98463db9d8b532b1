package storage

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/storybot/storybot/bot"
)

func TestParseKeys(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k16 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 16))
	tests := []struct {
		in      string
		n       int
		wantErr string
	}{
		{"", 0, ""},
		{"  ", 0, ""},
		{k32, 1, ""},
		{k32 + ", " + k32, 2, ""},
		{k32 + "," + k16, 0, "storage: encryption key 2: decodes to 16 bytes, want 32"},
		{"not base64!", 0, "storage: encryption key 1: not standard base64"},
		{k32 + ",", 0, "storage: encryption key 2: empty"},
	}
	for _, tt := range tests {
		keys, err := ParseKeys(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("ParseKeys(%q) = %v, want error %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(keys) != tt.n {
			t.Errorf("ParseKeys(%q) = %d keys, %v; want %d keys", tt.in, len(keys), err, tt.n)
		}
	}
}

func TestSealOpen(t *testing.T) {
	a, _ := newCrypter([][]byte{bytes.Repeat([]byte{1}, 32)})
	b, _ := newCrypter([][]byte{bytes.Repeat([]byte{2}, 32)})
	ba, _ := newCrypter([][]byte{bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32)})
	plain := []byte(`{"story":"secret"}`)
	sealed, err := a.seal(plain, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Errorf("sealed value holds the plaintext")
	}
	for _, c := range []crypter{a, ba} {
		if got, err := c.open(sealed, "k1"); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("open = %q, %v; want %q", got, err, plain)
		}
	}
	if _, err := a.open(sealed, "k2"); err != errOpenFailed {
		t.Errorf("open under another key name = %v, want %v", err, errOpenFailed)
	}
	if _, err := b.open(sealed, "k1"); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("open with the wrong key = %v, want a not-configured error", err)
	}
	if _, err := (crypter{}).open(sealed, "k1"); err != errNoKey {
		t.Errorf("open without keys = %v, want %v", err, errNoKey)
	}
	if got, err := a.open(plain, "k1"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("open(plain JSON) = %q, %v; want it as is", got, err)
	}
	if _, err := a.open(sealed[:10], "k1"); err != errBadSealed {
		t.Errorf("open(truncated) = %v, want %v", err, errBadSealed)
	}
}

func TestKeysEscape(t *testing.T) {
	refs := []bot.UserRef{
		{Platform: "p", Workspace: "a:b", User: "c"},
		{Platform: "p", Workspace: "a", User: "b:c"},
		{Platform: "p", Workspace: "a%3Ab", User: "c"},
		{Platform: "p", Workspace: "a}", User: "{c"},
	}
	seen := map[string]bot.UserRef{}
	for _, u := range refs {
		k, err := keysFor(u)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := seen[k.dialogue]; ok {
			t.Errorf("%+v and %+v share key %s", prev, u, k.dialogue)
		}
		seen[k.dialogue] = u
		// Exactly one '{' and one '}', at the tag's ends.
		if strings.Count(k.dialogue, "{") != 1 || strings.Count(k.dialogue, "}") != 1 ||
			!strings.HasPrefix(k.dialogue, "sb:{u:") {
			t.Errorf("key %s of %+v breaks the hash tag", k.dialogue, u)
		}
	}
	if got := KeyPrefix(bot.UserRef{Platform: "slack", Workspace: "T1", User: "U1"}); got != "sb:{u:slack:T1:U1}" {
		t.Errorf("KeyPrefix = %q, want %q", got, "sb:{u:slack:T1:U1}")
	}
}

// TestKeysNames pins every key of a user, as keys.go documents them: keysFor and
// coachKeysFor cut them from one string, and each must still be exactly its tag and suffix.
func TestKeysNames(t *testing.T) {
	for _, u := range []bot.UserRef{
		{Platform: "slack", Workspace: "T1", User: "U1"},
		{Platform: "discord", Workspace: "a:b%", User: "{x} y*"},
	} {
		tag := KeyPrefix(u)
		k, err := keysFor(u)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := coachKeysFor(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ got, want string }{
			{k.tag, tag}, {k.dialogue, tag + ":dialogue"}, {k.journal, tag + ":journal"},
			{k.profile, tag + ":profile"}, {k.plan, tag + ":safetyplan"}, {k.applied, tag + ":applied"},
			{k.entry("E1"), tag + ":j:E1"},
			{ck.tag, tag}, {ck.links, tag + ":coach:links"}, {ck.practices, tag + ":coach:prac"},
			{ck.clients, tag + ":coach:clients"}, {ck.notes, tag + ":pnotes"},
			{ck.pending, tag + ":coach:pending"}, {ck.ended, tag + ":coach:ended"}, {ck.note("N1"), tag + ":pn:N1"},
		} {
			if c.got != c.want {
				t.Errorf("key of %+v = %q, want %q", u, c.got, c.want)
			}
		}
	}
	if _, err := coachKeysFor(bot.UserRef{Platform: "slack", Workspace: "T1"}); err == nil {
		t.Error("coachKeysFor(no user) = no error, want one")
	}
}
