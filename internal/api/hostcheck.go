package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// HostPolicy lists the names and addresses the web UI may be reached by.
// A page reached under any other name is refused: with DNS rebinding, a
// web site makes its own name resolve to the router, and the browser then
// treats the router's page as that site's (same origin), so that its
// scripts could read the answers and drive the API once the owner logs in.
// Checking the Host header defeats that, since the browser still sends the
// attacker's name. An address typed into the address bar is no such risk,
// but only the router's own addresses are accepted there too.
type HostPolicy struct {
	// Names are host names, compared without case and a trailing dot.
	Names []string
	// Addrs are addresses, such as the listen and LAN addresses.
	Addrs []netip.Addr
	// Local, when set, reports whether an address not in Addrs is
	// currently assigned on this host (for a listen address of 0.0.0.0).
	Local func(netip.Addr) bool
}

// allows reports whether the Host header host (with or without a port)
// names this router.
func (p *HostPolicy) allows(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		for _, b := range p.Addrs {
			if a == b.Unmap() {
				return true
			}
		}
		return p.Local != nil && p.Local(a)
	}
	for _, n := range p.Names {
		if strings.EqualFold(host, strings.TrimSuffix(n, ".")) {
			return true
		}
	}
	return false
}

// misdirected is the page for a request under a name the router does not
// answer to. It is plain text and repeats nothing of the request.
const misdirected = "wgpanel does not answer under this name.\n\n" +
	"Open it at the router's LAN address (for example http://192.168.1.1:8080/) or at router.lan.\n" +
	"To reach it under another name of yours, add the name to /etc/config/wgpanel:\n" +
	"  uci add_list wgpanel.main.allowed_host='vpn.example.org' && uci commit wgpanel\n" +
	"and restart wgpanel.\n"

// checkHost answers 421 Misdirected Request to every request whose Host
// header the policy does not allow, except /healthz, which tells nothing.
// A nil policy checks nothing.
func checkHost(p *HostPolicy, next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && !p.allows(r.Host) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusMisdirectedRequest)
			w.Write([]byte(misdirected))
			return
		}
		next.ServeHTTP(w, r)
	})
}
