package track

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// InheritedChildren lists the children this process already has when it
// starts: processes its predecessor started before exec'ing halo (the seed
// guide's `haproxy & exec keepalived` in one shell, some init scripts).
func InheritedChildren() []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	if len(tasks) > 0 {
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			for _, w := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(w); err == nil {
					out = append(out, pid)
				}
			}
		}
		return out
	}
	// Kernels without CONFIG_PROC_CHILDREN: scan /proc for our children.
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 {
			if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
				out = append(out, pid)
			}
		}
	}
	return out
}

// ReapInherited reaps the inherited children as they die, until ctx ends
// or none is left. keepalived reaps every child on SIGCHLD; without this a
// dead inherited haproxy stays a zombie of halo and `killall -0 haproxy`
// (the usual vrrp_script) keeps succeeding. Children halo starts itself are
// never touched here: os/exec waits for those.
func ReapInherited(ctx context.Context, pids []int) {
	if len(pids) == 0 {
		return
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	left := map[int]bool{}
	for _, p := range pids {
		left[p] = true
	}
	for {
		for p := range left {
			var ws syscall.WaitStatus
			n, err := syscall.Wait4(p, &ws, syscall.WNOHANG, nil)
			if n == p || err == syscall.ECHILD {
				delete(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}
