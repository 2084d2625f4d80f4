package openwrt

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// UCI names in /etc/config/network, as wireguard.sh and luci-proto-wireguard
// (OpenWrt 23.05) use them.
const (
	typeInterface = "interface"
	protoWG       = "wireguard"

	optProto      = "proto"
	optPrivateKey = "private_key"
	optListenPort = "listen_port"
	optAddresses  = "addresses"
	optMTU        = "mtu"

	optDescription  = "description"
	optPublicKey    = "public_key"
	optPresharedKey = "preshared_key"
	optAllowedIPs   = "allowed_ips"
	optRouteAllowed = "route_allowed_ips"
	optKeepalive    = "persistent_keepalive"
	optDisabled     = "disabled"
	// optTunnel is wgpanel's own peer option. LuCI ignores and preserves it.
	optTunnel = "wgpanel_tunnel"
	// optConfigStamp is wgpanel's own peer option: the vpn.ConfigStamp of
	// the config the device last got, to mark it "re-scan needed".
	optConfigStamp = "wgpanel_config"
	// optAccess, optHosts and optExpires are wgpanel's own peer options:
	// what the device may reach (absent is "all"), the addresses of access
	// "hosts", and when the daemon disables it (RFC 3339).
	optAccess  = "wgpanel_access"
	optHosts   = "wgpanel_hosts"
	optExpires = "wgpanel_expires"

	optIPAddr    = "ipaddr"
	optNetmask   = "netmask"
	optIP6Addr   = "ip6addr"
	optIP6Assign = "ip6assign"
	optIP6Hint   = "ip6hint"
	optULAPrefix = "ula_prefix"
	typeGlobals  = "globals"
)

// peerType returns the section type of the peers of interface ifname.
func peerType(ifname string) string { return "wireguard_" + ifname }

// serverState is what UpdateServer needs to write a changed server back:
// the server as read and where each part of it lives in the file.
type serverState struct {
	iface *uci.Section        // the interface section; nil when absent
	orig  *vpn.Server         // the server as read; nil when absent
	peers map[wgtypes.Key]int // index in orig.Peers and secs, by public key
	secs  []*uci.Section      // the section of each of orig.Peers
}

// parseServer reads the WireGuard interface ifname and its peers. It
// returns a nil server when the interface section does not exist or is not
// proto wireguard.
func parseServer(path string, f *uci.File, ifname string) (*vpn.Server, *serverState, error) {
	st := &serverState{peers: make(map[wgtypes.Key]int)}
	sec := f.Section(ifname)
	if sec == nil || sec.Type != typeInterface {
		return nil, st, nil
	}
	if proto, _ := sec.Get(optProto); proto != protoWG {
		return nil, st, nil
	}
	st.iface = sec
	loc := location{file: path, section: fmt.Sprintf("interface '%s'", ifname)}
	srv := &vpn.Server{Interface: ifname}

	v, ok := sec.Get(optPrivateKey)
	if !ok || v == "" {
		return nil, nil, loc.badOption(optPrivateKey, "the interface has no private key")
	}
	k, err := parseKey(v)
	if err != nil {
		return nil, nil, loc.badOption(optPrivateKey, "the value is not a valid WireGuard key (44 characters of base64)")
	}
	srv.PrivateKey = k

	if srv.ListenPort, err = parseIntOption(sec, optListenPort, 0, 65535); err != nil {
		return nil, nil, loc.badOption(optListenPort, "%v", err)
	}
	if srv.MTU, err = parseIntOption(sec, optMTU, 68, 65535); err != nil {
		return nil, nil, loc.badOption(optMTU, "%v", err)
	}
	if srv.Addresses, err = parsePrefixes(sec, optAddresses, false); err != nil {
		return nil, nil, loc.badOption(optAddresses, "%v", err)
	}

	secs := f.SectionsByType(peerType(ifname))
	st.peers = make(map[wgtypes.Key]int, len(secs))
	st.secs = make([]*uci.Section, 0, len(secs))
	// Room for one more: adding a peer is the most common change.
	srv.Peers = make([]vpn.Peer, 0, len(secs)+1)
	for _, ps := range secs {
		p, problem := parsePeer(ps)
		if problem == nil {
			if other, dup := st.peers[p.PublicKey]; dup {
				problem = &peerProblem{optPublicKey, fmt.Sprintf("%s is also the key of %s; each peer needs its own key",
					p.PublicKey, sectionLabel(f, st.secs[other], "peer"))}
			}
		}
		if problem != nil {
			srv.Odd = append(srv.Odd, vpn.OddPeer{
				Name:       p.Name,
				Section:    sectionRef(f, ps),
				PublicKey:  p.PublicKey,
				AllowedIPs: p.AllowedIPs,
				Enabled:    p.Enabled,
				Problem:    problem.String(),
			})
			continue
		}
		st.peers[p.PublicKey] = len(srv.Peers)
		st.secs = append(st.secs, ps)
		srv.Peers = append(srv.Peers, p)
	}
	st.orig = cloneServer(srv)
	return srv, st, nil
}

