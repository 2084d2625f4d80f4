package access

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/wgpanel/wgpanel/internal/fwpolicy"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

const pkgFirewall = "firewall"

// Store is where the configuration and the firewall file are;
// *openwrt.Store is one.
type Store interface {
	Load(ctx context.Context) (*vpn.Config, error)
	Dir() uci.Dir
}

var _ Store = (*openwrt.Store)(nil)

var errUnchanged = errors.New("access: nothing changed")

// AccessPolicy returns the per-device access of cfg as internal/fwpolicy
// enforces it: every peer wgpanel can read, enabled or not (a disabled
// device keeps its rules, so that enabling it needs no firewall reload), and
// the client_to_client switch between the interface's subnets.
func AccessPolicy(cfg *vpn.Config) fwpolicy.Policy {
	p := fwpolicy.Policy{ClientToClient: cfg.Settings.ClientToClient}
	if cfg.Server == nil {
		return p
	}
	for _, a := range cfg.Server.Addresses {
		p.Subnets = append(p.Subnets, a.Masked())
	}
	for _, peer := range cfg.Server.Peers {
		p.Devices = append(p.Devices, fwpolicy.Device{
			Name:      peer.Name,
			Addresses: peer.AllowedIPs,
			Mode:      fwpolicy.Mode(peer.Access.OrAll()),
			Hosts:     peer.Hosts,
		})
	}
	return p
}

// Apply writes wgpanel's per-device rules into /etc/config/firewall
// (fwpolicy.Apply under the file's lock) and, when that changed the file,
// calls reload with "firewall" (System.Reload on OpenWrt) so that fw4
// enforces them. It returns the changes, one line each; none means the
// firewall already held the rules and nothing was reloaded. A router
// without a firewall file has nothing to apply.
func Apply(ctx context.Context, s Store, reload func(ctx context.Context, packages ...string) error, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := s.Load(ctx)
	if err != nil || cfg.Server == nil {
		return nil, err
	}
	dir := s.Dir()
	path := dir.Path(pkgFirewall)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	pol := AccessPolicy(cfg)
	var changes []string
	err = dir.Update(pkgFirewall, func(f *uci.File) error {
		var err error
		if changes, err = fwpolicy.Apply(f, pol, zones(f, cfg.Server.Interface)); err != nil {
			return &vpn.Error{Code: vpn.ECONFIG, Message: err.Error(), Err: err}
		}
		if len(changes) == 0 {
			return errUnchanged
		}
		return nil
	})
	var ve *vpn.Error
	switch {
	case errors.Is(err, errUnchanged):
		return nil, nil
	case errors.As(err, &ve):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("access: write %s: %w", path, err)
	}
	log.Info("firewall updated", "file", path, "changes", strings.Join(changes, "; "))
	if reload != nil {
		if err := reload(ctx, pkgFirewall); err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// Check is the doctor's view of the per-device rules: how
// /etc/config/firewall differs from what Apply writes, in words for
// the owner. None means the firewall holds wgpanel's rules.
func Check(ctx context.Context, s Store) ([]string, error) {
	cfg, err := s.Load(ctx)
	if err != nil || cfg.Server == nil {
		return nil, err
	}
	f, err := s.Dir().Load(pkgFirewall)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access: read %s: %w", s.Dir().Path(pkgFirewall), err)
	}
	return fwpolicy.Check(f, AccessPolicy(cfg), zones(f, cfg.Server.Interface))
}

func zones(f *uci.File, ifname string) fwpolicy.Zones {
	d, l, w := openwrt.FirewallZones(f, ifname)
	return fwpolicy.Zones{Device: d, LAN: l, WAN: w}
}
