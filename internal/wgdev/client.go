package wgdev

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// backend is the part of *wgctrl.Client that Client uses. Tests replace it
// to produce errors a real system gives only in odd places (qemu-user, no
// root).
type backend interface {
	Device(name string) (*wgtypes.Device, error)
	ConfigureDevice(name string, cfg wgtypes.Config) error
	Close() error
}

var _ vpn.Device = (*Client)(nil)

// Client is the running WireGuard device as vpn.Device. It is safe for
// concurrent use.
//
// Client opens wgctrl on first use, not in New, and tries again on every
// later call while that fails: wgpanel must start, serve its UI and say
// what is wrong on a system where WireGuard cannot be reached (for example
// under qemu-user, where opening generic netlink fails with "protocol not
// supported"), and pick the device up once it can.
type Client struct {
	log *slog.Logger

	// open connects to WireGuard; it is wgctrl.New outside tests.
	open func() (backend, error)
	// kernelLoaded reports whether the kernel's WireGuard module is loaded.
	kernelLoaded func() bool

	mu      sync.Mutex // guards the fields below
	wg      backend    // nil until opened
	kernel  bool       // kernelLoaded() when wg was opened
	openErr error      // the last failure to open, so that only changes are logged
	closed  bool
}

// New returns a Client. It never fails; see Client for when wgctrl is
// opened. A nil log discards log output.
func New(log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		log:          log,
		open:         openWgctrl,
		kernelLoaded: kernelModuleLoaded,
	}
}

func openWgctrl() (backend, error) {
	c, err := wgctrl.New()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// kernelModuleLoaded reports whether the kernel's WireGuard is present.
// wgctrl decides once, when it is opened, whether to use the kernel.
func kernelModuleLoaded() bool {
	_, err := os.Stat("/sys/module/wireguard")
	return err == nil
}

var errClosed = errors.New("wgdev: client is closed")

// Close releases the connection to WireGuard. The device itself is left
// as it is. Calls after Close fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.wg == nil {
		return nil
	}
	err := c.wg.Close()
	c.wg = nil
	if err != nil {
		return fmt.Errorf("wgdev: close wgctrl: %w", err)
	}
	return nil
}

// backend returns the open wgctrl client, opening it if needed.
func (c *Client) backend() (backend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if c.wg != nil {
		return c.wg, nil
	}
	wg, err := c.open()
	if err != nil {
		if c.openErr == nil || c.openErr.Error() != err.Error() {
			c.log.Warn("WireGuard cannot be reached; will try again on next use", "err", err)
		}
		c.openErr = err
		return nil, unreachable(err)
	}
	if c.openErr != nil {
		c.log.Info("WireGuard can be reached again")
		c.openErr = nil
	}
	c.wg = wg
	c.kernel = c.kernelLoaded()
	return wg, nil
}

// reopenIfKernelAppeared replaces old by a new wgctrl client when the
// kernel's WireGuard module was loaded after old was opened (creating the
// first kernel WireGuard link loads it), because old would never look for
// kernel devices. It reports whether it did.
func (c *Client) reopenIfKernelAppeared(old backend) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.wg != old || c.kernel || !c.kernelLoaded() {
		return false
	}
	_ = old.Close()
	c.wg = nil
	return true
}

// do runs fn with the wgctrl client and translates its error.
func (c *Client) do(op, name string, fn func(backend) error) error {
	wg, err := c.backend()
	if err != nil {
		return err
	}
	err = fn(wg)
	if errors.Is(err, os.ErrNotExist) && c.reopenIfKernelAppeared(wg) {
		if wg, err = c.backend(); err != nil {
			return err
		}
		err = fn(wg)
	}
	return translate(op, name, err)
}