// peerProblem is why wgpanel cannot understand a peer section: the option
// and what is wrong with it, never a secret value.
type peerProblem struct {
	option, reason string
}

func (p *peerProblem) String() string { return fmt.Sprintf("option %s: %s", p.option, p.reason) }

// parsePeer reads one wireguard_<if> section as netifd's wireguard.sh
// does. A section netifd would skip or choke on gives a problem; the peer
// then holds what could be read (name, enabled, allowed IPs, public key),
// so that it can be listed and its addresses stay taken. Options wgpanel
// does not know are ignored, as netifd ignores them.
func parsePeer(sec *uci.Section) (vpn.Peer, *peerProblem) {
	var p vpn.Peer
	p.Name, _ = sec.Get(optDescription)
	// Booleans never fail: netifd reads a value it does not know as the
	// default.
	p.Enabled = !boolOption(sec, optDisabled)
	p.RouteAllowed = boolOption(sec, optRouteAllowed)
	var problem *peerProblem
	fail := func(opt, format string, args ...any) {
		if problem == nil {
			problem = &peerProblem{opt, fmt.Sprintf(format, args...)}
		}
	}

	var err error
	if p.AllowedIPs, err = parsePrefixes(sec, optAllowedIPs, true); err != nil {
		fail(optAllowedIPs, "%v", err)
	}
	v, ok := sec.Get(optPublicKey)
	if !ok || v == "" {
		fail(optPublicKey, "the section has no public key, so netifd skips it")
	} else if k, err := parseKey(v); err != nil {
		fail(optPublicKey, "%q is not a valid WireGuard key (44 characters of base64)", v)
	} else {
		p.PublicKey = k
	}
	for _, opt := range []string{optPresharedKey, optPrivateKey} {
		v, ok := sec.Get(opt)
		if !ok || v == "" {
			continue
		}
		k, err := parseKey(v)
		if err != nil {
			// The value is a secret: it stays out of the message.
			fail(opt, "the value is not a valid WireGuard key (44 characters of base64)")
			continue
		}
		if opt == optPresharedKey {
			p.PresharedKey = &k
		} else {
			p.PrivateKey = &k
		}
	}
	if v, ok := sec.Get(optKeepalive); ok && v != "off" {
		// wg(8) reads 'off' as 0, as does wgpanel.
		if p.Keepalive, err = parseIntOption(sec, optKeepalive, 0, 65535); err != nil {
			fail(optKeepalive, "%v (or 'off')", err)
		}
	}
	p.ConfigStamp, _ = sec.Get(optConfigStamp)
	p.Tunnel = vpn.TunnelSplit
	if v, ok := sec.Get(optTunnel); ok && v != "" {
		switch t := vpn.Tunnel(v); t {
		case vpn.TunnelSplit, vpn.TunnelFull:
			p.Tunnel = t
		default:
			fail(optTunnel, "%q is neither 'split' nor 'full'", v)
		}
	}
	if v, ok := sec.Get(optAccess); ok {
		a, err := vpn.ParseAccess(v)
		if err != nil {
			fail(optAccess, "%q is not one of all, internet, lan, hosts", v)
		}
		p.Access = a
	}
	if hs := values(sec, optHosts); len(hs) > 0 {
		if p.Hosts, err = vpn.ParseHosts(hs); err != nil {
			fail(optHosts, "%v", err)
		}
	}
	if v, ok := sec.Get(optExpires); ok && v != "" {
		if p.Expires, err = expiry.Parse(v); err != nil {
			fail(optExpires, "%q is not a date and time such as 2026-12-31T18:00:00Z", v)
		}
	}
	return p, problem
}

