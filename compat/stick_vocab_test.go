package compat

import (
	"strings"
	"testing"

	"halo/proxy/acl"
)

// TestStickVocabExecuted: every stick-table fetch, ACL keyword and
// converter HAProxy 2.6 knows is in the runtime's registry, so none is
// reported as ignored.
func TestStickVocabExecuted(t *testing.T) {
	stickName := func(n string) bool {
		for _, p := range []string{"sc_", "sc0_", "sc1_", "sc2_", "src_", "table_"} {
			if strings.HasPrefix(n, p) {
				return true
			}
		}
		return n == "in_table"
	}
	reg := acl.NewRegistry()
	for n := range haproxyFetches {
		if stickName(n) {
			if _, ok := reg.Fetch(n); !ok {
				t.Errorf("fetch %s is not executed", n)
			}
		}
	}
	for n := range haproxyACLKeywords {
		if stickName(n) {
			if _, _, ok := reg.ACLKeyword(n); !ok {
				t.Errorf("ACL keyword %s is not executed", n)
			}
		}
	}
	for n := range haproxyConverters {
		if stickName(n) {
			if _, ok := reg.Converter(n); !ok {
				t.Errorf("converter %s is not executed", n)
			}
		}
	}
}
