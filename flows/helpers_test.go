package flows

import (
	"encoding/json"
	"testing"
)

// checkState checks the promises every output State keeps: the current version, the time of
// the input, and a JSON encoding that reads back the same.
func checkState(tb testing.TB, s State, in Input) {
	tb.Helper()
	if s.Version != StateVersion {
		tb.Errorf("Step(_, %q) Version = %d, want %d", describe(in), s.Version, StateVersion)
	}
	if !s.Updated.Equal(in.Now) {
		tb.Errorf("Step(_, %q) Updated = %v, want %v", describe(in), s.Updated, in.Now)
	}
	roundTrip(tb, s)
	if err := check(s); err != nil {
		tb.Errorf("Step(_, %q) = state that does not check: %v", describe(in), err)
	}
}

// roundTrip checks that s encodes to JSON and decodes to a state that encodes the same.
func roundTrip(tb testing.TB, s State) State {
	tb.Helper()
	j, err := json.Marshal(s)
	if err != nil {
		tb.Fatalf("json.Marshal(%+v): %v", s, err)
	}
	var back State
	if err := json.Unmarshal(j, &back); err != nil {
		tb.Fatalf("json.Unmarshal(%s): %v", j, err)
	}
	j2, err := json.Marshal(back)
	if err != nil {
		tb.Fatal(err)
	}
	if string(j) != string(j2) {
		tb.Errorf("JSON round trip = %s, want %s", j2, j)
	}
	return back
}

// describe shows an input in a failure message.
func describe(in Input) string {
	switch {
	case in.Start != nil:
		return "start " + in.Start.Flow.String() + " " + in.Start.Text
	case in.Choice != "":
		return "[choice:" + in.Choice + "]"
	}
	return in.Text
}
