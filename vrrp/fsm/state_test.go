package fsm_test

import (
	"testing"

	"halo/vrrp"
	"halo/vrrp/fsm"
)

// TestStateNumbering: fsm.State and vrrp.State convert with a plain
// conversion (fsm cannot import vrrp: vrrp's runtime imports fsm).
func TestStateNumbering(t *testing.T) {
	for _, s := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault, vrrp.StateStop} {
		if fsm.State(s).String() != s.String() {
			t.Errorf("vrrp.%s is fsm.%s", s, fsm.State(s))
		}
	}
}
