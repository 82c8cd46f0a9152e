package track

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHelperReap is the process of TestReapInherited: started by a shell as
// `sleep 0.2 & exec TEST`, it inherits the sleep as a child.
func TestHelperReap(t *testing.T) {
	if os.Getenv("HALO_TEST_REAP") == "" {
		t.Skip("helper process only")
	}
	kids := InheritedChildren()
	if len(kids) != 1 {
		fmt.Printf("children %v\n", kids)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ReapInherited(ctx, kids)
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", kids[0])); err == nil {
		fmt.Printf("child still there: %s\n", b) // a zombie shows state Z
		os.Exit(3)
	}
	os.Exit(0)
}

func TestReapInherited(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 0.2 & exec "+os.Args[0]+" -test.run=^TestHelperReap$")
	cmd.Env = append(os.Environ(), "HALO_TEST_REAP=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, strings.TrimSpace(string(out)))
	}
}
