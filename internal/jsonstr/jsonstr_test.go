package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppend: a string is written as json.Marshal writes it, whatever its bytes.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "They think I'm <lazy> & \"slow\"", "line\nbreak\ttab", "\x7f\x00\x01\b\f\n\r\t<>&'\"\\\u2028\u2029\ufffd",
		"invalid \xff\xfe utf-8", "emoji 😀 and 日本語", "\xed\xa0\x80 lone surrogate bytes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("Append(%q) = %s, want x%s", s, got, want)
		}
	})
}
