package reach

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/wgpanel/wgpanel/internal/doctor"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Verdicts, as GET /api/reachability names them.
const (
	Reachable         = "reachable"
	PortForwardNeeded = "port_forward_needed"
	CGNAT             = "cgnat"
	Blocked           = "blocked"
	NoEndpoint        = "no_endpoint"
	Unknown           = "unknown"
)

// Suggestion is an endpoint phones could dial, with why it is offered.
type Suggestion struct {
	Value string
	Why   string
}

// Result is the verdict with the addresses it was made from. An address
// that is not known is invalid.
type Result struct {
	Verdict string
	Summary string // one sentence a non-expert understands
	Fix     string // the one thing to do; "" when nothing is needed
	// FixIDs are the doctor checks the page's Fix button repairs.
	FixIDs     []string
	WANIPv4    netip.Addr // the router's own WAN address
	PublicIPv4 netip.Addr // the public WAN address, or the one STUN saw
	PublicIPv6 netip.Addr // a public IPv6 address of the router
	// Discovered says that PublicIPv4 came from a STUN answer.
	Discovered  bool
	Endpoint    string // what phone configs say now; "" when unset
	Port        int    // the WireGuard listen port; 0 when unset
	Suggestions []Suggestion
}

// Input is what Decide looks at.
type Input struct {
	Doctor doctor.Input   // gathered by doctor.Collect
	Checks []doctor.Check // doctor's run over Doctor
	// DDNS is the lookup_host of an enabled dynamic DNS service; "" when none.
	DDNS string
	// HostAddrs are the router's live addresses (HostAddrs); public IPv6
	// ones among them are offered as endpoints.
	HostAddrs []netip.Addr
	// Mapped is the address a STUN server saw (Discover); invalid when
	// the owner has not asked.
	Mapped netip.Addr
}

// Decide makes the verdict. It only computes.
func Decide(in Input) Result {
	var res Result
	checks := make(map[string]doctor.Check, len(in.Checks))
	for _, c := range in.Checks {
		checks[c.ID] = c
	}
	if cfg := in.Doctor.Config; cfg != nil {
		res.Endpoint = cfg.Settings.Endpoint
	}
	if f := in.Doctor.Facts; f != nil {
		res.Port = f.ListenPort
	}
	wan, gw := in.Doctor.WAN()
	if wan.IsValid() && wan.Addr().Unmap().Is4() {
		res.WANIPv4 = wan.Addr().Unmap()
		if vpn.IsPublic(res.WANIPv4) {
			res.PublicIPv4 = res.WANIPv4
		}
	}
	if m := in.Mapped.Unmap(); m.Is4() && vpn.IsPublic(m) {
		res.PublicIPv4, res.Discovered = m, true
	}
	res.PublicIPv6 = publicIPv6(in)
	res.Suggestions = suggestions(in, res)

	udp := "UDP " + strconv.Itoa(res.Port)
	if res.Port == 0 {
		udp = "the WireGuard port"
	}
	set := func(verdict, summary, fix string) Result {
		res.Verdict, res.Summary, res.Fix = verdict, summary, fix
		return res
	}
	if c, ok := checks[doctor.IDInterfaceExists]; !ok || c.Status == doctor.StatusFail {
		return set(Unknown, "The VPN server is not set up yet, so phones have nothing to connect to.",
			"Set it up with the Set up button.")
	}
	if c, ok := checks[doctor.IDInterfacePort]; ok && c.Status == doctor.StatusFail {
		return set(Blocked, "The VPN server has no fixed port, so phones cannot find it.", c.Fix)
	}
	for _, id := range []string{doctor.IDFirewallRule, doctor.IDFirewallZone} {
		if c, ok := checks[id]; ok && c.Status == doctor.StatusFail && c.Fixable {
			res.FixIDs = append(res.FixIDs, id)
		}
	}
	if rule, ok := checks[doctor.IDFirewallRule]; ok && rule.Status == doctor.StatusFail {
		fix := "Press Fix to open it."
		if len(res.FixIDs) == 0 {
			fix = rule.Fix
		}
		return set(Blocked, fmt.Sprintf("The router's firewall drops the phones' connections: %s is not open.", udp), fix)
	}
	if zone, ok := checks[doctor.IDFirewallZone]; ok && zone.Status == doctor.StatusFail {
		fix := "Press Fix to let them in."
		if len(res.FixIDs) == 0 {
			fix = zone.Fix
		}
		return set(Blocked, "Phones could connect, but the router's firewall keeps them out of your home network.", fix)
	}

	behindNAT := res.WANIPv4.IsValid() && !vpn.IsPublic(res.WANIPv4)
	if res.Discovered && res.WANIPv4.IsValid() && res.PublicIPv4 != res.WANIPv4 {
		behindNAT = true
	}
	switch {
	case res.WANIPv4.IsValid() && vpn.CGNAT.Contains(res.WANIPv4):
		fix := "Ask your internet provider for a public IPv4 address, or use IPv6."
		if v6 := res.PublicIPv6; v6.IsValid() {
			if res.Endpoint == v6.String() {
				return set(Reachable, fmt.Sprintf("Phones with IPv6 reach your router at %s; your provider's carrier-grade NAT keeps IPv4 out.", hostPort(res.Endpoint, res.Port)), "")
			}
			fix = fmt.Sprintf("Phones with IPv6 can reach your router at %s: pick it (or a dynamic DNS name that has it) as the Endpoint. For IPv4, ask your internet provider for a public address.", v6)
		}
		return set(CGNAT, "Your internet provider shares one public IPv4 address among many customers (carrier-grade NAT), so a port forward cannot work.", fix)
	case behindNAT:
		other := "another router"
		where := "On it"
		if gw.IsValid() && gw.Unmap() != res.WANIPv4 {
			other = fmt.Sprintf("another router (%s)", gw.Unmap())
			where = fmt.Sprintf("Open that router's settings (often http://%s)", gw.Unmap())
		}
		fix := fmt.Sprintf("%s and add a port forward: %s to %s.", where, udp, res.WANIPv4)
		if res.Endpoint == "" {
			fix += " Then set the Endpoint to your public address or a dynamic DNS name."
		}
		return set(PortForwardNeeded,
			fmt.Sprintf("Your router is behind %s: on it, forward %s to %s.", other, udp, res.WANIPv4), fix)
	}
	if c, ok := checks[doctor.IDEndpoint]; ok && c.Status == doctor.StatusFail || res.Endpoint == "" {
		summary := "Phones do not know where to reach your router yet."
		if res.Endpoint != "" {
			summary = fmt.Sprintf("Phones are told to dial %s, which they cannot reach from the internet.", res.Endpoint)
		}
		fix := "Set the Endpoint below to your public address or a dynamic DNS name."
		if len(res.Suggestions) > 0 {
			fix = fmt.Sprintf("Set the Endpoint below, for example to %s.", res.Suggestions[0].Value)
		}
		return set(NoEndpoint, summary, fix)
	}
	if !res.WANIPv4.IsValid() && !res.Discovered {
		return set(Unknown, fmt.Sprintf("Phones are told to dial %s; wgpanel cannot tell whether another router sits in front of this one.", hostPort(res.Endpoint, res.Port)),
			fmt.Sprintf("If it does, forward %s on it to this router.", udp))
	}
	return set(Reachable, fmt.Sprintf("Your router is ready: phones connect to %s.", hostPort(res.Endpoint, res.Port)), "")
}