// parseKey is wgtypes.ParseKey without its allocations: every change reads
// the keys of every peer. What it does not decode itself, ParseKey decides.
func parseKey(s string) (wgtypes.Key, error) {
	var src [44]byte // the base64 of a key, with its one padding character
	if len(s) != len(src) {
		return wgtypes.ParseKey(s)
	}
	copy(src[:], s)
	var dst [33]byte
	n, err := base64.StdEncoding.Decode(dst[:], src[:])
	if err != nil || n != wgtypes.KeyLen {
		return wgtypes.ParseKey(s)
	}
	var k wgtypes.Key
	copy(k[:], dst[:n])
	return k, nil
}

// sectionRef names a section as uci does: 'name', or @type[index].
func sectionRef(f *uci.File, s *uci.Section) string {
	if s.Name != "" {
		return "'" + s.Name + "'"
	}
	for i, o := range f.SectionsByType(s.Type) {
		if o == s {
			return fmt.Sprintf("@%s[%d]", s.Type, i)
		}
	}
	return "@" + s.Type
}

// values returns the words of an option or list, split the way
// wireguard.sh's config_get and for-loops split them: at spaces, tabs and
// newlines (the shell's default IFS), and nothing else.
func values(sec *uci.Section, name string) []string {
	o := sec.Option(name)
	if o == nil {
		return nil
	}
	out := make([]string, 0, len(o.Values))
	for _, v := range o.Values {
		if strings.ContainsAny(v, ifs) {
			out = append(out, strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(ifs, r) })...)
		} else if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ifs holds the characters the shell splits words at by default.
const ifs = " \t\n"

// parseIntOption reads an integer option in [lo, hi]; absent or empty is 0.
func parseIntOption(sec *uci.Section, name string, lo, hi int) (int, error) {
	v, ok := sec.Get(name)
	if !ok || v == "" {
		return 0, nil
	}
	return parseInt(v, lo, hi)
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		if lo == 0 {
			return 0, fmt.Errorf("%q is not a number from 0 to %d", v, hi)
		}
		return 0, fmt.Errorf("%q is not a number from %d to %d", v, lo, hi)
	}
	return n, nil
}

// boolOption reads a UCI boolean exactly as OpenWrt's config_get_bool
// (/lib/functions.sh), which netifd's wireguard.sh uses: 1, on, true, yes,
// enabled and 0, off, false, no, disabled, in lower case only; anything
// else, 'Yes' or '2' included, and an absent option are the default,
// false.
func boolOption(sec *uci.Section, name string) bool {
	v, _ := sec.Get(name)
	switch v {
	case "1", "on", "true", "yes", "enabled":
		return true
	}
	return false
}

func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "1", "on", "true", "yes", "enabled":
		return true, true
	case "0", "off", "false", "no", "disabled":
		return false, true
	}
	return false, false
}

