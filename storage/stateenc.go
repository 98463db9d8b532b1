package storage

import (
	"strconv"
	"time"

	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/jsonstr"
)

// appendStateJSON appends the JSON encoding of s to b: byte for byte what json.Marshal(s)
// writes (field order, omitempty and omitzero, HTML-safe string escapes, invalid UTF-8 as
// \ufffd, times through their own RFC 3339 writer), without reflection. Every turn encodes
// the new state; json.Marshal was the largest part of the store's own CPU in a turn from the
// guess memory. The stored format is json.Marshal's, so what any version wrote, any version
// reads. It fails where json.Marshal fails: a time it cannot write.
//
// stateenc_test.go compares it with json.Marshal on States whose every field is filled
// through reflection (the filler of statecopy_test.go), so a field added to State, or to a
// type it holds, and not written here fails it.
func appendStateJSON(b []byte, s *flows.State) ([]byte, error) {
	e := stateEncoder{b: b}
	e.state(s)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

type stateEncoder struct {
	b   []byte
	err error
}

// key writes an object's key, after a comma unless it is the object's first.
func (e *stateEncoder) key(first *bool, k string) {
	if !*first {
		e.b = append(e.b, ',')
	}
	*first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *stateEncoder) int(first *bool, k string, n int64, omitEmpty bool) {
	if omitEmpty && n == 0 {
		return
	}
	e.key(first, k)
	e.b = strconv.AppendInt(e.b, n, 10)
}

func (e *stateEncoder) bool(first *bool, k string, v bool) { // omitempty
	if v {
		e.key(first, k)
		e.b = append(e.b, "true"...)
	}
}

func (e *stateEncoder) str(first *bool, k, s string, omitEmpty bool) {
	if omitEmpty && s == "" {
		return
	}
	e.key(first, k)
	e.b = jsonstr.Append(e.b, s)
}

func (e *stateEncoder) intPtr(first *bool, k string, p *int) { // omitempty
	if p != nil {
		e.key(first, k)
		e.b = strconv.AppendInt(e.b, int64(*p), 10)
	}
}

func (e *stateEncoder) time(first *bool, k string, t time.Time) {
	e.key(first, k)
	e.b = append(e.b, '"')
	b, err := t.AppendText(e.b) // what time.Time.MarshalJSON writes between its quotes
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return
	}
	e.b = append(b, '"')
}

func (e *stateEncoder) timePtr(first *bool, k string, t *time.Time) { // omitempty
	if t != nil {
		e.time(first, k, *t)
	}
}

func (e *stateEncoder) strings(first *bool, k string, ss []string) { // omitempty
	if len(ss) == 0 {
		return
	}
	e.key(first, k)
	e.b = append(e.b, '[')
	for i, s := range ss {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = jsonstr.Append(e.b, s)
	}
	e.b = append(e.b, ']')
}

