package main

import (
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"halo/proxy/sockxfer"
)

// workerEnv marks a worker process started by a master (-W / -Ws).
const workerEnv = "HALO_HAPROXY_WORKER"

// reloadEnv marks a worker started by a reload: an older one runs.
const reloadEnv = "HALO_HAPROXY_RELOAD"

type workerProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int
	ch   *net.UnixConn // the master's end of the worker's channel
	// The master CLI's view (haproxy_mcli.go): start, reloads survived,
	// the channel routed commands go through.
	start   time.Time
	reloads int
	cli     *net.UnixConn
	cliMu   sync.Mutex
}

// runMaster is HAProxy's master-worker mode (-W, -Ws, `master-worker`):
// this process keeps no listener; it starts a worker (this same command
// line, re-executed), and on SIGUSR2/SIGHUP starts a new worker with the
// configuration as it is now on disk and, once that one listens, soft-stops
// the old ones. The new worker takes the current one's listening sockets
// (haproxy_handover.go), so no connection waiting to be accepted is lost
// and none is refused. SIGTERM/SIGINT stop the workers hard, SIGUSR1 softly; the
// master exits when its current worker is gone. With NOTIFY_SOCKET set
// (systemd Type=notify, -Ws) it reports READY=1 / RELOADING=1 / STOPPING=1.
func runMaster(o proxyRunOpts) int {
	if o.PidFile != "" {
		_ = os.WriteFile(o.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
		defer os.Remove(o.PidFile)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	ms, err := newMasterState(o)
	if err != nil {
		return 1
	}
	defer ms.close()
	cur, err := startWorker(nil, false)
	if err != nil {
		proxyAlert("[haproxy.main()] %v", err)
		return 1
	}
	ms.forked(cur)
	old := []*workerProc{}
	for _, pid := range o.SoftStop {
		_ = syscall.Kill(pid, syscall.SIGUSR1)
	}
	for _, pid := range o.HardStop {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	sdNotify("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()))
	stopping := false
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR2, syscall.SIGHUP:
				if stopping {
					continue
				}
				sdNotify("RELOADING=1")
				ms.reloading()
				socks := fetchFromWorker(cur)
				nw, err := startWorker(socks, true)
				for _, sk := range socks {
					_ = syscall.Close(sk.FD) // the new worker has its copies
				}
				if err != nil {
					ms.reloadFailed()
					sdNotify("READY=1")
					continue
				}
				ms.forked(nw)
				_ = cur.cmd.Process.Signal(syscall.SIGUSR1)
				old = append(old, cur)
				cur = nw
				sdNotify("READY=1")
			case syscall.SIGUSR1:
				stopping = true
				sdNotify("STOPPING=1") // as HAProxy's master, before the workers go
				signalAll(cur, old, syscall.SIGUSR1)
			default:
				stopping = true
				ms.stoppingNow(sig)
				sdNotify("STOPPING=1")
				signalAll(cur, old, syscall.SIGTERM)
			}
		case <-cur.done:
			// The current worker is gone: stop the old ones and leave.
			signalAll(nil, old, syscall.SIGTERM)
			for _, w := range old {
				<-w.done
			}
			code := ms.exitCode(cur.code, stopping)
			ms.exiting(code)
			return code
		}
		// Forget old workers that finished.
		j := 0
		for _, w := range old {
			select {
			case <-w.done:
			default:
				old[j] = w
				j++
			}
		}
		old = old[:j]
	}
}

func signalAll(cur *workerProc, old []*workerProc, sig syscall.Signal) {
	if cur != nil {
		_ = cur.cmd.Process.Signal(sig)
	}
	for _, w := range old {
		_ = w.cmd.Process.Signal(sig)
	}
}

// startWorker re-executes this command line as a worker and waits until it
// listens (it writes to fd 3) or fails. The worker gets its channel to the
// master on fd 4 and socks, the previous worker's listening sockets, from
// fd 5 on. reload marks it as replacing a running worker.
func startWorker(socks []sockxfer.Socket, reload bool) (*workerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	mch, wch, err := workerChannel()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), workerEnv+"=1", masterChanEnv+"=4")
	if reload {
		cmd.Env = append(cmd.Env, reloadEnv+"=1")
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w, wch}
	if len(socks) > 0 {
		fds := make([]string, len(socks))
		for i, sk := range socks {
			fds[i] = strconv.Itoa(5 + i)
			// A duplicate for the child: the caller closes sk.FD.
			cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(dupFD(sk.FD)), "listener"))
		}
		cmd.Env = append(cmd.Env, inheritEnv+"="+strings.Join(fds, ","))
	}
	cli, err := attachCLIChannel(cmd)
	if err != nil {
		r.Close()
		mch.Close()
		for _, f := range cmd.ExtraFiles {
			f.Close()
		}
		return nil, err
	}
	err = cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close() // the child has its own
	}
	if err != nil {
		r.Close()
		mch.Close()
		cli.Close()
		return nil, err
	}
	wp := &workerProc{cmd: cmd, done: make(chan struct{}), ch: mch, cli: cli, start: time.Now()}
	go func() {
		err := cmd.Wait()
		wp.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			wp.code = ee.ExitCode()
		}
		mch.Close()
		cli.Close()
		close(wp.done)
	}()
	ready := make(chan bool, 1)
	go func() {
		b := make([]byte, 1)
		n, _ := r.Read(b)
		r.Close()
		ready <- n == 1
	}()
	select {
	case ok := <-ready:
		if ok {
			return wp, nil
		}
		<-wp.done
	case <-wp.done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-wp.done
	}
	return nil, &workerError{code: wp.code}
}

func dupFD(fd int) int {
	n, err := syscall.Dup(fd)
	if err != nil {
		return -1
	}
	syscall.CloseOnExec(n)
	return n
}

type workerError struct{ code int }

func (e *workerError) Error() string {
	return "worker failed to start (exit code " + strconv.Itoa(e.code) + ")"
}

// sdNotify sends a state line to systemd when started as Type=notify.
func sdNotify(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}