// suggestions lists the endpoints wgpanel knows of, best first: a dynamic
// DNS name follows address changes, then the public IPv4, then IPv6.
func suggestions(in Input, res Result) []Suggestion {
	var out []Suggestion
	if in.DDNS != "" {
		out = append(out, Suggestion{in.DDNS, "your dynamic DNS name"})
	}
	if a := res.PublicIPv4; a.IsValid() {
		why := "the router's public address"
		if res.Discovered {
			why = "your public address, as seen from the internet"
		}
		out = append(out, Suggestion{a.String(), why})
	}
	if a := res.PublicIPv6; a.IsValid() {
		out = append(out, Suggestion{a.String(), "the router's public IPv6 address"})
	}
	return out
}

// publicIPv6 returns the first public IPv6 address of the router: a live
// one, else one the network file gives it.
func publicIPv6(in Input) netip.Addr {
	addrs := slices.Clone(in.HostAddrs)
	if f := in.Doctor.Facts; f != nil {
		addrs = append(addrs, f.DNS.RouterAddrs...)
	}
	for _, a := range addrs {
		if a.Is6() && !a.Is4In6() && vpn.IsPublic(a) {
			return a.WithZone("")
		}
	}
	return netip.Addr{}
}

func hostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// EndpointWarning explains why an endpoint that was saved will not work
// for phones outside the home: a private, carrier-grade NAT, link-local or
// loopback address. It is "" for a public address or a host name.
func EndpointWarning(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	switch {
	case vpn.CGNAT.Contains(a):
		return fmt.Sprintf("%s is an address inside your internet provider's carrier-grade NAT: phones on the internet cannot reach it.", a)
	case a.IsLinkLocalUnicast():
		return fmt.Sprintf("%s is a link-local address: no phone can reach it.", a)
	case a.IsLoopback() || a.IsUnspecified():
		return fmt.Sprintf("%s is not an address of this router on any network: no phone can reach it.", a)
	case a.IsPrivate():
		return fmt.Sprintf("%s is a private address: only devices at home reach it, not phones on the internet. Use your public address or a dynamic DNS name.", a)
	}
	return ""
}

// HostAddrs returns the addresses of this machine's interfaces, cheaply,
// for Input.HostAddrs.
func HostAddrs() []netip.Addr {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out
}
