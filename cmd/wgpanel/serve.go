package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/wgdev"
)

// webPort is where the page is served unless listen says otherwise.
const webPort = 8080

// watchInterval is how often serve checks whether the interface came back,
// as it does after every ifup on OpenWrt, so that it can reconcile.
const watchInterval = 10 * time.Second

func (g *globals) serve(ctx context.Context, args []string) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fset.String("listen", "", "address for the web UI (default: LAN address port 8080; 127.0.0.1:8080 with --dev)")
	if _, err := g.parse("serve", fset, args); err != nil {
		return err
	}
	if g.devMode() {
		if err := g.prepareDev(ctx); err != nil {
			return err
		}
	}
	e, err := g.open(slog.LevelInfo)
	if err != nil {
		return err
	}
	defer e.Close()
	log := e.log
	log.Info("starting", "version", version, "config", string(e.dir), "dev", g.devMode())

	cfg, err := e.store.Load(ctx)
	if err != nil {
		if g.devMode() {
			return err
		}
		// On a router the page must still come up and say what is wrong.
		log.Error("reading the configuration", "err", err.Error())
		cfg = &vpn.Config{Settings: openwrt.DefaultSettings()}
	}
	if g.devMode() && cfg.Settings.Auth == auth.ModePassword && cfg.Settings.PasswordHash == "" {
		if err := g.firstPassword(ctx, e.store); err != nil {
			return err
		}
	}

	var link *wgdev.Link
	if g.devMode() {
		if cfg.Server == nil {
			return fmt.Errorf("there is no WireGuard interface %s in %s", cfg.Settings.Interface, e.store.NetworkPath())
		}
		srv := cfg.Server
		link, err = wgdev.Up(ctx, wgdev.LinkConfig{
			Name: srv.Interface, PrivateKey: srv.PrivateKey, ListenPort: srv.ListenPort,
			Addresses: srv.Addresses, MTU: srv.MTU,
		}, log.With("component", "wgdev"))
		if err != nil {
			return err
		}
		defer link.Close()
		log.Info("interface up", "interface", srv.Interface, "kind", link.Kind(), "port", srv.ListenPort,
			"public_key", srv.PublicKey().String())
	}
	reconcile(ctx, e.svc, log)

	addr, err := listenAddr(*listen, cfg, g.devMode())
	if err != nil {
		return err
	}
	authn, err := webAuth(e.store, e.dir, cfg.Settings.Auth)
	if err != nil {
		return err
	}
	diag := g.diagnostics(e)
	handler := api.New(api.Config{Service: e.svc, Auth: authn, Log: log.With("component", "api"), Diagnostics: diag, Hosts: webHosts(e, addr, cfg, g.devMode())})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot serve the web UI on %s: %w", addr, err)
	}
	// Connections that send nothing are dropped after a few seconds, idle
	// keep-alive connections after 30 s (the page polls more often than
	// that while it is open), or after unauthIdle when no request on them
	// was logged in. See web.go for the request deadline.
	idle := newIdleCloser()
	hs := &http.Server{
		Handler:           withDeadline(handler),
		ConnContext:       idle.ConnContext,
		ConnState:         idle.ConnState,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(limitListener(ln)) }()
	log.Info("web UI listening", "url", "http://"+ln.Addr().String())

	var linkDone <-chan struct{}
	if link != nil {
		linkDone = link.Done()
	}
	go monitor(ctx, e, diag, cfg.Settings.Interface, link == nil, log)
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return hs.Shutdown(sctx)
		case err := <-served:
			return fmt.Errorf("web UI: %w", err)
		case <-linkDone:
			log.Warn("the interface went away; the web UI keeps running, run wgpanel reconcile once it is back")
			linkDone = nil
		}
	}
}

// reconcile brings the device in line with UCI and logs what it changed:
// a count at info level, each peer at debug level, so that a router's small
// log buffer is not flooded on start-up.
func reconcile(ctx context.Context, svc *vpn.Service, log *slog.Logger) bool {
	ch, err := svc.Reconcile(ctx)
	if err != nil {
		log.Warn("cannot reconcile the interface", "err", err.Error())
		return false
	}
	if !ch.Empty() {
		log.Info("reconciled the interface with the configuration",
			"added", len(ch.Added), "updated", len(ch.Updated), "removed", len(ch.Removed))
		log.Debug("reconcile changes", "changes", ch.String())
	}
	return true
}

