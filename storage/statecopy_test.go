package storage

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/storybot/storybot/flows"
)

// TestStateCopies checks cloneState and decodedState on States whose every field is set
// through reflection, so that the test cannot go stale: a field added to State, or to any
// type it holds, is filled here without anyone telling it. cloneState must give a State
// deeply equal to its input, decodedState what json.Unmarshal of json.Marshal gives (a
// field either forgets to copy, or decodedState copies without the encoding's losses, makes
// them differ); neither may share memory with its input (a slice or pointer left uncopied
// is found), and changing their result in every place must leave the input as it was. A
// field of a kind fill does not know (a map, an interface, a float, an unexported field)
// fails the test until both are taught about it.
func TestStateCopies(t *testing.T) {
	f := newFiller(t)
	for i := range 3000 {
		seed := uint64(i)
		full := i%10 == 0 // every pointer set, every slice non-empty, every field non-zero
		x := f.state(seed, full)
		if full {
			f.requireNonZero(reflect.ValueOf(x), "State")
		}
		checkCopy := func(name string, got flows.State) {
			t.Helper()
			if p := sharedMemory(x, got); p != "" {
				t.Fatalf("seed %d: %s's result shares memory with its input at %s", seed, name, p)
			}
			// Change the result everywhere: the input must stay what fill made.
			mutate(reflect.ValueOf(&got).Elem())
			if !reflect.DeepEqual(x, f.state(seed, full)) {
				t.Fatalf("seed %d: changing %s's result changed its input", seed, name)
			}
		}

		c := cloneState(x)
		if !reflect.DeepEqual(c, x) {
			t.Fatalf("seed %d: cloneState differs from its input:\n got %#v\nwant %#v", seed, c, x)
		}
		checkCopy("cloneState", c)

		enc, err := json.Marshal(x)
		got, ok := decodedState(x)
		if err != nil {
			// Only a time can fail to encode; decodedState must say so rather than give a
			// State no decoding gives.
			if ok {
				t.Errorf("seed %d: json.Marshal fails (%v) but decodedState reports ok", seed, err)
			}
			continue
		}
		if !ok {
			t.Errorf("seed %d: decodedState not ok for a State that encodes", seed)
			continue
		}
		var want flows.State
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: decodedState differs from decoding the encoding:\n got %#v\nwant %#v", seed, got, want)
		}
		checkCopy("decodedState", got)
	}
}

// FuzzDecodedStateText feeds decodedState arbitrary bytes as user text (where the encoding
// changes what it stores) and a time at an arbitrary offset: its result must be what
// encoding/json gives back.
func FuzzDecodedStateText(f *testing.F) {
	f.Add("they ignored my point", "é\u2028<&>", int64(1767225600), int32(3600))
	f.Add("a\xffb\xc3", "\xed\xa0\x80", int64(-62135596800), int32(-5*3600-30*60))
	f.Add("", "\ufffd", int64(253402300800), int32(24*3600))
	f.Fuzz(func(t *testing.T, story, other string, sec int64, offset int32) {
		at := time.Unix(sec, 0).In(time.FixedZone("", int(offset)))
		x := flows.State{
			Flow: flows.FlowPause, Step: flows.StepStory, Updated: at, Unseen: at,
			Entry: flows.Entry{Story: story, Others: []string{other, story}, CheckBack: &at},
			Hints: []string{other},
			Check: &flows.SafetyCheck{Text: story, Form: &flows.QuickForm{Next: other}},
		}
		enc, err := json.Marshal(x)
		got, ok := decodedState(x)
		if err != nil {
			if ok {
				t.Fatalf("json.Marshal fails (%v) but decodedState reports ok", err)
			}
			return
		}
		var want flows.State
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("decodedState = %#v, %v; want %#v", got, ok, want)
		}
	})
}

var timeType = reflect.TypeFor[time.Time]()

// filler sets every field of a State from a seed, the same State for the same seed.
type filler struct {
	t     *testing.T
	mono  time.Time // a time with a monotonic reading, in Local
	zones []*time.Location
}

func newFiller(t *testing.T) *filler {
	f := &filler{t: t, mono: time.Now()}
	f.zones = []*time.Location{time.UTC, time.Local, time.FixedZone("", 0), time.FixedZone("X", 3600),
		time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 45), time.FixedZone("", 25*3600)}
	for _, name := range []string{"America/New_York", "Asia/Kolkata", "Etc/UTC"} {
		if l, err := time.LoadLocation(name); err == nil { // with the system's zone data
			f.zones = append(f.zones, l)
		}
	}
	return f
}

func (f *filler) state(seed uint64, full bool) flows.State {
	var s flows.State
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	f.fill(r, reflect.ValueOf(&s).Elem(), full, "State")
	return s
}

// texts are strings that the encoding stores as they are, and some it does not (invalid
// UTF-8, byte by byte).
var texts = []string{"they ignored my point", "é — “quoted” 🙂", "<b>&amp;</b>", "\u2028\u2029\t\n\"\\",
	"\x00\x1f", "a\xffb", "\xc3", "\xed\xa0\x80 surrogate", "\ufffd", "ok\xe2\x82", "ünïcödé\xf0\x9f",
	"\x7f\x01\b\f\r'/", "I'm 100% sure"}

