package vpn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// ClientConfig is the wg-quick file a phone imports.
type ClientConfig struct {
	PrivateKey   wgtypes.Key
	Addresses    []netip.Prefix
	DNS          []netip.Addr
	MTU          int
	ServerKey    wgtypes.Key
	PresharedKey *wgtypes.Key
	AllowedIPs   []netip.Prefix
	Endpoint     string // host:port, "" when no endpoint is configured
	Keepalive    int
}

// String renders the config in the format the official WireGuard apps and
// wg-quick import. It contains the client's private key.
func (c *ClientConfig) String() string {
	var b strings.Builder
	b.WriteString("[Interface]\n")
	fmt.Fprintf(&b, "PrivateKey = %s\n", c.PrivateKey)
	fmt.Fprintf(&b, "Address = %s\n", joinPrefixes(c.Addresses))
	if len(c.DNS) > 0 {
		s := make([]string, len(c.DNS))
		for i, a := range c.DNS {
			s[i] = a.String()
		}
		fmt.Fprintf(&b, "DNS = %s\n", strings.Join(s, ", "))
	}
	if c.MTU > 0 {
		fmt.Fprintf(&b, "MTU = %d\n", c.MTU)
	}
	b.WriteString("\n[Peer]\n")
	fmt.Fprintf(&b, "PublicKey = %s\n", c.ServerKey)
	if c.PresharedKey != nil {
		fmt.Fprintf(&b, "PresharedKey = %s\n", c.PresharedKey)
	}
	fmt.Fprintf(&b, "AllowedIPs = %s\n", joinPrefixes(c.AllowedIPs))
	if c.Endpoint != "" {
		fmt.Fprintf(&b, "Endpoint = %s\n", c.Endpoint)
	}
	if c.Keepalive > 0 {
		fmt.Fprintf(&b, "PersistentKeepalive = %d\n", c.Keepalive)
	}
	return b.String()
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// ConfigStamp digests what every client config of cfg's server shares and
// the owner can change after a phone has scanned its code: the endpoint
// (host and port), the DNS servers, the MTU and the server's public key. A
// peer whose stored stamp differs from the current one carries an old
// config: the page marks it "re-scan needed". A digest, rather than a
// generation counter, needs no write when a setting is changed and changed
// back, and no bookkeeping in every place that changes a setting (the
// page, the CLI, LuCI, an editor). It holds no secret.
func ConfigStamp(cfg *Config) string {
	if cfg == nil || cfg.Server == nil {
		return ""
	}
	cc, _ := buildClientConfig(cfg, &Peer{}, wgtypes.Key{})
	return cc.stamp()
}

func (c *ClientConfig) stamp() string {
	h := sha256.New()
	fmt.Fprintf(h, "endpoint=%s\nmtu=%d\nserver=%s\n", c.Endpoint, c.MTU, c.ServerKey)
	for _, a := range c.DNS {
		fmt.Fprintf(h, "dns=%s\n", a)
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// clientKeepalive keeps NAT mappings on the phone's network open.
const clientKeepalive = 25

// buildClientConfig makes the client config of peer p, whose private key
// is priv. It returns warnings a router owner must act on.
func buildClientConfig(cfg *Config, p *Peer, priv wgtypes.Key) (*ClientConfig, []string) {
	srv := cfg.Server
	cc := &ClientConfig{
		PrivateKey:   priv,
		Addresses:    slices.Clone(p.AllowedIPs),
		MTU:          cfg.Settings.MTU,
		ServerKey:    srv.PublicKey(),
		PresharedKey: p.PresharedKey,
		Keepalive:    clientKeepalive,
	}
	cc.DNS = slices.Clone(cfg.Settings.DNS)
	if len(cc.DNS) == 0 && cfg.Network.LANAddr.IsValid() {
		cc.DNS = []netip.Addr{cfg.Network.LANAddr}
	}
	hasV6 := slices.ContainsFunc(p.AllowedIPs, func(a netip.Prefix) bool { return a.Addr().Is6() })
	if p.Tunnel == TunnelFull {
		cc.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	} else {
		for _, l := range cfg.Network.LANs {
			if l.Addr().Is6() && !hasV6 {
				continue
			}
			cc.AllowedIPs = appendUnique(cc.AllowedIPs, l.Masked())
		}
		for _, a := range srv.Addresses {
			if a.Addr().Is6() && !hasV6 {
				continue
			}
			cc.AllowedIPs = appendUnique(cc.AllowedIPs, a.Masked())
		}
	}
	var warnings []string
	host := strings.TrimSpace(cfg.Settings.Endpoint)
	switch {
	case host == "":
		warnings = append(warnings, "No endpoint is set, so the phone does not know where to reach the router: enter the router's public address or DDNS name in the Endpoint field at the top of the page (or run wgpanel settings --endpoint HOST), then show the QR code again.")
	case srv.ListenPort == 0:
		warnings = append(warnings, fmt.Sprintf("The interface %s has no fixed listen port, so the phone cannot reach it: set listen_port (51820 is usual).", srv.Interface))
	default:
		cc.Endpoint = joinHostPort(host, srv.ListenPort)
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !IsPublic(a) {
			warnings = append(warnings, fmt.Sprintf("The endpoint %s is a private or shared address that phones on other networks cannot reach: use the router's public address or a DDNS name.", a))
		}
	}
	return cc, warnings
}

// joinHostPort writes host:port, with IPv6 addresses in brackets. A host
// that already carries a port keeps it.
func joinHostPort(host string, port int) string {
	if h, p, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.Atoi(p); err == nil {
			return net.JoinHostPort(h, p)
		}
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// CGNAT is the address space of carrier-grade NAT (RFC 6598).
var CGNAT = netip.MustParsePrefix("100.64.0.0/10")

// IsPublic reports whether a can be reached from the internet: a global
// unicast address outside RFC 1918, ULA and CGNAT space.
func IsPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !CGNAT.Contains(a)
}

func appendUnique(ps []netip.Prefix, p netip.Prefix) []netip.Prefix {
	if slices.Contains(ps, p) {
		return ps
	}
	return append(ps, p)
}
