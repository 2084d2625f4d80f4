package doctor

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// netifd's MTU for a WireGuard interface without an mtu option, and what
// WireGuard adds to each packet in the worst case (IPv6 outer header 40,
// UDP 8, WireGuard 32).
const (
	defaultWGMTU = 1420
	wgOverhead   = 80
	pppoeMTU     = 1492
	ethernetMTU  = 1500
)

// checker holds the input of one run.
type checker struct {
	in Input
	// failed says that a check before the peer checks failed.
	failed bool
}

func ok(id, finding string) *Check { return &Check{ID: id, Status: StatusOK, Finding: finding} }

func warn(id, finding, fix string) *Check {
	return &Check{ID: id, Status: StatusWarn, Finding: finding, Fix: fix}
}

func fail(id, finding, fix string) *Check {
	return &Check{ID: id, Status: StatusFail, Finding: finding, Fix: fix}
}

// skip reports a check that does not apply in standalone mode.
func skip(id, what string) *Check {
	return &Check{ID: id, Status: StatusSkip,
		Finding: fmt.Sprintf("Not checked: in standalone mode (--dev) wgpanel does not manage %s on this machine.", what)}
}

// sentence makes msg end with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" || strings.HasSuffix(msg, ".") {
		return msg
	}
	return msg + "."
}

func (c *checker) ifname() string { return c.in.Facts.Interface }

func (c *checker) port() int { return c.in.Facts.ListenPort }

// udp names the WireGuard port as a router owner reads it: "UDP 51820".
func (c *checker) udp() string {
	if p := c.port(); p != 0 {
		return "UDP " + strconv.Itoa(p)
	}
	return "the WireGuard port"
}

// WAN returns the router's WAN address and gateway, as the checks see
// them: live from the runtime when known, else the static ones in the
// network file. Either is invalid when unknown.
func (in Input) WAN() (netip.Prefix, netip.Addr) { return in.wanAddr() }

// wanAddr returns the router's WAN address and gateway: live from the
// runtime when known, else the static ones in the network file.
func (in Input) wanAddr() (netip.Prefix, netip.Addr) {
	var addr netip.Prefix
	var gw netip.Addr
	if rt := in.Runtime; rt != nil {
		addr, gw = rt.WANAddr, rt.Gateway
	}
	if f := in.Facts; f != nil {
		if !addr.IsValid() {
			addr = f.WANAddr
		}
		if !gw.IsValid() {
			gw = f.WANGateway
		}
	}
	return addr, gw
}

func (c *checker) config() *Check {
	for _, err := range []error{c.in.FactsErr, c.in.ConfigErr} {
		if err != nil {
			return fail(IDConfig, sentence(vpn.ErrorMessage(err)),
				"Correct the file named above in LuCI or by hand (or restore it from a backup), then run the doctor again.")
		}
	}
	return nil
}

func (c *checker) interfaceExists() *Check {
	f, ifname := c.in.Facts, c.ifname()
	switch {
	case f.InterfaceType == "":
		return fail(IDInterfaceExists,
			fmt.Sprintf("There is no WireGuard interface %s in the network configuration.", ifname),
			"Run 'wgpanel setup' (or use the first-run page) to create it.")
	case f.InterfaceType != "interface" || f.InterfaceProto != "wireguard":
		return fail(IDInterfaceExists,
			fmt.Sprintf("The network section %s is a 'config %s' with proto '%s', not a WireGuard interface.", ifname, f.InterfaceType, f.InterfaceProto),
			"Let wgpanel manage another interface (--interface or the interface option in /etc/config/wgpanel), or run 'wgpanel setup', which picks a free name.")
	}
	addrs := make([]string, len(f.Addresses))
	for i, a := range f.Addresses {
		addrs[i] = a.String()
	}
	if len(addrs) == 0 {
		return warn(IDInterfaceExists,
			fmt.Sprintf("The WireGuard interface %s exists but has no address, so wgpanel cannot give phones one.", ifname),
			fmt.Sprintf("Run 'wgpanel setup', which gives %s a free subnet, or set its addresses in LuCI.", ifname))
	}
	return ok(IDInterfaceExists, fmt.Sprintf("The WireGuard interface %s is configured with %s.", ifname, strings.Join(addrs, ", ")))
}

