package speaker

import (
	"net/netip"

	"halo/vrrp"
	"halo/vrrp/netif"
)

// setupFirewall enforces no_accept (the default under vrrp_strict): the
// virtual addresses of an instance that is not their owner (priority 255)
// accept no packets, in any state, through keepalived's nftables table.
func (s *Speaker) setupFirewall() {
	var block []netip.Addr
	for _, ic := range s.cfg.Instances {
		if ic.Accept || ic.Priority == 255 {
			continue
		}
		for _, v := range append(append([]vrrp.VIP(nil), ic.VIPs...), ic.ExcludedVIPs...) {
			block = append(block, v.Prefix.Addr())
		}
	}
	if len(block) == 0 {
		return
	}
	fw, err := netif.NewFirewall(s.cfg.Global.NftablesTable)
	if err != nil {
		s.logf("no_accept: %v - the VIPs accept traffic", err)
		return
	}
	if err := fw.Block(block); err != nil {
		s.logf("no_accept: %v - the VIPs accept traffic", err)
	}
	s.fw = fw
}

func (s *Speaker) closeFirewall() {
	if s.fw != nil {
		if err := s.fw.Close(); err != nil {
			s.logf("no_accept: removing the nftables table: %v", err)
		}
		s.fw = nil
	}
}
