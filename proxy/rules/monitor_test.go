package rules

import "testing"

// monitor-uri matches the path of an absolute-form URI as HAProxy 2.6.12
// does (checked with curl --request-target http://x/mon: "Service ready.").
func TestMonitorMatch(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want bool
	}{
		{"/mon", true},
		{"http://x/mon", true},
		{"https://x:8443/mon", true},
		{"/mon?q", false},
		{"http://x/mon?q", false},
		{"http://x?/mon", false},
		{"http://x", false},
		{"/monitor", false},
	} {
		if got := monitorMatch([]byte(tc.uri), []byte("/mon")); got != tc.want {
			t.Errorf("monitorMatch(%q) = %v, want %v", tc.uri, got, tc.want)
		}
	}
}