func (c *checker) interfaceUp() *Check {
	ifname, err := c.ifname(), c.in.DeviceErr
	switch {
	case err == nil && c.in.Device != nil:
		return ok(IDInterfaceUp, fmt.Sprintf("The interface %s is up and listening on UDP %d.", ifname, c.in.Device.ListenPort))
	case errors.Is(err, vpn.ErrNoDevice) || err == nil:
		fix := fmt.Sprintf("Bring it up with 'ifup %s' (or Restart in LuCI, Network, Interfaces); if it stays down, 'logread -e %s' says why.", ifname, ifname)
		if c.in.Standalone {
			fix = "Start 'wgpanel serve --dev', which brings the interface up."
		}
		return fail(IDInterfaceUp, fmt.Sprintf("The interface %s is configured but not running.", ifname), fix)
	case errors.Is(err, vpn.ErrDeviceUnreachable):
		fix := "Install WireGuard (opkg install kmod-wireguard wireguard-tools) and run wgpanel as root."
		if c.in.Standalone {
			fix = "Run wgpanel as root on a host with /dev/net/tun."
		}
		return fail(IDInterfaceUp, "wgpanel cannot reach WireGuard on this system.", fix)
	default:
		return fail(IDInterfaceUp, fmt.Sprintf("wgpanel cannot read the interface %s.", ifname), "Run wgpanel as root.")
	}
}

func (c *checker) interfaceKey() *Check {
	f, ifname := c.in.Facts, c.ifname()
	if !f.HasPrivateKey {
		return fail(IDInterfaceKey,
			fmt.Sprintf("The interface %s has no valid private key, so it cannot answer any phone.", ifname),
			fmt.Sprintf("Generate a key pair in LuCI (Network, Interfaces, %s, Generate new key pair); every phone's config must then be made again.", ifname))
	}
	// A zero key on the device means the backend did not report one.
	if d := c.in.Device; d != nil && d.PublicKey != (wgtypes.Key{}) && d.PublicKey != f.PublicKey {
		return warn(IDInterfaceKey,
			fmt.Sprintf("The running interface %s uses the public key %s, but its configured key gives %s, which is what phones were told.", ifname, d.PublicKey, f.PublicKey),
			fmt.Sprintf("Restart the interface ('ifup %s') so that it loads the configured key.", ifname))
	}
	return ok(IDInterfaceKey, fmt.Sprintf("The interface %s has a private key; its public key is %s.", ifname, f.PublicKey))
}

func (c *checker) interfacePort() *Check {
	ifname, port := c.ifname(), c.port()
	if port == 0 {
		return fail(IDInterfacePort,
			fmt.Sprintf("The interface %s has no fixed listen port, so it picks a random one each time it starts and phones cannot find it.", ifname),
			fmt.Sprintf("Run 'wgpanel setup', which sets listen_port 51820 on %s, or set Listen Port in LuCI (Network, Interfaces, %s).", ifname, ifname))
	}
	if d := c.in.Device; d != nil && d.ListenPort != port {
		return warn(IDInterfacePort,
			fmt.Sprintf("The interface %s listens on UDP %d, but its configured listen port is %d.", ifname, d.ListenPort, port),
			fmt.Sprintf("Restart the interface ('ifup %s') so that it uses UDP %d.", ifname, port))
	}
	return ok(IDInterfacePort, fmt.Sprintf("The interface %s has the fixed listen port UDP %d.", ifname, port))
}

