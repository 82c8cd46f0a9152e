package stats

import (
	"bytes"
	"testing"

	"halo/proxy/stick"
)

func TestPrometheusStickTables(t *testing.T) {
	set := stick.NewSet([]*stick.Spec{
		{Name: "zz", Type: stick.KeyString, KeySize: 8, Size: 10},
		{Name: "be", Type: stick.KeyIP, Size: 40},
	}, stick.NewManualClock(0))
	st := &Stats{tables: func() *stick.Set { return set }}
	var b bytes.Buffer
	NewPrometheus(st).renderStickTables(&b)
	got := b.String()
	// recorded from HAProxy 2.6.12 (tables zz then be)
	want := `# HELP haproxy_sticktable_size Stick table size.
# TYPE haproxy_sticktable_size gauge
haproxy_sticktable_size{name="be",type="ip"} 40
haproxy_sticktable_size{name="zz",type="string"} 10
# HELP haproxy_sticktable_used Number of entries used in this stick table.
# TYPE haproxy_sticktable_used gauge
haproxy_sticktable_used{name="be",type="ip"} 0
haproxy_sticktable_used{name="zz",type="string"} 0
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	b.Reset()
	NewPrometheus(&Stats{tables: func() *stick.Set { return nil }}).renderStickTables(&b)
	if b.Len() != 0 {
		t.Fatalf("no tables: %q", b.String())
	}
}
