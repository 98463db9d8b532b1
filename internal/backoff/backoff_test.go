package backoff

import (
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Seeded(time.Second, 2*time.Minute, 1)
	if d := p.Delay(0); d != 0 {
		t.Errorf("Delay(0) = %v, want 0: a healthy connection is retried at once", d)
	}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: 64 * time.Second, 8: 2 * time.Minute, 50: 2 * time.Minute} {
		for range 100 {
			d := p.Delay(n)
			if d < want/2 || d >= want {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v)", n, d, want/2, want)
			}
		}
	}
}

func TestBetween(t *testing.T) {
	p := Seeded(0, 0, 2)
	lo, hi := time.Second, 5*time.Second
	seenLow, seenHigh := false, false
	for range 1000 {
		d := p.Between(lo, hi)
		if d < lo || d >= hi {
			t.Fatalf("Between = %v, want in [1s, 5s)", d)
		}
		seenLow = seenLow || d < 2*time.Second
		seenHigh = seenHigh || d > 4*time.Second
	}
	if !seenLow || !seenHigh {
		t.Errorf("Between does not spread over [1s, 5s): low %v high %v", seenLow, seenHigh)
	}
}
