package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"halo/internal/wirecase"
)

var (
	record     = flag.Bool("record", false, "re-record testdata/recorded cases from the real haproxy")
	recordHalo = flag.Bool("record-halo", false, "re-record halo's own answer in the cases that say why halo differs")
)

const recordedDir = "../../testdata/recorded"

// TestRecorded replays the recorded wire cases (request smuggling shapes,
// framing, error answers: see internal/wirecase) end to end against the
// bin/halo binary; package proxy replays them against the engine. With
// -record it re-records them from the real haproxy instead (only when
// adding or changing a case, never to make halo pass):
//
//	go test ./cmd/halo -run TestRecorded/HAProxy -record
//
// A case where halo is deliberately different says why in its "halo"
// entry; -record-halo refreshes halo's answer in those cases only.
func TestRecorded(t *testing.T) {
	names, cases := wirecase.Load(t, recordedDir)
	if *record {
		hp, err := exec.LookPath("haproxy")
		if err != nil {
			t.Fatalf("-record needs haproxy: %v", err)
		}
		t.Run("HAProxy", func(t *testing.T) {
			for _, name := range names {
				c := cases[name]
				t.Run(name, func(t *testing.T) {
					c.HAProxy = wirecase.Run(t, c, wirecase.Exec(hp))
					wirecase.Write(t, recordedDir, name, c)
				})
			}
		})
		return
	}
	start := wirecase.Exec(haloBinary(t), "haproxy")
	if *recordHalo {
		// Only where a case already says why halo answers differently.
		for _, name := range names {
			if c := cases[name]; c.Halo != nil && c.Halo.Why != "" {
				res := wirecase.Run(t, c, start)
				res.Why = c.Halo.Why
				c.Halo = res
				wirecase.Write(t, recordedDir, name, c)
			}
		}
		return
	}
	t.Run("Binary", func(t *testing.T) {
		for _, name := range names {
			c := cases[name]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				want := c.Want(t)
				wirecase.Compare(t, c, want, wirecase.Run(t, c, start))
			})
		}
	})
}

// haloBinary builds this package's binary (what `make build` puts in
// bin/halo) into the test's temporary directory, so the replay never runs
// a stale bin/halo.
//
// HALO_TEST_BIN names another binary to test instead (e.g. to show a
// test fails on an older build).
func haloBinary(t *testing.T) string {
	if b := os.Getenv("HALO_TEST_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "halo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
