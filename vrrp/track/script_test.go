package track

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"halo/vrrp"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "plain", in: "/usr/bin/killall -0 haproxy", want: []string{"/usr/bin/killall", "-0", "haproxy"}},
		{name: "double quotes", in: `/bin/sh -c "test -f /x"`, want: []string{"/bin/sh", "-c", "test -f /x"}},
		{name: "single quotes", in: `/bin/echo 'a "b"'`, want: []string{"/bin/echo", `a "b"`}},
		{name: "escape", in: `/bin/echo a\ b`, want: []string{"/bin/echo", "a b"}},
		{name: "blanks", in: "  a   b  ", want: []string{"a", "b"}},
		{name: "empty quotes", in: `a ""`, want: []string{"a", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitCommand(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("SplitCommand(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRiseFall(t *testing.T) {
	ok, bad := Result{}, Result{Status: 1}
	tests := []struct {
		name       string
		cfg        vrrp.Script
		results    []Result
		wantStates []ScriptState
		wantLog    string
	}{
		{name: "fall 2 rise 1", cfg: vrrp.Script{Name: "c", Rise: 1, Fall: 2},
			results:    []Result{ok, bad, bad, ok},
			wantStates: []ScriptState{ScriptGood, ScriptGood, ScriptFailed, ScriptGood},
			wantLog:    "VRRP_Script(c) succeeded|Script `c` now returning 1|VRRP_Script(c) failed (exited with status 1)|Script `c` now returning 0|VRRP_Script(c) succeeded"},
		{name: "rise 3", cfg: vrrp.Script{Name: "c", Rise: 3, Fall: 1},
			results:    []Result{bad, ok, ok, ok},
			wantStates: []ScriptState{ScriptFailed, ScriptFailed, ScriptFailed, ScriptGood}},
		{name: "init_fail", cfg: vrrp.Script{Name: "c", Rise: 2, Fall: 1, InitFail: true},
			results:    []Result{ok, ok},
			wantStates: []ScriptState{ScriptFailed, ScriptGood}},
		{name: "timeout fails", cfg: vrrp.Script{Name: "c", Rise: 1, Fall: 1},
			results:    []Result{{TimedOut: true}},
			wantStates: []ScriptState{ScriptFailed},
			wantLog:    "VRRP_Script(c) timed_out"},
		{name: "reverse leaves the verdict alone", cfg: vrrp.Script{Name: "c", Rise: 1, Fall: 1, Reverse: true},
			results:    []Result{bad, ok},
			wantStates: []ScriptState{ScriptFailed, ScriptGood}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			s := NewScript(&tc.cfg, Cred{}, func(f string, a ...any) { log = append(log, strings.TrimSpace(sprintf(f, a...))) })
			for i, r := range tc.results {
				s.Apply(r)
				if got := s.State(); got != tc.wantStates[i] {
					t.Fatalf("after result %d: state %v, want %v", i, got, tc.wantStates[i])
				}
			}
			if tc.wantLog != "" && strings.Join(log, "|") != tc.wantLog {
				t.Fatalf("log\n got %q\nwant %q", strings.Join(log, "|"), tc.wantLog)
			}
		})
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		timeout time.Duration
		check   func(Result) bool
	}{
		{name: "success", argv: []string{"true"}, check: func(r Result) bool { return r.OK() }},
		{name: "status", argv: []string{"sh", "-c", "exit 3"}, check: func(r Result) bool { return r.Status == 3 && !r.OK() }},
		{name: "timeout", argv: []string{"sleep", "5"}, timeout: 100 * time.Millisecond, check: func(r Result) bool { return r.TimedOut }},
		{name: "signal", argv: []string{"sh", "-c", "kill -9 $$"}, check: func(r Result) bool { return r.Signaled && r.Signal == 9 }},
		{name: "missing", argv: []string{"/nonexistent/script"}, check: func(r Result) bool { return r.Err != nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			r := Run(context.Background(), tc.argv, Cred{}, tc.timeout)
			if !tc.check(r) {
				t.Fatalf("Run(%q) = %+v", tc.argv, r)
			}
			if time.Since(t0) > 3*time.Second {
				t.Fatalf("took %v", time.Since(t0))
			}
		})
	}
}

func TestCheckSecure(t *testing.T) {
	if err := CheckSecure("/usr/bin/test", Cred{}); err != nil {
		t.Fatalf("/usr/bin/test: %v", err)
	}
	dir := t.TempDir()
	p := dir + "/s.sh"
	if err := writeExec(p, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := CheckSecure(p, Cred{}); err == nil {
		t.Fatal("world-writable script accepted")
	}
}
