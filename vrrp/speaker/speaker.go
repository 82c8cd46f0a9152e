// Package speaker is the Keepalived runtime: it runs every vrrp_instance of a
// vrrp.Config on real sockets and interfaces, with Keepalived's timers,
// messages, tracking and notifications. It lives below vrrp/ because the
// helper packages it drives (netif, track, notify, transport) import vrrp's
// config types.
package speaker

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"sync"
	"time"

	"halo/vrrp"
	"halo/vrrp/netif"
	"halo/vrrp/notify"
	"halo/vrrp/track"
)

// Logf receives one log line in Keepalived's wording, without timestamp.
type Logf func(format string, args ...any)

// Speaker runs a configuration until Stop.
type Speaker struct {
	cfg  *vrrp.Config
	logf Logf

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	notifier *notify.Notifier
	scripts  map[string]*track.Script
	files    map[string]*track.File
	links    *track.Links

	groupOf    map[string]*vrrp.SyncGroup // instance name → its sync group
	groupState map[string]vrrp.State

	mu     sync.Mutex
	insts  []*instance
	resume map[string]vrrp.State // instance states carried over a reload
}

// New checks what can be checked before anything changes on the host.
func New(cfg *vrrp.Config, logf Logf) (*Speaker, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if len(cfg.Instances) == 0 {
		return nil, fmt.Errorf("no vrrp_instance configured")
	}
	return &Speaker{cfg: cfg, logf: logf}, nil
}

// Start brings every instance up (leftover VIPs removed, BACKUP or FAULT
// state) and returns; the instances run in the background.
func (s *Speaker) Start() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	g := &s.cfg.Global
	cred, err := track.LookupUser(g.ScriptUser, g.ScriptGroup)
	if err != nil {
		s.logf("%v", err)
	}
	if !g.EnableScriptSecurity && cred.UID == 0 && s.hasScripts() {
		s.logf("SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
	}
	s.notifier, err = notify.New(s.ctx, g, cred, s.logf)
	if err != nil {
		s.logf("%v", err)
		s.notifier, _ = notify.New(s.ctx, &vrrp.Global{}, cred, s.logf)
	}

	// vrrp_script runners: one per script that some instance tracks.
	s.scripts = map[string]*track.Script{}
	var refs []vrrp.TrackRef
	for _, in := range s.cfg.Instances {
		refs = append(refs, in.TrackScripts...)
	}
	for _, g := range s.cfg.SyncGroups {
		refs = append(refs, g.TrackScripts...)
	}
	{
		for _, ref := range refs {
			sc := s.cfg.Scripts[ref.Name]
			if sc == nil || s.scripts[ref.Name] != nil {
				continue
			}
			sc.Name = ref.Name
			c := cred
			if sc.User != "" {
				if c2, err := track.LookupUser(sc.User, sc.Group); err == nil {
					c = c2
				} else {
					s.logf("%v", err)
				}
			}
			runner := track.NewScript(sc, c, s.logf)
			if g.EnableScriptSecurity {
				if path, err := track.Resolve(track.SplitCommand(sc.Command)); err != nil {
					s.logf("Disabling track script %s since not found/accessible", sc.Name)
					continue
				} else if err := track.CheckSecure(path, c); err != nil {
					s.logf("Unsafe permissions found for script '%s' (%v) - disabling.", sc.Command, err)
					continue
				}
			}
			runner.OnChange = func(*track.Script, track.ScriptState) { s.trackChanged() }
			s.scripts[ref.Name] = runner
		}
	}
	s.files = map[string]*track.File{}
	for _, in := range s.cfg.Instances {
		for _, ref := range in.TrackFiles {
			tf := s.cfg.TrackFiles[ref.Name]
			if tf == nil || s.files[ref.Name] != nil {
				continue
			}
			s.files[ref.Name] = track.NewFile(tf.Path, tf.InitValue, func(*track.File, int) { s.trackChanged() })
		}
	}
	var ifnames []string
	for _, in := range s.cfg.Instances {
		ifnames = append(ifnames, in.Interface)
		for _, ref := range in.TrackInterfaces {
			ifnames = append(ifnames, ref.Name)
		}
	}
	s.links, err = track.WatchLinks(s.ctx, ifnames, func(name string, up bool) {
		st := "down"
		if up {
			st = "up"
		}
		s.logf("Netlink reports %s %s", name, st)
		s.trackChanged()
	})
	if err != nil {
		return fmt.Errorf("netlink link monitor: %w", err)
	}

	s.groupOf, s.groupState = map[string]*vrrp.SyncGroup{}, map[string]vrrp.State{}
	for _, g := range s.cfg.SyncGroups {
		for _, name := range g.Instances {
			s.groupOf[name] = g
		}
	}
	var insts []*instance
	for _, ic := range s.cfg.Instances {
		in, err := newInstance(s, ic)
		if err != nil {
			for _, in := range insts {
				in.conn.Close()
			}
			s.cancel()
			return fmt.Errorf("(%s) %w", ic.Name, err)
		}
		insts = append(insts, in)
	}
	s.mu.Lock()
	s.insts = insts
	resume := s.resume
	s.resume = nil
	s.mu.Unlock()
	for _, in := range insts {
		st, ok := resume[in.cfg.Name]
		in.start(st, ok)
	}
	for _, sc := range s.scripts {
		s.wg.Go(func() { sc.Run(s.ctx) })
	}
	for _, f := range s.files {
		s.wg.Go(func() { f.Run(s.ctx) })
	}
	return nil
}

