// Package vpntest provides in-memory fakes of vpn.Store and vpn.Device for
// unit tests. They behave like the real ones in the ways the service relies
// on (UpdateServer is atomic, RemovePeer of an absent peer succeeds) and
// nothing more.
package vpntest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Store is an in-memory vpn.Store.
type Store struct {
	mu  sync.Mutex
	cfg *vpn.Config
	// Writes counts successful UpdateServer calls that reached the end.
	Writes int
	// FailNext, when set, makes the next UpdateServer fail after fn ran.
	FailNext error
}

var _ vpn.Store = (*Store)(nil)

// NewStore returns a store holding a copy of cfg.
func NewStore(cfg *vpn.Config) *Store { return &Store{cfg: CloneConfig(cfg)} }

// Load returns a copy of the stored config.
func (s *Store) Load(ctx context.Context) (*vpn.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return CloneConfig(s.cfg), nil
}

// UpdateServer calls fn on a copy and keeps the copy only when fn succeeds.
func (s *Store) UpdateServer(ctx context.Context, fn func(*vpn.Config) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := CloneConfig(s.cfg)
	if err := fn(c); err != nil {
		return err
	}
	if err := s.FailNext; err != nil {
		s.FailNext = nil
		return err
	}
	s.cfg.Server = c.Server
	s.Writes++
	return nil
}

// CloneConfig deep-copies a config.
func CloneConfig(c *vpn.Config) *vpn.Config {
	n := *c
	n.Settings.DNS = slices.Clone(c.Settings.DNS)
	n.Network.LANs = slices.Clone(c.Network.LANs)
	if c.Server != nil {
		srv := *c.Server
		srv.Addresses = slices.Clone(srv.Addresses)
		srv.Peers = make([]vpn.Peer, len(c.Server.Peers))
		for i, p := range c.Server.Peers {
			p.AllowedIPs = slices.Clone(p.AllowedIPs)
			srv.Peers[i] = p
		}
		srv.Odd = slices.Clone(c.Server.Odd)
		for i := range srv.Odd {
			srv.Odd[i].AllowedIPs = slices.Clone(srv.Odd[i].AllowedIPs)
		}
		n.Server = &srv
	}
	return &n
}

// Device is an in-memory vpn.Device with one interface.
type Device struct {
	mu          sync.Mutex
	name        string
	unreachable bool
	absent      bool
	peers       map[wgtypes.Key]*vpn.PeerStats
	// Calls records every SetPeer and RemovePeer as "set KEY" or "remove KEY".
	Calls []string
}

var _ vpn.Device = (*Device)(nil)

// NewDevice returns a fake device called name with no peers.
func NewDevice(name string) *Device {
	return &Device{name: name, peers: make(map[wgtypes.Key]*vpn.PeerStats)}
}

// SetUnreachable makes every call fail as if WireGuard could not be reached.
func (d *Device) SetUnreachable(v bool) { d.mu.Lock(); d.unreachable = v; d.mu.Unlock() }

// SetAbsent makes every call fail as if the interface did not exist.
func (d *Device) SetAbsent(v bool) { d.mu.Lock(); d.absent = v; d.mu.Unlock() }

// SetHandshake records traffic for a peer that is on the device.
func (d *Device) SetHandshake(key wgtypes.Key, at time.Time, rx, tx int64, endpoint netip.AddrPort) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.peers[key]; p != nil {
		p.LatestHandshake, p.RxBytes, p.TxBytes, p.Endpoint = at, rx, tx, endpoint
	}
}

// Keys returns the public keys of the peers on the device, sorted.
func (d *Device) Keys() []wgtypes.Key {
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys []wgtypes.Key
	for k := range d.peers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b wgtypes.Key) int { return slices.Compare(a[:], b[:]) })
	return keys
}

func (d *Device) check(name string) error {
	if d.unreachable {
		return fmt.Errorf("%w: fake", vpn.ErrDeviceUnreachable)
	}
	if d.absent || name != d.name {
		return fmt.Errorf("interface %s: %w", name, vpn.ErrNoDevice)
	}
	return nil
}

// State returns the fake device's state.
func (d *Device) State(name string) (*vpn.DeviceState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(name); err != nil {
		return nil, err
	}
	st := &vpn.DeviceState{Name: name, ListenPort: 51820}
	for _, p := range d.peers {
		c := *p
		c.AllowedIPs = slices.Clone(p.AllowedIPs)
		st.Peers = append(st.Peers, c)
	}
	slices.SortFunc(st.Peers, func(a, b vpn.PeerStats) int { return slices.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return st, nil
}

// SetPeer adds or updates one peer.
func (d *Device) SetPeer(name string, p vpn.DevicePeer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(name); err != nil {
		return err
	}
	ps := d.peers[p.PublicKey]
	if ps == nil {
		ps = &vpn.PeerStats{PublicKey: p.PublicKey}
		d.peers[p.PublicKey] = ps
	}
	ps.AllowedIPs = slices.Clone(p.AllowedIPs)
	ps.HasPresharedKey = p.PresharedKey != nil
	ps.Keepalive = p.Keepalive
	d.Calls = append(d.Calls, "set "+p.PublicKey.String())
	return nil
}

// RemovePeer removes one peer.
func (d *Device) RemovePeer(name string, key wgtypes.Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(name); err != nil {
		return err
	}
	delete(d.peers, key)
	d.Calls = append(d.Calls, "remove "+key.String())
	return nil
}
