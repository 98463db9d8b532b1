package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/internal/jsonstr"
)

// A DM reply is posted with chat.postMessage built here, not with slack-go's
// PostMessageContext: on the DM path slack-go cost about a third of storybot's CPU per
// answer. It gathers the message from option closures into url.Values, marshals the blocks
// by reflection, and decodes Slack's whole answer — which echoes the posted message with its
// blocks — into its Message type, every block through its UnmarshalJSON, only for the
// caller to look at "ok" and "error". Here the form is written in one pass, byte for byte
// the body slack-go sends for the same message (TestPostMatchesSlackGo), and only "ok" and
// "error" are read from the answer (readAnswer, FuzzReadAnswer). Errors are the values
// slack-go returns, wrapped, so the outbox and the retries treat them alike:
// *slack.RateLimitedError for 429 with Retry-After, slack.StatusCodeError for any other
// status but 200, slack.SlackErrorResponse for "ok":false with an error. Every other Web
// API call still goes through slack-go.

const (
	// formContentType is what slack-go sends form posts with.
	formContentType = "application/x-www-form-urlencoded"
	// maxAnswer bounds the answer read: Slack echoes the message, at most 40,000
	// characters of text and 50 blocks.
	maxAnswer = 4 << 20
	// maxDrain is how much of an answer that is not read (an error status) is still read
	// and dropped so that the connection can be used again.
	maxDrain = 64 << 10
)

// bufs holds spare buffers for a post's blocks JSON (escaped into the form, then given
// back) and for its answer (parsed, then given back): memory only, no state. Buffers
// grown past maxKept are left to the collector.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxKept = 64 << 10

// postMessage posts text, and blocks when not nil, to channel ch with chat.postMessage:
// the form slack-go's PostMessageContext sends for MsgOptionText(text, false),
// MsgOptionDisableMarkdown() and MsgOptionBlocks(blocks...). It goes out through the
// client's Transport (direct.go).
func (a *Adapter) postMessage(ctx context.Context, ch, text string, blocks []slack.Block) error {
	body, err := postForm(a.cfg.BotToken, ch, text, blocks)
	if err != nil {
		return fmt.Errorf("slack: chat.postMessage: %w", err)
	}
	ctx, cancel := a.direct.bound(ctx)
	defer cancel()
	resp, err := a.direct.send(ctx, &a.direct.post, nil, body)
	if err != nil {
		return fmt.Errorf("slack: chat.postMessage: %w", &url.Error{Op: "Post", URL: a.direct.postURL, Err: err})
	}
	if err := readResponse(resp, webAPIAnswer); err != nil {
		return fmt.Errorf("slack: chat.postMessage: %w", err)
	}
	return nil
}

// readResponse reads a direct post's answer as slack-go reads it: an error status
// (answerError), else the body, read whole and given to read, and closes it so that the
// connection can be used again.
func readResponse(resp *http.Response, read func(resp *http.Response, body []byte) error) error {
	if err := answerError(resp); err != nil {
		drainClose(resp.Body)
		return err
	}
	bp := bufs.Get().(*[]byte)
	buf, err := readAll((*bp)[:0], resp.Body, resp.ContentLength)
	if err != nil {
		drainClose(resp.Body)
	} else {
		// Read to its end: the connection is back in the pool; nothing left to drain.
		_ = resp.Body.Close()
		err = read(resp, buf)
	}
	if cap(buf) <= maxKept {
		*bp = buf[:0]
		bufs.Put(bp)
	}
	return err
}

// webAPIAnswer is slack-go's reading of a Web API answer: its "ok" and "error".
func webAPIAnswer(_ *http.Response, body []byte) error {
	ans, err := readAnswer(body)
	if err != nil {
		return err
	}
	return ans.err()
}

