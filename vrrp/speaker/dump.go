package speaker

import (
	"fmt"
	"io"
	"os"
	"sort"

	"halo/vrrp"
	"halo/vrrp/netif"
	"halo/vrrp/track"
)

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
