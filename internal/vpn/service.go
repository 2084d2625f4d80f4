package vpn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// OnlineWindow is how recent a handshake must be for a peer to count as
// online. WireGuard re-keys every two minutes while traffic flows.
const OnlineWindow = 3 * time.Minute

// Online reports whether a peer whose latest handshake was at latest counts
// as online at now.
func Online(latest, now time.Time) bool {
	return !latest.IsZero() && now.Sub(latest) < OnlineWindow
}

// Service adds, removes, lists and reconciles the server's peers. It writes
// every change to the Store first and then applies it to the Device.
type Service struct {
	store Store
	dev   Device
	log   *slog.Logger
	now   func() time.Time
	// newKey makes private and preshared keys; tests replace it.
	newKey func() (wgtypes.Key, error)
}

// NewService returns a service over store and dev.
func NewService(store Store, dev Device, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, dev: dev, log: log, now: time.Now, newKey: wgtypes.GeneratePrivateKey}
}

// PeerView is a peer as the store has it, merged with live statistics.
type PeerView struct {
	Name            string
	PublicKey       wgtypes.Key
	Addresses       []netip.Prefix
	Tunnel          Tunnel
	Enabled         bool
	PrivateKeyKept  bool
	LatestHandshake time.Time
	Endpoint        netip.AddrPort
	RxBytes         int64
	TxBytes         int64
	Online          bool
	// Problem is set for a peer section wgpanel cannot understand (see
	// Server.Odd): why, in plain words. Such a peer cannot be changed.
	// Section is where it is in the network file.
	Problem string
	Section string
	// ConfigStale says that the endpoint, DNS, MTU or server key changed
	// since the device got its config: it must scan the code again.
	ConfigStale bool
	Access      Access
	Hosts       []netip.Prefix
	Expires     time.Time
}

// Status describes the server and whether its device can be reached.
type Status struct {
	Interface   string
	Configured  bool
	PublicKey   wgtypes.Key
	ListenPort  int
	Addresses   []netip.Prefix
	Endpoint    string
	DeviceUp    bool
	DeviceError string
	Warnings    []string
}

// Added is the result of AddPeer.
type Added struct {
	Peer     PeerView
	Config   string
	Warnings []string
}

// PeerUpdate holds the fields of a peer to change; nil fields stay as they are.
type PeerUpdate struct {
	Name    *string
	Enabled *bool
	// Access, Hosts and Expires change what the device may reach and its
	// end date (a zero time: none); see applyExtra.
	Access  *Access
	Hosts   *[]netip.Prefix
	Expires *time.Time
}

// Changes lists what Reconcile changed on the device.
type Changes struct {
	Added   []wgtypes.Key
	Updated []wgtypes.Key
	Removed []wgtypes.Key
	names   map[wgtypes.Key]string
}

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool { return len(c.Added)+len(c.Updated)+len(c.Removed) == 0 }

