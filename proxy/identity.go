package proxy

import (
	"fmt"
	"syscall"
)

// IdentityError is a failure to chroot or change ids, worded as HAProxy's
// alert (the caller adds the "[prog.main()] " prefix).
type IdentityError struct{ Msg string }

func (e *IdentityError) Error() string { return e.Msg }

// Chroot applies the global `chroot` (then chdir("/")), as HAProxy does
// once every listener, stats socket, log socket and file the runtime needs
// is open, before it tells old processes to leave and changes ids.
func Chroot(g *Global) error {
	if g.Chroot != "" {
		if syscall.Chroot(g.Chroot) != nil || syscall.Chdir("/") != nil {
			return &IdentityError{Msg: fmt.Sprintf("Cannot chroot(%s).", g.Chroot)}
		}
	}
	return nil
}

// SetIDs applies the global `group`/`gid` and `user`/`uid` in HAProxy's
// order: drop the supplementary groups, setgid, setuid (0 means unset: no
// change). Go applies the set*id calls to every thread of the process.
// warn receives HAProxy's warning when the supplementary groups cannot be
// dropped (not root); it is not fatal, a failing setgid/setuid is.
func SetIDs(g *Global, warn func(string)) error {
	if g.GID != 0 {
		if n, _ := syscall.Getgroups(); len(n) > 0 && syscall.Setgroups(nil) != nil {
			warn("Failed to drop supplementary groups. Using 'gid'/'group' without 'uid'/'user' is generally useless.")
		}
		if syscall.Setgid(g.GID) != nil {
			return &IdentityError{Msg: fmt.Sprintf("Cannot set gid %d.", g.GID)}
		}
	}
	if g.UID != 0 && syscall.Setuid(g.UID) != nil {
		return &IdentityError{Msg: fmt.Sprintf("Cannot set uid %d.", g.UID)}
	}
	return nil
}
