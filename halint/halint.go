// Package halint finds Keepalived configurations that cannot fail over as
// their author intended: things Keepalived accepts without a word and that
// only show when the master's load balancer dies and the virtual address
// does not move. It reads one node's keepalived.conf (the checks `halo
// keepalived -t` adds) or both nodes' files together, with their
// haproxy.cfg (`halo compat --pair A.conf B.conf [haproxy.cfg]`).
//
// Every finding names the file and line to change and says what will
// happen; each check has a test or a netlab scenario that shows that
// failure (see halint_test.go and vrrp/speaker/lint_test.go).
package halint

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"halo/parser"
	"halo/vrrp"
)

// Check names, stable for scripts and for the tests.
const (
	NopreemptMaster = "nopreempt-master" // nopreempt with state MASTER: cleared, the node preempts when it returns
	NopreemptWeight = "nopreempt-weight" // a nopreempt BACKUP never takes over from a master whose check lowered its priority
	WeightGap       = "weight-gap"       // the master's check weights cannot bring it below the backup
	Mismatch        = "mismatch"         // VRID/auth/advert/version/address differences: each node drops the other's adverts
	UnicastPeers    = "unicast-peers"    // unicast peers that do not name each other
	ProcessName     = "process-name"     // a check looks for a process the HAProxy side does not run as
)

// Finding is one configuration that will not fail over as intended.
type Finding struct {
	Check string
	Pos   parser.Pos // where to change it
	Msg   string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s [%s]", f.Pos.File, f.Pos.Line, f.Msg, f.Check)
}

// Node is one load balancer: its keepalived configuration (as compat
// decoded it) and where each keyword was written.
type Node struct {
	Path string
	Cfg  *vrrp.Config
	AST  *parser.File
	// HAProxy: a haproxy.cfg runs beside this keepalived.conf, so its
	// vrrp_scripts are checks of that HAProxy.
	HAProxy bool
}

// instPos indexes an instance's keywords as written (compat has already
// applied keepalived's corrections, e.g. nopreempt cleared under state
// MASTER; the lint needs what the author wrote).
type instPos struct {
	block *parser.Directive
	kw    map[string]*parser.Directive
	track map[string]*parser.Directive // track_script entries by name
}

func (n *Node) index() (map[string]*instPos, map[string]*parser.Directive) {
	insts, scripts := map[string]*instPos{}, map[string]*parser.Directive{}
	if n.AST == nil {
		return insts, scripts
	}
	for _, d := range n.AST.Directives {
		if len(d.Args) == 0 {
			continue
		}
		switch d.Name {
		case "vrrp_script":
			if _, dup := scripts[d.Args[0].Value]; !dup {
				scripts[d.Args[0].Value] = d
			}
		case "vrrp_instance":
			ip := &instPos{block: d, kw: map[string]*parser.Directive{}, track: map[string]*parser.Directive{}}
			for _, k := range d.Body {
				if _, dup := ip.kw[k.Name]; !dup {
					ip.kw[k.Name] = k
				}
				if k.Name == "track_script" {
					for _, t := range k.Body {
						ip.track[t.Name] = t
					}
				}
			}
			if _, dup := insts[d.Args[0].Value]; !dup {
				insts[d.Args[0].Value] = ip
			}
		}
	}
	return insts, scripts
}

// at is where keyword kw of an instance was written, else the instance.
func (ip *instPos) at(kw string) parser.Pos {
	if ip == nil {
		return parser.Pos{}
	}
	if d := ip.kw[kw]; d != nil {
		return d.Pos
	}
	return ip.block.Pos
}

// weights are an instance's tracked-script weights as Keepalived applies
// them: the track_script entry's weight when given, else the script's.
type weight struct {
	script string
	w      int
	pos    parser.Pos
}

func (n *Node) weights(in *vrrp.Instance, ip *instPos, scripts map[string]*parser.Directive) []weight {
	var out []weight
	add := func(refs []vrrp.TrackRef) {
		for _, r := range refs {
			sc := n.Cfg.Scripts[r.Name]
			if sc == nil {
				continue
			}
			w := sc.Weight
			pos := parser.Pos{}
			if d := scripts[r.Name]; d != nil {
				pos = d.Pos
				for _, k := range d.Body {
					if k.Name == "weight" {
						pos = k.Pos
					}
				}
			}
			if r.HasWeight {
				w = r.Weight
				if ip != nil && ip.track[r.Name] != nil {
					pos = ip.track[r.Name].Pos
				}
			}
			if sc.Reverse || r.Reverse {
				w = -w // reverse: a failing check adds, a passing one subtracts
			}
			out = append(out, weight{script: r.Name, w: w, pos: pos})
		}
	}
	// a sync group member's weighted scripts are already gone (keepalived
	// ignores them; compat says so)
	add(in.TrackScripts)
	return out
}

