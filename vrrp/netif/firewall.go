package netif

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Firewall is keepalived's no_accept mode (RFC 3768/5798 Accept_Mode
// false): a MASTER that is not the address owner must not accept packets
// addressed to its virtual addresses. As keepalived 2.2 does with nftables,
// an inet table (keepalived's default name "keepalived") holds sets of the
// blocked addresses and an input chain that drops packets to them, ahead
// of the filter chains (priority -1); IPv6 neighbour discovery for them
// still passes, so the addresses stay reachable at layer 2 (ARP is not IP
// and is never touched).
type Firewall struct {
	conn       *nftables.Conn
	table      *nftables.Table
	set4, set6 *nftables.Set
}

// DefaultTable is keepalived's nftables table name.
const DefaultTable = "keepalived"

// NewFirewall creates the table, its sets and its rules in the current
// network namespace, replacing a table of that name left by a crash.
func NewFirewall(name string) (*Firewall, error) {
	if name == "" {
		name = DefaultTable
	}
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	f := &Firewall{conn: c, table: &nftables.Table{Name: name, Family: nftables.TableFamilyINet}}
	// a leftover table goes first (an error here only means there was none)
	c.DelTable(f.table)
	_ = c.Flush()
	c.AddTable(f.table)
	f.set4 = &nftables.Set{Table: f.table, Name: "vips", KeyType: nftables.TypeIPAddr}
	f.set6 = &nftables.Set{Table: f.table, Name: "vips6", KeyType: nftables.TypeIP6Addr}
	for _, s := range []*nftables.Set{f.set4, f.set6} {
		if err := c.AddSet(s, nil); err != nil {
			return nil, fmt.Errorf("nftables set %s: %w", s.Name, err)
		}
	}
	prio := nftables.ChainPriority(-1)
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: f.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: &prio})
	nfproto := func(p byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
		}
	}
	drop := func(set *nftables.Set, off, n uint32) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}
	}
	// IPv4: ip daddr @vips drop
	c.AddRule(&nftables.Rule{Table: f.table, Chain: ch, Exprs: append(nfproto(unix.NFPROTO_IPV4), drop(f.set4, 16, 4)...)})
	// IPv6: neighbour solicitations/advertisements pass, then ip6 daddr @vips6 drop
	for _, icmpType := range []byte{135, 136} {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: ch, Exprs: append(nfproto(unix.NFPROTO_IPV6),
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{icmpType}},
			&expr.Verdict{Kind: expr.VerdictAccept})})
	}
	c.AddRule(&nftables.Rule{Table: f.table, Chain: ch, Exprs: append(nfproto(unix.NFPROTO_IPV6), drop(f.set6, 24, 16)...)})
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nftables table %s: %w", name, err)
	}
	return f, nil
}

func elements(addrs []netip.Addr, v6 bool) []nftables.SetElement {
	var out []nftables.SetElement
	for _, a := range addrs {
		if a.Is6() == v6 {
			out = append(out, nftables.SetElement{Key: a.AsSlice()})
		}
	}
	return out
}

// Block drops packets to addrs (idempotent).
func (f *Firewall) Block(addrs []netip.Addr) error {
	for _, s := range []*nftables.Set{f.set4, f.set6} {
		if el := elements(addrs, s == f.set6); len(el) > 0 {
			if err := f.conn.SetAddElements(s, el); err != nil {
				return err
			}
		}
	}
	return f.conn.Flush()
}

// Unblock lets packets to addrs through again.
func (f *Firewall) Unblock(addrs []netip.Addr) error {
	for _, s := range []*nftables.Set{f.set4, f.set6} {
		if el := elements(addrs, s == f.set6); len(el) > 0 {
			if err := f.conn.SetDeleteElements(s, el); err != nil {
				return err
			}
		}
	}
	return f.conn.Flush()
}

// Close removes the table.
func (f *Firewall) Close() error {
	f.conn.DelTable(f.table)
	return f.conn.Flush()
}
