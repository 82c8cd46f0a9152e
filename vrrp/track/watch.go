package track

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// Links follows the up/down state of named interfaces through netlink
// link notifications (track_interface and the instance's own interface).
type Links struct {
	mu sync.Mutex
	up map[string]bool
	// OnChange is called when a watched link changes state.
	OnChange func(name string, up bool)
}

func linkUp(l netlink.Link) bool {
	f := l.Attrs().RawFlags
	return f&syscall.IFF_UP != 0 && f&syscall.IFF_RUNNING != 0
}

// WatchLinks starts watching names; the current state is read first. A name
// that does not exist counts as down.
func WatchLinks(ctx context.Context, names []string, onChange func(name string, up bool)) (*Links, error) {
	w := &Links{up: map[string]bool{}, OnChange: onChange}
	ch := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(ch, ctx.Done(), netlink.LinkSubscribeOptions{ListExisting: false}); err != nil {
		return nil, err
	}
	for _, n := range names {
		up := false
		if l, err := netlink.LinkByName(n); err == nil {
			up = linkUp(l)
		}
		w.up[n] = up
	}
	go func() {
		for u := range ch {
			name := u.Attrs().Name
			up := linkUp(u.Link)
			if u.Header.Type == syscall.RTM_DELLINK {
				up = false
			}
			w.mu.Lock()
			old, ok := w.up[name]
			if ok {
				w.up[name] = up
			}
			w.mu.Unlock()
			if ok && old != up && w.OnChange != nil {
				w.OnChange(name, up)
			}
		}
	}()
	return w, nil
}

// Up reports a watched link's last known state.
func (w *Links) Up(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.up[name]
}

// File follows a vrrp_track_file: the integer written in it. keepalived
// reads it on inotify events; halo polls every PollInterval, which bounds
// the reaction time the same way for a file written by a script.
type File struct {
	Path         string
	PollInterval time.Duration
	OnChange     func(f *File, value int)

	mu    sync.Mutex
	value int
}

// ReadValue parses a track file: a missing file or empty/garbled content is 0,
// as keepalived treats it.
func ReadValue(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return v
}

// NewFile reads the file's current value (or init value when absent).
func NewFile(path string, initValue int, onChange func(*File, int)) *File {
	f := &File{Path: path, PollInterval: 500 * time.Millisecond, OnChange: onChange}
	if _, err := os.Stat(path); err != nil {
		f.value = initValue
	} else {
		f.value = ReadValue(path)
	}
	return f
}

// Value is the last value read.
func (f *File) Value() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.value
}

// Run polls until ctx ends.
func (f *File) Run(ctx context.Context) {
	t := time.NewTicker(f.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := ReadValue(f.Path)
		f.mu.Lock()
		old := f.value
		f.value = v
		f.mu.Unlock()
		if v != old && f.OnChange != nil {
			f.OnChange(f, v)
		}
	}
}
