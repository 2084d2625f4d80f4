package vpn

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Tunnel says which traffic a client sends through the tunnel.
type Tunnel string

const (
	// TunnelSplit sends only the home LAN and the tunnel subnet.
	TunnelSplit Tunnel = "split"
	// TunnelFull sends everything (0.0.0.0/0, ::/0).
	TunnelFull Tunnel = "full"
)

// Server is the WireGuard interface as configured in UCI.
type Server struct {
	Interface  string // UCI interface section name, also the device name
	PrivateKey wgtypes.Key
	ListenPort int // 0 when not set
	Addresses  []netip.Prefix
	MTU        int // 0 when not set
	Peers      []Peer
	// Odd are the peer sections wgpanel cannot understand (netifd may
	// still use or skip them), in file order. wgpanel lists them with
	// their problem, never writes their sections, never changes them on
	// the device, and gives no new peer their addresses.
	Odd []OddPeer
}

// OddPeer is a peer section wgpanel cannot understand.
type OddPeer struct {
	Name       string      // UCI "description", "" when none
	Section    string      // where it is, e.g. "@wireguard_wg0[3]"
	PublicKey  wgtypes.Key // zero when missing or unreadable
	AllowedIPs []netip.Prefix
	Enabled    bool
	// Problem says in plain words what wgpanel cannot read, e.g.
	// "option public_key: the section has no public key, so netifd skips it".
	// It never contains a key.
	Problem string
}

// PublicKey returns the server's public key, derived from its private key.
// The last derivation is remembered: every change and every client config
// needs it, and a router has one server key.
func (s *Server) PublicKey() wgtypes.Key {
	if d := lastDerived.Load(); d != nil && d.private == s.PrivateKey {
		return d.public
	}
	pub := s.PrivateKey.PublicKey()
	lastDerived.Store(&derivedKey{private: s.PrivateKey, public: pub})
	return pub
}

// derivedKey is a private key and the public key derived from it.
type derivedKey struct {
	private, public wgtypes.Key
}

var lastDerived atomic.Pointer[derivedKey]

// Peer is one client of the server as configured in UCI. A peer is
// identified by its public key, never by name or position.
type Peer struct {
	Name         string // UCI "description"
	PublicKey    wgtypes.Key
	PresharedKey *wgtypes.Key // nil when none
	PrivateKey   *wgtypes.Key // the client's key, nil unless kept
	AllowedIPs   []netip.Prefix
	Tunnel       Tunnel
	Enabled      bool
	Keepalive    int  // persistent_keepalive in seconds, 0 when unset
	RouteAllowed bool // route_allowed_ips
	// ConfigStamp is ConfigStamp of the client config last handed out for
	// this peer; "" when unknown (a peer made by LuCI or an older wgpanel).
	ConfigStamp string
	// Access is what the device may reach ("" is AccessAll); Hosts, for
	// AccessHosts only, the LAN addresses it may reach.
	Access Access
	Hosts  []netip.Prefix
	// Expires is when the daemon disables the device; zero is never.
	Expires time.Time
}

// Settings are wgpanel's own options (/etc/config/wgpanel, section main).
type Settings struct {
	Interface       string       // WireGuard interface to manage; default "wg0"
	Endpoint        string       // host name or address phones dial; "" when unset
	DNS             []netip.Addr // DNS handed to clients; empty means the router's LAN address
	MTU             int          // client MTU; 0 leaves it out
	KeepPrivateKeys bool         // default true
	Listen          string       // web listen address; "" means the default
	Auth            string       // "shadow" or "password"
	PasswordHash    string       // crypt(3) hash for Auth "password"
	STUNServer      string       // host[:port] asked for the public address; "" turns that off
	ClientToClient  bool         // devices may reach each other; default false
	DNSDomain       string       // devices answer as <name>.<DNSDomain>; default vpn.lan
	// HistoryFlashInterval is the least time between two writes of the
	// usage history to flash; 0 never writes it. Default an hour.
	HistoryFlashInterval time.Duration
	MetricsToken         string // bearer token of GET /metrics; "" turns it off
}

// Network is what wgpanel reads about the router's other interfaces.
type Network struct {
	LANAddr netip.Addr     // the router's LAN address, e.g. 192.168.1.1
	LANs    []netip.Prefix // LAN subnets a split tunnel routes, e.g. 192.168.1.0/24
	WANAddr netip.Addr     // the WAN address when static or known; may be invalid
}

// Config is everything the Store holds that the service needs.
type Config struct {
	Settings Settings
	Server   *Server // nil when the interface does not exist
	Network  Network
}

// Store is the persistent configuration (UCI on a router). It must be safe
// to use from several processes at once.
type Store interface {
	// Load reads the current configuration.
	Load(ctx context.Context) (*Config, error)
	// UpdateServer locks the store, re-reads it, calls fn with the current
	// server and writes the result back when fn returns nil. Nothing is
	// written when fn returns an error. Only the server (interface and
	// peers) may be changed by fn.
	UpdateServer(ctx context.Context, fn func(cfg *Config) error) error
}

// Device is the running WireGuard interface.
type Device interface {
	// State returns the device's current state and per-peer statistics.
	// It returns an error wrapping ErrDeviceUnreachable when WireGuard
	// cannot be reached at all, or ErrNoDevice when the interface is absent.
	State(name string) (*DeviceState, error)
	// SetPeer adds or updates one peer without touching any other.
	SetPeer(name string, p DevicePeer) error
	// RemovePeer removes one peer without touching any other. Removing a
	// peer that is not on the device is not an error.
	RemovePeer(name string, key wgtypes.Key) error
}

// DeviceState is the running interface as the kernel or wireguard-go reports it.
type DeviceState struct {
	Name       string
	PublicKey  wgtypes.Key
	ListenPort int
	Peers      []PeerStats
}

// PeerStats is one peer on the running device.
type PeerStats struct {
	PublicKey       wgtypes.Key
	HasPresharedKey bool
	Endpoint        netip.AddrPort // invalid when the peer never sent anything
	LatestHandshake time.Time      // zero when never
	RxBytes         int64
	TxBytes         int64
	AllowedIPs      []netip.Prefix
	Keepalive       time.Duration
}

// DevicePeer is the configuration of one peer on the device.
type DevicePeer struct {
	PublicKey    wgtypes.Key
	PresharedKey *wgtypes.Key
	AllowedIPs   []netip.Prefix
	Keepalive    time.Duration
}
