package vpn

import (
	"net/netip"
)

// nextFree returns the lowest host address in subnet that is not in used,
// skipping the network address and, for IPv4, the broadcast address.
func nextFree(subnet netip.Prefix, used map[netip.Addr]bool) (netip.Addr, bool) {
	subnet = subnet.Masked()
	a := subnet.Addr().Next()
	for ; a.IsValid() && subnet.Contains(a); a = a.Next() {
		if a.Is4() && isBroadcast(subnet, a) {
			break
		}
		if !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// isBroadcast reports whether a is the last address of an IPv4 subnet.
func isBroadcast(subnet netip.Prefix, a netip.Addr) bool {
	n := a.Next()
	return subnet.Bits() < 31 && (!n.IsValid() || !subnet.Contains(n))
}

// hostIndex returns a's offset from the start of subnet, for up to 64 bits.
func hostIndex(subnet netip.Prefix, a netip.Addr) uint64 {
	x, y := subnet.Masked().Addr().AsSlice(), a.AsSlice()
	var d uint64
	for i := max(0, len(x)-8); i < len(x); i++ {
		d = d<<8 | uint64(y[i]-x[i])
	}
	return d
}

// addIndex returns the address at offset i from the start of subnet.
func addIndex(subnet netip.Prefix, i uint64) (netip.Addr, bool) {
	b := subnet.Masked().Addr().AsSlice()
	carry := i
	for j := len(b) - 1; j >= 0 && carry > 0; j-- {
		s := uint64(b[j]) + carry&0xff
		b[j] = byte(s)
		carry = carry>>8 + s>>8
	}
	a, _ := netip.AddrFromSlice(b)
	return a, subnet.Contains(a)
}

// allocate picks the tunnel addresses of a new peer: the next free IPv4 host
// in the server's IPv4 subnet, and, when the server has an IPv6 subnet, the
// IPv6 address with the same host number (or the next free one).
func allocate(srv *Server) ([]netip.Prefix, error) {
	used := make(map[netip.Addr]bool)
	for _, a := range srv.Addresses {
		used[a.Addr()] = true
	}
	peerIPs := make([][]netip.Prefix, 0, len(srv.Peers)+len(srv.Odd))
	for _, p := range srv.Peers {
		peerIPs = append(peerIPs, p.AllowedIPs)
	}
	for _, o := range srv.Odd {
		peerIPs = append(peerIPs, o.AllowedIPs)
	}
	for _, ips := range peerIPs {
		for _, a := range ips {
			if a.IsSingleIP() || a.Bits() >= 120 || (a.Addr().Is4() && a.Bits() >= 24) {
				// Reserve every address a peer's prefix covers, up to a /24.
				for x := a.Masked().Addr(); x.IsValid() && a.Contains(x); x = x.Next() {
					used[x] = true
				}
			}
		}
	}
	var v4, v6 netip.Prefix
	for _, a := range srv.Addresses {
		switch {
		case a.Addr().Is4() && !v4.IsValid():
			v4 = a
		case a.Addr().Is6() && !v6.IsValid():
			v6 = a
		}
	}
	if !v4.IsValid() && !v6.IsValid() {
		return nil, Errorf(ECONFIG, "The interface %s has no address; give it one such as 10.66.66.1/24.", srv.Interface)
	}
	var out []netip.Prefix
	var idx uint64
	haveIdx := false
	if v4.IsValid() {
		a, ok := nextFree(v4, used)
		if !ok {
			return nil, Errorf(ECONFLICT, "%s has no free address left.", v4.Masked())
		}
		out = append(out, netip.PrefixFrom(a, 32))
		idx, haveIdx = hostIndex(v4, a), true
	}
	if v6.IsValid() {
		var a netip.Addr
		ok := false
		if haveIdx {
			a, ok = addIndex(v6, idx)
			ok = ok && !used[a]
		}
		if !ok {
			if a, ok = nextFree(v6, used); !ok {
				return nil, Errorf(ECONFLICT, "%s has no free address left.", v6.Masked())
			}
		}
		out = append(out, netip.PrefixFrom(a, 128))
	}
	return out, nil
}
