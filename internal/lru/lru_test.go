package lru

import (
	"strconv"
	"sync"
	"testing"
)

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[string, int](2)
	c.Add("a", 1)
	c.Add("b", 2)
	if v, ok := c.Get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("Get(a) = %v, %v; want 1, true", v, ok)
	}
	c.Add("c", 3) // drops b
	if _, ok := c.Get("b"); ok {
		t.Error("Get(b) found it; want it dropped as least recently used")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := c.Get(k); !ok || v != want {
			t.Errorf("Get(%s) = %v, %v; want %v, true", k, v, ok, want)
		}
	}
	c.Add("a", 10)
	if v, _ := c.Get("a"); v != 10 {
		t.Errorf("Get(a) after update = %v, want 10", v)
	}
	c.Remove("a")
	if _, ok := c.Get("a"); ok || c.Len() != 1 {
		t.Errorf("after Remove(a): found %v, len %d; want gone, 1", ok, c.Len())
	}
}

func TestCacheBoundUnderConcurrency(t *testing.T) {
	c := New[string, string](100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := strconv.Itoa(g*1000 + i)
				c.Add(k, k)
				c.Get(k)
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n != 100 {
		t.Errorf("Len = %d after 8000 adds, want the capacity 100", n)
	}
}