func (c *checker) firewallRule() *Check {
	fw := c.in.Facts.Firewall
	switch {
	case c.port() == 0:
		return nil // interface.port explains it
	case !fw.Present && c.in.Standalone:
		return skip(IDFirewallRule, "a firewall")
	case !fw.Present:
		return ok(IDFirewallRule, fmt.Sprintf("There is no firewall configuration, so nothing on this router blocks %s.", c.udp()))
	case fw.WANZone == "":
		return warn(IDFirewallRule,
			fmt.Sprintf("No firewall zone holds the wan network, so wgpanel cannot tell whether %s is open.", c.udp()),
			fmt.Sprintf("Make sure the firewall accepts %s from the internet.", c.udp()))
	case fw.WANRule != "":
		return ok(IDFirewallRule, fmt.Sprintf("The firewall accepts %s from the %s zone (%s).", c.udp(), fw.WANZone, fw.WANRule))
	}
	ch := fail(IDFirewallRule,
		fmt.Sprintf("No enabled firewall rule accepts %s from the %s zone, so the router drops every phone's handshake.", c.udp(), fw.WANZone),
		fmt.Sprintf("Press Fix (or run 'wgpanel doctor --fix') to add the rule Allow-WireGuard for %s from %s, as LuCI writes it.", c.udp(), fw.WANZone))
	ch.Fixable = true
	return ch
}

func (c *checker) firewallZone() *Check {
	fw, ifname := c.in.Facts.Firewall, c.ifname()
	switch {
	case !fw.Present && c.in.Standalone:
		return skip(IDFirewallZone, "a firewall")
	case !fw.Present:
		return ok(IDFirewallZone, fmt.Sprintf("There is no firewall configuration, so nothing on this router stops %s from reaching the LAN.", ifname))
	case fw.Zone == "" && fw.LANZone == "":
		return fail(IDFirewallZone,
			fmt.Sprintf("The interface %s is in no firewall zone and there is no zone for the LAN, so the firewall drops the phones' traffic.", ifname),
			fmt.Sprintf("In LuCI (Network, Firewall) put %s in a zone that may forward to your LAN.", ifname))
	case fw.Zone == "":
		ch := fail(IDFirewallZone,
			fmt.Sprintf("The interface %s is in no firewall zone, so the firewall drops the phones' traffic to the LAN and to the router.", ifname),
			fmt.Sprintf("Press Fix (or run 'wgpanel doctor --fix') to add %s to the %s zone, as the OpenWrt guide does.", ifname, fw.LANZone))
		ch.Fixable = true
		return ch
	case fw.ForwardsToLAN && fw.Zone == fw.LANZone:
		return ok(IDFirewallZone, fmt.Sprintf("The interface %s is in the %s zone, so phones reach the LAN.", ifname, fw.Zone))
	case fw.ForwardsToLAN:
		return ok(IDFirewallZone, fmt.Sprintf("The interface %s is in the %s zone, which may forward to the %s zone.", ifname, fw.Zone, fw.LANZone))
	case fw.Zone == fw.LANZone:
		return fail(IDFirewallZone,
			fmt.Sprintf("The interface %s is in the %s zone, but that zone's forward policy is %s, so phones cannot reach other LAN devices.", ifname, fw.Zone, fw.LANForward),
			fmt.Sprintf("Set Forward to accept for the %s zone in LuCI (Network, Firewall, Zones).", fw.Zone))
	case fw.LANZone == "":
		return fail(IDFirewallZone,
			fmt.Sprintf("The interface %s is in the %s zone, but there is no zone for the LAN for it to forward to.", ifname, fw.Zone),
			"In LuCI (Network, Firewall) check which zone holds your LAN and allow forwarding to it.")
	default:
		return fail(IDFirewallZone,
			fmt.Sprintf("The interface %s is in the %s zone, which may not forward to the %s zone, so phones cannot reach the LAN.", ifname, fw.Zone, fw.LANZone),
			fmt.Sprintf("In LuCI (Network, Firewall, Zones, %s) add %s to the allowed forward destination zones.", fw.Zone, fw.LANZone))
	}
}

