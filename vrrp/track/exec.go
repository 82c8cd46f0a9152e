package track

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SplitCommand splits a keepalived script line into argv the way keepalived
// does (no shell): words separated by blanks, "double" or 'single' quotes
// group, a backslash escapes the next character.
func SplitCommand(s string) []string {
	var (
		out   []string
		cur   []byte
		in    bool
		quote byte
	)
	esc := false
	// Byte-wise: every delimiter is ASCII, and other bytes (even invalid
	// UTF-8) must reach the script unchanged.
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			cur = append(cur, c)
			esc = false
			in = true
		case c == '\\' && quote != '\'':
			esc = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur = append(cur, c)
			}
		case c == '"' || c == '\'':
			quote = c
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, string(cur))
				cur = cur[:0]
				in = false
			}
		default:
			cur = append(cur, c)
			in = true
		}
	}
	if in {
		out = append(out, string(cur))
	}
	return out
}

// Cred is who scripts run as (script_user / a script's `user`).
type Cred struct {
	Name     string
	UID, GID uint32
}

// LookupUser resolves `user [group]`; an empty name means root.
func LookupUser(name, group string) (Cred, error) {
	if name == "" {
		return Cred{Name: "root"}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return Cred{}, fmt.Errorf("unknown script user %s", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return Cred{}, fmt.Errorf("unknown script group %s", group)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return Cred{Name: name, UID: uint32(uid), GID: uint32(gid)}, nil
}

// Resolve finds argv[0] on PATH when it is not a path.
func Resolve(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty script")
	}
	p, err := exec.LookPath(argv[0])
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// CheckSecure applies enable_script_security: the script and every directory
// above it must be owned by root (or by the script's user when that is not
// root) and not writable by group or others, so that no other user can
// replace what root will execute. It returns why the script is unsafe.
func CheckSecure(path string, c Cred) error {
	p := path
	for {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if ok {
			if sys.Uid != 0 && sys.Uid != c.UID {
				return fmt.Errorf("%s is owned by uid %d", p, sys.Uid)
			}
			if st.Mode().Perm()&0o022 != 0 && !(st.IsDir() && st.Mode()&os.ModeSticky != 0) {
				return fmt.Errorf("%s is writable by group or others", p)
			}
		}
		if p == "/" {
			return nil
		}
		p = filepath.Dir(p)
	}
}

// Result is how one script run ended.
type Result struct {
	Status   int  // exit status (valid when !Signaled && !TimedOut)
	Signal   int  // signal number when Signaled
	Signaled bool // killed by a signal it did not get from us
	TimedOut bool
	Err      error // could not start
}

// OK is keepalived's notion of success: exited with status 0.
func (r Result) OK() bool { return r.Err == nil && !r.TimedOut && !r.Signaled && r.Status == 0 }

// Run executes argv as c, killing its whole process group at timeout
// (0 = none). The script inherits the daemon's environment, as with
// keepalived.
func Run(ctx context.Context, argv []string, c Cred, timeout time.Duration) Result {
	path, err := Resolve(argv)
	if err != nil {
		return Result{Err: err}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.UID != 0 || c.GID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID}
	}
	if err := cmd.Start(); err != nil {
		return Result{Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	timedOut := false
	select {
	case werr = <-done:
	case <-ctx.Done():
		timedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-done
	}
	if timedOut {
		return Result{TimedOut: true}
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return Result{Signaled: true, Signal: int(ws.Signal())}
		}
		return Result{Status: ee.ExitCode()}
	}
	if werr != nil {
		return Result{Err: werr}
	}
	return Result{}
}
