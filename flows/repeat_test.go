package flows

import (
	"reflect"
	"testing"
	"time"
)

// TestRepeatedStart: a Start whose Request started the open dialogue (or waits in its
// offer) changes nothing and says nothing; another request, or the same one once that
// dialogue has ended, is a start as any other.
func TestRepeatedStart(t *testing.T) {
	m := New(Config{})
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	start := func(req string) Input {
		return Input{Now: now, Start: &Start{Flow: FlowPause, Request: req}}
	}
	s, rs, err := m.Step(State{}, start("r1"))
	if err != nil || len(rs) == 0 || s.Request != "r1" {
		t.Fatalf("start: %+v, %v, %v", s, rs, err)
	}
	again, rs, err := m.Step(s, start("r1"))
	if err != nil || len(rs) != 0 || !reflect.DeepEqual(again, s) {
		t.Errorf("the same request again: %+v, %v, %v; want the state unchanged and no replies", again, rs, err)
	}
	offered, rs, err := m.Step(s, start("r2"))
	if err != nil || len(rs) == 0 || offered.Step != StepResumeOffer || offered.Pending == nil || offered.Pending.Request != "r2" {
		t.Fatalf("another request: %+v, %v, %v; want the offer, holding r2", offered, rs, err)
	}
	if again, rs, _ := m.Step(offered, start("r2")); len(rs) != 0 || !reflect.DeepEqual(again, offered) {
		t.Errorf("the offered request again: %v; want nothing", rs)
	}
	if _, rs, _ := m.Step(offered, Input{Now: now, Start: &Start{Flow: FlowPause}}); len(rs) == 0 {
		t.Errorf("a start with no request at the offer said nothing")
	}
	stopped, _, _ := m.Step(s, Input{Now: now, Text: "stop"})
	fresh, rs, err := m.Step(stopped, start("r1"))
	if err != nil || len(rs) == 0 || fresh.Step != StepWhat || fresh.Request != "r1" {
		t.Errorf("the same request after a stop: %+v, %v, %v; want a new Pause", fresh, rs, err)
	}
}
