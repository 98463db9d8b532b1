package storage

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/storybot/storybot/flows"
)

// TestAppendStateJSON: appendStateJSON writes json.Marshal's bytes, or fails where it fails,
// on States whose every field is set through reflection (see TestStateCopies: a field added
// to State or a type it holds is filled without telling this test, and a writer that leaves
// it out differs).
func TestAppendStateJSON(t *testing.T) {
	f := newFiller(t)
	for i := range 3000 {
		seed := uint64(i)
		x := f.state(seed, i%10 == 0)
		want, werr := json.Marshal(x)
		got, err := appendStateJSON([]byte("prefix"), &x)
		if werr != nil {
			if err == nil {
				t.Errorf("seed %d: json.Marshal fails (%v), appendStateJSON does not", seed, werr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: appendStateJSON: %v", seed, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("seed %d: appendStateJSON wrote\n%s\njson.Marshal writes\n%s", seed, got, want)
		}
	}
	for _, s := range []flows.State{{}, {Unseen: time.Time{}.In(time.FixedZone("", 3600))}} {
		want, _ := json.Marshal(s)
		if got, err := appendStateJSON(nil, &s); err != nil || !bytes.Equal(got, want) {
			t.Errorf("appendStateJSON(%#v) = %s, %v; want %s", s, got, err, want)
		}
	}
}

// BenchmarkStateEncoding compares appendStateJSON with json.Marshal on a Pause half way
// through (the State of BenchmarkStateCopies).
func BenchmarkStateEncoding(b *testing.B) {
	s := benchState()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendStateJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendStateJSON(buf[:0], &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
