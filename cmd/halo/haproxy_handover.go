package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"halo/proxy"
	"halo/proxy/sockxfer"
)

// Listening sockets move from one process to the next on a reload (see
// proxy/handover.go): with -W the master asks the current worker for them
// (`_getsocks` over the channel each worker gets, HAProxy's format) and
// passes them to the new worker; alone, `-x <stats socket>` takes them
// from the old process's stats socket (`expose-fd listeners`), which may
// be a real HAProxy.

const (
	// masterChanEnv names the worker's end of its channel to the master.
	masterChanEnv = "HALO_HAPROXY_MASTER_FD"
	// inheritEnv lists the listening sockets a master passed to a worker.
	inheritEnv = "HALO_HAPROXY_INHERIT_FDS"
)

// inheritSockets gives rt the listening sockets of the previous process:
// those the master passed, else those of -x. A failed -x is fatal unless
// under a master, as with HAProxy.
func inheritSockets(rt *proxy.Runtime, o proxyRunOpts) error {
	if v := os.Getenv(inheritEnv); v != "" {
		var socks []sockxfer.Socket
		for _, f := range strings.Split(v, ",") {
			if fd, err := strconv.Atoi(f); err == nil {
				syscall.CloseOnExec(fd)
				socks = append(socks, sockxfer.Socket{FD: fd})
			}
		}
		rt.InheritSockets(socks)
		return nil
	}
	if o.XferSocket == "" || o.XferSocket == "/dev/null" {
		return nil
	}
	socks, err := sockxfer.Fetch(o.XferSocket, time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : %v\n", os.Getpid(), err)
		proxyAlert("Failed to get the sockets from the old process!")
		if os.Getenv(workerEnv) == "" {
			return err
		}
		return nil
	}
	rt.InheritSockets(socks)
	return nil
}

// serveMasterChannel answers the master's `_getsocks` requests on the
// worker's end of its channel, for as long as the worker lives.
func serveMasterChannel(rt *proxy.Runtime) {
	v := os.Getenv(masterChanEnv)
	fd, err := strconv.Atoi(v)
	if v == "" || err != nil {
		return
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "master")
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
		r := bufio.NewReader(uc)
		rc, err := uc.SyscallConn()
		if err != nil {
			return
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.TrimSpace(line) != sockxfer.Command {
				continue
			}
			socks := rt.ExportSockets()
			_ = sockxfer.Send(rc, socks)
			for _, s := range socks {
				_ = syscall.Close(s.FD)
			}
		}
	}()
}

// fetchFromWorker asks a worker for its listening sockets over its
// channel. The caller passes them on and closes them.
func fetchFromWorker(w *workerProc) []sockxfer.Socket {
	if w == nil || w.ch == nil {
		return nil
	}
	_ = w.ch.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = w.ch.SetDeadline(time.Time{}) }()
	rc, err := w.ch.SyscallConn()
	if err != nil {
		return nil
	}
	socks, err := sockxfer.Receive(rc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[WARNING]  (%d) : reload: the current worker's listening sockets could not be taken (%v); the new worker opens its own\n", os.Getpid(), err)
		return nil
	}
	return socks
}

// workerChannel creates a master–worker channel: the master's end and
// the worker's, which goes to the child.
func workerChannel() (master *net.UnixConn, worker *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	mf := os.NewFile(uintptr(fds[0]), "master")
	c, err := net.FileConn(mf)
	mf.Close()
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, err
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "worker"), nil
}
