package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

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
	g.serving = true
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
	// A first password is made now but stored and shown only once
	// start-up has succeeded, so that a failed start leaves no password
	// nobody saw.
	var firstPW string
	if g.devMode() && cfg.Settings.Auth == auth.ModePassword && cfg.Settings.PasswordHash == "" {
		firstPW = auth.GeneratePassword()
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
			return startError(err, srv.Interface, srv.ListenPort, e.store.NetworkPath())
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
	authn, err := auth.New(auth.Config{
		Mode: cfg.Settings.Auth,
		Hash: func() (string, error) {
			c, err := e.store.Load(context.Background())
			if err != nil {
				return "", err
			}
			return c.Settings.PasswordHash, nil
		},
	})
	if err != nil {
		return err
	}
	diag := g.diagnostics(e)
	handler := api.New(api.Config{Service: e.svc, Auth: authn, Log: log.With("component", "api"), Diagnostics: diag,
		Settings: e.store, Reach: reacher(diag, log.With("component", "reach"))})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot serve the web UI on %s: the port is taken (another wgpanel?); pick another with --listen 127.0.0.1:8081 (or option listen in %s)", addr, e.store.SettingsPath())
		}
		return fmt.Errorf("cannot serve the web UI on %s: %w", addr, err)
	}
	// Start-up succeeded: now the settings of this start are saved.
	if g.devMode() {
		if err := g.rememberInterface(ctx, e); err != nil {
			ln.Close()
			return err
		}
		if firstPW != "" {
			if err := g.storePassword(ctx, e.store, firstPW); err != nil {
				ln.Close()
				return err
			}
		}
		if stop, err := g.recordServe(); err != nil {
			log.Warn("cannot record the state directory for other commands", "err", err.Error())
		} else {
			defer stop()
		}
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("web UI listening", "url", "http://"+ln.Addr().String())
	if firstPW != "" {
		printPasswordBox(g.stdout, "http://"+ln.Addr().String(), firstPW)
	}

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
	addr := flagAddr
	if addr == "" {
		addr = cfg.Settings.Listen
	}
	if addr == "" {
		host := netip.MustParseAddr("127.0.0.1")
		if !dev && cfg.Network.LANAddr.IsValid() {
			host = cfg.Network.LANAddr
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
	_, statErr := os.Stat(dir.Path("network"))
	if err := openwrt.WriteStarter(dir, ifname, priv); err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new state directory gets the public STUN server that
		// "Find my public address" asks, only when the owner asks.
		return openwrt.NewStore(dir, nil).SetSetting(ctx, "stun_server", openwrt.DefaultSTUNServer)
	}
	return nil
}

// rememberInterface saves --interface once serve has started with it, so
// that later commands on this state directory manage the same interface
// without repeating it; a start that failed saves nothing.
func (g *globals) rememberInterface(ctx context.Context, e *env) error {
	if g.iface == "" {
		return nil
	}
	st, err := e.store.Settings(ctx)
	if err != nil || st.Interface == g.iface {
		return err
	}
	return e.store.SetSetting(ctx, "interface", g.iface)
}

// startError explains a failed bring-up and names the flag or option that
// picks another interface name or port.
func startError(err error, ifname string, port int, networkFile string) error {
	switch {
	case errors.Is(err, os.ErrExist):
		return fmt.Errorf("%w; to leave it alone, start with --interface NAME (for example --interface wg1)", err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w; UDP %d is taken by another program: set option listen_port of interface %s in %s to a free port", err, port, ifname, networkFile)
	}
	return err
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

// storePassword stores the hash of the first web password.
func (g *globals) storePassword(ctx context.Context, store *openwrt.Store, pw string) error {
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	return store.SetPasswordHash(ctx, hash)
}

// printPasswordBox shows the first web password once, in a box with the
// address of the page.
func printPasswordBox(w io.Writer, url, pw string) {
	lines := []string{
		"wgpanel is running. Open " + url,
		"Web UI password: " + pw,
		"It is shown only now; change it with: wgpanel passwd",
	}
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(l))
	}
	bar := strings.Repeat("─", width+2)
	fmt.Fprintf(w, "┌%s┐\n", bar)
	for _, l := range lines {
		fmt.Fprintf(w, "│ %s%s │\n", l, strings.Repeat(" ", width-utf8.RuneCountInString(l)))
	}
	fmt.Fprintf(w, "└%s┘\n", bar)
}
