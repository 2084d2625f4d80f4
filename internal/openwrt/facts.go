package openwrt

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"slices"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/uci"
)

// UCI names in /etc/config/dhcp (dnsmasq).
const (
	pkgDHCP          = "dhcp"
	typeDnsmasq      = "dnsmasq"
	dnsInterface     = "interface"
	dnsNotInterface  = "notinterface"
	dnsListenAddress = "listen_address"
	dnsPort          = "port"
	optGateway       = "gateway"
)

// Facts is what the doctor needs from the UCI files, read tolerantly: a
// value wgpanel cannot read is left empty instead of failing, because the
// doctor must still explain the rest.
type Facts struct {
	Interface string // the WireGuard interface wgpanel manages
	// InterfaceType and InterfaceProto describe the network section named
	// Interface ("interface" and "wireguard" when it is right); both are
	// empty when there is no such section.
	InterfaceType  string
	InterfaceProto string
	HasPrivateKey  bool        // the interface has a valid private_key
	PublicKey      wgtypes.Key // derived from it, when HasPrivateKey
	ListenPort     int         // 0 when unset
	MTU            int         // 0 when unset (netifd's default, 1420)
	Addresses      []netip.Prefix

	WANProto   string       // proto of interface 'wan': dhcp, static, pppoe, ...
	WANMTU     int          // its mtu option; 0 when unset
	WANAddr    netip.Prefix // its static IPv4 address; invalid unless proto static
	WANGateway netip.Addr   // its static gateway; invalid unless set

	// LANs are the subnets of the router's other interfaces (static
	// addresses and ULA assignments), tunnel excluded.
	LANs []netip.Prefix

	Firewall FirewallFacts
	DNS      DNSFacts
}

// FirewallFacts summarises /etc/config/firewall for the WireGuard interface.
type FirewallFacts struct {
	Present bool   // /etc/config/firewall exists
	WANZone string // the zone holding network wan; "" when none
	LANZone string // the zone holding network lan; "" when none
	Zone    string // the zone holding the WireGuard interface; "" when none
	// LANForward is the forward policy of LANZone (ACCEPT, REJECT or DROP):
	// it governs traffic between two networks of that zone.
	LANForward string
	// ForwardsToLAN says that traffic from Zone may reach LANZone: Zone is
	// LANZone with forward ACCEPT, or a forwarding from Zone to LANZone
	// exists.
	ForwardsToLAN bool
	// WANRule names what accepts UDP on ListenPort from WANZone (a rule's
	// name, or the zone's input policy); "" when nothing does.
	WANRule string
	// DNSAccepted says that the router accepts DNS queries (UDP 53) from
	// Zone: its input policy is ACCEPT or a rule accepts them.
	DNSAccepted bool
}

// DNSFacts says where the router's dnsmasq answers DNS queries.
type DNSFacts struct {
	Present bool // /etc/config/dhcp has a dnsmasq section
	// Answers lists the router's configured addresses that dnsmasq answers
	// on: every address unless its interface, notinterface or
	// listen_address options narrow them down, none when port is 0.
	Answers []netip.Addr
	// RouterAddrs lists every address the network file gives the router
	// (tunnel included, loopback excluded), to tell the router's
	// addresses from other hosts'.
	RouterAddrs []netip.Addr
	// Restriction describes the narrowing options, e.g. "interface lan";
	// "" when dnsmasq listens everywhere.
	Restriction string
}

// Facts reads the facts the doctor checks from /etc/config/network,
// /etc/config/firewall and /etc/config/dhcp. A missing or malformed network
// file, or malformed wgpanel settings, is an error; a missing firewall or
// dhcp file is reported as not Present.
func (s *Store) Facts(ctx context.Context) (*Facts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	settings, err := s.loadSettings()
	if err != nil {
		return nil, err
	}
	path := s.dir.Path(pkgNetwork)
	nf, err := s.dir.Load(pkgNetwork)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, missingNetwork(path)
		}
		return nil, fileError(path, "read", err)
	}
	fa := &Facts{Interface: settings.Interface}
	ifaceAddrs := networkFacts(nf, fa)

	var fwf *uci.File
	switch f, err := s.dir.Load(pkgFirewall); {
	case err == nil:
		fwf = f
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fileError(s.dir.Path(pkgFirewall), "read", err)
	}
	if fwf != nil {
		fa.Firewall = firewallFacts(readFirewall(fwf), fa.Interface, fa.ListenPort)
	}

	switch f, err := s.dir.Load(pkgDHCP); {
	case err == nil:
		fa.DNS = dnsFacts(f, ifaceAddrs)
	case errors.Is(err, fs.ErrNotExist):
		fa.DNS = dnsFacts(nil, ifaceAddrs)
	default:
		return nil, fileError(s.dir.Path(pkgDHCP), "read", err)
	}
	return fa, nil
}