// answerError is what slack-go makes of an answer's status (its checkStatusCode).
func answerError(resp *http.Response) error {
	if ra := resp.Header.Get("Retry-After"); resp.StatusCode == http.StatusTooManyRequests && ra != "" {
		secs, err := strconv.ParseInt(ra, 10, 64)
		if err != nil {
			return fmt.Errorf("rate limited with a Retry-After of %q: %w", ra, err)
		}
		return &slack.RateLimitedError{RetryAfter: time.Duration(secs) * time.Second}
	}
	if resp.StatusCode != http.StatusOK {
		return slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	return nil
}

// readAll appends r to buf, up to maxAnswer bytes; n, the length when known, sizes buf.
func readAll(buf []byte, r io.Reader, n int64) ([]byte, error) {
	if n > 0 && n <= maxAnswer && int64(cap(buf)) < n+1 {
		buf = make([]byte, 0, n+1) // +1: room for the read that sees the end
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if len(buf) > maxAnswer {
			return buf, fmt.Errorf("answer longer than %d bytes", maxAnswer)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, fmt.Errorf("reading the answer: %w", err)
		}
	}
}

// drainClose reads what is left of an answer not read to its end (a little) and closes
// it, so that the connection goes back to the pool.
func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// postForm returns the form body slack-go's PostMessageContext sends for a message with
// text (already escaped for Slack), mrkdwn off and blocks when not nil: url.Values.Encode
// of token, channel, text, mrkdwn and blocks (JSON), which sorts the keys. The body is
// allocated once, at its size; the blocks' JSON is written in a scratch buffer first.
func postForm(token, ch, text string, blocks []slack.Block) ([]byte, error) {
	var js []byte
	if blocks != nil {
		sp := bufs.Get().(*[]byte)
		defer func() {
			if cap(js) <= maxKept {
				*sp = js[:0]
				bufs.Put(sp)
			}
		}()
		var ok bool
		if js, ok = appendBlocks((*sp)[:0], blocks); !ok {
			// A shape rawblocks.go does not write (a merged queue's context notes):
			// encoding/json, as slack-go does.
			var err error
			if js, err = json.Marshal(blocks); err != nil {
				return nil, fmt.Errorf("blocks: %w", err)
			}
		}
	}
	n := len("channel=&mrkdwn=false&text=&token=") + queryEscapedLen(ch) + queryEscapedLen(text) + queryEscapedLen(token)
	if blocks != nil {
		n += len("blocks=&") + queryEscapedLen(js)
	}
	body := make([]byte, 0, n)
	if blocks != nil {
		body = append(body, "blocks="...)
		body = appendQueryEscape(body, js)
		body = append(body, '&')
	}
	body = append(body, "channel="...)
	body = appendQueryEscape(body, ch)
	body = append(body, "&mrkdwn=false&text="...)
	body = appendQueryEscape(body, text)
	body = append(body, "&token="...)
	body = appendQueryEscape(body, token)
	return body, nil
}

// appendBlocks writes blocks as a JSON array, as encoding/json writes them, if rawblocks.go
// knows every block's shape.
func appendBlocks(buf []byte, blocks []slack.Block) ([]byte, bool) {
	buf = append(buf, '[')
	for i, b := range blocks {
		if i > 0 {
			buf = append(buf, ',')
		}
		var ok bool
		if buf, ok = appendBlock(buf, b); !ok {
			return buf, false
		}
	}
	return append(buf, ']'), true
}

// queryEscapedLen is the length of s escaped by appendQueryEscape.
func queryEscapedLen[S string | []byte](s S) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		n += int(queryExtra[s[i]])
	}
	return n
}

// queryExtra is, for each byte, how many bytes url.QueryEscape adds for it: 2 for one
// written %XX, 0 for one left as it is (letters, digits, -_.~) or written + (space). A
// table: the form's blocks JSON is mostly bytes to escape, and comparing ranges for each
// was most of postForm's time.
var queryExtra = func() (t [256]uint8) {
	for c := range t {
		if !queryUnescaped(byte(c)) && c != ' ' {
			t[c] = 2
		}
	}
	return t
}()

// queryUnescaped reports whether url.QueryEscape leaves c as it is.
func queryUnescaped(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// appendQueryEscape appends s escaped as url.QueryEscape does: letters, digits and -_.~
// as they are, space as +, every other byte as %XX with upper-case hex digits.
func appendQueryEscape[S string | []byte](buf []byte, s S) []byte {
	const upperHex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if queryExtra[c] == 0 && c != ' ' {
			continue
		}
		buf = append(buf, s[start:i]...)
		if c == ' ' {
			buf = append(buf, '+')
		} else {
			buf = append(buf, '%', upperHex[c>>4], upperHex[c&15])
		}
		start = i + 1
	}
	return append(buf, s[start:]...)
}

