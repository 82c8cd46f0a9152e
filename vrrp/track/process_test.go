package track

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"halo/vrrp"
)

func TestProcessMatches(t *testing.T) {
	name := &vrrp.TrackProcess{Process: "haproxy"}
	long := &vrrp.TrackProcess{Process: "averyveryverylongname"}
	exact := &vrrp.TrackProcess{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/haproxy.cfg"}, ParamMatch: "exact", FullCommand: true}
	partial := &vrrp.TrackProcess{Process: "/usr/sbin/haproxy", Params: []string{"-f"}, ParamMatch: "partial", FullCommand: true}
	initial := &vrrp.TrackProcess{Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/ha"}, ParamMatch: "initial", FullCommand: true}
	bare := &vrrp.TrackProcess{Process: "/usr/sbin/haproxy", ParamMatch: "exact", FullCommand: true}
	argv := []string{"/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg"}
	for _, tc := range []struct {
		name string
		t    *vrrp.TrackProcess
		comm string
		argv []string
		want bool
	}{
		{"name", name, "haproxy", argv, true},
		{"other name", name, "haproxy2", argv, false},
		{"name is the kernel's 15 characters", long, "averyveryverylo", nil, true},
		{"exact", exact, "haproxy", argv, true},
		{"exact, one more parameter", exact, "haproxy", append(argv, "-D"), false},
		{"exact, argv[0] differs", exact, "haproxy", []string{"haproxy", "-f", "/etc/haproxy.cfg"}, false},
		{"partial", partial, "haproxy", argv, true},
		{"initial", initial, "haproxy", argv, true},
		{"initial, earlier parameter differs", initial, "haproxy", []string{"/usr/sbin/haproxy", "-x", "/etc/haproxy.cfg"}, false},
		{"no parameters required", bare, "haproxy", []string{"/usr/sbin/haproxy"}, true},
		{"no parameters required, some given", bare, "haproxy", argv, false},
	} {
		if got := Matches(tc.t, tc.comm, tc.argv); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestProcessQuorumDelays: counts from a fake /proc; quorum, quorum_max
// and the fork/terminate delays decide the reported state.
func TestProcessQuorumDelays(t *testing.T) {
	root := t.TempDir()
	pid := 100
	add := func(comm string) string {
		pid++
		d := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	two := &vrrp.TrackProcess{Name: "two", Process: "web", Quorum: 2, QuorumMax: -1, ForkDelay: time.Second, TerminateDelay: 2 * time.Second}
	none := &vrrp.TrackProcess{Name: "none", Process: "web", Quorum: 0, QuorumMax: 0}
	p := NewProcesses([]*vrrp.TrackProcess{two, none})
	p.Root = root
	var events []string
	p.OnChange = func(name string, up bool) { events = append(events, name+"="+strconv.FormatBool(up)) }
	add("other")
	p.Init()
	if p.Up("two") || !p.Up("none") {
		t.Fatalf("initial: two %v none %v", p.Up("two"), p.Up("none"))
	}
	t0 := time.Unix(1000, 0)
	a := add("web")
	p.step(t0, p.count()) // one web: two still down, none lost at once
	b := add("web")
	p.step(t0.Add(100*time.Millisecond), p.count()) // two webs: wait the fork delay
	p.step(t0.Add(1000*time.Millisecond), p.count())
	p.step(t0.Add(1100*time.Millisecond), p.count()) // 1 s since gained: up
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	p.step(t0.Add(2*time.Second), p.count())
	add("web") // a second web is back before the terminate delay ran out
	_ = b
	p.step(t0.Add(3*time.Second), p.count())
	p.step(t0.Add(5*time.Second), p.count())
	want := "none=false two=true"
	p.step(t0.Add(6*time.Second), p.count())
	_ = os.RemoveAll(b) // now one web for good
	p.step(t0.Add(7*time.Second), p.count())
	p.step(t0.Add(9*time.Second), p.count())
	want += " two=false"
	if got := join(events); got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