func (s *Speaker) hasScripts() bool {
	if len(s.cfg.Scripts) > 0 {
		return true
	}
	for _, in := range s.cfg.Instances {
		if in.Notify != "" || in.NotifyMaster != "" || in.NotifyBackup != "" || in.NotifyFault != "" || in.NotifyStop != "" {
			return true
		}
	}
	return false
}

// trackChanged asks every instance to recompute its priority and fault state.
func (s *Speaker) trackChanged() {
	s.mu.Lock()
	insts := s.insts
	s.mu.Unlock()
	for _, in := range insts {
		in.post(event{kind: evTrack})
	}
}

// syncGroup moves the other members of in's sync group to st and runs the
// group's notifications once per group transition.
func (s *Speaker) syncGroup(in *instance, st vrrp.State) {
	g := s.groupOf[in.cfg.Name]
	if g == nil {
		return
	}
	s.mu.Lock()
	changed := s.groupState[g.Name] != st
	s.groupState[g.Name] = st
	insts := s.insts
	s.mu.Unlock()
	if !changed {
		return
	}
	if st != vrrp.StateStop {
		s.logf("VRRP_Group(%s) Syncing instances to %s state", g.Name, st)
	}
	for _, o := range insts {
		if o != in && s.groupOf[o.cfg.Name] == g {
			o.post(event{kind: evSync, state: st})
		}
	}
	s.notifier.Notify(notify.Event{Group: true, Name: g.Name, State: st, Priority: 0}, notify.GroupScripts(g))
}

// terms gathers the tracking inputs of one instance.
func (s *Speaker) terms(ic *vrrp.Instance) (terms []track.Term, ifaceDown bool) {
	if !ic.DontTrackPrimary && !s.links.Up(ic.Interface) {
		ifaceDown = true
	}
	refs := ic.TrackScripts
	if g := s.groupOf[ic.Name]; g != nil {
		// A sync group's track_script applies to every member.
		refs = append(append([]vrrp.TrackRef(nil), refs...), g.TrackScripts...)
	}
	for _, ref := range refs {
		sc := s.scripts[ref.Name]
		if sc == nil {
			continue
		}
		w := sc.Cfg.Weight
		if ref.HasWeight {
			w = ref.Weight
		}
		failed := sc.Failed()
		if ref.Reverse {
			w = -w
		}
		terms = append(terms, track.Term{Weight: w, Failed: failed})
	}
	for _, ref := range ic.TrackInterfaces {
		w := 0
		if ref.HasWeight {
			w = ref.Weight
		}
		down := !s.links.Up(ref.Name)
		if ref.Reverse {
			w = -w
		}
		terms = append(terms, track.Term{Weight: w, Failed: down})
	}
	for _, ref := range ic.TrackFiles {
		f := s.files[ref.Name]
		if f == nil {
			continue
		}
		w := s.cfg.TrackFiles[ref.Name].Weight
		if ref.HasWeight {
			w = ref.Weight
		}
		if ref.Reverse {
			w = -w
		}
		terms = append(terms, track.Term{File: true, Weight: w, Value: f.Value()})
	}
	return terms, ifaceDown
}

// Stop ends every instance the way keepalived does on SIGTERM: masters send
// a priority-0 advert and remove their VIPs; notify_stop runs.
func (s *Speaker) Stop() {
	s.logf("Stopping")
	s.stopInstances(true)
	s.cancel()
	s.wg.Wait()
	s.notifier.Wait()
	s.notifier.Close()
}