// String describes each change on a line of its own.
func (c *Changes) String() string {
	if c.Empty() {
		return "device already matches the configuration"
	}
	var b strings.Builder
	for _, l := range []struct {
		verb string
		keys []wgtypes.Key
	}{{"added", c.Added}, {"updated", c.Updated}, {"removed", c.Removed}} {
		for _, k := range l.keys {
			if n := c.names[k]; n != "" {
				fmt.Fprintf(&b, "%s peer %s (%s)\n", l.verb, n, k)
			} else {
				fmt.Fprintf(&b, "%s peer %s\n", l.verb, k)
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// load reads the config and requires a configured server.
func (s *Service) load(ctx context.Context) (*Config, error) {
	cfg, err := s.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Server == nil {
		return nil, errNoServer(cfg.Settings.Interface)
	}
	return cfg, nil
}

func errNoServer(ifname string) *Error {
	return Errorf(ECONFIG, "There is no WireGuard interface %s yet: run wgpanel setup, or create it in LuCI.", ifname)
}

// Status returns the server's configuration and device state.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	cfg, err := s.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Interface: cfg.Settings.Interface, Endpoint: cfg.Settings.Endpoint}
	if cfg.Server == nil {
		st.DeviceError = errNoServer(cfg.Settings.Interface).Message
		return st, nil
	}
	srv := cfg.Server
	st.Configured = true
	st.PublicKey = srv.PublicKey()
	st.ListenPort = srv.ListenPort
	st.Addresses = slices.Clone(srv.Addresses)
	if _, err := s.dev.State(srv.Interface); err != nil {
		st.DeviceError = deviceProblem(srv.Interface, err)
	} else {
		st.DeviceUp = true
	}
	if st.Endpoint == "" {
		st.Warnings = append(st.Warnings, "No endpoint is set: phones need the router's public address or DDNS name in their config (the Endpoint field, or wgpanel settings --endpoint HOST).")
	} else if a, err := netip.ParseAddr(strings.Trim(st.Endpoint, "[]")); err == nil && !IsPublic(a) {
		st.Warnings = append(st.Warnings, fmt.Sprintf("The endpoint %s is not a public address: phones outside your home cannot reach it.", a))
	}
	return st, nil
}

// deviceProblem explains a device error to a router owner.
func deviceProblem(ifname string, err error) string {
	switch {
	case errors.Is(err, ErrNoDevice):
		return fmt.Sprintf("The interface %s is not up; bring it up (ifup %s) or restart wgpanel.", ifname, ifname)
	case errors.Is(err, ErrDeviceUnreachable):
		return err.Error()
	}
	return fmt.Sprintf("Cannot read the interface %s: %v", ifname, err)
}

// Peers lists every peer with its live statistics. An unreachable device
// is not an error: the statistics stay empty and Status says why.
func (s *Service) Peers(ctx context.Context) ([]PeerView, error) {
	cfg, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	stats := s.stats(cfg.Server.Interface)
	views := make([]PeerView, len(cfg.Server.Peers), len(cfg.Server.Peers)+len(cfg.Server.Odd))
	stamp := ConfigStamp(cfg)
	for i := range cfg.Server.Peers {
		views[i] = s.view(&cfg.Server.Peers[i], stats)
		views[i].ConfigStale = stale(&cfg.Server.Peers[i], stamp)
	}
	for i := range cfg.Server.Odd {
		o := &cfg.Server.Odd[i]
		v := s.view(&Peer{Name: o.Name, PublicKey: o.PublicKey, AllowedIPs: o.AllowedIPs, Enabled: o.Enabled}, stats)
		v.Tunnel = ""
		v.Problem, v.Section = o.Problem, o.Section
		views = append(views, v)
	}
	return views, nil
}

// oddPeer returns the odd peer with public key k, if any.
func oddPeer(srv *Server, k wgtypes.Key) *OddPeer {
	if k == (wgtypes.Key{}) {
		return nil
	}
	if i := slices.IndexFunc(srv.Odd, func(o OddPeer) bool { return o.PublicKey == k }); i >= 0 {
		return &srv.Odd[i]
	}
	return nil
}

// errOddPeer refuses a change to a peer wgpanel cannot understand.
func errOddPeer(o *OddPeer) *Error {
	name := o.Name
	if name == "" {
		name = o.Section
	}
	return Errorf(ECONFLICT, "wgpanel cannot change peer %s: %s. Fix it in LuCI or in /etc/config/network.", name, o.Problem)
}

func (s *Service) stats(ifname string) map[wgtypes.Key]*PeerStats {
	st, err := s.dev.State(ifname)
	if err != nil {
		return nil
	}
	m := make(map[wgtypes.Key]*PeerStats, len(st.Peers))
	for i := range st.Peers {
		m[st.Peers[i].PublicKey] = &st.Peers[i]
	}
	return m
}

func (s *Service) view(p *Peer, stats map[wgtypes.Key]*PeerStats) PeerView {
	v := PeerView{
		Name:           p.Name,
		PublicKey:      p.PublicKey,
		Addresses:      slices.Clone(p.AllowedIPs),
		Tunnel:         p.Tunnel,
		Enabled:        p.Enabled,
		PrivateKeyKept: p.PrivateKey != nil,
		Access:         p.Access.OrAll(),
		Hosts:          slices.Clone(p.Hosts),
		Expires:        p.Expires,
	}
	if v.Tunnel == "" {
		v.Tunnel = TunnelSplit
	}
	if st := stats[p.PublicKey]; st != nil && p.Enabled {
		v.LatestHandshake = st.LatestHandshake
		v.Endpoint = st.Endpoint
		v.RxBytes, v.TxBytes = st.RxBytes, st.TxBytes
		v.Online = Online(st.LatestHandshake, s.now())
	}
	return v
}

// Peer finds one peer by name or public key.
func (s *Service) Peer(ctx context.Context, ref string) (PeerView, error) {
	cfg, err := s.load(ctx)
	if err != nil {
		return PeerView{}, err
	}
	p := findPeer(cfg.Server, ref)
	if p == nil {
		return PeerView{}, errUnknownPeer(ref)
	}
	v := s.view(p, s.stats(cfg.Server.Interface))
	v.ConfigStale = stale(p, ConfigStamp(cfg))
	return v, nil
}

// stale reports whether p's device has a config older than stamp.
func stale(p *Peer, stamp string) bool {
	return p.ConfigStamp != "" && p.ConfigStamp != stamp
}

func errUnknownPeer(ref string) *Error {
	return Errorf(ENOTFOUND, "There is no peer %q.", ref)
}

// findPeer looks a peer up by public key, then by name (case-insensitive).
func findPeer(srv *Server, ref string) *Peer {
	if k, err := ParseKey(ref); err == nil {
		if i := slices.IndexFunc(srv.Peers, func(p Peer) bool { return p.PublicKey == k }); i >= 0 {
			return &srv.Peers[i]
		}
	}
	if i := slices.IndexFunc(srv.Peers, func(p Peer) bool { return strings.EqualFold(p.Name, ref) }); i >= 0 {
		return &srv.Peers[i]
	}
	return nil
}

func peerByKey(srv *Server, k wgtypes.Key) *Peer {
	if i := slices.IndexFunc(srv.Peers, func(p Peer) bool { return p.PublicKey == k }); i >= 0 {
		return &srv.Peers[i]
	}
	return nil
}

// ParseKey parses a WireGuard key in standard or URL-safe base64, with or
// without padding.
func ParseKey(s string) (wgtypes.Key, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	if err != nil || len(b) != wgtypes.KeyLen {
		return wgtypes.Key{}, Errorf(EINVALID, "%q is not a WireGuard key (44 characters of base64).", s)
	}
	return wgtypes.NewKey(b)
}

// KeyID returns the key in unpadded URL-safe base64, the form used in URLs.
func KeyID(k wgtypes.Key) string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// ValidateName checks a peer name: 1 to 64 characters, printable, not
// starting or ending with a space, and not a WireGuard key.
func ValidateName(name string) error {
	bad := func(msg string) error { return &Error{Code: EINVALID, Field: "name", Message: msg} }
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return bad("The name is not valid text.")
	case n == 0:
		return bad("Give the device a name, such as phone.")
	case n > 64:
		return bad(fmt.Sprintf("The name is %d characters long; use at most 64.", n))
	case strings.TrimSpace(name) != name:
		return bad("The name must not start or end with a space.")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return bad("The name must not contain control characters.")
		}
	}
	if _, err := ParseKey(name); err == nil {
		return bad("The name looks like a WireGuard key; choose a name such as phone.")
	}
	return nil
}

// ParseTunnel checks a tunnel type; "" means split.
func ParseTunnel(s string) (Tunnel, error) {
	switch Tunnel(s) {
	case "", TunnelSplit:
		return TunnelSplit, nil
	case TunnelFull:
		return TunnelFull, nil
	}
	return "", &Error{Code: EINVALID, Field: "tunnel", Message: fmt.Sprintf("The tunnel type %q is unknown; use split (home network only) or full (all traffic).", s)}
}

func nameTaken(srv *Server, name string, except wgtypes.Key) bool {
	return slices.ContainsFunc(srv.Peers, func(p Peer) bool {
		return p.PublicKey != except && strings.EqualFold(p.Name, name)
	}) || slices.ContainsFunc(srv.Odd, func(o OddPeer) bool { return strings.EqualFold(o.Name, name) })
}

func errNameTaken(name string) *Error {
	return &Error{Code: ECONFLICT, Field: "name", Message: fmt.Sprintf("A device called %q already exists; choose another name.", name)}
}

// AddPeer creates a peer with fresh keys and the next free addresses, writes
// it to the store, applies it to the device and returns its client config.
func (s *Service) AddPeer(ctx context.Context, name string, tunnel Tunnel) (*Added, error) {
	return s.AddPeerWith(ctx, name, tunnel, PeerOptions{})
}

// AddPeerWith is AddPeer with the new device's access and end date.
func (s *Service) AddPeerWith(ctx context.Context, name string, tunnel Tunnel, opts PeerOptions) (*Added, error) {
	if err := opts.check(s.now()); err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	tunnel, err := ParseTunnel(string(tunnel))
	if err != nil {
		return nil, err
	}
	priv, err := s.newKey()
	if err != nil {
		return nil, fmt.Errorf("vpn: generate key: %w", err)
	}
	psk, err := s.newKey()
	if err != nil {
		return nil, fmt.Errorf("vpn: generate key: %w", err)
	}
	if err := s.requireReachable(ctx); err != nil {
		return nil, err
	}
	pub := priv.PublicKey()

	var (
		peer  Peer
		saved *Config
	)
	err = s.store.UpdateServer(ctx, func(cfg *Config) error {
		if cfg.Server == nil {
			return errNoServer(cfg.Settings.Interface)
		}
		if nameTaken(cfg.Server, name, wgtypes.Key{}) {
			return errNameTaken(name)
		}
		addrs, err := allocate(cfg.Server)
		if err != nil {
			return err
		}
		peer = Peer{
			Name:         name,
			PublicKey:    pub,
			PresharedKey: &psk,
			AllowedIPs:   addrs,
			Tunnel:       tunnel,
			Enabled:      true,
			RouteAllowed: true,
			ConfigStamp:  ConfigStamp(cfg),
			Access:       opts.Access.OrAll(),
			Hosts:        opts.Hosts,
			Expires:      opts.Expires,
		}
		if cfg.Settings.KeepPrivateKeys {
			peer.PrivateKey = &priv
		}
		cfg.Server.Peers = append(cfg.Server.Peers, peer)
		saved = cfg
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &Added{}
	if err := s.apply(ctx, saved.Server.Interface, &peer); err != nil {
		if !errors.Is(err, ErrNoDevice) {
			s.restore(ctx, peer.PublicKey, nil)
			return nil, err
		}
		res.Warnings = append(res.Warnings, deviceProblem(saved.Server.Interface, err)+" The new peer is saved and takes effect when the interface comes up.")
	}
	cc, warnings := buildClientConfig(saved, &peer, priv)
	res.Peer = s.view(&peer, nil)
	res.Config = cc.String()
	res.Warnings = append(res.Warnings, warnings...)
	s.log.Info("peer added", "name", name, "public_key", peer.PublicKey.String(), "addresses", peer.AllowedIPs)
	return res, nil
}

// requireReachable refuses a change early when WireGuard cannot be reached
// at all, so that a request that fails changes nothing. An interface that
// is merely down is fine: the change takes effect when it comes up.
func (s *Service) requireReachable(ctx context.Context) error {
	if p, ok := s.dev.(prober); ok {
		// The cheap check: the change itself finds out whether the server
		// exists, under the store's lock.
		if err := p.Reachable(); errors.Is(err, ErrDeviceUnreachable) {
			return &Error{Code: EUNAVAILABLE, Message: err.Error(), Err: err}
		}
		return nil
	}
	cfg, err := s.load(ctx)
	if err != nil {
		return err
	}
	if _, err := s.dev.State(cfg.Server.Interface); errors.Is(err, ErrDeviceUnreachable) {
		return &Error{Code: EUNAVAILABLE, Message: err.Error(), Err: err}
	}
	return nil
}

// prober is a Device that can tell whether WireGuard is reachable without
// reading a device (wgdev.Client); State dumps every peer.
type prober interface {
	Reachable() error
}

// restore puts the stored peer with the given key back to old (nil: no such
// peer) after its live apply failed, so that the failed request leaves the
// configuration as it was.
func (s *Service) restore(ctx context.Context, key wgtypes.Key, old *Peer) {
	// The rollback must happen even when the request's context ended
	// meanwhile: that is often why the apply failed.
	err := s.store.UpdateServer(context.WithoutCancel(ctx), func(cfg *Config) error {
		if cfg.Server == nil {
			return nil
		}
		cfg.Server.Peers = slices.DeleteFunc(cfg.Server.Peers, func(p Peer) bool { return p.PublicKey == key })
		if old != nil {
			cfg.Server.Peers = append(cfg.Server.Peers, *old)
		}
		return nil
	})
	if err != nil {
		s.log.Error("restoring a peer whose apply failed", "public_key", key.String(), "err", err)
	}
}

// apply makes the device's copy of one peer match p: present with its
// addresses when enabled, absent when disabled.
func (s *Service) apply(_ context.Context, ifname string, p *Peer) error {
	if !p.Enabled {
		return s.wrapDevice(s.dev.RemovePeer(ifname, p.PublicKey))
	}
	return s.wrapDevice(s.dev.SetPeer(ifname, devicePeer(p)))
}

func (s *Service) wrapDevice(err error) error {
	if err == nil || errors.Is(err, ErrNoDevice) {
		return err
	}
	if errors.Is(err, ErrDeviceUnreachable) {
		return &Error{Code: EUNAVAILABLE, Message: err.Error(), Err: err}
	}
	return &Error{Code: EUNAVAILABLE, Message: "Applying the change to the WireGuard interface failed: " + err.Error(), Err: err}
}

func devicePeer(p *Peer) DevicePeer {
	return DevicePeer{
		PublicKey:    p.PublicKey,
		PresharedKey: p.PresharedKey,
		AllowedIPs:   slices.Clone(p.AllowedIPs),
		Keepalive:    time.Duration(p.Keepalive) * time.Second,
	}
}

// UpdatePeer renames, enables or disables a peer. A disabled peer stays in
// the store and leaves the device.
func (s *Service) UpdatePeer(ctx context.Context, key wgtypes.Key, u PeerUpdate) (PeerView, error) {
	if u.Name != nil {
		if err := ValidateName(*u.Name); err != nil {
			return PeerView{}, err
		}
	}
	if err := s.requireReachable(ctx); err != nil {
		return PeerView{}, err
	}
	var (
		peer, old Peer
		ifname    string
	)
	err := s.store.UpdateServer(ctx, func(cfg *Config) error {
		if cfg.Server == nil {
			return errNoServer(cfg.Settings.Interface)
		}
		p := peerByKey(cfg.Server, key)
		if p == nil {
			if o := oddPeer(cfg.Server, key); o != nil {
				return errOddPeer(o)
			}
			return errUnknownPeer(key.String())
		}
		// The rollback copy is taken before any field changes, so that a
		// failed apply restores the name too.
		old = *p
		if u.Name != nil {
			if nameTaken(cfg.Server, *u.Name, key) {
				return errNameTaken(*u.Name)
			}
			p.Name = *u.Name
		}
		if err := u.applyExtra(p, s.now()); err != nil {
			return err
		}
		if u.Enabled != nil {
			p.Enabled = *u.Enabled
		}
		peer, ifname = *p, cfg.Server.Interface
		return nil
	})
	if err != nil {
		return PeerView{}, err
	}
	if old.Enabled != peer.Enabled {
		if err := s.apply(ctx, ifname, &peer); err != nil && !errors.Is(err, ErrNoDevice) {
			s.restore(ctx, key, &old)
			return PeerView{}, err
		}
		s.log.Info("peer enabled changed", "name", peer.Name, "enabled", peer.Enabled)
	}
	return s.view(&peer, s.stats(ifname)), nil
}

// RemovePeer deletes a peer from the store and the device.
func (s *Service) RemovePeer(ctx context.Context, key wgtypes.Key) error {
	if err := s.requireReachable(ctx); err != nil {
		return err
	}
	var (
		ifname string
		old    Peer
	)
	err := s.store.UpdateServer(ctx, func(cfg *Config) error {
		if cfg.Server == nil {
			return errNoServer(cfg.Settings.Interface)
		}
		p := peerByKey(cfg.Server, key)
		if p == nil {
			if o := oddPeer(cfg.Server, key); o != nil {
				return errOddPeer(o)
			}
			return errUnknownPeer(key.String())
		}
		old, ifname = *p, cfg.Server.Interface
		cfg.Server.Peers = slices.DeleteFunc(cfg.Server.Peers, func(p Peer) bool { return p.PublicKey == key })
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.wrapDevice(s.dev.RemovePeer(ifname, key)); err != nil && !errors.Is(err, ErrNoDevice) {
		s.restore(ctx, key, &old)
		return err
	}
	s.log.Info("peer removed", "name", old.Name, "public_key", key.String())
	return nil
}

// PeerConfig returns a peer's client config again. It needs the client's
// private key, which is kept only when keep_private_keys is on.
func (s *Service) PeerConfig(ctx context.Context, key wgtypes.Key) (name, config string, err error) {
	cfg, err := s.load(ctx)
	if err != nil {
		return "", "", err
	}
	p := peerByKey(cfg.Server, key)
	if p == nil {
		return "", "", errUnknownPeer(key.String())
	}
	if p.PrivateKey == nil {
		return "", "", Errorf(ECONFLICT, "The private key of %s was not kept, so its config cannot be shown again; remove it and add it anew.", p.Name)
	}
	cc, _ := buildClientConfig(cfg, p, *p.PrivateKey)
	if stamp := cc.stamp(); p.ConfigStamp != stamp {
		// The owner is shown the current config: once the device scans
		// it, it is up to date. Written only when it changed.
		err := s.store.UpdateServer(ctx, func(c *Config) error {
			if c.Server != nil {
				if q := peerByKey(c.Server, key); q != nil {
					q.ConfigStamp = stamp
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("recording the config shown", "name", p.Name, "err", err)
		}
	}
	return p.Name, cc.String(), nil
}

// Reconcile makes the device's peers equal to the enabled peers in the
// store and reports every change it made.
func (s *Service) Reconcile(ctx context.Context) (*Changes, error) {
	cfg, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	ifname := cfg.Server.Interface
	st, err := s.dev.State(ifname)
	if err != nil {
		return nil, &Error{Code: EUNAVAILABLE, Message: deviceProblem(ifname, err), Err: err}
	}
	ch := &Changes{names: make(map[wgtypes.Key]string)}
	onDev := make(map[wgtypes.Key]*PeerStats, len(st.Peers))
	for i := range st.Peers {
		onDev[st.Peers[i].PublicKey] = &st.Peers[i]
	}
	want := make(map[wgtypes.Key]bool)
	for i := range cfg.Server.Peers {
		p := &cfg.Server.Peers[i]
		if !p.Enabled {
			continue
		}
		want[p.PublicKey] = true
		ch.names[p.PublicKey] = p.Name
		d := onDev[p.PublicKey]
		if d != nil && samePrefixes(d.AllowedIPs, p.AllowedIPs) && d.HasPresharedKey == (p.PresharedKey != nil) &&
			d.Keepalive == time.Duration(p.Keepalive)*time.Second {
			continue
		}
		if err := s.wrapDevice(s.dev.SetPeer(ifname, devicePeer(p))); err != nil {
			return ch, err
		}
		if d == nil {
			ch.Added = append(ch.Added, p.PublicKey)
		} else {
			ch.Updated = append(ch.Updated, p.PublicKey)
		}
	}
	for _, d := range st.Peers {
		if want[d.PublicKey] || oddPeer(cfg.Server, d.PublicKey) != nil {
			// An odd peer is netifd's business: left as it is.
			continue
		}
		if p := peerByKey(cfg.Server, d.PublicKey); p != nil {
			ch.names[d.PublicKey] = p.Name
		}
		if err := s.wrapDevice(s.dev.RemovePeer(ifname, d.PublicKey)); err != nil {
			return ch, err
		}
		ch.Removed = append(ch.Removed, d.PublicKey)
	}
	return ch, nil
}

func samePrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	cmp := func(p, q netip.Prefix) int {
		if c := p.Addr().Compare(q.Addr()); c != 0 {
			return c
		}
		return p.Bits() - q.Bits()
	}
	slices.SortFunc(x, cmp)
	slices.SortFunc(y, cmp)
	return slices.Equal(x, y)
}