func (c *checker) wanNAT() *Check {
	addr, gw := c.in.wanAddr()
	udp := c.udp()
	if !addr.IsValid() {
		// The runtime error is for the log: its text is not the owner's.
		return warn(IDWANNAT,
			"wgpanel could not learn the router's WAN address, so it cannot tell whether another router sits in front of it.",
			fmt.Sprintf("If this router is behind another router, forward %s on that router to this router's WAN address.", udp))
	}
	a := addr.Addr().Unmap()
	switch {
	case vpn.CGNAT.Contains(a):
		return fail(IDWANNAT,
			fmt.Sprintf("The router's WAN address %s is in the carrier-grade NAT range 100.64.0.0/10, so your ISP shares one public IPv4 address among many customers and no port forward can bring %s to this router.", a, udp),
			"Ask your ISP for a public IPv4 address (or to switch CGNAT off for your line); otherwise reach the router over IPv6 if your ISP provides it, or through a relay that has a public address.")
	case a.IsPrivate():
		gwText, isp := "another router", "On your ISP router, "
		if gw.IsValid() {
			gwText = fmt.Sprintf("another router (gateway %s)", gw)
			isp = fmt.Sprintf("On your ISP router (gateway %s), ", gw)
		}
		return warn(IDWANNAT,
			fmt.Sprintf("The router's WAN address %s is private, so it sits behind %s that must pass %s on to it.", a, gwText, udp),
			fmt.Sprintf("%sforward %s to %s.", isp, udp, a))
	case !vpn.IsPublic(a):
		return warn(IDWANNAT,
			fmt.Sprintf("The router's WAN address %s is not a public address, so phones on the internet cannot reach %s on it.", a, udp),
			"Check the WAN connection (Network, Interfaces, wan in LuCI).")
	}
	return ok(IDWANNAT, fmt.Sprintf("The router's WAN address %s is public, so phones reach %s on it directly.", a, udp))
}

func (c *checker) endpoint() *Check {
	if c.in.Config == nil {
		return nil
	}
	ep := c.in.Config.Settings.Endpoint
	suggest := func() string {
		if s := c.in.SuggestedEndpoint; s != "" {
			return fmt.Sprintf("Enter %s in the Endpoint field at the top of wgpanel's page (or run 'wgpanel settings --endpoint %s'): %s", s, s, c.in.SuggestionReason)
		}
		return strings.TrimSpace(c.in.SuggestionReason + " Enter your public address or a dynamic DNS name in the Endpoint field at the top of wgpanel's page (or run 'wgpanel settings --endpoint HOST').")
	}
	if ep == "" {
		return fail(IDEndpoint, "No endpoint is set, so phone configs do not say where to reach the router.", suggest())
	}
	hostPort := ep
	if p := c.port(); p != 0 {
		hostPort = net.JoinHostPort(ep, strconv.Itoa(p))
	}
	a, err := netip.ParseAddr(ep)
	if err != nil {
		return ok(IDEndpoint, fmt.Sprintf("Phone configs point at %s.", hostPort))
	}
	a = a.Unmap()
	switch {
	case vpn.CGNAT.Contains(a):
		return fail(IDEndpoint, fmt.Sprintf("The endpoint %s is a carrier-grade NAT address, which phones on the internet cannot reach.", a), suggest())
	case !vpn.IsPublic(a):
		return fail(IDEndpoint, fmt.Sprintf("The endpoint %s is a private address, which phones outside your home cannot reach.", a), suggest())
	}
	if wan, _ := c.in.wanAddr(); wan.IsValid() && vpn.IsPublic(wan.Addr()) && a.Is4() && wan.Addr().Unmap() != a {
		return warn(IDEndpoint,
			fmt.Sprintf("The endpoint %s is not the router's current WAN address %s.", a, wan.Addr().Unmap()),
			fmt.Sprintf("Set the Endpoint to %s, or better to a dynamic DNS name that follows the address when your ISP changes it.", wan.Addr().Unmap()))
	}
	return ok(IDEndpoint, fmt.Sprintf("Phone configs point at %s.", hostPort))
}

