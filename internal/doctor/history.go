package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

const (
	// defaultWindow is how far back endpoint changes count. Two devices
	// sharing a key take turns within seconds (every handshake and
	// keepalive); a phone moving between Wi-Fi and mobile data does so a
	// few times an hour at most.
	defaultWindow = 10 * time.Minute
	// maxChanges bounds the history kept per peer.
	maxChanges = 16
	// minReturns is how many changes back to an endpoint seen before the
	// previous one, within the window, make a peer suspect: A, B, A, B has
	// two. A phone that leaves home and comes back (A, B, A), or wanders
	// through networks and then comes home, has one.
	minReturns = 2
)

// endpointHistory is where one peer's packets came from, as a list of
// changes: an entry is added only when the endpoint differs from the last.
type endpointHistory struct {
	changes []endpointChange
	seen    time.Time // last time the peer was on the device
}

type endpointChange struct {
	ep netip.AddrPort
	at time.Time
}

// Observe records the endpoint of every peer on the device. The daemon
// calls it every few seconds while the page is open or a peer is connected
// (internal/follow), never while idle; each Run calls it too. Peers gone
// from the device are forgotten once the window has passed.
func (d *Doctor) Observe(st *vpn.DeviceState) {
	if st == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Now()
	if d.history == nil {
		d.history = make(map[wgtypes.Key]*endpointHistory)
	}
	if d.samples == 0 {
		d.first = now
	}
	d.samples++
	for _, p := range st.Peers {
		if !p.Endpoint.IsValid() {
			continue
		}
		h := d.history[p.PublicKey]
		if h == nil {
			h = &endpointHistory{}
			d.history[p.PublicKey] = h
		}
		h.seen = now
		if n := len(h.changes); n == 0 || h.changes[n-1].ep != p.Endpoint {
			h.changes = append(h.changes, endpointChange{ep: p.Endpoint, at: now})
			if len(h.changes) > maxChanges {
				h.changes = h.changes[len(h.changes)-maxChanges:]
			}
		}
	}
	for k, h := range d.history {
		if now.Sub(h.seen) > d.window() {
			delete(d.history, k)
		}
	}
}

func (d *Doctor) window() time.Duration {
	if d.Window > 0 {
		return d.Window
	}
	return defaultWindow
}

// alternatingLocked reports the two endpoints a peer has switched back and forth
// between within the window, if it has.
func (d *Doctor) alternatingLocked(k wgtypes.Key, now time.Time) (a, b netip.AddrPort, yes bool) {
	h := d.history[k]
	if h == nil {
		return a, b, false
	}
	// The changes inside the window, plus the endpoint in use when it began.
	start := 0
	for i, c := range h.changes {
		if now.Sub(c.at) <= d.window() {
			start = max(i-1, 0)
			break
		}
		start = i
	}
	recent := h.changes[start:]
	returns := 0
	count := map[netip.AddrPort]int{}
	for i, c := range recent {
		count[c.ep]++
		if i >= 2 && slices.ContainsFunc(recent[:i-1], func(e endpointChange) bool { return e.ep == c.ep }) {
			returns++
		}
	}
	if returns < minReturns {
		return a, b, false
	}
	// The two endpoints seen most often, the earlier seen first on ties.
	var eps []netip.AddrPort
	for _, c := range recent {
		if !slices.Contains(eps, c.ep) {
			eps = append(eps, c.ep)
		}
	}
	slices.SortStableFunc(eps, func(x, y netip.AddrPort) int { return count[y] - count[x] })
	a, b = eps[0], eps[1]
	return a, b, true
}

func (d *Doctor) peerEndpoints(c *checker) *Check {
	cfg, dev := c.in.Config, c.in.Device
	if dev == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Now()
	names := map[wgtypes.Key]vpn.Peer{}
	if cfg != nil && cfg.Server != nil {
		for _, p := range cfg.Server.Peers {
			names[p.PublicKey] = p
		}
	}
	for _, p := range dev.Peers {
		a, b, yes := d.alternatingLocked(p.PublicKey, now)
		if !yes {
			continue
		}
		peer, known := names[p.PublicKey]
		if !known {
			peer = vpn.Peer{PublicKey: p.PublicKey}
		}
		return warn(IDPeerEndpoints,
			fmt.Sprintf("Peer %s keeps switching between %s and %s, so one key is in use on two devices at once.", peerLabel(peer), a, b),
			"WireGuard cannot serve one key on two devices: give each device its own peer (add a peer for the second device and import its config there).")
	}
	if d.samples < 2 || now.Sub(d.first) < time.Second {
		return ok(IDPeerEndpoints, "wgpanel has not watched the peers long enough to tell whether a key is used on two devices; wgpanel watches them while this page is open and while a peer is connected.")
	}
	return ok(IDPeerEndpoints, fmt.Sprintf("No peer's endpoint has switched back and forth in the last %d minutes.", int(d.window().Round(time.Minute)/time.Minute)))
}