// parsePrefixes reads a list of addresses with prefix length. A bare
// address stands for a single host (/32 or /128), as wg(8) reads it in
// allowed IPs. With mask set, host bits are cleared (wg does the same).
func parsePrefixes(sec *uci.Section, name string, mask bool) ([]netip.Prefix, error) {
	vs := values(sec, name)
	if len(vs) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(vs))
	for _, v := range vs {
		p, err := parsePrefix(v)
		if err != nil {
			return nil, err
		}
		if mask {
			p = p.Masked()
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an address with prefix length such as 10.66.66.1/24", v)
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseFacts reads what wgpanel needs to know about the router's other
// interfaces: the LAN (interface 'lan') and a static WAN address.
func parseFacts(path string, f *uci.File) (vpn.Network, error) {
	var n vpn.Network
	if lan := f.Section("lan"); lan != nil && lan.Type == typeInterface {
		loc := location{file: path, section: "interface 'lan'"}
		if proto, _ := lan.Get(optProto); proto == "static" {
			addrs, err := staticAddrs(lan)
			if err != nil {
				return n, loc.badOption(err.option, "%v", err.err)
			}
			v6, err := staticAddrs6(lan)
			if err != nil {
				return n, loc.badOption(err.option, "%v", err.err)
			}
			for _, p := range append(addrs, v6...) {
				if !n.LANAddr.IsValid() && p.Addr().Is4() {
					n.LANAddr = p.Addr()
				}
				n.LANs = appendPrefix(n.LANs, p.Masked())
			}
		}
		if ula, ok := ulaSubnet(f, lan); ok {
			n.LANs = appendPrefix(n.LANs, ula)
		}
	}
	if wan := f.Section("wan"); wan != nil && wan.Type == typeInterface {
		// The WAN address is only a hint (it is usually DHCP): a value
		// wgpanel cannot read leaves it unknown instead of failing.
		if proto, _ := wan.Get(optProto); proto == "static" {
			if addrs, err := staticAddrs(wan); err == nil {
				for _, p := range addrs {
					if p.Addr().Is4() {
						n.WANAddr = p.Addr()
						break
					}
				}
			}
		}
	}
	return n, nil
}

func appendPrefix(ps []netip.Prefix, p netip.Prefix) []netip.Prefix {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}

// optionError is a problem with one option of a section.
type optionError struct {
	option string
	err    error
}

// staticAddrs reads the IPv4 addresses of a proto static interface as
// netifd does: ipaddr as an option or list, each "a.b.c.d", "a.b.c.d/nn" or
// "a.b.c.d/m.m.m.m", with netmask (dotted or a length) for bare addresses.
func staticAddrs(sec *uci.Section) ([]netip.Prefix, *optionError) {
	bits := 32
	if m, ok := sec.Get(optNetmask); ok && m != "" {
		b, err := parseNetmask(m)
		if err != nil {
			return nil, &optionError{optNetmask, fmt.Errorf("%q is not a netmask such as 255.255.255.0", m)}
		}
		bits = b
	}
	var out []netip.Prefix
	for _, v := range values(sec, optIPAddr) {
		addr, mask, hasMask := strings.Cut(v, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is4() {
			return nil, &optionError{optIPAddr, fmt.Errorf("%q is not an IPv4 address such as 192.168.1.1", v)}
		}
		b := bits
		if hasMask {
			if b, err = parseNetmask(mask); err != nil {
				return nil, &optionError{optIPAddr, fmt.Errorf("%q has a bad prefix length or netmask", v)}
			}
		}
		out = append(out, netip.PrefixFrom(a, b))
	}
	return out, nil
}

// staticAddrs6 reads the ip6addr entries of a proto static interface
// ("addr/len"; a bare address is a /128).
func staticAddrs6(sec *uci.Section) ([]netip.Prefix, *optionError) {
	var out []netip.Prefix
	for _, v := range values(sec, optIP6Addr) {
		p, err := parsePrefix(v)
		if err != nil || !p.Addr().Is6() {
			return nil, &optionError{optIP6Addr, fmt.Errorf("%q is not an IPv6 address such as fd00::1/64", v)}
		}
		out = append(out, p)
	}
	return out, nil
}

// parseNetmask reads an IPv4 netmask, dotted ("255.255.255.0") or as a
// prefix length ("24").
func parseNetmask(m string) (int, error) {
	if !strings.Contains(m, ".") {
		return parseInt(m, 0, 32)
	}
	a, err := netip.ParseAddr(m)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("bad netmask %q", m)
	}
	b := a.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for n&0x80000000 != 0 {
		ones++
		n <<= 1
	}
	if n != 0 {
		return 0, fmt.Errorf("netmask %q is not contiguous", m)
	}
	return ones, nil
}

// ulaSubnet returns the IPv6 ULA subnet netifd assigns to the LAN from
// globals.ula_prefix when lan has ip6assign: the sub-prefix named by
// ip6hint (0 when absent), aligned as netifd aligns it (the hint counts in
// /64 units). It is best effort: anything unusual yields no subnet.
func ulaSubnet(f *uci.File, lan *uci.Section) (netip.Prefix, bool) {
	var ula netip.Prefix
	for _, g := range f.SectionsByType(typeGlobals) {
		if v, ok := g.Get(optULAPrefix); ok && v != "" {
			p, err := netip.ParsePrefix(v)
			if err != nil || !p.Addr().Is6() {
				return netip.Prefix{}, false
			}
			ula = p.Masked()
			break
		}
	}
	if !ula.IsValid() {
		return netip.Prefix{}, false
	}
	v, ok := lan.Get(optIP6Assign)
	if !ok || v == "" {
		return netip.Prefix{}, false
	}
	assign, err := strconv.Atoi(v)
	if err != nil || assign < ula.Bits() || assign > 64 {
		return netip.Prefix{}, false
	}
	var hint uint64
	if h, ok := lan.Get(optIP6Hint); ok && h != "" {
		if hint, err = strconv.ParseUint(h, 16, 64); err != nil {
			return netip.Prefix{}, false
		}
	}
	b := ula.Addr().As16()
	hi := uint64(0)
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
	}
	// The hint may only fill the bits between the ULA prefix and /64.
	if free := 64 - ula.Bits(); free < 64 {
		hint &= 1<<free - 1
	}
	hi |= hint
	for i := 7; i >= 0; i-- {
		b[i] = byte(hi)
		hi >>= 8
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), assign).Masked(), true
}