func (s *Speaker) stopInstances(announce bool) {
	s.mu.Lock()
	insts := s.insts
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Go(func() { in.stop(announce) })
	}
	wg.Wait()
}

// Reload swaps in cfg (SIGHUP). Instances whose identity (name, interface,
// VRID, family, addressing) is unchanged keep their state, so a MASTER stays
// MASTER without a new election; others are stopped (priority 0) or started.
func (s *Speaker) Reload(cfg *vrrp.Config) error {
	if len(cfg.Instances) == 0 {
		return fmt.Errorf("no vrrp_instance configured")
	}
	s.logf("Reloading")
	old := map[string]*instance{}
	s.mu.Lock()
	insts := s.insts
	s.mu.Unlock()
	for _, in := range insts {
		old[in.key()] = in
	}
	keep := map[string]vrrp.State{}
	kept := map[*instance]*vrrp.Instance{}
	for _, ic := range cfg.Instances {
		if in, ok := old[instanceKey(ic)]; ok {
			keep[ic.Name] = in.snapshot().State
			kept[in] = ic
		}
	}
	var wg sync.WaitGroup
	for _, in := range insts {
		nic, ok := kept[in]
		wg.Go(func() {
			if !ok {
				in.stop(true)
				return
			}
			in.detach()
			if keep[nic.Name] == vrrp.StateMaster {
				// VIPs and routes the new configuration dropped go now.
				for _, v := range in.cfg.VIPs {
					if !hasVIP(nic.VIPs, v) {
						_ = netif.DelVIP(netif.VIPDev(v, in.cfg.Interface), v)
					}
				}
				for _, v := range in.cfg.ExcludedVIPs {
					if !hasVIP(nic.ExcludedVIPs, v) {
						_ = netif.DelVIP(netif.VIPDev(v, in.cfg.Interface), v)
					}
				}
			}
		})
	}
	wg.Wait()
	s.cancel()
	s.wg.Wait()
	s.notifier.Wait()
	s.notifier.Close()
	s.mu.Lock()
	s.cfg, s.insts, s.resume = cfg, nil, keep
	s.mu.Unlock()
	return s.Start()
}

func hasVIP(list []vrrp.VIP, v vrrp.VIP) bool {
	for _, x := range list {
		if x.Prefix == v.Prefix && x.Dev == v.Dev {
			return true
		}
	}
	return false
}

// Snapshot is one instance's state for dumps and tests.
type Snapshot struct {
	Name              string
	State             vrrp.State
	Priority          int
	EffectivePriority int
	Interface         string
	VRID              int
	Stats             Stats
	MasterAddr        netip.Addr
	LastTransition    time.Time
}

// Instances returns a snapshot of every instance, in config order.
func (s *Speaker) Instances() []Snapshot {
	s.mu.Lock()
	insts := s.insts
	s.mu.Unlock()
	out := make([]Snapshot, 0, len(insts))
	for _, in := range insts {
		out = append(out, in.snapshot())
	}
	return out
}

