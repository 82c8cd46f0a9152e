package sched

import (
	"net/netip"
	"testing"
)

func dests(ws ...int) []*Dest {
	var out []*Dest
	for i, w := range ws {
		out = append(out, NewDest(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80), w))
	}
	return out
}

func counts(t *testing.T, s Scheduler, ds []*Dest, n int, src func(i int) netip.AddrPort) map[int]int {
	t.Helper()
	out := map[int]int{}
	vip := netip.MustParseAddrPort("192.0.2.1:80")
	for i := 0; i < n; i++ {
		d := s.Pick(ds, src(i), vip)
		if d == nil {
			out[-1]++
			continue
		}
		out[int(d.Addr.Addr().As4()[3])-1]++
	}
	return out
}

func oneSrc(int) netip.AddrPort { return netip.MustParseAddrPort("198.51.100.7:40000") }
func manySrc(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), uint16(1024+i))
}

func TestSchedulers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   uint32
		weights []int
		active  []int32
		src     func(int) netip.AddrPort
		want    map[int]int
	}{
		{"rr", 0, []int{1, 1, 1}, nil, oneSrc, map[int]int{0: 4, 1: 4, 2: 4}},
		{"rr", 0, []int{1, 0, 1}, nil, oneSrc, map[int]int{0: 6, 2: 6}},
		{"wrr", 0, []int{3, 1, 2}, nil, oneSrc, map[int]int{0: 6, 1: 2, 2: 4}},
		{"wrr", 0, []int{0, 0}, nil, oneSrc, map[int]int{-1: 12}},
		{"lc", 0, []int{1, 1, 1}, []int32{5, 1, 3}, oneSrc, map[int]int{1: 12}},
		{"wlc", 0, []int{1, 10, 1}, []int32{2, 10, 3}, oneSrc, map[int]int{1: 12}},
		{"sed", 0, []int{1, 4, 1}, []int32{0, 3, 1}, oneSrc, map[int]int{0: 12}},
		{"nq", 0, []int{1, 4, 1}, []int32{1, 3, 0}, oneSrc, map[int]int{2: 12}},
		{"fo", 0, []int{2, 7, 5}, nil, oneSrc, map[int]int{1: 12}},
		{"ovf", 0, []int{2, 7, 5}, []int32{0, 7, 0}, oneSrc, map[int]int{2: 12}},
		{"sh", 0, []int{1, 1, 1}, nil, oneSrc, nil}, // sticky: checked below
		{"mh", 0, []int{1, 1, 1}, nil, oneSrc, nil},
		{"dh", 0, []int{1, 1, 1}, nil, manySrc, nil},
		{"lblc", 0, []int{1, 1, 1}, nil, manySrc, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.name, tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			ds := dests(tc.weights...)
			for i, a := range tc.active {
				ds[i].Active.Store(a)
			}
			got := counts(t, s, ds, 12, tc.src)
			if tc.want == nil {
				// one source (sh, mh) or one VIP (dh, lblc) stays on one server
				if len(got) != 1 || got[-1] != 0 {
					t.Errorf("got %v, want all on one server", got)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("got %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
}

// sh and mh spread many sources over every server and keep each source
// on its server; without fallback a source whose server has weight 0 gets
// none, with it another server.
func TestSourceHashing(t *testing.T) {
	for _, name := range []string{"sh", "mh"} {
		s, _ := New(name, 0)
		ds := dests(1, 1, 1)
		got := counts(t, s, ds, 300, manySrc)
		if len(got) != 3 {
			t.Errorf("%s: %v, want all three servers used", name, got)
		}
		src := manySrc(5)
		vip := netip.MustParseAddrPort("192.0.2.1:80")
		d := s.Pick(ds, src, vip)
		d.SetWeight(0)
		if x := s.Pick(ds, src, vip); x != nil && name == "sh" {
			t.Errorf("%s without fallback: %v, want none", name, x.Addr)
		}
		fb, _ := New(name, FlagFallback)
		if x := fb.Pick(ds, src, vip); x == nil || x == d {
			t.Errorf("%s with fallback: %v", name, x)
		}
	}
}

func TestThresholds(t *testing.T) {
	d := NewDest(netip.MustParseAddrPort("10.0.0.1:80"), 1)
	d.UThreshold, d.LThreshold = 4, 2
	d.Active.Store(4)
	if d.Available() {
		t.Fatal("at uthreshold, want overloaded")
	}
	d.Active.Store(3)
	if d.Available() {
		t.Fatal("between thresholds, still overloaded")
	}
	d.Active.Store(1)
	if !d.Available() {
		t.Fatal("below lthreshold, want available")
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	for _, name := range []string{"rr", "wrr", "wlc", "lc", "sed", "nq", "sh", "fo", "ovf", "twos"} {
		s, _ := New(name, 0)
		ds := dests(1, 2, 3)
		src, vip := manySrc(3), netip.MustParseAddrPort("192.0.2.1:80")
		if n := testing.AllocsPerRun(100, func() { s.Pick(ds, src, vip) }); n != 0 {
			t.Errorf("%s: %v allocations per pick", name, n)
		}
	}
}
