package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"halo/compat"
	"halo/proxy"
	"halo/proxy/stats"
)

// The master side of master-worker mode that operators see: the master
// CLI of `-S` (proxy/stats/master.go answers it), the process table it
// shows, the master's notices in HAProxy 2.6.12's words, and
// mworker-max-reloads. A worker serves the commands the master routes
// to it (@1, @!PID) on connections the master hands it over a channel
// of its own (HAProxy's "sockpair@" CLI): each routed command is a new
// socket pair, one end passed with SCM_RIGHTS.

// mcliEnv names the worker's end of its CLI channel to the master.
const mcliEnv = "HALO_HAPROXY_MCLI_FD"

// masterState is the master's process table and CLI.
type masterState struct {
	pid        int
	start      time.Time
	maxReloads int

	mu         sync.Mutex
	cur        *workerProc
	workers    []*workerProc // every live worker, the current one included
	reloads    int
	failed     int
	lastFailed bool
	stopping   bool
	stopSig    syscall.Signal // the signal that stops the master
	srv        *stats.MasterServer
	reported   []chan struct{} // closed once a worker's end is told
}

// newMasterState opens the -S sockets (a failure is fatal, as HAProxy's
// "Can't create the master's CLI.").
func newMasterState(o proxyRunOpts) (*masterState, error) {
	ms := &masterState{pid: os.Getpid(), start: time.Now(), maxReloads: o.MworkerMaxReloads}
	if len(o.MasterCLI) > 0 {
		srv, err := stats.ListenMaster(ms, o.MasterCLI)
		if err != nil {
			proxyAlert("%v", err)
			proxyAlert("Can't create the master's CLI.")
			return nil, err
		}
		ms.srv = srv
	}
	return ms, nil
}

func (ms *masterState) close() {
	if ms.srv != nil {
		ms.srv.Close()
	}
}

func masterNotice(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[NOTICE]   (%d) : %s\n", os.Getpid(), fmt.Sprintf(format, args...))
}

func masterWarning(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : %s\n", os.Getpid(), fmt.Sprintf(format, args...))
}

// forked records a worker that started and listens: the current one from
// now on. Its exit is reported as HAProxy's master reports it.
func (ms *masterState) forked(w *workerProc) {
	masterNotice("New worker (%d) forked", w.cmd.Process.Pid)
	masterNotice("Loading success.")
	ms.mu.Lock()
	ms.cur = w
	ms.workers = append(ms.workers, w)
	ms.lastFailed = false
	for _, x := range ms.workers {
		if ms.maxReloads > 0 && x != w && x.reloads >= ms.maxReloads {
			_ = x.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	told := make(chan struct{})
	ms.reported = append(ms.reported, told)
	srv := ms.srv
	ms.mu.Unlock()
	if srv != nil {
		srv.Start()
	}
	go func() {
		defer close(told)
		<-w.done
		ms.mu.Lock()
		current := w == ms.cur
		for i, x := range ms.workers {
			if x == w {
				ms.workers = append(ms.workers[:i], ms.workers[i+1:]...)
				break
			}
		}
		ms.mu.Unlock()
		code, why := exitStatus(w.cmd.ProcessState)
		if current {
			proxyAlert("Current worker (%d) exited with code %d (%s)", w.cmd.Process.Pid, code, why)
		} else {
			masterWarning("Former worker (%d) exited with code %d (%s)", w.cmd.Process.Pid, code, why)
		}
	}()
}

// reloading counts a reload: every running worker survives one more, and
// those over mworker-max-reloads are terminated.
func (ms *masterState) reloading() {
	masterNotice("Reloading HAProxy")
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.reloads++
	for _, w := range ms.workers {
		w.reloads++
	}
}

// reloadFailed records a reload whose new worker did not start.
func (ms *masterState) reloadFailed() {
	masterWarning("Loading failure!")
	ms.mu.Lock()
	ms.failed++
	ms.lastFailed = true
	ms.mu.Unlock()
}

// stoppingNow is the master's notice on SIGTERM/SIGINT.
func (ms *masterState) stoppingNow(sig os.Signal) {
	ms.mu.Lock()
	already := ms.stopping
	ms.stopping = true
	if s, ok := sig.(syscall.Signal); ok && !already {
		ms.stopSig = s
	}
	ms.mu.Unlock()
	if !already {
		masterWarning("Exiting Master process...")
	}
}

// exitCode is the master's exit status once its current worker ended
// with code: HAProxy's master ends with the worker's status, 128+signal
// for a worker stopped by a signal, except SIGTERM's, which is a clean
// stop (VTest expects 130 after its SIGINT, systemd 0 after SIGTERM).
func (ms *masterState) exitCode(code int, stopping bool) int {
	ms.mu.Lock()
	sig := ms.stopSig
	ms.mu.Unlock()
	switch {
	case !stopping:
		return code
	case sig != 0 && sig != syscall.SIGTERM:
		return 128 + int(sig)
	}
	return 0
}

// exiting is the master's last word, after the workers' ends are told.
func (ms *masterState) exiting(code int) {
	ms.mu.Lock()
	told := ms.reported
	ms.mu.Unlock()
	for _, t := range told {
		select {
		case <-t:
		case <-time.After(time.Second):
		}
	}
	masterWarning("All workers exited. Exiting... (%d)", code)
}

// exitStatus is how HAProxy's master tells a child's end: a signal counts
// as 128+signal with the signal's name, an exit as its code and "Exit".
func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, "Exit"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// strsignal's words: Go's names, capitalized ("Terminated").
		desc := ws.Signal().String()
		if desc != "" && desc[0] >= 'a' && desc[0] <= 'z' {
			desc = string(desc[0]-'a'+'A') + desc[1:]
		}
		return 128 + int(ws.Signal()), desc
	}
	return ps.ExitCode(), "Exit"
}