// peerLabel names a peer the way the page shows it.
func peerLabel(p vpn.Peer) string {
	if p.Name != "" {
		return "'" + p.Name + "'"
	}
	k := p.PublicKey.String()
	return "'" + k[:8] + "...'"
}

// joinNames joins names as "a", "a and b", "a, b and c".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func (c *checker) peerHandshakes() *Check {
	cfg, dev := c.in.Config, c.in.Device
	if cfg == nil || cfg.Server == nil || dev == nil {
		return nil
	}
	ifname := c.ifname()
	stats := make(map[wgtypes.Key]vpn.PeerStats, len(dev.Peers))
	for _, p := range dev.Peers {
		stats[p.PublicKey] = p
	}
	var enabled int
	var never, absent []string
	for _, p := range cfg.Server.Peers {
		if !p.Enabled {
			continue
		}
		enabled++
		st, on := stats[p.PublicKey]
		switch {
		case !on:
			absent = append(absent, peerLabel(p))
			never = append(never, peerLabel(p))
		case st.LatestHandshake.IsZero():
			never = append(never, peerLabel(p))
		}
	}
	switch {
	case enabled == 0:
		return ok(IDPeerHandshake, fmt.Sprintf("No peer of %s is enabled yet.", ifname))
	case len(never) == 0:
		return ok(IDPeerHandshake, fmt.Sprintf("Every enabled peer of %s (%d) has completed a handshake.", ifname, enabled))
	}
	finding := fmt.Sprintf("Peer %s has never completed a handshake with %s.", never[0], ifname)
	if len(never) > 1 {
		finding = fmt.Sprintf("Peers %s have never completed a handshake with %s.", joinNames(never), ifname)
	}
	fix := "Import its config on the device (scan its QR code in the WireGuard app) and switch the tunnel on; if it still does not connect, a missing port forward on another router or a wrong Endpoint is the usual cause."
	if c.failed {
		fix = "If the device has tried to connect, fix the problems above first (most often the port forward or the endpoint); otherwise import its config (QR code) on the device and switch the tunnel on."
	}
	if len(absent) > 0 {
		fix = fmt.Sprintf("Run 'wgpanel reconcile': %s %s not on the running interface. Then %s", joinNames(absent),
			map[bool]string{true: "is", false: "are"}[len(absent) == 1], strings.ToLower(fix[:1])+fix[1:])
	}
	return warn(IDPeerHandshake, finding, fix)
}

