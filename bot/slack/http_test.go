package slack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadBodyAsReadAll: readBody returns what io.ReadAll over the same MaxBody+1 limit
// returns, the error and (when there is none) the bytes, whatever the announced length says and however the body
// arrives (in pieces, with its last bytes and EOF together, failing midway).
func TestReadBodyAsReadAll(t *testing.T) {
	errBroken := errors.New("connection broken")
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"bytewise": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"data+eof": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"halves":   func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"timeout":  func(b []byte) io.Reader { return iotest.TimeoutReader(bytes.NewReader(b)) },
		"broken": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b[:len(b)/2]), iotest.ErrReader(errBroken))
		},
	}
	bodies := map[string][]byte{
		"empty": {},
		"one":   []byte("x"),
		"event": kitEventBody("U1", "hi & <there>", 1),
		"max":   bytes.Repeat([]byte("a"), MaxBody),
		"over":  bytes.Repeat([]byte("b"), MaxBody+1),
		"more":  bytes.Repeat([]byte("c"), MaxBody+700),
	}
	n := 0
	for bname, body := range bodies {
		for _, cl := range []int64{-1, 0, int64(len(body)), int64(len(body)) - 1, int64(len(body)) + 1, int64(len(body)) + 100, 1, MaxBody} {
			for rname, mk := range readers {
				name := fmt.Sprintf("%s/cl=%d/%s", bname, cl, rname)
				want, wantErr := io.ReadAll(io.LimitReader(mk(body), MaxBody+1))
				r, _ := http.NewRequest(http.MethodPost, "/", nil)
				r.Body, r.ContentLength = io.NopCloser(mk(body)), cl
				got, err := readBody(r)
				// On an error the caller refuses the request and reads no byte: only the
				// error is compared then.
				if (err == nil && !bytes.Equal(got, want)) || !errors.Is(err, wantErr) && err != wantErr {
					t.Errorf("%s: readBody = %d bytes, %v; io.ReadAll %d bytes, %v", name, len(got), err, len(want), wantErr)
				}
				n++
			}
		}
	}
	t.Logf("%d cases", n)
}

// TestEventBodyChunked: an event whose body comes chunked, with no Content-Length, is read
// and handled as one with a length.
func TestEventBodyChunked(t *testing.T) {
	h := newHarness(t)
	const u = "UCHUNK"
	h.slash(u, sharedChannel, "pause")
	n := h.ncalls()
	body := h.messageBody(u, "The meeting ended early.", "EvCHUNK1")
	// A reader that is not a *bytes.Reader: the client cannot know the length, sends chunks.
	code, _ := h.postReader("/slack/events", "application/json", body, io.MultiReader(strings.NewReader(string(body[:10])), bytes.NewReader(body[10:])))
	if code != http.StatusOK {
		t.Fatalf("chunked event: status %d, want 200", code)
	}
	h.wait()
	if got := h.replies(u, n); len(got) == 0 {
		t.Errorf("no reply to a chunked DM event")
	}
}

// postReader posts body, signed, from r with no announced length: the client sends it
// chunked (Transfer-Encoding: chunked).
func (h *harness) postReader(path, contentType string, body []byte, r io.Reader) (int, string) {
	h.tb.Helper()
	return h.send(path, contentType, body, r, time.Now().Unix(), nil)
}