// wrote reports whether the author wrote nopreempt (compat clears it under
// state MASTER, as keepalived does).
func wrote(ip *instPos, kw string) bool { return ip != nil && ip.kw[kw] != nil }

func stateMaster(ip *instPos) bool {
	d := ip.kw["state"]
	return d != nil && len(d.Args) > 0 && d.Args[0].Value == "MASTER"
}

// Single runs the checks one node's file allows.
func Single(n *Node) []Finding {
	if n == nil || n.Cfg == nil {
		return nil
	}
	insts, scripts := n.index()
	var out []Finding
	for _, in := range n.Cfg.Instances {
		ip := insts[in.Name]
		ws := n.weights(in, ip, scripts)
		// what the author wrote (compat clears nopreempt under state MASTER);
		// a configuration built without a file says it in its fields
		written := ip != nil && wrote(ip, "nopreempt") && stateMaster(ip)
		built := ip == nil && in.NoPreempt && in.InitialState == vrrp.StateMaster
		if written || built {
			out = append(out, Finding{Check: NopreemptMaster, Pos: ip.at("nopreempt"), Msg: fmt.Sprintf(
				"(%s) nopreempt with state MASTER: keepalived clears it, so this node takes the VIP back whenever it returns; "+
					"for no preemption use state BACKUP (and nopreempt) on every node", in.Name)})
		}
		if in.NoPreempt && in.InitialState != vrrp.StateMaster && anyWeight(ws) {
			out = append(out, Finding{Check: NopreemptWeight, Pos: ip.at("nopreempt"), Msg: fmt.Sprintf(
				"(%s) nopreempt on a BACKUP whose checks are weighted (%s): when the master's check fails its priority only drops, "+
					"and a nopreempt backup never takes over from a live master, so the VIP stays on the node whose check failed; "+
					"use weight 0 (a failed check puts the master in FAULT) or remove nopreempt", in.Name, weightList(ws))})
		}
	}
	if n.HAProxy {
		out = append(out, processChecks(n, scripts)...)
	}
	sortFindings(out)
	return out
}

func anyWeight(ws []weight) bool {
	for _, w := range ws {
		if w.w != 0 {
			return true
		}
	}
	return false
}

func weightList(ws []weight) string {
	var parts []string
	for _, w := range ws {
		if w.w != 0 {
			parts = append(parts, fmt.Sprintf("%s %+d", w.script, w.w))
		}
	}
	return strings.Join(parts, ", ")
}

// Pair runs the single-node checks on both nodes and the checks that need
// both: instances are matched by name, else by VRID.
func Pair(a, b *Node) []Finding {
	out := append(Single(a), Single(b)...)
	if a == nil || b == nil || a.Cfg == nil || b.Cfg == nil {
		return out
	}
	ai, as := a.index()
	bi, bs := b.index()
	used := map[*vrrp.Instance]bool{}
	for _, x := range a.Cfg.Instances {
		y := match(x, b.Cfg.Instances, used)
		if y == nil {
			out = append(out, Finding{Check: Mismatch, Pos: ai[x.Name].at("virtual_router_id"), Msg: fmt.Sprintf(
				"(%s) has no counterpart in %s (same name or VRID): it will be MASTER there alone", x.Name, b.Path)})
			continue
		}
		used[y] = true
		out = append(out, mismatches(a, x, ai[x.Name], b, y, bi[y.Name])...)
		out = append(out, unicast(a, x, ai[x.Name], b, y, bi[y.Name])...)
		// the node meant to be master is the one with the higher priority
		m, mi, ms, mn, s, si, ss, sn := x, ai[x.Name], as, a, y, bi[y.Name], bs, b
		if y.Priority > x.Priority || (y.Priority == x.Priority && y.InitialState == vrrp.StateMaster && x.InitialState != vrrp.StateMaster) {
			m, mi, ms, mn, s, si, ss, sn = y, bi[y.Name], bs, b, x, ai[x.Name], as, a
		}
		out = append(out, gap(mn, m, mi, ms, sn, s, si, ss)...)
	}
	for _, y := range b.Cfg.Instances {
		if !used[y] {
			out = append(out, Finding{Check: Mismatch, Pos: bi[y.Name].at("virtual_router_id"), Msg: fmt.Sprintf(
				"(%s) has no counterpart in %s (same name or VRID): it will be MASTER there alone", y.Name, a.Path)})
		}
	}
	sortFindings(out)
	return out
}

