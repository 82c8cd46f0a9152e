package main

import "testing"

func TestKeepalivedFacility(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		want      int
	}{
		{"unset", "", -1},
		{"local0 as a number", "0", 0},
		{"local0 by name", "local0", 0},
		{"local7", "7", 7},
		{"out of range", "8", -1},
		{"daemon", "daemon", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keepalivedFacility(tc.arg); got != tc.want {
				t.Fatalf("keepalivedFacility(%q) = %d, want %d", tc.arg, got, tc.want)
			}
		})
	}
}
