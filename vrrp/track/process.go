package track

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"halo/vrrp"
)

// Processes watches the vrrp_track_process quorums: how many running
// processes match each, against its quorum and quorum_max, with its fork
// and terminate delays. Keepalived learns of process creation and exit
// from the kernel's process events connector, which exists only in the
// initial network namespace (in any other keepalived's track_process never
// reports); halo scans /proc every Interval instead, which works anywhere
// and notices a change within that interval.
type Processes struct {
	// Root is the proc filesystem ("/proc"); Interval the scan period.
	Root     string
	Interval time.Duration
	// OnChange is called from Run when a quorum is gained or lost.
	OnChange func(name string, up bool)

	tracks []*procTrack
	full   bool // some track needs command lines
}

type procTrack struct {
	cfg     *vrrp.TrackProcess
	up      bool
	pending bool // the scans disagree with up since since
	since   time.Time
}

// NewProcesses watches the given tracks; Scan gives their first states.
func NewProcesses(tracks []*vrrp.TrackProcess) *Processes {
	p := &Processes{Root: "/proc", Interval: 200 * time.Millisecond}
	for _, t := range tracks {
		p.tracks = append(p.tracks, &procTrack{cfg: t})
		p.full = p.full || t.FullCommand
	}
	return p
}

// Up reports a track's current state.
func (p *Processes) Up(name string) bool {
	for _, t := range p.tracks {
		if t.cfg.Name == name {
			return t.up
		}
	}
	return false
}

// Init takes the first scan as the tracks' states, without delays (as
// keepalived reads /proc once at start).
func (p *Processes) Init() {
	counts := p.count()
	for i, t := range p.tracks {
		t.up = inQuorum(t.cfg, counts[i])
	}
}

// Run scans until ctx ends, reporting changes through OnChange.
func (p *Processes) Run(ctx context.Context) {
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.step(now, p.count())
		}
	}
}

// step applies one scan's counts at now: a change of quorum holds for the
// fork (gained) or terminate (lost) delay before it is reported.
func (p *Processes) step(now time.Time, counts []int) {
	for i, t := range p.tracks {
		want := inQuorum(t.cfg, counts[i])
		if want == t.up {
			t.pending = false
			continue
		}
		if !t.pending {
			t.pending, t.since = true, now
		}
		delay := t.cfg.TerminateDelay
		if want {
			delay = t.cfg.ForkDelay
		}
		if now.Sub(t.since) < delay {
			continue
		}
		t.up, t.pending = want, false
		if p.OnChange != nil {
			p.OnChange(t.cfg.Name, want)
		}
	}
}

func inQuorum(t *vrrp.TrackProcess, n int) bool {
	return n >= t.Quorum && (t.QuorumMax < 0 || n <= t.QuorumMax)
}

// count scans Root once and counts each track's matching processes.
func (p *Processes) count() []int {
	counts := make([]int, len(p.tracks))
	ents, err := os.ReadDir(p.Root)
	if err != nil {
		return counts
	}
	for _, e := range ents {
		name := e.Name()
		if name[0] < '1' || name[0] > '9' {
			continue
		}
		if _, err := strconv.Atoi(name); err != nil {
			continue
		}
		dir := filepath.Join(p.Root, name)
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil {
			continue // gone meanwhile
		}
		c := strings.TrimSuffix(string(comm), "\n")
		var argv []string
		if p.full {
			if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
				argv = strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
			}
		}
		for i, t := range p.tracks {
			if Matches(t.cfg, c, argv) {
				counts[i]++
			}
		}
	}
	return counts
}

// Matches tells whether a process with name comm and command line argv is
// one of t's: by name (the 15 characters the kernel keeps), or with
// full_command by argv[0] and the parameters as param_match says (exact:
// the same parameters; partial: these first, more allowed; initial: the
// last may go on longer).
func Matches(t *vrrp.TrackProcess, comm string, argv []string) bool {
	if !t.FullCommand {
		name := t.Process
		if len(name) > 15 {
			name = name[:15]
		}
		return comm == name
	}
	if len(argv) == 0 || argv[0] != t.Process {
		return false
	}
	args := argv[1:]
	switch t.ParamMatch {
	case "partial":
		if len(args) < len(t.Params) {
			return false
		}
	case "initial":
		if len(args) < len(t.Params) {
			return false
		}
		for i, want := range t.Params {
			if i == len(t.Params)-1 {
				return strings.HasPrefix(args[i], want)
			}
			if args[i] != want {
				return false
			}
		}
		return true
	default: // exact, or full_command alone: the same parameters
		if len(args) != len(t.Params) {
			return false
		}
	}
	for i, want := range t.Params {
		if args[i] != want {
			return false
		}
	}
	return true
}