// answer is what the adapter needs of a Web API answer.
type answer struct {
	ok       bool
	errorMsg string
}

// err is slack-go's SlackResponse.Err: an answer that is not ok but names no error is not
// an error.
func (a answer) err() error {
	if a.ok || strings.TrimSpace(a.errorMsg) == "" {
		return nil
	}
	return slack.SlackErrorResponse{Err: a.errorMsg}
}

// errBadAnswer is returned for an answer that is not one JSON object (or null).
var errBadAnswer = errors.New("answer is not a JSON object")

// readAnswer reads "ok" and "error" from a Web API answer as encoding/json's Decoder does
// into a struct with those two fields (slack-go's SlackResponse): the first JSON value of
// b, which must be an object or null; field names matched without regard to case, the last
// one winning; null leaving a field as it was; any other value of the wrong type, or
// anything that is not JSON, an error. Every other value is checked and skipped.
func readAnswer(b []byte) (answer, error) {
	s := scanner{cursor{b: b}}
	var ans answer
	s.ws()
	if s.literal("null") {
		return ans, nil
	}
	if !s.eat('{') {
		return ans, s.fail()
	}
	s.ws()
	if s.eat('}') {
		return ans, nil
	}
	var typeErr error
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return ans, s.fail()
		}
		s.ws()
		if !s.eat(':') {
			return ans, s.fail()
		}
		s.ws()
		switch {
		case fieldIs(key, "ok"):
			switch {
			case s.literal("true"):
				ans.ok = true
			case s.literal("false"):
				ans.ok = false
			case s.literal("null"):
			default:
				if !s.value(0) {
					return ans, s.fail()
				}
				if typeErr == nil {
					typeErr = errors.New(`answer's "ok" is not a boolean`)
				}
			}
		case fieldIs(key, "error"):
			switch {
			case s.i < len(s.b) && s.b[s.i] == '"':
				raw, ok := s.str()
				if !ok {
					return ans, s.fail()
				}
				ans.errorMsg = unquote(raw)
			case s.literal("null"):
			default:
				if !s.value(0) {
					return ans, s.fail()
				}
				if typeErr == nil {
					typeErr = errors.New(`answer's "error" is not a string`)
				}
			}
		default:
			if !s.value(0) {
				return ans, s.fail()
			}
		}
		s.ws()
		if s.eat('}') {
			return ans, typeErr
		}
		if !s.eat(',') {
			return ans, s.fail()
		}
	}
}

