package openwrt

import (
	"fmt"
	"net/netip"
	"strconv"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

var zeroKey wgtypes.Key

// writeServer writes srv into f, touching only what differs from the server
// as read (st). It reports what it changed.
func writeServer(path string, f *uci.File, ifname string, st *serverState, srv *vpn.Server) (changes, error) {
	var c changes
	if srv == nil {
		if st.orig != nil {
			return c, fmt.Errorf("openwrt: removing interface %s is not supported", ifname)
		}
		return c, nil
	}
	if err := checkServer(ifname, srv); err != nil {
		return c, err
	}
	sec, orig := st.iface, st.orig
	if sec == nil {
		if other := f.Section(ifname); other != nil {
			proto, _ := other.Get(optProto)
			return c, &vpn.Error{Code: vpn.ECONFIG, Message: fmt.Sprintf(
				"%s: section '%s' exists but is not a WireGuard interface (config %s, proto '%s'); "+
					"choose another interface name in the wgpanel settings", path, ifname, other.Type, proto)}
		}
		sec = f.AddSection(typeInterface, ifname)
		sec.Set(optProto, protoWG)
		orig = &vpn.Server{}
		c.created = true
	}
	c.iface = writeInterface(sec, orig, srv)

	keep := make(map[wgtypes.Key]bool, len(srv.Peers))
	for _, p := range srv.Peers {
		keep[p.PublicKey] = true
	}
	for i, p := range orig.Peers {
		if !keep[p.PublicKey] {
			f.RemoveSection(st.secs[i])
			c.removed++
		}
	}
	for _, p := range srv.Peers {
		if i, ok := st.peers[p.PublicKey]; ok {
			if writePeer(st.secs[i], orig.Peers[i], p) > 0 {
				c.changed++
			}
			continue
		}
		addPeer(f, ifname, p)
		c.added++
	}
	return c, nil
}

// writeInterface writes the interface options that differ between old and
// new and returns how many it wrote. A new section gets them in the order
// private_key, listen_port, addresses, mtu.
func writeInterface(sec *uci.Section, old, new *vpn.Server) int {
	n := 0
	if old.PrivateKey != new.PrivateKey {
		sec.Set(optPrivateKey, new.PrivateKey.String())
		n++
	}
	if old.ListenPort != new.ListenPort {
		setInt(sec, optListenPort, new.ListenPort)
		n++
	}
	if !equalPrefixes(old.Addresses, new.Addresses) {
		sec.SetList(optAddresses, prefixStrings(new.Addresses))
		n++
	}
	if old.MTU != new.MTU {
		setInt(sec, optMTU, new.MTU)
		n++
	}
	return n
}

// writePeer updates, in place, the options of a peer section that differ
// between old and new, and returns how many it wrote. Options wgpanel does
// not own (endpoint_host, comments LuCI adds in future versions) stay.
func writePeer(sec *uci.Section, old, new vpn.Peer) int {
	n := 0
	if old.Name != new.Name {
		setString(sec, optDescription, new.Name)
		n++
	}
	if !equalKeyPtr(old.PrivateKey, new.PrivateKey) {
		setKey(sec, optPrivateKey, new.PrivateKey)
		n++
	}
	if !equalKeyPtr(old.PresharedKey, new.PresharedKey) {
		setKey(sec, optPresharedKey, new.PresharedKey)
		n++
	}
	if !equalPrefixes(old.AllowedIPs, new.AllowedIPs) {
		sec.SetList(optAllowedIPs, prefixStrings(new.AllowedIPs))
		n++
	}
	if old.RouteAllowed != new.RouteAllowed {
		setFlag(sec, optRouteAllowed, new.RouteAllowed)
		n++
	}
	if old.Keepalive != new.Keepalive {
		setInt(sec, optKeepalive, new.Keepalive)
		n++
	}
	if tunnel(old.Tunnel) != tunnel(new.Tunnel) {
		sec.Set(optTunnel, string(tunnel(new.Tunnel)))
		n++
	}
	if old.Enabled != new.Enabled {
		setFlag(sec, optDisabled, !new.Enabled)
		n++
	}
	if old.ConfigStamp != new.ConfigStamp {
		setString(sec, optConfigStamp, new.ConfigStamp)
		n++
	}
	return n + writeAccess(sec, old, new)
}

// addPeer appends p as an anonymous peer section with options in the order
// LuCI writes them, flags only when set.
func addPeer(f *uci.File, ifname string, p vpn.Peer) {
	sec := f.AddSection(peerType(ifname), "")
	setString(sec, optDescription, p.Name)
	sec.Set(optPublicKey, p.PublicKey.String())
	setKey(sec, optPrivateKey, p.PrivateKey)
	setKey(sec, optPresharedKey, p.PresharedKey)
	sec.SetList(optAllowedIPs, prefixStrings(p.AllowedIPs))
	setFlag(sec, optRouteAllowed, p.RouteAllowed)
	setInt(sec, optKeepalive, p.Keepalive)
	sec.Set(optTunnel, string(tunnel(p.Tunnel)))
	setFlag(sec, optDisabled, !p.Enabled)
	setString(sec, optConfigStamp, p.ConfigStamp)
	writeAccess(sec, vpn.Peer{}, p)
}

// writeAccess writes the access, hosts and end date of a peer where they
// differ between old and new: absent when all, none and never.
func writeAccess(sec *uci.Section, old, new vpn.Peer) int {
	n := 0
	if old.Access.OrAll() != new.Access.OrAll() {
		if a := new.Access.OrAll(); a == vpn.AccessAll {
			sec.Delete(optAccess)
		} else {
			sec.Set(optAccess, string(a))
		}
		n++
	}
	if !equalPrefixes(old.Hosts, new.Hosts) {
		if len(new.Hosts) == 0 {
			sec.Delete(optHosts)
		} else {
			sec.SetList(optHosts, vpn.HostStrings(new.Hosts))
		}
		n++
	}
	if !old.Expires.Equal(new.Expires) {
		setString(sec, optExpires, expiry.Format(new.Expires))
		n++
	}
	return n
}

// tunnel returns t with the default applied.
func tunnel(t vpn.Tunnel) vpn.Tunnel {
	if t == "" {
		return vpn.TunnelSplit
	}
	return t
}

func setString(sec *uci.Section, name, v string) {
	if v == "" {
		sec.Delete(name)
		return
	}
	sec.Set(name, v)
}

// setInt writes a number; 0 means unset and removes the option.
func setInt(sec *uci.Section, name string, v int) {
	if v == 0 {
		sec.Delete(name)
		return
	}
	sec.Set(name, strconv.Itoa(v))
}

// setFlag writes a flag as LuCI does: '1' when set, absent when not.
func setFlag(sec *uci.Section, name string, v bool) {
	if !v {
		sec.Delete(name)
		return
	}
	sec.Set(name, "1")
}

func setKey(sec *uci.Section, name string, k *wgtypes.Key) {
	if k == nil {
		sec.Delete(name)
		return
	}
	sec.Set(name, k.String())
}

func equalKeyPtr(a, b *wgtypes.Key) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalPrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