// Procs implements stats.MasterHost.
func (ms *masterState) Procs() []stats.Proc {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	out := []stats.Proc{{PID: ms.pid, Type: "master", Reloads: ms.reloads, Failed: ms.failed, Start: ms.start, Version: stats.Version}}
	for _, w := range ms.workers {
		if w == ms.cur {
			out = append(out, stats.Proc{PID: w.cmd.Process.Pid, Type: "worker", Reloads: w.reloads, Start: w.start, Version: stats.Version})
		}
	}
	for _, w := range ms.workers {
		if w != ms.cur {
			out = append(out, stats.Proc{PID: w.cmd.Process.Pid, Type: "worker", Reloads: w.reloads, Start: w.start, Version: stats.Version, Leaving: true})
		}
	}
	return out
}

// Reload implements stats.MasterHost: the same as `kill -USR2` on the
// master.
func (ms *masterState) Reload() { _ = syscall.Kill(ms.pid, syscall.SIGUSR2) }

// ReloadFailed implements stats.MasterHost.
func (ms *masterState) ReloadFailed() bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.lastFailed
}

// Forward implements stats.MasterHost: one command line on worker pid's
// CLI, over a new socket pair handed to it.
func (ms *masterState) Forward(pid int, level stats.Level, cmd string) (string, error) {
	ms.mu.Lock()
	var w *workerProc
	for _, x := range ms.workers {
		if x.cmd.Process.Pid == pid {
			w = x
		}
	}
	ms.mu.Unlock()
	if w == nil || w.cli == nil {
		return "", errors.New("no such worker")
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	w.cliMu.Lock()
	_, _, err = w.cli.WriteMsgUnix([]byte{byte(level)}, unix.UnixRights(fds[1]), nil)
	w.cliMu.Unlock()
	syscall.Close(fds[1])
	f := os.NewFile(uintptr(fds[0]), "mcli")
	c, cerr := net.FileConn(f)
	f.Close()
	if err != nil || cerr != nil {
		if c != nil {
			c.Close()
		}
		return "", errors.Join(err, cerr)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	_ = c.(*net.UnixConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return string(out), nil
}

// attachCLIChannel gives a worker about to start its CLI channel: the
// worker's end goes with cmd (after the other inherited descriptors), the
// master's is returned.
func attachCLIChannel(cmd *exec.Cmd) (*net.UnixConn, error) {
	mch, wch, err := workerChannel()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, wch)
	cmd.Env = append(cmd.Env, mcliEnv+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	return mch, nil
}

// serveMasterCLI is the worker's side: every connection the master hands
// over its CLI channel is served by the stats CLI at the level the master
// says, for as long as the master lives.
func serveMasterCLI(hub *stats.Hub) {
	v := os.Getenv(mcliEnv)
	fd, err := strconv.Atoi(v)
	if v == "" || err != nil {
		return
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "mcli")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return
	}
	go func() {
		defer uc.Close()
		buf := make([]byte, 1)
		oob := make([]byte, unix.CmsgSpace(4))
		for {
			n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
			if err != nil || (n == 0 && oobn == 0) {
				return
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, err := unix.ParseUnixRights(&m)
				if err != nil {
					continue
				}
				for _, fd := range fds {
					unix.CloseOnExec(fd)
					cf := os.NewFile(uintptr(fd), "mcli-session")
					conn, err := net.FileConn(cf)
					cf.Close()
					if err != nil {
						continue
					}
					lvl := stats.LevelAdmin
					if n == 1 && stats.Level(buf[0]) <= stats.LevelAdmin {
						lvl = stats.Level(buf[0])
					}
					go hub.ServeCLI(conn, lvl)
				}
			}
		}
	}()
}

// masterCLISockets reads every -S argument.
func masterCLISockets(specs []string) ([]proxy.StatsSocket, error) {
	var out []proxy.StatsSocket
	for _, s := range specs {
		sk, err := compat.MasterSocket(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}
