package fsm

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzEngine drives a sync group of two instances plus a lone one with an
// arbitrary sequence of events and checks Keepalived's invariants after
// each: VIPs installed exactly in MASTER, the advert timer armed exactly in
// MASTER, the master down timer exactly in BACKUP, none in FAULT, the
// effective priority within 1..255, and no panic.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{9, 9, 9, 1, 0x81, 0x42, 3, 3, 7, 7, 2, 2, 0xff})
	f.Fuzz(func(t *testing.T, ops []byte) {
		a, b, c := basic(100), basic(150), basic(255)
		b.Name, b.VRID, b.Interface, b.Version = "VI_2", 52, "eth1", 3
		c.Name, c.VRID, c.PreemptDelay = "VI_3", 53, time.Second
		a.Trackers = []Tracker{{Kind: TrackScript, Name: "s", Weight: -60}, {Kind: TrackFile, Name: "f", Weight: 2}}
		b.Trackers = []Tracker{{Kind: TrackScript, Name: "z"}}
		c.Trackers = []Tracker{{Kind: TrackScript, Name: "s", Weight: 10, Reverse: true}}
		r := newRig(t, []Config{a, b, c}, []GroupConfig{{Name: "G", Members: []string{"VI_1", "VI_2"}}})
		vips := r.vips
		apply := func(acts []Action) { r.apply(acts) }
		apply(r.e.Start(r.now))
		srcs := []string{"10.0.0.1", "10.0.0.2", "10.0.0.0"}
		for i, op := range ops {
			inst := int(op>>4) % 3
			switch op & 0x0f {
			case 0, 1, 2:
				prio := []int{0, 50, 100, 150, 200, 255}[int(op>>4)%6]
				apply(r.e.Receive(r.now, inst, Advert{Src: netip.MustParseAddr(srcs[i%3]), Priority: uint8(prio), Interval: time.Duration(1+int(op&3)) * 250 * time.Millisecond}))
			case 3, 4:
				r.advance(time.Duration(op) * 37 * time.Millisecond)
			case 5:
				apply(r.e.Script(r.now, "s", op&0x10 != 0))
			case 6:
				apply(r.e.Script(r.now, "z", op&0x10 != 0))
			case 7:
				apply(r.e.Interface(r.now, []string{"eth0", "eth1"}[int(op>>4)%2], op&0x20 != 0))
			case 8:
				apply(r.e.File(r.now, "f", int(int8(op))))
			case 9:
				r.advance(4 * time.Second)
			case 10:
				// a stale or foreign timer
				apply(r.e.Fire(r.now, Timer{Inst: inst, Kind: TimerKind(op>>4) % (numTimers + 1), Gen: uint64(op)}))
			case 15:
				if i == len(ops)-1 {
					apply(r.e.Stop(r.now))
				}
			}
			for k, in := range r.e.inst {
				st := in.state
				if st == Stop {
					continue
				}
				if vips[k] != (st == Master) {
					t.Fatalf("op %d: %s in %s with VIPs %v", i, in.cfg.Name, st, vips[k])
				}
				_, adv := r.timers[[2]int{k, int(TimerAdvert)}]
				_, down := r.timers[[2]int{k, int(TimerMasterDown)}]
				if adv != (st == Master) || down != (st == Backup) {
					t.Fatalf("op %d: %s in %s with advert timer %v, down timer %v", i, in.cfg.Name, st, adv, down)
				}
				if in.eff < 1 || in.eff > 255 {
					t.Fatalf("op %d: priority %d", i, in.eff)
				}
			}
			if g := r.e.groups[0]; g.state == Master && (r.e.inst[0].state != Master || r.e.inst[1].state != Master) {
				t.Fatalf("op %d: group MASTER with members %s %s", i, r.e.inst[0].state, r.e.inst[1].state)
			}
		}
	})
}
