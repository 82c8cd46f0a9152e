package track

import "testing"

func TestPriority(t *testing.T) {
	tests := []struct {
		name      string
		base      int
		terms     []Term
		wantPrio  int
		wantFault bool
	}{
		{name: "no terms", base: 100, wantPrio: 100},
		{name: "negative weight good", base: 100, terms: []Term{{Weight: -2}}, wantPrio: 100},
		{name: "negative weight failed", base: 100, terms: []Term{{Weight: -2, Failed: true}}, wantPrio: 98},
		{name: "positive weight good", base: 100, terms: []Term{{Weight: 10}}, wantPrio: 110},
		{name: "positive weight failed", base: 100, terms: []Term{{Weight: 10, Failed: true}}, wantPrio: 100},
		{name: "weight zero failed is fault", base: 100, terms: []Term{{Weight: 0, Failed: true}}, wantPrio: 100, wantFault: true},
		{name: "clamped low", base: 50, terms: []Term{{Weight: -60, Failed: true}}, wantPrio: 1},
		{name: "clamped high", base: 250, terms: []Term{{Weight: 10}}, wantPrio: 254},
		{name: "owner unchanged", base: 255, terms: []Term{{Weight: -60, Failed: true}}, wantPrio: 255},
		{name: "sum", base: 150, terms: []Term{{Weight: -60, Failed: true}, {Weight: 5}}, wantPrio: 95},
		{name: "file value times weight", base: 100, terms: []Term{{File: true, Weight: -10, Value: 3}}, wantPrio: 70},
		{name: "file weight zero nonzero value", base: 100, terms: []Term{{File: true, Value: 1}}, wantPrio: 100, wantFault: true},
		{name: "file weight zero zero value", base: 100, terms: []Term{{File: true, Value: 0}}, wantPrio: 100},
		{name: "file clamped term", base: 100, terms: []Term{{File: true, Weight: 100, Value: 100}}, wantPrio: 254},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, f := Priority(tc.base, tc.terms)
			if p != tc.wantPrio || f != tc.wantFault {
				t.Fatalf("Priority(%d, %+v) = %d, %v; want %d, %v", tc.base, tc.terms, p, f, tc.wantPrio, tc.wantFault)
			}
		})
	}
}
