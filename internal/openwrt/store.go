package openwrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

const pkgNetwork = "network"

// Store is the vpn.Store kept in a UCI config directory (/etc/config on a
// router): wgpanel's settings from the wgpanel package, the WireGuard
// interface, its peers and the LAN/WAN facts from the network package.
// Every write goes through uci.Dir.Update, so several processes may use
// stores on the same directory at once.
type Store struct {
	dir uci.Dir
	log *slog.Logger

	// Interface, when set, overrides the interface option in wgpanel's
	// settings (the --interface flag).
	Interface string
	// DefaultAuth, when set, replaces the default of the auth option:
	// standalone mode has no /etc/shadow worth checking.
	DefaultAuth string
	// ShowKeysOnce makes keep_private_keys default to 0, as on OpenWrt,
	// where /etc/config/network is readable by every local user.
	ShowKeysOnce bool

	// cache holds the last configuration Load built, for the files as
	// they were then (see loadKey). UpdateServer never uses it.
	cache atomic.Pointer[loadCache]
}

var _ vpn.Store = (*Store)(nil)

// NewStore returns a Store on dir. log may be nil.
func NewStore(dir uci.Dir, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{dir: dir, log: log}
}

// Load reads the settings, the server named by Settings.Interface (nil when
// that interface does not exist or is not proto wireguard) and the network
// facts. A missing or malformed file, or a value wgpanel cannot read, is a
// *vpn.Error with code ECONFIG that names the file, section and option.
//
// The web page lists the peers every few seconds, and parsing the network
// file is most of that work, so Load keeps what it built and reads the
// files again only when stat says one of them changed (another inode, size
// or timestamp). The caller owns the returned Config and may change it.
func (s *Store) Load(ctx context.Context) (*vpn.Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, ok := s.currentKey()
	if ok {
		if cfg := s.cached(key); cfg != nil {
			return cfg, nil
		}
	}
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	if ok && s.remember(key, cfg) {
		return cloneConfig(cfg), nil
	}
	return cfg, nil
}

// load reads and parses the files Load reads, without the cache.
func (s *Store) load() (*vpn.Config, error) {
	settings, err := s.loadSettings()
	if err != nil {
		return nil, err
	}
	path := s.dir.Path(pkgNetwork)
	f, err := s.dir.Load(pkgNetwork)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, missingNetwork(path)
		}
		return nil, fileError(path, "read", err)
	}
	cfg, _, err := buildConfig(path, settings, f)
	return cfg, err
}

func buildConfig(path string, settings vpn.Settings, f *uci.File) (*vpn.Config, *serverState, error) {
	srv, st, err := parseServer(path, f, settings.Interface)
	if err != nil {
		return nil, nil, err
	}
	facts, err := parseFacts(path, f)
	if err != nil {
		return nil, nil, err
	}
	return &vpn.Config{Settings: settings, Server: srv, Network: facts}, st, nil
}

// errUnchanged stops uci.Dir.Update from writing when fn changed nothing,
// so that a hand-edited file keeps its comments and layout.
var errUnchanged = errors.New("openwrt: nothing changed")

