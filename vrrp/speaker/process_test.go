package speaker

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"halo/vrrp"
	"halo/vrrp/internal/nstest"
)

// TestTrackProcess: a vrrp_track_process with weight 0 holds the instance
// in FAULT until its process runs, and puts it back when the process
// ends, with keepalived's log lines (which keepalived itself cannot give
// inside a network namespace: its process events connector is refused
// there).
func TestTrackProcess(t *testing.T) {
	lab := nstest.NewLab(t, "tp", 1, 223)
	name := fmt.Sprintf("hvtrk%d", os.Getpid()%100000)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	c := labConfig(lab, 1, 100, func(in *vrrp.Instance) {
		in.Version, in.AuthType, in.AdvertInt = 3, "", 300*time.Millisecond
		in.TrackProcesses = []vrrp.TrackRef{{Name: "TP"}}
	})
	c.TrackProcesses = map[string]*vrrp.TrackProcess{"TP": {Name: "TP", Process: name, Quorum: 1, QuorumMax: -1,
		ForkDelay: 200 * time.Millisecond, TerminateDelay: 200 * time.Millisecond}}
	n := startNode(t, lab.Nodes[0], c)
	time.Sleep(1500 * time.Millisecond)
	if h := holders(t, lab); h != "" {
		t.Fatalf("holders %q while the process is not running", h)
	}
	proc := exec.Command(bin, "30")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = proc.Process.Kill(); _ = proc.Wait() }()
	waitHolders(t, lab, "1", 5*time.Second)
	_ = proc.Process.Kill()
	_ = proc.Wait()
	waitHolders(t, lab, "", 3*time.Second)
	log := n.out.String()
	want := []string{"(VI_1) entering FAULT state (tracked process TP quorum not achieved)", "Quorum gained for tracked process TP",
		"(VI_1) Entering BACKUP STATE", "(VI_1) Entering MASTER STATE", "Quorum lost for tracked process TP", "(VI_1) Entering FAULT STATE"}
	at := 0
	for _, w := range want {
		i := strings.Index(log[at:], w)
		if i < 0 {
			t.Fatalf("log lacks %q (in order):\n%s", w, log)
		}
		at += i + len(w)
	}
}
