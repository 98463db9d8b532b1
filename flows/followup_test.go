package flows

import (
	"testing"
	"time"
)

// A follow-up never interrupts a dialogue the user is working on, and gives way to nothing
// older than ParkAfter.
func TestFollowupWaitsForOpenDialogue(t *testing.T) {
	m := New(Config{})
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s, _, err := m.Step(State{}, Input{Now: now, Start: &Start{Flow: FlowQuick}})
	if err != nil {
		t.Fatal(err)
	}
	fu := Input{Start: &Start{Flow: FlowFollowup, Entry: &Entry{ID: "e1", Created: now.Add(-24 * time.Hour), Next: "Ask Sam."}}}
	tests := []struct {
		name    string
		at      time.Time
		replies bool
	}{
		{"working", now.Add(10 * time.Minute), false},
		{"just before parking", now.Add(ParkAfter - time.Second), false},
		{"parked", now.Add(ParkAfter), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fu
			in.Now = tt.at
			next, rs, err := m.Step(s, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rs) > 0; got != tt.replies {
				t.Fatalf("Step(quick open, follow-up at +%v) replies = %v, want %v", tt.at.Sub(now), rs, tt.replies)
			}
			if tt.replies && (next.Flow != FlowFollowup || next.Step != StepFollowupAsk) {
				t.Errorf("Step(parked quick, follow-up) = %v/%v, want followup/followup-ask", next.Flow, next.Step)
			}
			if !tt.replies && (next.Flow != FlowQuick || next.Step != s.Step) {
				t.Errorf("Step(quick open, follow-up) = %v/%v, want the quick pause untouched", next.Flow, next.Step)
			}
		})
	}
}

// A follow-up waits for a check-in or another follow-up sent within ParkAfter and not yet
// answered (replacing it would leave its buttons answering the wrong question), and
// replaces one left unanswered for ParkAfter.
func TestFollowupWaitsForFreshCheckinAndFollowup(t *testing.T) {
	m := New(Config{})
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	checkin, _, err := m.Step(State{}, Input{Now: now, Start: &Start{Flow: FlowCheckin}})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := m.Step(State{}, Input{Now: now, Start: &Start{Flow: FlowFollowup, Entry: &Entry{ID: "e0", Created: now, Next: "Email Lee."}}})
	if err != nil {
		t.Fatal(err)
	}
	fu := Start{Flow: FlowFollowup, Entry: &Entry{ID: "e1", Created: now.Add(-24 * time.Hour), Next: "Ask Sam."}}
	for _, open := range []State{checkin, other} {
		for _, tt := range []struct {
			after   time.Duration
			replies bool
		}{{0, false}, {ParkAfter - time.Second, false}, {ParkAfter, true}} {
			next, rs, err := m.Step(open, Input{Now: now.Add(tt.after), Start: &fu})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rs) > 0; got != tt.replies {
				t.Errorf("Step(%v open, follow-up %v later) replies = %v, want %v", open.Flow, tt.after, rs, tt.replies)
			}
			if tt.replies && next.Entry.ID != "e1" || !tt.replies && next.Flow != open.Flow {
				t.Errorf("Step(%v open, follow-up %v later) = %v about %q", open.Flow, tt.after, next.Flow, next.Entry.ID)
			}
		}
	}
}

// A started dialogue replaces an open follow-up at once, and a follow-up needs its entry.
func TestFollowupGivesWay(t *testing.T) {
	m := New(Config{})
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	fu := Input{Now: now, Start: &Start{Flow: FlowFollowup, Entry: &Entry{ID: "e1", Created: now, Next: "Ask Sam."}}}
	s, _, err := m.Step(State{}, fu)
	if err != nil {
		t.Fatal(err)
	}
	next, rs, err := m.Step(s, Input{Now: now.Add(time.Minute), Start: &Start{Flow: FlowQuick}})
	if err != nil || next.Flow != FlowQuick || len(rs) != 1 {
		t.Fatalf("Step(follow-up open, /story quick) = %v/%v %v %v, want a fresh quick pause", next.Flow, next.Step, rs, err)
	}
	if _, _, err := m.Step(State{}, Input{Now: now, Start: &Start{Flow: FlowFollowup}}); err == nil {
		t.Errorf("Step(follow-up without entry) = no error, want one")
	}
}