// State returns the device's public key, listen port and peers with their
// statistics, in the order the device reports them.
func (c *Client) State(name string) (*vpn.DeviceState, error) {
	var d *wgtypes.Device
	err := c.do("read", name, func(wg backend) (err error) {
		d, err = wg.Device(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return deviceState(d), nil
}

// SetPeer adds peer p or updates it to match p exactly (allowed IPs,
// preshared key, keepalive). Other peers and the interface are untouched.
func (c *Client) SetPeer(name string, p vpn.DevicePeer) error {
	pc, err := peerConfig(p)
	if err != nil {
		return fmt.Errorf("wgdev: set peer %s on %s: %w", p.PublicKey, name, err)
	}
	return c.do("set peer "+p.PublicKey.String()+" on", name, func(wg backend) error {
		return wg.ConfigureDevice(name, wgtypes.Config{
			ReplacePeers: false,
			Peers:        []wgtypes.PeerConfig{pc},
		})
	})
}

// RemovePeer removes the peer with public key key. Other peers and the
// interface are untouched. A peer that is not on the device is not an error.
func (c *Client) RemovePeer(name string, key wgtypes.Key) error {
	return c.do("remove peer "+key.String()+" from", name, func(wg backend) error {
		return wg.ConfigureDevice(name, wgtypes.Config{
			ReplacePeers: false,
			Peers:        []wgtypes.PeerConfig{{PublicKey: key, Remove: true}},
		})
	})
}

// ConfigureInterface sets the device's private key and, when port is not
// zero, its listen port. Peers are untouched; a zero port leaves the
// current one.
func (c *Client) ConfigureInterface(name string, priv wgtypes.Key, port int) error {
	if priv == (wgtypes.Key{}) {
		return fmt.Errorf("wgdev: configure %s: the private key is empty", name)
	}
	if port < 0 || port > math.MaxUint16 {
		return fmt.Errorf("wgdev: configure %s: listen port %d is out of range 0-65535", name, port)
	}
	cfg := wgtypes.Config{PrivateKey: &priv, ReplacePeers: false}
	if port != 0 {
		cfg.ListenPort = &port
	}
	err := c.do("configure", name, func(wg backend) error {
		return wg.ConfigureDevice(name, cfg)
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return portInUse(port, err)
	}
	return err
}

// portInUse is the error for a listen port another socket holds.
func portInUse(port int, err error) error {
	return &deviceError{
		msg:   fmt.Sprintf("listen port %d is already in use by another program (another WireGuard or VPN?)", port),
		cause: err,
	}
}

// zeroKey clears a peer's preshared key when given as its preshared key.
var zeroKey wgtypes.Key

// peerConfig converts p to the wgctrl change that makes the device's peer
// equal to p.
func peerConfig(p vpn.DevicePeer) (wgtypes.PeerConfig, error) {
	if p.PublicKey == (wgtypes.Key{}) {
		return wgtypes.PeerConfig{}, errors.New("the public key is empty")
	}
	if p.Keepalive < 0 || p.Keepalive > math.MaxUint16*time.Second {
		return wgtypes.PeerConfig{}, fmt.Errorf("keepalive %v is out of range 0-65535s", p.Keepalive)
	}
	psk := &zeroKey
	if p.PresharedKey != nil {
		psk = p.PresharedKey
	}
	keepalive := p.Keepalive
	ips := make([]net.IPNet, len(p.AllowedIPs))
	for i, pfx := range p.AllowedIPs {
		ipn, err := ipNet(pfx)
		if err != nil {
			return wgtypes.PeerConfig{}, err
		}
		ips[i] = ipn
	}
	return wgtypes.PeerConfig{
		PublicKey:                   p.PublicKey,
		PresharedKey:                psk,
		PersistentKeepaliveInterval: &keepalive,
		ReplaceAllowedIPs:           true,
		AllowedIPs:                  ips,
	}, nil
}

// ipNet converts a prefix to the form wgctrl takes.
func ipNet(p netip.Prefix) (net.IPNet, error) {
	if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return net.IPNet{}, fmt.Errorf("allowed IP %q is not a valid IPv4 or IPv6 prefix", p)
	}
	return net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}, nil
}

// prefix converts an allowed IP from wgctrl; ok is false for a malformed one.
func prefix(n net.IPNet) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	switch {
	case bits == 32:
		addr = addr.Unmap()
	case bits != 128 || addr.Is4():
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, ones), true
}

// addrPort converts a peer's endpoint; it is invalid for a peer that never
// sent anything.
func addrPort(a *net.UDPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// handshakeTime returns the zero time for a peer that never completed a
// handshake, which the kernel reports as the Unix epoch.
func handshakeTime(t time.Time) time.Time {
	if t.IsZero() || t.Equal(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t
}

// deviceState converts a wgctrl device to the domain's DeviceState.
func deviceState(d *wgtypes.Device) *vpn.DeviceState {
	st := &vpn.DeviceState{
		Name:       d.Name,
		PublicKey:  d.PublicKey,
		ListenPort: d.ListenPort,
		Peers:      make([]vpn.PeerStats, len(d.Peers)),
	}
	// All peers' allowed IPs share one backing array: State is polled by
	// the UI, and a router may have hundreds of peers.
	n := 0
	for i := range d.Peers {
		n += len(d.Peers[i].AllowedIPs)
	}
	prefixes := make([]netip.Prefix, 0, n)
	for i := range d.Peers {
		p := &d.Peers[i]
		start := len(prefixes)
		for _, ipn := range p.AllowedIPs {
			if pfx, ok := prefix(ipn); ok {
				prefixes = append(prefixes, pfx)
			}
		}
		st.Peers[i] = vpn.PeerStats{
			PublicKey:       p.PublicKey,
			HasPresharedKey: p.PresharedKey != zeroKey,
			Endpoint:        addrPort(p.Endpoint),
			LatestHandshake: handshakeTime(p.LastHandshakeTime),
			RxBytes:         p.ReceiveBytes,
			TxBytes:         p.TransmitBytes,
			// A full slice expression, so that appending to one peer's
			// list can never overwrite the next peer's.
			AllowedIPs: prefixes[start:len(prefixes):len(prefixes)],
			Keepalive:  p.PersistentKeepaliveInterval,
		}
	}
	return st
}
