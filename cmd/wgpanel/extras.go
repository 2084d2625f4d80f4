package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/wgpanel/wgpanel/internal/access"
	"github.com/wgpanel/wgpanel/internal/dnshosts"
	"github.com/wgpanel/wgpanel/internal/fwpolicy"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// extras are the daemon's per-device features beyond the WireGuard device
// itself: each device's access enforced by the firewall, and the names of
// the enabled devices in a hosts file for dnsmasq. sync brings them
// in line with the configuration; serve calls it at start and after every
// reconcile (which the loop runs after each change of the configuration
// files, the interface or SIGUSR1), so that a change made by the page, the
// CLI or LuCI takes effect the same way.
type extras struct {
	store *openwrt.Store
	log   *slog.Logger

	// nft enforces access in standalone mode (--dev: serve owns the link);
	// nil on a router, where fw4 does it from /etc/config/firewall and
	// reload makes it read that file (nil when nothing is to be reloaded).
	nft    *fwpolicy.NFT
	reload func(ctx context.Context, packages ...string) error

	// hostsPath is the hosts file of the devices' names ("" for none);
	// dnsmasq, when set, makes dnsmasq read it again after a change.
	hostsPath string
	dnsmasq   *dnshosts.Reloader

	hist *history // the usage history, whose devices sync keeps current
	exp  *expirer // disables devices at their end date

	mu     sync.Mutex // one sync at a time
	closed bool       // close ran: sync does nothing more
}

func (g *globals) newExtras(e *env) *extras {
	x := &extras{store: e.store, log: e.log.With("component", "access")}
	switch {
	case g.devMode():
		x.nft = fwpolicy.NewNFT()
		// The state directory holds the config directory.
		x.hostsPath = filepath.Join(filepath.Dir(string(e.dir)), "hosts")
	case isOpenWrt():
		x.reload = openwrt.System{}.Reload
		x.hostsPath = openWrtHosts
		x.dnsmasq = &dnshosts.Reloader{PIDFiles: dnshosts.OpenWrtPIDFiles, InitScript: dnshosts.OpenWrtInitScript}
	}
	return x
}

// sync applies the current configuration to the features.
func (x *extras) sync(ctx context.Context) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	cfg, err := x.store.Load(ctx)
	if err != nil || cfg.Server == nil {
		return
	}
	if x.exp != nil {
		x.exp.check(ctx, cfg)
	}
	x.writeHosts(ctx, cfg)
	if x.hist != nil {
		x.hist.forget(cfg)
	}
	if x.nft != nil {
		net := fwpolicy.Net{Interface: cfg.Server.Interface, LAN: cfg.Network.LANs}
		if changed, err := x.nft.Apply(ctx, access.AccessPolicy(cfg), net); err != nil {
			x.log.Warn("cannot enforce the devices' access with nftables", "err", err.Error())
		} else if changed {
			x.log.Info("devices' access applied", "table", fwpolicy.Table)
		}
		return
	}
	// access.Apply logs what it changed.
	if _, err := access.Apply(ctx, x.store, x.reload, x.log); err != nil {
		x.log.Warn("cannot apply the devices' access to the firewall", "err", err.Error())
	}
}

// openWrtHosts is where OpenWrt's dnsmasq reads extra hosts files from.
const openWrtHosts = "/tmp/hosts/wgpanel"

// writeHosts names every enabled device in the hosts file, and has dnsmasq
// read it when it changed: removed and disabled devices disappear.
func (x *extras) writeHosts(ctx context.Context, cfg *vpn.Config) {
	if x.hostsPath == "" {
		return
	}
	var devs []dnshosts.Device
	for _, p := range cfg.Server.Peers {
		if !p.Enabled {
			continue
		}
		d := dnshosts.Device{Name: p.Name}
		for _, a := range p.AllowedIPs {
			if a.IsSingleIP() {
				d.Addresses = append(d.Addresses, a.Addr())
			}
		}
		devs = append(devs, d)
	}
	entries, err := dnshosts.Hosts(devs, cfg.Settings.DNSDomain)
	if err != nil {
		x.log.Warn("cannot name the devices in DNS", "err", err.Error())
		return
	}
	changed, err := dnshosts.Write(x.hostsPath, dnshosts.Format(entries))
	if err != nil {
		x.log.Warn("cannot write the devices' names for DNS", "file", x.hostsPath, "err", err.Error())
		return
	}
	if !changed || x.dnsmasq == nil {
		return
	}
	if _, err := x.dnsmasq.Reload(ctx); err != nil {
		x.log.Warn("cannot make dnsmasq read the devices' names", "err", err.Error())
	}
}

// close undoes what only lives as long as serve: the standalone nftables
// table. It is called on every exit once the link is up.
func (x *extras) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	if x.exp != nil {
		x.exp.stop()
	}
	if x.nft != nil {
		if err := x.nft.Remove(context.Background()); err != nil {
			x.log.Warn("cannot remove the nftables table", "table", fwpolicy.Table, "err", err.Error())
		}
	}
}
