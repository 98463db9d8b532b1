package slack

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// readEnvelope fills env from body exactly as json.Unmarshal(body, env) would, for the
// Events API bodies it is sure of, and reports true; for anything else it reports false,
// and the caller reads body with encoding/json instead (env is then half-filled: start
// again from a zero one). It exists because nearly every request the bot gets is a DM
// event, and encoding/json's reflection was most of the cost of reading one.
//
// "Sure of" means: body is one JSON object (whitespace around it allowed) that is valid
// JSON throughout, unknown members included; every member the eventEnvelope reads has the
// JSON type encoding/json would store without error (a string or null for a string, true,
// false or null for a bool, an object or null for a struct pointer, an array or null for a
// slice, whose elements are objects); and every member name is plain ASCII with no escape,
// spelled exactly as the field's tag when it matches one case-insensitively, and not
// repeated within its object. Outside that (a key written "Type" or "typ\u0065", a
// duplicate, a number where a string belongs, nesting deeper than maxReadDepth…) it
// declines, rather than copy encoding/json's rules for such inputs. Strings are decoded as
// encoding/json decodes them: every escape, surrogate pairs joined, a lone surrogate or a
// byte of invalid UTF-8 becoming U+FFFD.
func readEnvelope(body []byte, env *eventEnvelope) bool {
	s := reader{cursor{b: body}}
	s.ws()
	if !s.envelope(env) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// maxReadDepth bounds the nesting readEnvelope skips over (encoding/json allows 10,000;
// deeper bodies are left to it).
const maxReadDepth = 64

// reader is a position in a JSON text. Its methods report false when the text is not
// what readEnvelope is sure of; they leave whitespace before a value to the caller.
type reader struct {
	cursor
}

// Members of the objects readEnvelope reads, as bits of a set of those seen.
const (
	mType = 1 << iota
	mChallenge
	mEventID
	mTeamID
	mEnterpriseID
	mAuthorizations
	mEvent
	mUserID
	mIsBot
	mChannel
	mChannelType
	mSubType
	mBotID
	mUser
	mUserTeam
	mText
	mFiles
	mMessage
)

// The member names of each object read, for the case-insensitive matches it declines.
var (
	envelopeNames = []string{"type", "challenge", "event_id", "team_id", "enterprise_id", "authorizations", "event"}
	authNames     = []string{"user_id", "is_bot"}
	dmNames       = []string{"type", "channel", "channel_type", "subtype", "bot_id", "user", "user_team", "text", "files", "message"}
	messageNames  = []string{"files"}
)

func (s *reader) envelope(env *eventEnvelope) bool {
	return s.object(envelopeNames, 0, func(key []byte) (bit uint32, ok, known bool) {
		switch string(key) {
		case "type":
			return mType, s.str(&env.Type), true
		case "challenge":
			return mChallenge, s.str(&env.Challenge), true
		case "event_id":
			return mEventID, s.str(&env.EventID), true
		case "team_id":
			return mTeamID, s.str(&env.TeamID), true
		case "enterprise_id":
			return mEnterpriseID, s.str(&env.EnterpriseID), true
		case "authorizations":
			return mAuthorizations, s.authorizations(env), true
		case "event":
			if s.null() {
				env.Event = nil
				return mEvent, true, true
			}
			env.Event = new(dmMessage)
			return mEvent, s.dm(env.Event), true
		}
		return 0, false, false
	})
}

// object reads a JSON object member by member: field reads the value of a member it knows
// (known) and names its bit (each may come once, as encoding/json would take the last);
// any other member is skipped, at depth, unless its name is one of names in another case
// (encoding/json would match it).
func (s *reader) object(names []string, depth int, field func(key []byte) (bit uint32, ok, known bool)) bool {
	if !s.eat('{') {
		return false
	}
	var seen uint32
	for first := true; ; first = false {
		key, done, ok := s.member(first)
		if !ok {
			return false
		}
		if done {
			return true
		}
		bit, ok, known := field(key)
		if !known {
			ok = !foldsTo(key, names) && s.skip(depth)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

func (s *reader) authorizations(env *eventEnvelope) bool {
	if s.null() {
		env.Authorizations = nil
		return true
	}
	if !s.eat('[') {
		return false
	}
	auths := []authorization{} // [] is an empty slice, not nil, as in encoding/json
	for first := true; ; first = false {
		done, ok := s.element(first)
		if !ok {
			return false
		}
		if done {
			env.Authorizations = auths
			return true
		}
		var au authorization
		if !s.authorization(&au) {
			return false
		}
		auths = append(auths, au)
	}
}

func (s *reader) authorization(au *authorization) bool {
	return s.object(authNames, 1, func(key []byte) (bit uint32, ok, known bool) {
		switch string(key) {
		case "user_id":
			return mUserID, s.str(&au.UserID), true
		case "is_bot":
			return mIsBot, s.boolean(&au.IsBot), true
		}
		return 0, false, false
	})
}

func (s *reader) dm(m *dmMessage) bool {
	return s.object(dmNames, 1, func(key []byte) (bit uint32, ok, known bool) {
		switch string(key) {
		case "type":
			return mType, s.str(&m.Type), true
		case "channel":
			return mChannel, s.str(&m.Channel), true
		case "channel_type":
			return mChannelType, s.str(&m.ChannelType), true
		case "subtype":
			return mSubType, s.str(&m.SubType), true
		case "bot_id":
			return mBotID, s.str(&m.BotID), true
		case "user":
			return mUser, s.str(&m.User), true
		case "user_team":
			return mUserTeam, s.str(&m.UserTeam), true
		case "text":
			return mText, s.str(&m.Text), true
		case "files":
			return mFiles, s.files(&m.Files, 1), true
		case "message":
			if s.null() {
				m.Message = nil
				return mMessage, true, true
			}
			m.Message = &struct {
				Files []struct{} `json:"files"`
			}{}
			return mMessage, s.message(&m.Message.Files), true
		}
		return 0, false, false
	})
}

// message reads the "message" member of a message event, of which only the files count.
func (s *reader) message(files *[]struct{}) bool {
	return s.object(messageNames, 2, func(key []byte) (bit uint32, ok, known bool) {
		if string(key) == "files" {
			return mFiles, s.files(files, 2), true
		}
		return 0, false, false
	})
}

// files reads an array of objects (or null) into a []struct{}: only the count is kept.
func (s *reader) files(dst *[]struct{}, depth int) bool {
	if s.null() {
		*dst = nil
		return true
	}
	if !s.eat('[') {
		return false
	}
	n := 0
	for first := true; ; first = false {
		done, ok := s.element(first)
		if !ok {
			return false
		}
		if done {
			*dst = make([]struct{}, n)
			return true
		}
		// Each element must be an object: encoding/json stores null as an element too, and
		// refuses anything else; both are left to it.
		if s.i >= len(s.b) || s.b[s.i] != '{' || !s.skip(depth+1) {
			return false
		}
		n++
	}
}

// foldsTo reports whether key equals one of names case-insensitively (key is ASCII: member
// refuses other keys).
func foldsTo(key []byte, names []string) bool {
	for _, n := range names {
		if len(n) != len(key) {
			continue
		}
		i := 0
		for ; i < len(n); i++ {
			c := key[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != n[i] { // names are lower case
				break
			}
		}
		if i == len(n) {
			return true
		}
	}
	return false
}

// null consumes a null literal if it is next.
func (s *reader) null() bool {
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// member moves past the separator before an object's next member (first: the first, just
// after '{') and reads its name and the colon after it, leaving s at the value (whitespace
// skipped). done: the object ended instead. The name must be plain ASCII: no escape, no
// byte that encoding/json might fold to an ASCII letter.
func (s *reader) member(first bool) (key []byte, done, ok bool) {
	s.ws()
	if s.eat('}') {
		return nil, true, true
	}
	if !first {
		if !s.eat(',') {
			return nil, false, false
		}
		s.ws()
	}
	if !s.eat('"') {
		return nil, false, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false, false
		}
	}
	if s.i >= len(s.b) {
		return nil, false, false
	}
	key = s.b[start:s.i]
	s.i++
	s.ws()
	if !s.eat(':') {
		return nil, false, false
	}
	s.ws()
	return key, false, true
}

// element moves past the separator before an array's next element, as member does.
func (s *reader) element(first bool) (done, ok bool) {
	s.ws()
	if s.eat(']') {
		return true, true
	}
	if !first {
		if !s.eat(',') {
			return false, false
		}
		s.ws()
	}
	return false, true
}

// str reads a string into dst; null leaves dst as it is (zero: no member is read twice).
func (s *reader) str(dst *string) bool {
	if s.null() {
		return true
	}
	if !s.eat('"') {
		return false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			*dst = intern(s.b[start:s.i])
			s.i++
			return true
		case c == '\\' || c >= utf8.RuneSelf:
			return s.unquote(dst, start)
		case c < 0x20:
			return false
		}
	}
	return false
}

// intern returns b as a string, without allocating for the values nearly every event has.
func intern(b []byte) string {
	switch string(b) { // compared, not converted: no allocation
	case "event_callback":
		return "event_callback"
	case "message":
		return "message"
	case "im":
		return "im"
	}
	return string(b)
}

// unquote decodes the string that starts at start (after its quote) as encoding/json's
// unquote does, and moves past its closing quote. s is at its first escape or non-ASCII
// byte.
func (s *reader) unquote(dst *string, start int) bool {
	end := s.i
	for end < len(s.b) && s.b[end] != '"' {
		if s.b[end] == '\\' {
			end++
		}
		end++
	}
	// Decoded, a string is at most as long as it is quoted unless it has invalid UTF-8
	// (one byte becomes three): append grows the buffer then.
	buf := make([]byte, 0, min(end, len(s.b))-start)
	buf = append(buf, s.b[start:s.i]...) // the plain ASCII before
	r := s.i
	for r < len(s.b) {
		c := s.b[r]
		switch {
		case c == '"':
			*dst = string(buf)
			s.i = r + 1
			return true
		case c == '\\':
			if r+1 >= len(s.b) {
				return false
			}
			switch e := s.b[r+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				rr := getu4(s.b[r:])
				if rr < 0 {
					return false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s.b[r:])); dec != unicode.ReplacementChar {
						buf = utf8.AppendRune(buf, dec)
						r += 6
						continue
					}
					rr = unicode.ReplacementChar // a lone surrogate
				}
				buf = utf8.AppendRune(buf, rr)
				continue
			default:
				return false
			}
			r += 2
		case c < 0x20:
			return false
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s.b[r:]) // invalid UTF-8: U+FFFD for the byte
			buf = utf8.AppendRune(buf, rr)
			r += size
		}
	}
	return false
}

// getu4 decodes \uXXXX at the start of b, or returns -1.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		d, ok := fromHex(c) // verify.go
		if !ok {
			return -1
		}
		r = r*16 + rune(d)
	}
	return r
}

// boolean reads true or false into dst; null leaves it as it is.
func (s *reader) boolean(dst *bool) bool {
	switch {
	case s.null():
		return true
	case s.literal("true"):
		*dst = true
		return true
	case s.literal("false"):
		*dst = false
		return true
	}
	return false
}

// skip moves past one JSON value of any kind, checking that it is valid; depth is how
// deep it is.
func (s *reader) skip(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= maxReadDepth {
			return false
		}
		s.i++
		for first := true; ; first = false {
			_, done, ok := s.member(first)
			if !ok {
				return false
			}
			if done {
				return true
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case c == '[':
		if depth >= maxReadDepth {
			return false
		}
		s.i++
		for first := true; ; first = false {
			done, ok := s.element(first)
			if !ok {
				return false
			}
			if done {
				return true
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case c == '"':
		return s.skipString()
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.null()
	}
	return false
}