func match(x *vrrp.Instance, ys []*vrrp.Instance, used map[*vrrp.Instance]bool) *vrrp.Instance {
	for _, y := range ys {
		if !used[y] && y.Name == x.Name {
			return y
		}
	}
	for _, y := range ys {
		if !used[y] && y.VRID == x.VRID && y.Family == x.Family {
			return y
		}
	}
	return nil
}

// mismatches are the differences that make each node drop the other's
// adverts (packet.Expect.Check): both become MASTER.
func mismatches(a *Node, x *vrrp.Instance, xi *instPos, b *Node, y *vrrp.Instance, yi *instPos) []Finding {
	var out []Finding
	dual := func(kw, what string) {
		out = append(out, Finding{Check: Mismatch, Pos: xi.at(kw), Msg: fmt.Sprintf(
			"(%s) %s differs from %s (%s): each node drops the other's adverts and both will be MASTER",
			x.Name, what, where(b.Path, yi.at(kw)), y.Name)})
	}
	if x.VRID != y.VRID {
		dual("virtual_router_id", fmt.Sprintf("virtual_router_id %d vs %d", x.VRID, y.VRID))
	}
	xv, yv := version(a, x), version(b, y)
	if xv != yv {
		dual("version", fmt.Sprintf("VRRP version %d vs %d", xv, yv))
	}
	if xv == 2 && yv == 2 {
		if x.AuthType != y.AuthType {
			dual("authentication", fmt.Sprintf("auth_type %q vs %q", x.AuthType, y.AuthType))
		} else if x.AuthType != "" && pass8(x.AuthPass) != pass8(y.AuthPass) {
			dual("authentication", "auth_pass (its first 8 bytes)")
		}
		if x.AdvertInt != y.AdvertInt {
			dual("advert_int", fmt.Sprintf("advert_int %v vs %v", x.AdvertInt, y.AdvertInt))
		}
	}
	if !a.Cfg.Global.SkipCheckAdvAddr && !b.Cfg.Global.SkipCheckAdvAddr && !sameAddrs(x.VIPs, y.VIPs) {
		dual("virtual_ipaddress", "the virtual_ipaddress list")
	}
	return out
}

func version(n *Node, in *vrrp.Instance) int {
	v := in.Version
	if v == 0 {
		v = n.Cfg.Global.Version
	}
	if v == 0 {
		v = 2
	}
	if in.Family == 6 {
		v = 3
	}
	return v
}

func pass8(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func sameAddrs(a, b []vrrp.VIP) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[netip.Addr]bool{}
	for _, v := range a {
		set[v.Prefix.Addr()] = true
	}
	for _, v := range b {
		if !set[v.Prefix.Addr()] {
			return false
		}
	}
	return true
}

// unicast checks that two unicast instances send to each other.
func unicast(a *Node, x *vrrp.Instance, xi *instPos, b *Node, y *vrrp.Instance, yi *instPos) []Finding {
	var out []Finding
	xu, yu := len(x.UnicastPeers) > 0, len(y.UnicastPeers) > 0
	if xu != yu {
		uni, multi, ui := x, y, xi
		if yu {
			uni, multi, ui = y, x, yi
		}
		out = append(out, Finding{Check: UnicastPeers, Pos: ui.at("unicast_peer"), Msg: fmt.Sprintf(
			"(%s) speaks unicast and (%s) multicast: neither hears the other and both will be MASTER", uni.Name, multi.Name)})
		return out
	}
	if !xu {
		return nil
	}
	names := func(peers []netip.Addr, a netip.Addr) bool {
		for _, p := range peers {
			if p == a {
				return true
			}
		}
		return false
	}
	if y.UnicastSrcIP.IsValid() && !names(x.UnicastPeers, y.UnicastSrcIP) {
		out = append(out, Finding{Check: UnicastPeers, Pos: xi.at("unicast_peer"), Msg: fmt.Sprintf(
			"(%s) unicast_peer does not list %s, the unicast_src_ip of %s (%s): it never hears that node, and both will be MASTER",
			x.Name, y.UnicastSrcIP, b.Path, y.Name)})
	}
	if x.UnicastSrcIP.IsValid() && !names(y.UnicastPeers, x.UnicastSrcIP) {
		out = append(out, Finding{Check: UnicastPeers, Pos: yi.at("unicast_peer"), Msg: fmt.Sprintf(
			"(%s) unicast_peer does not list %s, the unicast_src_ip of %s (%s): it never hears that node, and both will be MASTER",
			y.Name, x.UnicastSrcIP, a.Path, x.Name)})
	}
	return out
}

