package acl

import (
	"net/netip"
	"testing"
)

// TestDebugText: what debug() prints for each sample type, as HAProxy
// 2.6.12 printed the same samples to stderr.
func TestDebugText(t *testing.T) {
	tests := []struct {
		v          Value
		typ, shown string
	}{
		{Value{Kind: KBin, B: []byte{0, 0xff, 'A'}}, "bin", ""},
		{Value{Kind: KIP, IP: netip.MustParseAddr("1.2.3.4")}, "ipv4", "1.2.3.4"},
		{Value{Kind: KBool, I: 1}, "bool", "1"},
		{Value{Kind: KBin, B: []byte("\n\r\"")}, "bin", `.."`},
		{Value{Kind: KStr, B: []byte(`a\b`)}, "str", `a\b`},
		{Value{Kind: KInt, I: 5}, "sint", "5"},
	}
	for _, tc := range tests {
		if typ, shown := debugType(tc.v), string(debugText(tc.v)); typ != tc.typ || shown != tc.shown {
			t.Errorf("%+v: type=%s <%s>, want type=%s <%s>", tc.v, typ, shown, tc.typ, tc.shown)
		}
	}
}