// monitor samples the device every watchInterval. Each sample feeds the
// doctor's per-peer endpoint history (one key used on two phones shows as
// an endpoint that keeps flipping). With reconcileOnReturn, as on OpenWrt,
// it also reconciles whenever the interface reappears: netifd recreates the
// device from UCI on every ifup.
func monitor(ctx context.Context, e *env, diag *diagnostics, ifname string, reconcileOnReturn bool, log *slog.Logger) {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	up := true
	for {
		st, err := e.dev.State(ifname)
		switch {
		case err == nil:
			diag.doc.Observe(st)
			if !up && reconcileOnReturn {
				log.Info("interface is back", "interface", ifname)
				reconcile(ctx, e.svc, log)
			}
			up = true
		case up:
			log.Warn("interface is not available", "interface", ifname, "err", err.Error())
			up = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// listenAddr picks the web UI's address: the flag, else the listen option,
// else the LAN address on a router (never the WAN), else loopback.
func listenAddr(flagAddr string, cfg *vpn.Config, dev bool) (string, error) {
	return listenAddrOn(flagAddr, cfg, dev, assignedHere)
}

// listenAddrOn is listenAddr with assigned telling which addresses are this
// host's. Only a unicast LAN address becomes the default: `ipaddr
// '0.0.0.0'` in interface lan must not make the page listen on every
// interface, the WAN included. A unicast LAN address this host does not
// have is an error rather than loopback, so that procd starts serve again
// once the LAN is up.
func listenAddrOn(flagAddr string, cfg *vpn.Config, dev bool, assigned func(netip.Addr) bool) (string, error) {
	addr := flagAddr
	if addr == "" {
		addr = cfg.Settings.Listen
	}
	if addr == "" {
		host := netip.MustParseAddr("127.0.0.1")
		if lan := cfg.Network.LANAddr; !dev && lan.IsGlobalUnicast() {
			if !assigned(lan) {
				return "", fmt.Errorf("the LAN address %s (interface lan in the network file) is not assigned to this router; "+
					"the web UI listens there by default (set another with: uci set wgpanel.main.listen='ADDRESS:PORT')", lan)
			}
			host = lan
		}
		return net.JoinHostPort(host.String(), strconv.Itoa(webPort)), nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("the listen address %q is not HOST:PORT (for example 192.168.1.1:8080)", addr)
	}
	return addr, nil
}

// prepareDev creates the state directory and, on first start, a starter
// configuration with a fresh server key.
func (g *globals) prepareDev(ctx context.Context) error {
	if err := g.ensureStateDir(); err != nil {
		return err
	}
	dir, err := g.dir()
	if err != nil {
		return err
	}
	ifname := g.iface
	if ifname == "" {
		st := openwrt.NewStore(dir, nil)
		settings, err := st.Settings(ctx)
		if err != nil {
			return err
		}
		ifname = settings.Interface
	}
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return err
	}
	if err := openwrt.WriteStarter(dir, ifname, priv); err != nil {
		return err
	}
	if g.iface == "" {
		return nil
	}
	// Remember --interface, so that later commands on this state
	// directory manage the same interface without repeating it.
	return openwrt.NewStore(dir, nil).SetSetting(ctx, "interface", g.iface)
}

// ensureStateDir creates the --dev config directory, private to its owner
// since it holds keys.
func (g *globals) ensureStateDir() error {
	dir, err := g.dir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(string(dir), 0o700); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	return nil
}

// firstPassword sets a random web password on first start in --dev mode and
// prints it once.
func (g *globals) firstPassword(ctx context.Context, store *openwrt.Store) error {
	pw := auth.GeneratePassword()
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	if err := store.SetPasswordHash(ctx, hash); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Web UI password: %s\n(shown once; change it with: wgpanel --dev passwd)\n", pw)
	return nil
}