// gap checks that the master's weighted checks, all failing, bring its
// priority below the backup's (all passing): otherwise the VIP stays on a
// master whose checks failed.
func gap(mn *Node, m *vrrp.Instance, mi *instPos, ms map[string]*parser.Directive, sn *Node, s *vrrp.Instance, si *instPos, ss map[string]*parser.Directive) []Finding {
	if m.Priority == 255 {
		return nil // an owner's weights are ignored (compat says so in keepalived's words)
	}
	mw := mn.weights(m, mi, ms)
	if !anyWeight(mw) {
		return nil
	}
	failing := m.Priority
	for _, w := range mw {
		if w.w < 0 {
			failing += w.w // a failing check subtracts its negative weight
		}
	}
	healthy := s.Priority
	if s.Priority == 255 {
		healthy = 255
	} else {
		for _, w := range sn.weights(s, si, ss) {
			if w.w > 0 {
				healthy += w.w
			}
		}
	}
	// positive weights on the master are lost when its checks fail
	mHealthy := m.Priority
	for _, w := range mw {
		if w.w > 0 {
			mHealthy += w.w
		}
	}
	failing = clamp(failing)
	if healthy != 255 {
		healthy = clamp(healthy)
	}
	if failing < healthy {
		return nil
	}
	pos := mw[0].pos
	how := "stays above"
	if failing == healthy {
		how = "only ties (the higher IP address then wins)"
	}
	return []Finding{{Check: WeightGap, Pos: pos, Msg: fmt.Sprintf(
		"(%s) priority %d (%d with its checks passing), %d with every check failing (%s): that %s the %d of %s (%s), "+
			"so the VIP stays on this node when its load balancer dies; make the weights larger than the gap, or use weight 0",
		m.Name, m.Priority, clamp(mHealthy), failing, weightList(mw), how, healthy, where(sn.Path, si.at("priority")), s.Name)}}
}

// where names a place in the other node's file ("b.conf:17", or the file).
func where(path string, pos parser.Pos) string {
	if pos.Line > 0 {
		return fmt.Sprintf("%s:%d", path, pos.Line)
	}
	return path
}

// clamp is keepalived's effective priority range for a non-owner.
func clamp(p int) int { return max(1, min(254, p)) }

// processChecks looks at the process-checking vrrp_scripts of a node that
// runs HAProxy: the name they look for must be the one HAProxy (or halo,
// started through its haproxy link) runs as.
func processChecks(n *Node, scripts map[string]*parser.Directive) []Finding {
	var out []Finding
	names := make([]string, 0, len(n.Cfg.Scripts))
	for name := range n.Cfg.Scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sc := n.Cfg.Scripts[name]
		proc, ok := checkedProcess(sc.Command)
		if !ok || proc == "haproxy" {
			continue
		}
		pos := parser.Pos{}
		if d := scripts[name]; d != nil {
			pos = d.Pos
			for _, k := range d.Body {
				if k.Name == "script" {
					pos = k.Pos
				}
			}
		}
		msg := fmt.Sprintf("vrrp_script %s checks for a process named %q, but the HAProxy side runs as \"haproxy\": "+
			"the check fails on every node, whether HAProxy runs or not", name, proc)
		if proc == "halo" {
			msg = fmt.Sprintf("vrrp_script %s checks for a process named \"halo\": halo runs as \"haproxy\" when started "+
				"through its haproxy link (as `make install` sets up) and as \"halo\" only when started as `halo haproxy`; "+
				"check the name the service really runs as", name)
		}
		out = append(out, Finding{Check: ProcessName, Pos: pos, Msg: msg})
	}
	return out
}

// checkedProcess reads the process name of the usual liveness checks:
// killall -0 NAME, pkill -0 NAME, pidof NAME, pgrep [-x] NAME.
func checkedProcess(cmd string) (string, bool) {
	words, err := parser.SplitScript(cmd)
	if err != nil || len(words) < 2 {
		return "", false
	}
	prog := words[0]
	if i := strings.LastIndexByte(prog, '/'); i >= 0 {
		prog = prog[i+1:]
	}
	var args []string
	for _, w := range words[1:] {
		if !strings.HasPrefix(w, "-") {
			args = append(args, w)
		} else if prog == "pgrep" && (w == "-f" || w == "--full") {
			return "", false // a command-line pattern, not a process name
		}
	}
	switch prog {
	case "killall", "pkill", "pidof", "pgrep":
		if len(args) == 1 {
			return args[0], true
		}
	}
	return "", false
}

func sortFindings(f []Finding) {
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Pos.File != f[j].Pos.File {
			return f[i].Pos.File < f[j].Pos.File
		}
		return f[i].Pos.Line < f[j].Pos.Line
	})
}