func (c *checker) dns() *Check {
	cfg := c.in.Config
	if cfg == nil {
		return nil
	}
	if c.in.Standalone {
		return skip(IDDNS, "a DNS server")
	}
	handed := cfg.Settings.DNS
	if len(handed) == 0 && cfg.Network.LANAddr.IsValid() {
		handed = []netip.Addr{cfg.Network.LANAddr}
	}
	if len(handed) == 0 {
		return warn(IDDNS, "Phone configs carry no DNS server, so phones keep using the resolver of the network they are on.",
			"Set the dns option in /etc/config/wgpanel (for example to the router's LAN address) if phones should resolve names through home.")
	}
	f := c.in.Facts
	d := f.DNS
	var oks []string
	for _, a := range handed {
		switch {
		case slices.Contains(d.RouterAddrs, a) && !d.Present:
			return warn(IDDNS,
				fmt.Sprintf("Phone configs use the router's address %s for DNS, but /etc/config/dhcp has no dnsmasq section, so wgpanel cannot tell whether anything answers there.", a),
				fmt.Sprintf("Make sure a DNS server on the router answers queries from the tunnel (%s), or set the dns option in /etc/config/wgpanel to one that does.", prefixes(f.Addresses)))
		case slices.Contains(d.RouterAddrs, a) && !slices.Contains(d.Answers, a):
			fix := "Let dnsmasq answer on the LAN (LuCI: Network, DHCP and DNS, Devices & Ports, Listen interfaces)"
			if len(d.Answers) > 0 {
				fix += fmt.Sprintf(", or set the dns option in /etc/config/wgpanel to an address it answers on (%s)", addrs(d.Answers))
			}
			return fail(IDDNS,
				fmt.Sprintf("Phone configs use DNS %s, but the router's dnsmasq does not answer there (%s).", a, d.Restriction),
				fix+".")
		case slices.Contains(d.RouterAddrs, a) && f.Firewall.Present && f.Firewall.Zone != "" && !f.Firewall.DNSAccepted:
			return fail(IDDNS,
				fmt.Sprintf("Phone configs use DNS %s on the router, but the %s zone of %s does not accept input, so the phones' DNS queries are dropped.", a, f.Firewall.Zone, c.ifname()),
				fmt.Sprintf("Set Input to accept for the %s zone, or add a rule accepting UDP 53 from it (LuCI: Network, Firewall).", f.Firewall.Zone))
		case slices.Contains(d.RouterAddrs, a):
			oks = append(oks, fmt.Sprintf("%s (the router's dnsmasq answers there)", a))
		case inAny(a, f.LANs) || inAny(a, f.Addresses):
			oks = append(oks, fmt.Sprintf("%s (a host the tunnel reaches)", a))
		case vpn.IsPublic(a):
			oks = append(oks, fmt.Sprintf("%s (a public resolver)", a))
		default:
			return warn(IDDNS,
				fmt.Sprintf("Phone configs use DNS %s, which is neither the router nor on a network the tunnel reaches.", a),
				"Set the dns option in /etc/config/wgpanel to the router's LAN address or a resolver the phones can reach.")
		}
	}
	return ok(IDDNS, fmt.Sprintf("Phone configs use DNS %s.", strings.Join(oks, ", ")))
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Masked().Contains(a) {
			return true
		}
	}
	return false
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return strings.Join(s, ", ")
}

func addrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func (c *checker) mtu() *Check {
	f, rt := c.in.Facts, c.in.Runtime
	proto := f.WANProto
	if rt != nil && rt.WANProto != "" {
		proto = rt.WANProto
	}
	pppoe := proto == "pppoe"
	wanMTU := 0
	switch {
	case rt != nil && rt.WANMTU > 0:
		wanMTU = rt.WANMTU
	case f.WANMTU > 0:
		wanMTU = f.WANMTU
	case pppoe:
		wanMTU = pppoeMTU
	default:
		wanMTU = ethernetMTU
	}
	wg := f.MTU
	if wg == 0 {
		wg = defaultWGMTU
	}
	limit := wanMTU - wgOverhead
	ifname := c.ifname()
	wan := fmt.Sprintf("The WAN's MTU is %d", wanMTU)
	if pppoe {
		wan = fmt.Sprintf("The WAN is PPPoE with MTU %d", wanMTU)
	}
	if wg > limit {
		return warn(IDMTU,
			fmt.Sprintf("%s, but %s uses MTU %d, more than the %d that fits, so large packets through the tunnel are fragmented or lost.", wan, ifname, wg, limit),
			fmt.Sprintf("Set the MTU of %s to %d (LuCI: Network, Interfaces, %s, Advanced Settings, Override MTU) and wgpanel's mtu option to %d so that phone configs carry it too.", ifname, limit, ifname, limit))
	}
	return ok(IDMTU, fmt.Sprintf("%s, and the MTU %d of %s fits within it.", wan, wg, ifname))
}
