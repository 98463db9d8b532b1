package storage

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/storybot/storybot/flows"
)

// cloneState returns a deep copy of s: one that shares no memory with it (strings aside:
// they are immutable), so that a turn's step may change what it is handed (append to a
// slice in place, write through a pointer) without changing s. The guess memory (guess.go)
// hands out such copies of the State it keeps.
func cloneState(s flows.State) flows.State {
	c := stateCopier{ok: true}
	return c.state(s)
}

// decodedState returns the State that decoding s's stored encoding gives (json.Unmarshal
// of json.Marshal of s), without encoding or decoding, as a copy that shares no memory with
// s. The guess memory (guess.go) keeps a committed turn's state so: what a turn from the
// memory starts from must be exactly what another replica decodes from the same stored
// bytes, or two replicas could answer one line differently. It is not just a copy, since
// the encoding is not lossless: a string's invalid UTF-8 bytes become U+FFFD, a time loses
// its monotonic reading and keeps only its offset from UTC (not its time zone's rules), an
// empty slice under omitempty is left out and comes back nil, a zero time under omitzero
// comes back as the zero Time. (Nor is it idempotent: a time decoded in Local at offset 0
// encodes as "Z" and decodes in UTC; so a State that was decoded is kept with cloneState,
// not this.) ok is false when s has a time encoding/json refuses (json.Marshal of s fails
// too, so such a State is never stored).
//
// statecopy_test.go fills every field of State through reflection and checks both
// functions against encoding/json and for shared memory, so that a field added to State (or
// to a type it holds) and not handled here fails it.
func decodedState(s flows.State) (flows.State, bool) {
	c := stateCopier{json: true, ok: true}
	d := c.state(s)
	return d, c.ok
}

// stateCopier copies a State: as it is, or (json) as its encoding reads back.
type stateCopier struct {
	json bool
	ok   bool // false: a time does not encode (json only)
}

func (c *stateCopier) state(s flows.State) flows.State {
	d := s // every field of a plain value type (numbers, bools) is right as it is
	d.Trail = copySlice(s.Trail, c.json)
	d.Entry = c.entry(s.Entry)
	d.Hints = c.strings(s.Hints)
	d.Updated = c.time(s.Updated)
	d.Turnarounds = copySlice(s.Turnarounds, c.json)
	for i := range d.Turnarounds {
		t := &d.Turnarounds[i]
		t.Kind, t.Text = c.string(t.Kind), c.string(t.Text)
	}
	d.Request = c.string(s.Request)
	d.Pending = c.start(s.Pending)
	if s.Check != nil {
		k := *s.Check
		k.Text, k.Start = c.string(k.Text), c.start(k.Start)
		if s.Check.Form != nil {
			f := *s.Check.Form
			f.Story, f.Other, f.Next = c.string(f.Story), c.string(f.Other), c.string(f.Next)
			f.Feeling, f.CheckBack = c.string(f.Feeling), c.string(f.CheckBack)
			k.Form = &f
		}
		d.Check = &k
	}
	if s.Plan != nil {
		p := *s.Plan
		p.WarningSigns, p.Helps, p.People = c.string(p.WarningSigns), c.string(p.Helps), c.string(p.People)
		p.Updated = c.time(p.Updated)
		d.Plan = &p
	}
	if c.json && s.Unseen.IsZero() {
		d.Unseen = time.Time{} // omitzero
	} else {
		d.Unseen = c.time(s.Unseen)
	}
	return d
}

func (c *stateCopier) entry(e flows.Entry) flows.Entry {
	d := e
	d.ID = c.string(e.ID)
	d.Created = c.time(e.Created)
	d.What, d.Story, d.Feeling = c.string(e.What), c.string(e.Story), c.string(e.Feeling)
	d.StrengthBefore = cloneInt(e.StrengthBefore)
	d.Facts = c.string(e.Facts)
	d.Others = c.strings(e.Others)
	d.Next = c.string(e.Next)
	d.StrengthAfter = cloneInt(e.StrengthAfter)
	d.Learn = c.string(e.Learn)
	d.CheckBack = c.timePtr(e.CheckBack)
	d.BeliefBefore = cloneInt(e.BeliefBefore)
	d.IsTrue, d.Absolutely, d.Reaction = c.string(e.IsTrue), c.string(e.Absolutely), c.string(e.Reaction)
	d.Traps, d.SuggestedTraps = c.strings(e.Traps), c.strings(e.SuggestedTraps)
	d.Turnaround, d.Example, d.KinderStory = c.string(e.Turnaround), c.string(e.Example), c.string(e.KinderStory)
	d.BeliefAfter = cloneInt(e.BeliefAfter)
	if e.FollowUp != nil {
		f := *e.FollowUp
		f.Outcome, f.FoundOut, f.HowTrue = c.string(f.Outcome), c.string(f.FoundOut), cloneInt(f.HowTrue)
		f.At, f.Again = c.time(f.At), c.timePtr(f.Again)
		d.FollowUp = &f
	}
	return d
}

func (c *stateCopier) start(s *flows.Start) *flows.Start {
	if s == nil {
		return nil
	}
	d := *s
	d.Text, d.Request = c.string(s.Text), c.string(s.Request)
	if s.Entry != nil {
		e := c.entry(*s.Entry)
		d.Entry = &e
	}
	return &d
}

// string is s, or (json) s as encoding/json writes it and reads it back: each byte that is
// not part of valid UTF-8 becomes U+FFFD (json's appendString does it byte by byte, unlike
// strings.ToValidUTF8, which replaces a run of them with one).
func (c *stateCopier) string(s string) string {
	if !c.json || utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// strings copies a []string field tagged omitempty.
func (c *stateCopier) strings(ss []string) []string {
	d := copySlice(ss, c.json)
	if c.json {
		for i, s := range d {
			d[i] = c.string(s)
		}
	}
	return d
}

// time is t, or (json) t as encoding/json writes it and reads it back: through
// time.Time's own MarshalJSON and UnmarshalJSON, which is what encoding/json calls. A time
// at offset 0 from UTC, the common case (a server's clock in UTC), needs neither: it is
// written with "Z" and read back in UTC, without its monotonic reading. (A time shares its
// *time.Location, which is immutable.)
func (c *stateCopier) time(t time.Time) time.Time {
	if !c.json {
		return t
	}
	if _, off := t.Zone(); off == 0 {
		if y := t.Year(); y >= 0 && y <= 9999 {
			return t.Round(0).UTC()
		}
	}
	b, err := t.MarshalJSON()
	if err != nil {
		c.ok = false
		return time.Time{}
	}
	var d time.Time
	if err := d.UnmarshalJSON(b); err != nil {
		c.ok = false
	}
	return d
}

func (c *stateCopier) timePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	d := c.time(*t)
	return &d
}

func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// copySlice copies a slice field tagged omitempty: nil stays nil and, unless json (the
// encoding leaves an empty one out), empty stays empty.
func copySlice[T any](s []T, json bool) []T {
	switch {
	case s == nil || len(s) == 0 && json:
		return nil
	case len(s) == 0:
		return []T{}
	}
	return slices.Clone(s)
}