// WriteData writes keepalived's SIGUSR1 dump (/tmp/keepalived.data).
func (s *Speaker) WriteData(w io.Writer) {
	g := &s.cfg.Global
	fmt.Fprintf(w, "------< Global definitions >------\n")
	fmt.Fprintf(w, " Router ID = %s\n", g.RouterID)
	if g.SMTPServer != "" {
		fmt.Fprintf(w, " Smtp server = %s\n", g.SMTPServer)
	}
	fmt.Fprintf(w, " Email notification from = %s\n", g.NotificationEmailFrom)
	fmt.Fprintf(w, " Script security %s\n", map[bool]string{true: "enabled", false: "disabled"}[g.EnableScriptSecurity])
	fmt.Fprintf(w, "------< VRRP Topology >------\n")
	for _, in := range s.Instances() {
		ic := s.cfgFor(in.Name)
		fmt.Fprintf(w, " VRRP Instance = %s\n", in.Name)
		fmt.Fprintf(w, "   State = %s\n", in.State)
		if in.State != vrrp.StateMaster && in.MasterAddr.IsValid() {
			fmt.Fprintf(w, "   Master router = %s\n", in.MasterAddr)
		}
		fmt.Fprintf(w, "   Last transition = %d (%s)\n", in.LastTransition.Unix(), in.LastTransition.UTC().Format(time.ANSIC))
		fmt.Fprintf(w, "   Interface = %s\n", in.Interface)
		fmt.Fprintf(w, "   Virtual Router ID = %d\n", in.VRID)
		fmt.Fprintf(w, "   Priority = %d\n", in.Priority)
		fmt.Fprintf(w, "   Effective priority = %d\n", in.EffectivePriority)
		if ic != nil {
			fmt.Fprintf(w, "   Advert interval = %gsec\n", ic.AdvertInt.Seconds())
			fmt.Fprintf(w, "   Preempt = %s\n", map[bool]string{true: "disabled", false: "enabled"}[ic.NoPreempt])
			if ic.PreemptDelay > 0 {
				fmt.Fprintf(w, "   Preempt delay = %g secs\n", ic.PreemptDelay.Seconds())
			}
			fmt.Fprintf(w, "   Virtual IP (%d):\n", len(ic.VIPs))
			for _, v := range ic.VIPs {
				fmt.Fprintf(w, "     %s dev %s scope %s\n", v.Prefix, netif.VIPDev(v, ic.Interface), scopeName(v.Scope))
			}
			if len(ic.TrackScripts) > 0 {
				fmt.Fprintf(w, "   Tracked scripts :\n")
				for _, r := range ic.TrackScripts {
					st := "INIT"
					if sc := s.scripts[r.Name]; sc != nil {
						st = map[track.ScriptState]string{track.ScriptInit: "INIT", track.ScriptGood: "GOOD", track.ScriptFailed: "BAD"}[sc.State()]
					}
					fmt.Fprintf(w, "     %s weight %d %s\n", r.Name, s.cfg.Scripts[r.Name].Weight, st)
				}
			}
		}
	}
	if len(s.cfg.Scripts) > 0 {
		fmt.Fprintf(w, "------< VRRP Scripts >------\n")
		names := make([]string, 0, len(s.cfg.Scripts))
		for n := range s.cfg.Scripts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sc := s.cfg.Scripts[n]
			fmt.Fprintf(w, " VRRP Script = %s\n", n)
			fmt.Fprintf(w, "   Command = %s\n", sc.Command)
			fmt.Fprintf(w, "   Interval = %g sec\n", sc.Interval.Seconds())
			fmt.Fprintf(w, "   Timeout = %g sec\n", sc.Timeout.Seconds())
			fmt.Fprintf(w, "   Weight = %d\n", sc.Weight)
			fmt.Fprintf(w, "   Rise = %d\n", sc.Rise)
			fmt.Fprintf(w, "   Fall = %d\n", sc.Fall)
			st := "INIT"
			if r := s.scripts[n]; r != nil {
				st = map[track.ScriptState]string{track.ScriptInit: "INIT", track.ScriptGood: "GOOD", track.ScriptFailed: "BAD"}[r.State()]
			}
			fmt.Fprintf(w, "   Status = %s\n", st)
		}
	}
}

func scopeName(s string) string {
	if s == "" {
		return "global"
	}
	return s
}

func (s *Speaker) cfgFor(name string) *vrrp.Instance {
	for _, ic := range s.cfg.Instances {
		if ic.Name == name {
			return ic
		}
	}
	return nil
}

// WriteStats writes keepalived's SIGUSR2 dump (/tmp/keepalived.stats).
func (s *Speaker) WriteStats(w io.Writer) {
	for _, in := range s.Instances() {
		st := in.Stats
		fmt.Fprintf(w, "VRRP Instance: %s\n", in.Name)
		fmt.Fprintf(w, "  Advertisements:\n    Received: %d\n    Sent: %d\n", st.AdvertRcvd, st.AdvertSent)
		fmt.Fprintf(w, "  Became master: %d\n  Released master: %d\n", st.BecomeMaster, st.ReleaseMaster)
		fmt.Fprintf(w, "  Packet Errors:\n    Length: %d\n    TTL: %d\n    Invalid Type: %d\n    Advertisement Interval: %d\n    Address List: %d\n",
			st.PacketLenErr, st.IPTTLErr, st.InvalidTypeRcvd, st.AdvertIntervalErr, st.AddrListErr)
		fmt.Fprintf(w, "  Authentication Errors:\n    Invalid Type: %d\n    Type Mismatch: %d\n    Failure: %d\n",
			st.InvalidAuthType, st.AuthTypeMismatch, st.AuthFailure)
		fmt.Fprintf(w, "  Priority Zero:\n    Received: %d\n    Sent: %d\n", st.PriZeroRcvd, st.PriZeroSent)
	}
}

// WriteFile writes a dump to path (mode 0644, replaced atomically).
func WriteFile(path string, fill func(io.Writer)) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fill(f)
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
