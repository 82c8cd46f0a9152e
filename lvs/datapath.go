package lvs

import (
	"fmt"
	"net/netip"
)

// Service is one IPVS virtual service: an address, port and protocol, or
// a firewall mark. A virtual_server_group gives several.
type Service struct {
	Addr    netip.AddrPort
	Proto   Proto
	FWMark  uint32
	Family  int // 4 or 6
	Sched   string
	Flags   uint32
	Timeout uint32     // persistence, seconds
	Netmask netip.Addr // persistence granularity
	PE      string     // persistence engine
	// Method is the virtual server's default forwarding method (the
	// userspace path forwards NAT, and says so for DR/TUN).
	Method Method
}

func (s *Service) String() string {
	if s.FWMark != 0 {
		return fmt.Sprintf("FWM %d", s.FWMark)
	}
	return Trio(s.Addr, s.Proto)
}

// Dest is one real server in a service, with the weight to run it at.
type Dest struct {
	Addr       netip.AddrPort
	Weight     int
	Method     Method
	UThreshold uint32
	LThreshold uint32
}

// DataPath is where the pool lives: the kernel's IPVS table, or halo's
// userspace forwarder. The calls are IPVS's (ipvsadm -A/-D/-a/-e/-d/-C);
// an error is logged by the Manager, which then carries on as keepalived
// does.
type DataPath interface {
	Name() string
	AddService(s *Service) error
	DelService(s *Service) error
	// EditService changes a service's scheduler and persistence in place
	// (ipvsadm -E): its real servers and connections stay.
	EditService(s *Service) error
	AddDest(s *Service, d Dest) error
	EditDest(s *Service, d Dest) error
	DelDest(s *Service, d Dest) error
	Flush() error
	Close() error
}