// UpdateServer locks /etc/config/network, re-reads it, calls fn with the
// configuration built from the fresh file and writes back the server fn
// leaves in cfg.Server. Interface options are written only when changed.
// Peers are matched to sections by public key: changed options are updated
// in place (other options and their order stay), sections of peers no
// longer present are removed, and new peers are appended as anonymous
// `config wireguard_<if>` sections with LuCI's option names. When the
// interface does not exist and fn sets cfg.Server, it is created.
// Nothing is written when fn returns an error, which is returned as is.
// Changes fn makes to Settings or Network are ignored.
func (s *Store) UpdateServer(ctx context.Context, fn func(cfg *vpn.Config) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	settings, err := s.loadSettings()
	if err != nil {
		return err
	}
	path := s.dir.Path(pkgNetwork)
	// Update would create a missing file; on a router that is a broken
	// system, not an empty configuration.
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return missingNetwork(path)
		}
		return fileError(path, "read", err)
	}
	var (
		fnErr error
		sum   changes
	)
	err = s.dir.UpdateContext(ctx, pkgNetwork, func(f *uci.File) error {
		cfg, st, err := buildConfig(path, settings, f)
		if err != nil {
			return err
		}
		if err := fn(cfg); err != nil {
			fnErr = err
			return err
		}
		sum, err = writeServer(path, f, settings.Interface, st, cfg.Server)
		if err != nil {
			return err
		}
		if sum.none() {
			return errUnchanged
		}
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, errUnchanged):
		return nil
	case fnErr != nil && err == fnErr:
		return err
	default:
		return fileError(path, "write", err)
	}
	s.log.Info("network updated", "file", path, "interface", settings.Interface,
		"created", sum.created, "interface_changed", sum.iface,
		"peers_added", sum.added, "peers_changed", sum.changed, "peers_removed", sum.removed)
	return nil
}

// changes counts what writeServer did.
type changes struct {
	created                 bool
	iface                   int // interface options written
	added, changed, removed int // peers
}

func (c changes) none() bool {
	return !c.created && c.iface == 0 && c.added == 0 && c.changed == 0 && c.removed == 0
}

// checkServer rejects a server that fn left in a state wgpanel must not
// write. These are programming errors, not user input.
func checkServer(ifname string, srv *vpn.Server) error {
	if srv.Interface != "" && srv.Interface != ifname {
		return fmt.Errorf("openwrt: server interface changed from %q to %q; renaming is not supported", ifname, srv.Interface)
	}
	if srv.PrivateKey == zeroKey {
		return fmt.Errorf("openwrt: interface %s: no private key", ifname)
	}
	if srv.ListenPort < 0 || srv.ListenPort > 65535 {
		return fmt.Errorf("openwrt: interface %s: listen port %d out of range", ifname, srv.ListenPort)
	}
	if srv.MTU != 0 && (srv.MTU < 68 || srv.MTU > 65535) {
		return fmt.Errorf("openwrt: interface %s: MTU %d out of range", ifname, srv.MTU)
	}
	for _, a := range srv.Addresses {
		if !a.IsValid() {
			return fmt.Errorf("openwrt: interface %s: invalid address", ifname)
		}
	}
	seen := make(map[wgtypes.Key]bool, len(srv.Peers))
	for _, p := range srv.Peers {
		if p.PublicKey == zeroKey {
			return fmt.Errorf("openwrt: peer %q: no public key", p.Name)
		}
		if seen[p.PublicKey] {
			return fmt.Errorf("openwrt: peer %q: public key %s appears twice", p.Name, p.PublicKey)
		}
		seen[p.PublicKey] = true
		switch p.Tunnel {
		case "", vpn.TunnelSplit, vpn.TunnelFull:
		default:
			return fmt.Errorf("openwrt: peer %q: unknown tunnel type %q", p.Name, p.Tunnel)
		}
		if err := vpn.CheckAccess(p.Access.OrAll(), p.Hosts); err != nil {
			return fmt.Errorf("openwrt: peer %q: %w", p.Name, err)
		}
		if p.Keepalive < 0 || p.Keepalive > 65535 {
			return fmt.Errorf("openwrt: peer %q: keepalive %d out of range", p.Name, p.Keepalive)
		}
		for _, a := range p.AllowedIPs {
			if !a.IsValid() {
				return fmt.Errorf("openwrt: peer %q: invalid allowed IP", p.Name)
			}
		}
	}
	return nil
}

// NetworkPath returns the path of the network config file.
func (s *Store) NetworkPath() string { return s.dir.Path(pkgNetwork) }

// Dir returns the UCI directory the store works on.
func (s *Store) Dir() uci.Dir { return s.dir }