// fieldIs reports whether the quoted key raw names field, as encoding/json matches names.
func fieldIs(raw []byte, field string) bool {
	inner := raw[1 : len(raw)-1]
	if len(inner) == len(field) && bytes.EqualFold(inner, []byte(field)) {
		return true
	}
	if bytes.IndexByte(inner, '\\') < 0 && !hasNonASCII(inner) {
		return false
	}
	// Escapes, or letters that fold to ASCII ones (the Kelvin sign is a k).
	return strings.EqualFold(unquote(raw), field)
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// unquote returns the JSON string raw (quoted, already checked) as encoding/json decodes
// it.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && !hasNonASCII(inner) {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // checked by the scanner: cannot fail
	return s
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// scanner checks and skips JSON values in b.
type scanner struct {
	cursor
}

func (s *scanner) fail() error {
	if s.i >= len(s.b) {
		return fmt.Errorf("%w: unexpected end", errBadAnswer)
	}
	return fmt.Errorf("%w: unexpected %q at offset %d", errBadAnswer, s.b[s.i], s.i)
}

// str scans a string and returns it quoted as it stands.
func (s *scanner) str() ([]byte, bool) {
	start := s.i
	if s.i >= len(s.b) || s.b[s.i] != '"' || !s.skipString() {
		return nil, false
	}
	return s.b[start:s.i], true
}

// value checks and skips one value at nesting depth (objects and arrays around it).
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{' || c == '[':
		if depth+1 > maxDepth {
			return false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		s.ws()
		if s.eat(end) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if _, ok := s.str(); !ok {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(end) {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return s.literal("true") || s.literal("false") || s.literal("null")
}

// postEphemeral posts text, and blocks when not nil, ephemerally to a response_url (route):
// the JSON slack-go's PostMessageContext sends for MsgOptionResponseURL(route, "ephemeral"),
// MsgOptionText(text, false) and MsgOptionBlocks(blocks...), byte for byte
// (TestEphemeralMatchesSlackGo), and its answer read as slack-go reads it: an error status
// as postMessage's, a JSON answer's "ok" and "error", else the text "ok". A /story from a
// channel gets one (the pointer to the DM), and slack-go's options, reflection and
// response parsing were most of its cost. It goes out through the client's Transport
// (direct.go).
func (a *Adapter) postEphemeral(ctx context.Context, route *url.URL, text string, blocks []slack.Block) error {
	body, err := ephemeralBody(text, blocks)
	if err != nil {
		return fmt.Errorf("slack: response_url: %w", err)
	}
	ctx, cancel := a.direct.bound(ctx)
	defer cancel()
	resp, err := a.direct.send(ctx, &a.direct.ephemeral, route, body)
	if err != nil {
		// Without the path: a response_url's path is what lets anyone post with it.
		where := route.Scheme + "://" + route.Host
		return fmt.Errorf("slack: response_url: %w", &url.Error{Op: "Post", URL: where, Err: err})
	}
	if err := readResponse(resp, ephemeralAnswer); err != nil {
		return fmt.Errorf("slack: response_url: %w", err)
	}
	return nil
}

// ephemeralBody is what json.Encoder writes for slack-go's Msg holding text, blocks and
// response type "ephemeral" (its fields in order, empty ones left out but for the two
// flags and the metadata, which have no omitempty that works; a newline after it).
func ephemeralBody(text string, blocks []slack.Block) ([]byte, error) {
	body := make([]byte, 0, 160+len(text)+len(text)/8)
	body = append(body, '{')
	if text != "" {
		body = append(body, `"text":`...)
		body = jsonstr.Append(body, text)
		body = append(body, ',')
	}
	body = append(body, `"response_type":"ephemeral","replace_original":false,"delete_original":false,"metadata":{"event_type":"","event_payload":null},"blocks":`...)
	if blocks == nil {
		body = append(body, "null"...)
	} else {
		n := len(body)
		var ok bool
		if body, ok = appendBlocks(body, blocks); !ok {
			js, err := json.Marshal(blocks) // a shape rawblocks.go does not write, as slack-go
			if err != nil {
				return nil, fmt.Errorf("blocks: %w", err)
			}
			body = append(body[:n], js...)
		}
	}
	return append(body, '}', '\n'), nil
}

// ephemeralAnswer is slack-go's reading of a response_url's answer (its content-type
// parser): a JSON answer's "ok" and "error", any other the text "ok", else an error that
// is the text.
func ephemeralAnswer(resp *http.Response, body []byte) error {
	ctype, err := mediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if ctype == "application/json" {
		ans, err := readAnswer(body)
		if err != nil {
			return err
		}
		return ans.err()
	}
	if string(body) != "ok" {
		return errors.New(string(body))
	}
	return nil
}

// mediaType is the media type mime.ParseMediaType finds in a Content-Type, and its error
// (FuzzMediaType). The usual ones — a lower-case type/subtype, perhaps with
// "; charset=utf-8" — are read here: ParseMediaType makes a map of the parameters for every
// answer, and a response_url answers "ok" as text/html.
func mediaType(ct string) (string, error) {
	t := strings.TrimSuffix(ct, "; charset=utf-8")
	if simpleMediaType(t) {
		return t, nil
	}
	t, _, err := mime.ParseMediaType(ct)
	return t, err
}

// simpleMediaType reports whether t is type/subtype, both RFC 1521 tokens in lower case.
func simpleMediaType(t string) bool {
	slash := strings.IndexByte(t, '/')
	if slash <= 0 || slash == len(t)-1 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if i != slash && (c <= ' ' || c >= 0x7f || 'A' <= c && c <= 'Z' || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0) {
			return false
		}
	}
	return true
}
