package openwrt

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// UCI names in /etc/config/ddns (ddns-scripts).
const (
	pkgDDNS        = "ddns"
	typeDDNS       = "service"
	ddnsEnabled    = "enabled"
	ddnsLookupHost = "lookup_host"
	ddnsDomain     = "domain"
)

// SuggestEndpoint proposes the endpoint phones should dial when wgpanel has
// none: the lookup_host of the first enabled ddns-scripts service in
// /etc/config/ddns, else wanAddr when it is a public address. host is ""
// when there is nothing to suggest; why says, in one sentence, why host was
// chosen or why nothing was.
func SuggestEndpoint(dir uci.Dir, wanAddr netip.Addr) (host, why string) {
	if f, err := dir.Load(pkgDDNS); err == nil {
		if name, host, ok := ddnsHost(f); ok {
			return host, fmt.Sprintf("The dynamic DNS service '%s' keeps %s pointing at this router.", name, host)
		}
	}
	switch {
	case !wanAddr.IsValid():
		return "", "No dynamic DNS service is enabled and the router's WAN address is not known."
	case vpn.IsPublic(wanAddr):
		return wanAddr.Unmap().String(), fmt.Sprintf("The router's WAN address %s is public (if your ISP changes it, a dynamic DNS name is better).", wanAddr.Unmap())
	case vpn.CGNAT.Contains(wanAddr.Unmap()):
		return "", fmt.Sprintf("The router's WAN address %s is behind your ISP's carrier-grade NAT, so no IPv4 address of this router can be reached from the internet.", wanAddr.Unmap())
	default:
		return "", fmt.Sprintf("The router's WAN address %s is private, so phones need your ISP router's public address or a dynamic DNS name.", wanAddr.Unmap())
	}
}

// ddnsHost returns the section name and host of the first enabled ddns
// service with a usable lookup_host (or, for old ddns-scripts configs
// without one, a domain that is a plain host name).
func ddnsHost(f *uci.File) (section, host string, ok bool) {
	for i, s := range f.SectionsByType(typeDDNS) {
		v, _ := s.Get(ddnsEnabled)
		if on, _ := parseBool(v); !on {
			continue
		}
		h, _ := s.Get(ddnsLookupHost)
		if h == "" {
			h, _ = s.Get(ddnsDomain)
		}
		h = strings.TrimSpace(h)
		if h == "" || strings.ContainsAny(h, "@ ") {
			continue
		}
		if _, err := parseEndpoint(h); err != nil {
			continue
		}
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("@service[%d]", i)
		}
		return name, h, true
	}
	return "", "", false
}
