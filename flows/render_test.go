package flows

import (
	"strconv"
	"testing"
)

// TestNumeric: numeric agrees with strconv.Atoi, which it checks before calling.
func TestNumeric(t *testing.T) {
	for _, label := range []string{"0", "10", "-3", "+7", "", "-", "1-2", "1 2", "12a", "a12", "Skip", "١٢", "99999999999999999999", "0x10", "1_000"} {
		_, err := strconv.Atoi(label)
		if got, want := numeric([]Choice{{ID: "a", Label: "1"}, {ID: "b", Label: label}}), err == nil; got != want {
			t.Errorf("numeric(%q) = %v, want %v", label, got, want)
		}
	}
	if testing.AllocsPerRun(100, func() { numeric([]Choice{{Label: "Skip this question"}}) }) != 0 {
		t.Errorf("numeric allocates for a label that is not a number")
	}
}
