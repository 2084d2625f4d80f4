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
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/follow"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	usagehist "github.com/wgpanel/wgpanel/internal/usage"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/wgdev"
)

// webPort is where the page is served unless listen says otherwise.
const webPort = 8080

func (g *globals) serve(ctx context.Context, args []string) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fset.String("listen", "", "address for the web UI (default: LAN address port 8080; 127.0.0.1:8080 with --dev)")
	if _, err := g.parse("serve", fset, args); err != nil {
		return err
	}
	// The hotplug script's SIGUSR1 may come while serve is still starting
	// (netifd brings the interface up at boot as procd starts serve); its
	// default action would end serve. It is kept until the loop runs.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
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

	x := g.newExtras(e)
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
		defer x.close()
		log.Info("interface up", "interface", srv.Interface, "kind", link.Kind(), "port", srv.ListenPort,
			"public_key", srv.PublicKey().String())
	}
	hist := g.openHistory(e, cfg.Settings)
	x.hist = hist
	x.exp = newExpirer(ctx, e.svc, e.store.Load, log.With("component", "expiry"))
	defer func() {
		// The last traffic before the device goes away with serve.
		hist.record(0)
		if err := hist.close(); err != nil {
			log.Warn("cannot save the usage history", "err", err.Error())
		}
	}()
	addr, err := listenAddr(*listen, cfg, g.devMode())
	if err != nil {
		return err
	}
	authn, err := webAuth(e.store, e.dir, cfg.Settings.Auth)
	if err != nil {
		return err
	}
	diag := g.diagnostics(e)
	diag.nft = x.nft
	loop := g.follow(ctx, e, diag, x, cfg.Settings.Interface, usr1)
	handler := pageWatch(api.New(api.Config{Service: e.svc, Auth: authn, Log: log.With("component", "api"), Diagnostics: diag,
		Settings: e.store, Reach: reacher(diag, log.With("component", "reach")), Usage: hist, Metrics: metricsSource{e},
		Hosts: webHosts(e, addr, cfg, g.devMode())}), loop, hist)
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
	if firstPW != "" {
		printPasswordBox(g.stdout, "http://"+ln.Addr().String(), firstPW)
	}

	var linkDone <-chan struct{}
	if link != nil {
		linkDone = link.Done()
	}
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
			log.Warn("the interface went away; the web UI keeps running and puts the peers back when the interface returns")
			linkDone = nil
		}
	}
}

// follow starts the event loop that keeps the device following the
// configuration: it reconciles after link events of ifname, changes of the
// network and wgpanel files, and SIGUSR1 (the hotplug script's ifup), and
// samples the device for the doctor while the page is open or a peer is
// connected. Nothing wakes it while idle.
func (g *globals) follow(ctx context.Context, e *env, diag *diagnostics, x *extras, ifname string, usr1 <-chan os.Signal) *follow.Loop {
	log := e.log.With("component", "follow")
	loop := follow.New(follow.Config{
		Reconcile: func(ctx context.Context) (*vpn.Changes, error) {
			// The history reads the counters first: when the interface
			// was re-created they start from zero, a reset it must see
			// before the peers carry traffic again.
			x.hist.record(0)
			ch, err := e.svc.Reconcile(ctx)
			x.sync(ctx)
			return ch, err
		},
		Sample: func() bool {
			st, err := e.dev.State(ifname)
			if err != nil {
				return false
			}
			diag.doc.Observe(st)
			x.hist.recordState(st, usagehist.SampleInterval)
			return anyConnected(st, time.Now())
		},
		Log: log,
	})
	if err := wgdev.WatchLink(ctx, ifname, func() { loop.Changed("interface") }, log); err != nil {
		log.Warn("cannot follow the interface; run wgpanel reconcile after netifd re-creates it", "err", err.Error())
	}
	if err := follow.WatchDir(ctx, string(e.dir), []string{"network", "wgpanel"}, loop.Changed, log); err != nil {
		log.Warn("cannot follow configuration changes; run wgpanel reconcile after editing the configuration", "err", err.Error())
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr1:
				loop.Changed("signal")
			}
		}
	}()
	loop.Reconcile(ctx, "start")
	go loop.Run(ctx)
	return loop
}

// anyConnected reports whether a peer of st completed a handshake recently.
func anyConnected(st *vpn.DeviceState, now time.Time) bool {
	for _, p := range st.Peers {
		if vpn.Online(p.LatestHandshake, now) {
			return true
		}
	}
	return false
}

// pageWatch tells the loop about every API request: the page is open, so
// the doctor's history should be kept.
func pageWatch(h http.Handler, loop *follow.Loop, hist *history) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			loop.PageOpen()
		}
		if r.Method == http.MethodGet && r.URL.Path == "/api/peers" {
			// The page shows the devices: their traffic goes into the
			// history too.
			hist.record(pageRecordEvery)
		}
		h.ServeHTTP(w, r)
	})
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
