package ipvs

import (
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"halo/lvs"
)

// IPVS generic netlink constants (include/uapi/linux/ip_vs.h) for the
// sync daemon commands moby/ipvs does not have.
const (
	cmdNewDaemon = 9
	cmdDelDaemon = 10

	cmdAttrDaemon = 3

	daemonAttrState      = 1
	daemonAttrMcastIfn   = 2
	daemonAttrSyncID     = 3
	daemonAttrSyncMaxLen = 4
	daemonAttrMcastGroup = 5
	daemonAttrMcastGrp6  = 6
	daemonAttrMcastPort  = 7
	daemonAttrMcastTTL   = 8
)

type netlinkDaemon struct{}

// DaemonAttrs is the nested IPVS_CMD_ATTR_DAEMON of a NEW_DAEMON request.
func DaemonAttrs(state int, d *lvs.SyncDaemon) *nl.RtAttr {
	a := nl.NewRtAttr(cmdAttrDaemon|unix.NLA_F_NESTED, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(state)))
	if d != nil {
		a.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
		a.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(uint32(d.SyncID)))
		if d.MaxLen != 0 {
			a.AddRtAttr(daemonAttrSyncMaxLen, nl.Uint16Attr(d.MaxLen))
		}
		if d.Port != 0 {
			a.AddRtAttr(daemonAttrMcastPort, nl.Uint16Attr(d.Port))
		}
		if d.TTL != 0 {
			a.AddRtAttr(daemonAttrMcastTTL, []byte{d.TTL})
		}
		if d.Group.IsValid() {
			if d.Group.Is4() {
				b := d.Group.As4()
				a.AddRtAttr(daemonAttrMcastGroup, b[:])
			} else {
				b := d.Group.As16()
				a.AddRtAttr(daemonAttrMcastGrp6, b[:])
			}
		}
	}
	return a
}

func (netlinkDaemon) send(cmd uint8, attrs *nl.RtAttr) error {
	fam, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: 1})
	req.AddData(attrs)
	_, err = req.Execute(unix.NETLINK_GENERIC, 0)
	return err
}

func (n netlinkDaemon) Start(state int, d *lvs.SyncDaemon) error {
	return n.send(cmdNewDaemon, DaemonAttrs(state, d))
}

func (n netlinkDaemon) Stop(state int) error {
	return n.send(cmdDelDaemon, DaemonAttrs(state, nil))
}