func (e *stateEncoder) state(s *flows.State) {
	first := true
	e.b = append(e.b, '{')
	e.int(&first, "v", int64(s.Version), false)
	e.int(&first, "flow", int64(s.Flow), true)
	e.int(&first, "step", int64(s.Step), true)
	if len(s.Trail) > 0 {
		e.key(&first, "trail")
		e.b = append(e.b, '[')
		for i, st := range s.Trail {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = strconv.AppendInt(e.b, int64(st), 10)
		}
		e.b = append(e.b, ']')
	}
	e.key(&first, "entry")
	e.entry(&s.Entry)
	e.strings(&first, "hints", s.Hints)
	e.time(&first, "updated", s.Updated) // omitempty leaves no struct out
	e.bool(&first, "hint_answered", s.HintAnswered)
	if len(s.Turnarounds) > 0 {
		e.key(&first, "turnarounds")
		e.b = append(e.b, '[')
		for i, t := range s.Turnarounds {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			tf := true
			e.b = append(e.b, '{')
			e.str(&tf, "kind", t.Kind, false)
			e.str(&tf, "text", t.Text, false)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	e.bool(&first, "deeper", s.Deeper)
	e.bool(&first, "no_check_back", s.NoCheckBack)
	e.str(&first, "request", s.Request, true)
	e.int(&first, "parked", int64(s.Parked), true)
	if s.Pending != nil {
		e.key(&first, "pending")
		e.start(s.Pending)
	}
	if c := s.Check; c != nil {
		e.key(&first, "check")
		cf := true
		e.b = append(e.b, '{')
		e.str(&cf, "text", c.Text, true)
		if c.Start != nil {
			e.key(&cf, "start")
			e.start(c.Start)
		}
		if f := c.Form; f != nil {
			e.key(&cf, "form")
			ff := true
			e.b = append(e.b, '{')
			e.str(&ff, "story", f.Story, true)
			e.str(&ff, "other", f.Other, true)
			e.str(&ff, "next", f.Next, true)
			e.str(&ff, "feeling", f.Feeling, true)
			e.str(&ff, "check_back", f.CheckBack, true)
			e.bool(&ff, "no_check_back", f.NoCheckBack)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, '}')
	}
	if p := s.Plan; p != nil {
		e.key(&first, "plan")
		pf := true
		e.b = append(e.b, '{')
		e.str(&pf, "warning_signs", p.WarningSigns, true)
		e.str(&pf, "helps", p.Helps, true)
		e.str(&pf, "people", p.People, true)
		e.time(&pf, "updated", p.Updated)
		e.b = append(e.b, '}')
	}
	if !s.Unseen.IsZero() { // omitzero
		e.time(&first, "unseen", s.Unseen)
	}
	e.b = append(e.b, '}')
}

func (e *stateEncoder) start(s *flows.Start) {
	first := true
	e.b = append(e.b, '{')
	e.int(&first, "flow", int64(s.Flow), false)
	e.str(&first, "text", s.Text, true)
	if s.Entry != nil {
		e.key(&first, "entry")
		e.entry(s.Entry)
	}
	e.bool(&first, "no_check_back", s.NoCheckBack)
	e.str(&first, "request", s.Request, true)
	e.b = append(e.b, '}')
}

func (e *stateEncoder) entry(n *flows.Entry) {
	first := true
	e.b = append(e.b, '{')
	e.str(&first, "id", n.ID, true)
	e.int(&first, "flow", int64(n.Flow), false)
	e.time(&first, "created", n.Created)
	e.str(&first, "what", n.What, true)
	e.str(&first, "story", n.Story, true)
	e.str(&first, "feeling", n.Feeling, true)
	e.intPtr(&first, "strength_before", n.StrengthBefore)
	e.str(&first, "facts", n.Facts, true)
	e.strings(&first, "others", n.Others)
	e.str(&first, "next", n.Next, true)
	e.intPtr(&first, "strength_after", n.StrengthAfter)
	e.str(&first, "learn", n.Learn, true)
	e.timePtr(&first, "check_back", n.CheckBack)
	e.intPtr(&first, "belief_before", n.BeliefBefore)
	e.str(&first, "is_true", n.IsTrue, true)
	e.str(&first, "absolutely", n.Absolutely, true)
	e.str(&first, "reaction", n.Reaction, true)
	e.strings(&first, "traps", n.Traps)
	e.strings(&first, "suggested_traps", n.SuggestedTraps)
	e.str(&first, "turnaround", n.Turnaround, true)
	e.str(&first, "example", n.Example, true)
	e.str(&first, "kinder_story", n.KinderStory, true)
	e.intPtr(&first, "belief_after", n.BeliefAfter)
	if f := n.FollowUp; f != nil {
		e.key(&first, "follow_up")
		ff := true
		e.b = append(e.b, '{')
		e.str(&ff, "outcome", f.Outcome, false)
		e.str(&ff, "found_out", f.FoundOut, true)
		e.intPtr(&ff, "how_true", f.HowTrue)
		e.time(&ff, "at", f.At)
		e.timePtr(&ff, "again", f.Again)
		e.int(&ff, "asked", int64(f.Asked), true)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}