func (f *filler) fill(r *rand.Rand, v reflect.Value, full bool, path string) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(f.time(r, full)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.t.Fatalf("%s.%s is unexported: encoding/json leaves it out; teach decodedState and this test", path, sf.Name)
			}
			f.fill(r, v.Field(i), full, path+"."+sf.Name)
		}
	case reflect.Pointer:
		if !full && r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(r, p.Elem(), full, path)
		v.Set(p)
	case reflect.Slice:
		n := 1 + r.IntN(3)
		if !full {
			switch r.IntN(4) {
			case 0:
				v.SetZero() // nil
				return
			case 1:
				n = 0 // empty, not nil
			}
		}
		s := reflect.MakeSlice(v.Type(), n, n+r.IntN(3)) // room to grow: an append writes in place
		for i := range n {
			f.fill(r, s.Index(i), full, fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if !full && r.IntN(4) == 0 {
			v.SetString("")
			return
		}
		v.SetString(texts[r.IntN(len(texts))])
	case reflect.Bool:
		v.SetBool(full || r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := r.Int64N(40) - 5
		if full && n == 0 {
			n = 7
		}
		v.SetInt(n)
	default:
		f.t.Fatalf("%s is a %s, which fill does not know: teach decodedState (what does encoding/json do with it?) and this test", path, v.Type())
	}
}

func (f *filler) time(r *rand.Rand, full bool) time.Time {
	switch r.IntN(8) {
	case 0:
		if !full {
			return time.Time{}
		}
	case 1:
		return f.mono
	case 2:
		if !full {
			return time.Time{}.In(f.zones[r.IntN(len(f.zones))]) // zero, but not the zero Time
		}
	case 3:
		if r.IntN(10) == 0 {
			return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // does not encode
		}
	}
	at := time.Unix(r.Int64N(4_000_000_000), r.Int64N(1e9))
	return at.In(f.zones[r.IntN(len(f.zones))])
}

// requireNonZero fails for any zero field under v: a full State must set every one.
func (f *filler) requireNonZero(v reflect.Value, path string) {
	if v.IsZero() {
		f.t.Fatalf("%s is zero in a full State: fill did not reach it", path)
	}
	if v.Type() == timeType {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f.requireNonZero(v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Pointer:
		f.requireNonZero(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			f.requireNonZero(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// sharedMemory names a pointer or slice of b that points into memory a's reach, or "" when
// there is none. Strings and a time's zone are immutable, so sharing them is fine.
func sharedMemory(a, b flows.State) string {
	type span struct{ lo, hi uintptr }
	var spans []span
	walkMemory(reflect.ValueOf(a), "State", func(lo, hi uintptr, _ string) { spans = append(spans, span{lo, hi}) })
	found := ""
	walkMemory(reflect.ValueOf(b), "State", func(lo, hi uintptr, path string) {
		for _, s := range spans {
			if lo < s.hi && s.lo < hi && found == "" {
				found = path
			}
		}
	})
	return found
}

// walkMemory calls at with the memory each pointer and slice under v points to.
func walkMemory(v reflect.Value, path string, at func(lo, hi uintptr, path string)) {
	if v.Type() == timeType {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			walkMemory(v.Field(i), path+"."+v.Type().Field(i).Name, at)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		p := v.Pointer()
		at(p, p+max(v.Type().Elem().Size(), 1), path)
		walkMemory(v.Elem(), path, at)
	case reflect.Slice:
		if v.Cap() == 0 {
			return
		}
		p := uintptr(v.UnsafePointer())
		at(p, p+uintptr(v.Cap())*max(v.Type().Elem().Size(), 1), path)
		for i := range v.Len() {
			walkMemory(v.Index(i), fmt.Sprintf("%s[%d]", path, i), at)
		}
	}
}

// mutate changes every value under v in place, as a careless step might: elements of slices
// (and the room past their length), pointed-to values, every field.
func mutate(v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			mutate(v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		full := v.Slice(0, v.Cap())
		for i := range full.Len() {
			mutate(full.Index(i))
		}
	case reflect.String:
		v.SetString("mutated")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1000)
	}
}

// benchState is a Pause half way through, as a turn of it holds it.
func benchState() flows.State {
	now := time.Now()
	four := 4
	return flows.State{
		Version: flows.StateVersion, Flow: flows.FlowPause, Step: flows.StepFeeling,
		Trail: []flows.Step{flows.StepWhat, flows.StepStory},
		Entry: flows.Entry{
			Flow: flows.FlowPause, Created: now.UTC(), What: "The demo froze in front of the whole team.",
			Story: "They think I can't ship anything that works.", StrengthBefore: &four,
		},
		Hints:   []string{"mind-reading"},
		Updated: now,
	}
}

// BenchmarkStateCopies compares what a turn from the guess memory costs to get its State
// (cloneState of the State kept; decodedState when a commit keeps it) with what it cost
// before the memory kept a decoded State: json.Unmarshal of the stored encoding (with
// encryption, opening it came on top). The State is a Pause half way through.
func BenchmarkStateCopies(b *testing.B) {
	s := benchState()
	enc, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d flows.State
			if err := json.Unmarshal(enc, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cloneState", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cloneState(s)
		}
	})
	b.Run("decodedState", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodedState(s); !ok {
				b.Fatal("not ok")
			}
		}
	})
}
