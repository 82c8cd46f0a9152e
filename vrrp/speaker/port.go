package speaker

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"halo/vrrp"
	"halo/vrrp/netif"
	"halo/vrrp/packet"
	"halo/vrrp/transport"
)

// Stats are keepalived's per-instance counters (SIGUSR2 dump).
type Stats struct {
	AdvertRcvd, AdvertSent                                                  uint64
	BecomeMaster, ReleaseMaster                                             uint64
	PacketLenErr, IPTTLErr, InvalidTypeRcvd, AdvertIntervalErr, AddrListErr uint64
	InvalidAuthType, AuthTypeMismatch, AuthFailure                          uint64
	PriZeroRcvd, PriZeroSent                                                uint64
}

// counters are Stats updated from the reader goroutine and the loop.
type counters struct {
	advertRcvd, advertSent, becomeMaster, releaseMaster               atomic.Uint64
	lenErr, ttlErr, typeErr, addrErr                                  atomic.Uint64
	invalidAuthType, authTypeMismatch, authFailure, priZeroRcvd, pri0 atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		AdvertRcvd: c.advertRcvd.Load(), AdvertSent: c.advertSent.Load(),
		BecomeMaster: c.becomeMaster.Load(), ReleaseMaster: c.releaseMaster.Load(),
		PacketLenErr: c.lenErr.Load(), IPTTLErr: c.ttlErr.Load(), InvalidTypeRcvd: c.typeErr.Load(),
		// Keepalived 2.2.7 drops a VRRPv2 advert with another interval
		// without counting it: its "Advertisement Interval" stays 0.
		AdvertIntervalErr: 0, AddrListErr: c.addrErr.Load(),
		InvalidAuthType: c.invalidAuthType.Load(), AuthTypeMismatch: c.authTypeMismatch.Load(), AuthFailure: c.authFailure.Load(),
		PriZeroRcvd: c.priZeroRcvd.Load(), PriZeroSent: c.pri0.Load(),
	}
}

// port is one instance's I/O: its socket, its advert template and its
// addresses. The state machine decides; the port does what it is told.
type port struct {
	idx     int
	cfg     *vrrp.Instance
	conn    *transport.Conn
	src     netip.Addr
	v6      bool
	vips    []netip.Addr
	expect  packet.Expect
	adv     packet.Advert // template; only the loop goroutine encodes
	buf     []byte
	ah      *packet.AH // auth_type AH: key and sequence number
	ipID    uint16     // AH: the IPv4 identification of the last advert
	ttl     uint8      // AH: the TTL written in the IP header
	stats   counters
	logf    Logf
	detail  bool
	vipsSet bool   // loop goroutine only: the VIPs are on (MASTER)
	vipIf   string // where VIPs without dev go: the VMAC interface, else the instance's
	vmac    string // use_vmac: the interface made for this instance

	garpInterval, gnaInterval time.Duration     // vrrp_garp_interval, vrrp_gna_interval
	garpGroups                []*vrrp.GARPGroup // garp_group: per-interface spacing
	// sendGARP/sendNA put gratuitous ARPs / NAs on the wire (netif's;
	// tests record them instead).
	sendGARP, sendNA func(dev string, ip netip.Addr, count int) error
	ctx              context.Context // the speaker's: ends at shutdown
	wg               *sync.WaitGroup // the speaker's: shutdown waits for bursts
	garpCtx          context.Context // the current spaced-out bursts (loop goroutine)
	garpCancel       context.CancelFunc
}

