package compat

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestKeepalivedGolden checks `halo keepalived -t` output for the configs
// in testdata/keepalived against their .golden files. The host is fixed:
// interfaces lo and eth0, users root and nobody, config-id node1. Each
// golden file was compared by hand with keepalived 2.2.7's -t output;
// differences are noted in the .conf's comments.
func TestKeepalivedGolden(t *testing.T) {
	dir := filepath.Join("..", "testdata", "keepalived")
	confs, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(confs) == 0 {
		t.Fatalf("no golden configs in %s", dir)
	}
	for _, conf := range confs {
		name := strings.TrimSuffix(filepath.Base(conf), ".conf")
		t.Run(name, func(t *testing.T) {
			opt := KeepalivedOptions{ConfigID: "node1", HostChecks: true,
				Interfaces: func() map[string]bool { return map[string]bool{"lo": true, "eth0": true} },
				LookupUser: func(u string) (int, int, bool) {
					switch u {
					case "root":
						return 0, 0, true
					case "nobody":
						return 65534, 65534, true
					}
					return 0, 0, false
				},
			}
			_, r := LoadKeepalived(conf, opt)
			var b bytes.Buffer
			RenderKeepalivedTest(&b, r)
			fmt.Fprintf(&b, "exit %d\n", KeepalivedTestExit(r))
			got := strings.ReplaceAll(b.String(), dir+string(filepath.Separator), "")
			golden := filepath.Join(dir, name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./compat -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