// networkFacts fills the network part of fa and returns the router's
// addresses by interface, in file order.
func networkFacts(f *uci.File, fa *Facts) []ifaceAddrs {
	if sec := f.Section(fa.Interface); sec != nil {
		fa.InterfaceType = sec.Type
		fa.InterfaceProto, _ = sec.Get(optProto)
		if v, ok := sec.Get(optPrivateKey); ok {
			if k, err := wgtypes.ParseKey(v); err == nil && k != zeroKey {
				fa.HasPrivateKey = true
				fa.PublicKey = k.PublicKey()
			}
		}
		fa.ListenPort, _ = parseIntOption(sec, optListenPort, 0, 65535)
		fa.MTU, _ = parseIntOption(sec, optMTU, 68, 65535)
		fa.Addresses, _ = parsePrefixes(sec, optAddresses, false)
	}
	if wan := f.Section("wan"); wan != nil && wan.Type == typeInterface {
		fa.WANProto, _ = wan.Get(optProto)
		fa.WANMTU, _ = parseIntOption(wan, optMTU, 68, 65535)
		if fa.WANProto == "static" {
			if addrs, err := staticAddrs(wan); err == nil && len(addrs) > 0 {
				fa.WANAddr = addrs[0]
			}
			if v, ok := wan.Get(optGateway); ok {
				if gw, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil && gw.Is4() {
					fa.WANGateway = gw
				}
			}
		}
	}

	var out []ifaceAddrs
	for _, s := range f.SectionsByType(typeInterface) {
		if s.Name == "" || s.Name == "loopback" {
			continue
		}
		ia := ifaceAddrs{name: s.Name}
		var ps []netip.Prefix
		if a, err := staticAddrs(s); err == nil {
			ps = append(ps, a...)
		}
		if a, err := staticAddrs6(s); err == nil {
			ps = append(ps, a...)
		}
		if isWireGuard(s) {
			if a, err := parsePrefixes(s, optAddresses, false); err == nil {
				ps = append(ps, a...)
			}
		}
		if u, ok := ulaSubnet(f, s); ok {
			// netifd gives the router the first address of its assignment.
			ps = append(ps, netip.PrefixFrom(u.Addr().Next(), u.Bits()))
		}
		for _, p := range ps {
			if p.Addr().IsLoopback() {
				continue
			}
			ia.addrs = append(ia.addrs, p.Addr())
			if s.Name != fa.Interface && s.Name != "wan" && s.Name != "wan6" {
				fa.LANs = appendPrefix(fa.LANs, p.Masked())
			}
		}
		out = append(out, ia)
	}
	return out
}

// ifaceAddrs are the addresses of one logical interface.
type ifaceAddrs struct {
	name  string
	addrs []netip.Addr
}

func firewallFacts(fw *firewall, ifname string, port int) FirewallFacts {
	ff := FirewallFacts{Present: true}
	wan, lan, zone := fw.wanZone(), fw.lanZone(), fw.zoneOf(ifname)
	if wan != nil {
		ff.WANZone = wan.name
		if port != 0 {
			ff.WANRule, _ = fw.acceptingRule(wan, "udp", port)
		}
	}
	if lan != nil {
		ff.LANZone = lan.name
		ff.LANForward = lan.forward
	}
	if zone != nil {
		ff.Zone = zone.name
		ff.ForwardsToLAN = lan != nil && fw.forwards(zone, lan)
		_, ff.DNSAccepted = fw.acceptingRule(zone, "udp", 53)
	}
	return ff
}

// dnsFacts works out where dnsmasq answers, from the dnsmasq sections of
// f (nil when the dhcp file is missing) and the router's addresses.
func dnsFacts(f *uci.File, ifaces []ifaceAddrs) DNSFacts {
	var d DNSFacts
	for _, ia := range ifaces {
		for _, a := range ia.addrs {
			if !slices.Contains(d.RouterAddrs, a) {
				d.RouterAddrs = append(d.RouterAddrs, a)
			}
		}
	}
	if f == nil {
		return d
	}
	secs := f.SectionsByType(typeDnsmasq)
	if len(secs) == 0 {
		return d
	}
	d.Present = true
	var restrictions []string
	// Several dnsmasq sections are several instances; the router answers
	// wherever one of them does.
	for _, s := range secs {
		if p, ok := s.Get(dnsPort); ok && strings.TrimSpace(p) == "0" {
			restrictions = append(restrictions, "port 0 (DNS off)")
			continue
		}
		only := values(s, dnsInterface)
		not := values(s, dnsNotInterface)
		listen := values(s, dnsListenAddress)
		if len(only) > 0 {
			restrictions = append(restrictions, "interface "+strings.Join(only, " "))
		}
		if len(not) > 0 {
			restrictions = append(restrictions, "notinterface "+strings.Join(not, " "))
		}
		if len(listen) > 0 {
			restrictions = append(restrictions, "listen_address "+strings.Join(listen, " "))
		}
		for _, ia := range ifaces {
			if slices.Contains(not, ia.name) {
				continue
			}
			if (len(only) > 0 || len(listen) > 0) && !slices.Contains(only, ia.name) {
				continue
			}
			for _, a := range ia.addrs {
				if !slices.Contains(d.Answers, a) {
					d.Answers = append(d.Answers, a)
				}
			}
		}
		for _, v := range listen {
			if a, err := netip.ParseAddr(v); err == nil && !slices.Contains(d.Answers, a.Unmap()) {
				d.Answers = append(d.Answers, a.Unmap())
			}
		}
	}
	d.Restriction = strings.Join(restrictions, "; ")
	return d
}