func newPort(sp *Speaker, idx int, ic *vrrp.Instance) (*port, error) {
	p := &port{idx: idx, cfg: ic, logf: sp.logf, detail: sp.Detail,
		garpInterval: sp.cfg.Global.GARPInterval, gnaInterval: sp.cfg.Global.GNAInterval, garpGroups: sp.cfg.Global.GARPGroups,
		sendGARP: netif.SendGARP, sendNA: netif.SendNA, ctx: sp.ctx, wg: &sp.wg}
	p.v6 = isV6(ic)
	for _, v := range ic.VIPs {
		p.vips = append(p.vips, v.Prefix.Addr())
	}
	version := instVersion(sp.cfg, ic)
	switch {
	case ic.UnicastSrcIP.IsValid():
		p.src = ic.UnicastSrcIP
	case ic.McastSrcIP.IsValid():
		p.src = ic.McastSrcIP
	default:
		a, err := netif.PrimaryAddr(ic.Interface, p.v6, p.vips)
		if err != nil {
			return nil, err
		}
		p.src = a
	}
	group := sp.cfg.Global.McastGroup4
	if p.v6 {
		group = sp.cfg.Global.McastGroup6
	}
	if !group.IsValid() {
		group = packet.Group4
		if p.v6 {
			group = packet.Group6
		}
	}
	ah := version == 2 && !p.v6 && ic.AuthType == "AH"
	p.vipIf = ic.Interface
	sendIf := ic.Interface
	if ic.UseVMAC != "" {
		// use_vmac: the VIPs live on a macvlan with the virtual router
		// MAC, and adverts leave from it unless vmac_xmit_base
		var ll netip.Addr // an IPv6 VMAC sends from the router's own address
		if p.v6 && !ic.VMACXmitBase {
			ll = p.src
		}
		if err := netif.CreateVMAC(ic.UseVMAC, ic.Interface, uint8(ic.VRID), p.v6, ll); err != nil {
			return nil, err
		}
		p.vmac, p.vipIf = ic.UseVMAC, ic.UseVMAC
		if !ic.VMACXmitBase {
			sendIf = ic.UseVMAC
		}
	}
	conn, err := transport.Open(transport.Options{Iface: sendIf, V6: p.v6, Group: group, Src: p.src, Peers: ic.UnicastPeers,
		UnicastTTL: ic.UnicastTTL, AH: ah})
	if err != nil {
		return nil, err
	}
	p.conn = conn
	p.expect = packet.Expect{Version: uint8(version), VRID: uint8(ic.VRID), Interval: intervalUnits(ic, version),
		Addrs: p.vips, CheckAddrs: !sp.cfg.Global.SkipCheckAdvAddr, Unicast: len(ic.UnicastPeers) > 0}
	switch {
	case version == 2 && ic.AuthType == "PASS":
		p.expect.AuthType = packet.AuthPass
		p.expect.AuthData = packet.PassData(ic.AuthPass)
	case ah:
		p.ah = packet.NewAH(ic.AuthPass)
		p.expect.AuthType, p.expect.AH = packet.AuthAH, p.ah
		p.ttl = packet.TTL
		if len(ic.UnicastPeers) > 0 && ic.UnicastTTL > 0 {
			p.ttl = uint8(ic.UnicastTTL)
		}
	}
	p.adv = packet.Advert{Version: uint8(version), VRID: uint8(ic.VRID), Interval: p.expect.Interval, Addrs: p.vips,
		AuthType: p.expect.AuthType, AuthData: p.expect.AuthData, Src: p.src}
	p.buf = make([]byte, 0, 1500)
	return p, nil
}

func isV6(ic *vrrp.Instance) bool {
	if ic.Family != 0 {
		return ic.Family == 6
	}
	return len(ic.VIPs) > 0 && ic.VIPs[0].Prefix.Addr().Is6()
}

func instVersion(cfg *vrrp.Config, ic *vrrp.Instance) int {
	v := ic.Version
	if v == 0 {
		v = cfg.Global.Version
	}
	if v == 0 {
		v = 2
	}
	if isV6(ic) {
		v = 3 // VRRPv2 is IPv4 only (RFC 3768)
	}
	return v
}

func intervalUnits(ic *vrrp.Instance, version int) uint16 {
	d := advertInt(ic)
	if version == 3 {
		return uint16(d / centisecond)
	}
	return uint16(max(d/1e9, 1))
}

// readLoop decodes and checks adverts and hands the good ones to deliver.
// Errors are logged and counted as Keepalived does: a packet too short to
// name its VRID is logged bare and counted nowhere, another VRID's packet
// is not ours, and an advert that fails only on its address list still
// counts as received.
func (p *port) readLoop(deliver func(idx int, a *packet.Advert)) {
	buf := make([]byte, 1500)
	var h packet.IPv4Header
	for {
		pk, err := p.conn.Recv(buf)
		if err != nil {
			return
		}
		a := &packet.Advert{}
		if p.ah != nil {
			err = packet.DecodeIPv4(pk.Payload, &h, a)
		} else {
			err = packet.DecodePayload(pk.Payload, pk.Src, pk.Dst, a)
		}
		if err == nil {
			if a.VRID != p.expect.VRID {
				continue // another virtual router on the same segment
			}
			if p.ah != nil {
				err = p.expect.CheckIPv4(pk.Payload, &h, a)
			} else {
				err = p.expect.Check(a, pk.TTL)
			}
		}
		if err != nil {
			var pe *packet.Error
			isPE := errors.As(err, &pe)
			switch {
			case isPE && pe.Bare && errors.Is(err, io.ErrUnexpectedEOF):
				// before Keepalived knows the instance
				p.logf("%v", err)
				continue
			case a.VRID != p.expect.VRID:
				continue
			case isPE && pe.Quiet:
				continue
			case isPE && pe.Bare:
				p.logf("%v", err)
			default:
				p.logf("(%s) %v", p.cfg.Name, err)
			}
			p.countErr(err)
			if !errors.Is(err, packet.ErrAddrList) {
				continue
			}
			p.stats.advertRcvd.Add(1)
			continue
		}
		p.stats.advertRcvd.Add(1)
		if a.Priority == 0 {
			p.stats.priZeroRcvd.Add(1)
		}
		deliver(p.idx, a)
	}
}

