package main

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Limits of the web server. A router serves a handful of browsers; the
// limits keep one client (or a few) from using up the daemon's file
// descriptors with connections that send nothing, which would stall
// everybody else's requests.
const (
	maxConnsPerClient = 16  // a browser opens about 6 per site
	maxConns          = 128 // all clients together
	// requestTimeout ends a request's context: a change still waiting
	// then fails and changes nothing. It is longer than uci.LockTimeout,
	// so that a busy config lock gets its own clear answer first, and
	// shorter than writeTimeout, so that the answer still reaches the
	// client.
	requestTimeout = 15 * time.Second
	writeTimeout   = 30 * time.Second
)

// withDeadline gives each request's context requestTimeout.
func withDeadline(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		handler.ServeHTTP(w, r.WithContext(ctx))
	})
}

// unauthIdle is how long a keep-alive connection may stay idle while no
// request on it carried a live session; a variable for tests. A logged-in
// page keeps its connections for the server's IdleTimeout.
var unauthIdle = 5 * time.Second

// idleCloser closes idle connections of clients that have not logged in
// after unauthIdle, so that connections held open by someone without a
// password cost the router little. Install it with its ConnContext and
// ConnState methods and wrap the handler with its Handler.
type idleCloser struct {
	mu    sync.Mutex
	conns map[net.Conn]*connInfo
}

type connInfo struct {
	authed atomic.Bool
	timer  *time.Timer // set while the connection is idle and not logged in
}

func newIdleCloser() *idleCloser { return &idleCloser{conns: make(map[net.Conn]*connInfo)} }

// ConnContext is for http.Server.ConnContext.
func (ic *idleCloser) ConnContext(ctx context.Context, c net.Conn) context.Context {
	info := &connInfo{}
	ic.mu.Lock()
	ic.conns[c] = info
	ic.mu.Unlock()
	return api.WithSessionHook(ctx, func() { info.authed.Store(true) })
}

// ConnState is for http.Server.ConnState.
func (ic *idleCloser) ConnState(c net.Conn, state http.ConnState) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	info := ic.conns[c]
	if info == nil {
		return
	}
	if info.timer != nil {
		info.timer.Stop()
		info.timer = nil
	}
	switch state {
	case http.StateIdle:
		if !info.authed.Load() {
			info.timer = time.AfterFunc(unauthIdle, func() { c.Close() })
		}
	case http.StateClosed, http.StateHijacked:
		delete(ic.conns, c)
	}
}

// limitListener caps the connections open at once, per client address (an
// IPv6 client per /64) and in all. A connection over a cap is closed as
// soon as it is accepted.
func limitListener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, open: make(map[netip.Addr]int)}
}

type limitedListener struct {
	net.Listener

	mu    sync.Mutex
	open  map[netip.Addr]int
	total int
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		l.mu.Lock()
		ok := l.open[key] < maxConnsPerClient && l.total < maxConns
		if ok {
			l.open[key]++
			l.total++
		}
		l.mu.Unlock()
		if !ok {
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *limitedListener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// clientKey is the address connections are counted by.
func clientKey(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap().WithZone("")
	if addr.Is6() {
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	return addr
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// webHosts is hostPolicy with the allowed_host names of e's store.
func webHosts(e *env, listen string, cfg *vpn.Config, dev bool) *api.HostPolicy {
	allowed, err := e.store.AllowedHosts()
	if err != nil {
		e.log.Warn("reading allowed_host", "err", err.Error())
	}
	return hostPolicy(listen, cfg, dev, allowed)
}

// hostPolicy returns the names and addresses the page answers to: the
// listen address, the LAN address, any address of this host, the names
// OpenWrt gives a router on its LAN (OpenWrt.lan, router.lan, and the
// system host name with and without .lan), localhost with --dev, and the
// names in the allowed_host list of /etc/config/wgpanel.
func hostPolicy(listen string, cfg *vpn.Config, dev bool, extra []string) *api.HostPolicy {
	p := &api.HostPolicy{Names: []string{"OpenWrt.lan", "router.lan"}, Local: assignedHere}
	if h, err := os.Hostname(); err == nil && h != "" && !strings.Contains(h, ".") {
		p.Names = append(p.Names, h, h+".lan")
	}
	if dev {
		p.Names = append(p.Names, "localhost")
	}
	p.Names = append(p.Names, extra...)
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			p.Addrs = append(p.Addrs, a)
		} else if err != nil && host != "" {
			p.Names = append(p.Names, host)
		}
	}
	if cfg.Network.LANAddr.IsValid() {
		p.Addrs = append(p.Addrs, cfg.Network.LANAddr)
	}
	return p
}

// assignedHere reports whether a is an address of one of this host's
// interfaces.
func assignedHere(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a.Unmap() {
				return true
			}
		}
	}
	return false
}

// webAuth returns the web login's Authenticator. Its password hash comes
// from /etc/config/wgpanel alone: a login never depends on (nor reports an
// error from) the network file, which holds keys.
func webAuth(store *openwrt.Store, dir uci.Dir, mode string) (*auth.Authenticator, error) {
	return auth.New(auth.Config{
		Mode: mode,
		Hash: func() (string, error) {
			st, err := store.Settings(context.Background())
			if err != nil {
				return "", err
			}
			return st.PasswordHash, nil
		},
		HashFile: dir.Path("wgpanel"),
	})
}