// countErr adds a rejected advert to Keepalived's SIGUSR2 counters. Some
// rejections count nowhere (version, interval, checksum), as in Keepalived.
func (p *port) countErr(err error) {
	c := &p.stats
	switch {
	case errors.Is(err, packet.ErrLength):
		c.lenErr.Add(1)
	case errors.Is(err, packet.ErrTTL):
		c.ttlErr.Add(1)
	case errors.Is(err, packet.ErrType):
		c.typeErr.Add(1)
	case errors.Is(err, packet.ErrAddrCount), errors.Is(err, packet.ErrAddrList), errors.Is(err, packet.ErrCast):
		c.addrErr.Add(1)
	case errors.Is(err, packet.ErrAuthType):
		c.invalidAuthType.Add(1)
	case errors.Is(err, packet.ErrAuthMismatch):
		c.authTypeMismatch.Add(1)
	case errors.Is(err, packet.ErrPassword), errors.Is(err, packet.ErrAH):
		c.authFailure.Add(1)
	}
}

// send sends one advertisement with prio to every destination.
func (p *port) send(prio int) {
	p.adv.Priority = uint8(prio)
	var seq uint32
	if p.ah != nil {
		// One identification and one sequence number per advert, whatever
		// the number of unicast peers (Keepalived's vrrp_update_pkt); the
		// kernel would fill an identification of 0, so it is skipped.
		seq = p.ah.Next()
		if p.ipID++; p.ipID == 0 {
			p.ipID = 1
		}
	}
	for _, dst := range p.conn.Dests() {
		p.adv.Dst = dst
		var b []byte
		var err error
		if p.ah != nil {
			b, err = p.adv.AppendIPv4AH(p.buf[:0], p.ipID, p.ttl, seq, p.ah, p.expect.Unicast)
		} else {
			b, err = p.adv.AppendBinary(p.buf[:0])
		}
		if err != nil {
			p.logf("(%s) %v", p.cfg.Name, err)
			return
		}
		p.buf = b
		if err := p.conn.SendTo(b, dst); err != nil {
			if p.detail {
				p.logf("(%s) send advert to %s: %v", p.cfg.Name, dst, err)
			}
		}
	}
	p.stats.advertSent.Add(1)
	if prio == 0 {
		p.stats.pri0.Add(1)
	}
}

// setVIPs adds VIPs, excluded VIPs, virtual routes and virtual rules, in
// keepalived's order (vrrp_state_become_master).
func (p *port) setVIPs() {
	for _, list := range [][]vrrp.VIP{p.cfg.VIPs, p.cfg.ExcludedVIPs} {
		for _, v := range list {
			if err := netif.AddVIP(netif.VIPDev(v, p.vipIf), v); err != nil {
				p.logf("(%s) %v", p.cfg.Name, err)
			}
		}
	}
	for _, r := range p.cfg.Routes {
		if err := netif.AddRoute(r, p.vipIf); err != nil {
			p.logf("(%s) %v", p.cfg.Name, err)
		}
	}
	for _, r := range p.cfg.Rules {
		if err := netif.AddRule(r); err != nil {
			p.logf("(%s) %v", p.cfg.Name, err)
		}
	}
}

// removeVIPs undoes setVIPs; what is already gone is fine.
func (p *port) removeVIPs() {
	for _, r := range p.cfg.Rules {
		_ = netif.DelRule(r)
	}
	for _, r := range p.cfg.Routes {
		_ = netif.DelRoute(r, p.vipIf)
	}
	for _, list := range [][]vrrp.VIP{p.cfg.VIPs, p.cfg.ExcludedVIPs} {
		for _, v := range list {
			if err := netif.DelVIP(netif.VIPDev(v, p.vipIf), v); err != nil {
				p.logf("(%s) %v", p.cfg.Name, err)
			}
		}
	}
}

// garp sends count gratuitous ARPs (IPv4) or unsolicited neighbour
// advertisements (IPv6) for every VIP, on the VIP's device. With
// vrrp_garp_interval / vrrp_gna_interval the packets are spaced out in the
// background so the state machine's loop never sleeps; leaving MASTER or
// stopping (stopGARP) ends such a burst, as Keepalived drops its queued
// GARPs then (vrrp_remove_delayed_arp).
func (p *port) garp(count int) {
	for _, list := range [][]vrrp.VIP{p.cfg.VIPs, p.cfg.ExcludedVIPs} {
		for _, v := range list {
			dev, ip := netif.VIPDev(v, p.vipIf), v.Prefix.Addr()
			garpGap, gnaGap := p.spacing(dev)
			send, what, gap := p.sendGARP, "gratuitous ARP", garpGap
			if !ip.Is4() {
				send, what, gap = p.sendNA, "unsolicited Neighbour Advert", gnaGap
			}
			one := func() {
				if p.detail {
					p.logf("Sending %s on %s for %s", what, dev, ip)
				}
			}
			if gap <= 0 {
				for range count {
					one()
				}
				if err := send(dev, ip, count); err != nil {
					p.logf("(%s) %v", p.cfg.Name, err)
				}
				continue
			}
			if p.garpCtx == nil {
				p.garpCtx, p.garpCancel = context.WithCancel(p.ctx)
			}
			ctx := p.garpCtx
			p.wg.Go(func() {
				t := time.NewTimer(0)
				defer t.Stop()
				for i := range count {
					if i > 0 {
						t.Reset(gap)
					}
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
					one()
					if err := send(dev, ip, 1); err != nil {
						p.logf("(%s) %v", p.cfg.Name, err)
						return
					}
				}
			})
		}
	}
}

// extraGARP is garp_extra_if's periodic refresh (vrrp_send_vmac_update):
// one gratuitous ARP or NA, for the first VIP on it, on each interface
// carrying VIPs that is a VMAC interface (any interface with "all"), but
// not on the interface adverts leave from, whose adverts keep switches'
// caches fresh already (the VMAC itself counts only with vmac_xmit_base,
// when the adverts leave from the base interface).
func (p *port) extraGARP(isVMAC func(dev string) bool) {
	done := map[string]bool{}
	for _, list := range [][]vrrp.VIP{p.cfg.VIPs, p.cfg.ExcludedVIPs} {
		for _, v := range list {
			dev, ip := netif.VIPDev(v, p.vipIf), v.Prefix.Addr()
			if done[dev] || (!isVMAC(dev) && !p.cfg.GARPExtraIfAll) {
				continue
			}
			if dev == p.vipIf && (p.vmac == "" || !p.cfg.VMACXmitBase) {
				continue
			}
			done[dev] = true
			send, what := p.sendGARP, "gratuitous ARPs"
			if !ip.Is4() {
				send, what = p.sendNA, "Unsolicited Neighbour Adverts"
			}
			if p.detail {
				p.logf("(%s) Sending/queueing %s on %s for %s", p.cfg.Name, what, dev, ip)
			}
			if err := send(dev, ip, 1); err != nil {
				p.logf("(%s) %v", p.cfg.Name, err)
			}
		}
	}
}

// spacing is the GARP and NA spacing on dev: its garp_group's, else the
// global vrrp_garp_interval / vrrp_gna_interval.
func (p *port) spacing(dev string) (garp, gna time.Duration) {
	garp, gna = p.garpInterval, p.gnaInterval
	for _, g := range p.garpGroups {
		for _, ifname := range g.Interfaces {
			if ifname != dev {
				continue
			}
			if g.GARPSet {
				garp = g.GARPInterval
			}
			if g.GNASet {
				gna = g.GNAInterval
			}
			return garp, gna
		}
	}
	return garp, gna
}

// stopGARP ends the spaced-out GARP bursts in progress (loop goroutine).
func (p *port) stopGARP() {
	if p.garpCancel != nil {
		p.garpCancel()
		p.garpCtx, p.garpCancel = nil, nil
	}
}
