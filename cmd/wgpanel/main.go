// Command wgpanel runs a road-warrior WireGuard server on an OpenWrt router:
// it keeps peers in UCI, applies them live, and serves a web UI on the LAN.
// Run standalone with --dev on any Linux machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/wgdev"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: wgpanel [--config-dir DIR] [--interface IF] [--dev] [--state-dir DIR] COMMAND

commands:
  serve [--dev] [--state-dir DIR] [--listen ADDR:PORT]   run the web UI (and, with --dev, the interface)
  setup [--endpoint HOST]               create the WireGuard interface and firewall rules if missing
  settings [--endpoint HOST] [--dns "ADDR ..."] [--mtu N] [--keep-private-keys 1|0] [--stun-server HOST[:PORT]]
                                        show wgpanel's settings, or change the ones given
  reachability [--discover] [--json]    say whether phones can reach the router and what to do;
                                        --discover first asks the STUN server for the public address
  doctor [--json] [--fix]               explain what keeps phones from connecting
  peer add NAME [--full-tunnel] [--qr]  add a device and print its client config
       [--access MODE [--hosts A,B]] [--expires DATE]
  peer list [--json]                    list devices: connected or not, traffic
  peer show NAME|PUBKEY [--qr]          print a device's client config again
  peer remove NAME|PUBKEY               remove a device
  peer enable|disable NAME|PUBKEY       let a device connect, or stop it
  peer rename NAME|PUBKEY NEWNAME       rename a device
  peer access NAME MODE [--hosts A,B]   what it may reach: all, internet, lan or hosts
  peer expires NAME DATE|never          disable it at DATE (RFC 3339, e.g. 2026-12-31T18:00:00Z)
  reconcile                             make the interface's peers match the configuration
  passwd                                set the web password (asked for on a terminal, else read from standard input)
  version                               print the version
  help                                  print this

global flags:
  --config-dir DIR   UCI config directory (default /etc/config on OpenWrt, else STATE/config)
  --interface IF     WireGuard interface to manage (default: option interface, else wg0)
  --dev              standalone mode: config in the state dir, wgpanel brings the interface up
  --state-dir DIR    state directory off OpenWrt (default: the one a running serve --dev uses,
                     else ~/.local/state/wgpanel)
`

// commandUsage prints the usage lines of command (such as "peer" or
// "peer add"), as the README writes them, for --help after a command.
func commandUsage(w io.Writer, command string) {
	fmt.Fprintln(w, "usage:")
	lines := strings.Split(usage, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "  "+command+" ") && l != "  "+command {
			continue
		}
		fmt.Fprintf(w, "  wgpanel %s\n", strings.TrimPrefix(l, "  "))
		// A continuation line belongs to the command above it.
		for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "                 "); j++ {
			fmt.Fprintf(w, "  %s\n", lines[j])
		}
	}
	fmt.Fprintln(w, "global flags (--config-dir, --interface, --dev, --state-dir): run wgpanel help")
}

// globals are the flags valid before any command.
type globals struct {
	configDir string
	iface     string
	dev       bool
	stateDir  string
	// serving is set by serve, which keeps its own state directory
	// rather than finding a running serve's.
	serving bool
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintf(os.Stderr, "wgpanel: %s\n", oneLine(err.Error()))
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 on success and for help that was asked for, 2 when no
// command was given, 1 on failure.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

// errUsage is returned when no command was given: the usage was printed.
var errUsage = errors.New("usage")

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ") }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("wgpanel", flag.ContinueOnError)
	// The flag package's own messages are replaced by one line each.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return err
		}
		return fmt.Errorf("%v; run wgpanel help", err)
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "wgpanel %s\n", version)
		return nil
	case "serve":
		return g.serve(ctx, args)
	case "peer":
		return g.peer(ctx, args)
	case "reconcile":
		return g.reconcile(ctx, args)
	case "passwd":
		return g.passwd(ctx, args)
	case "setup":
		return g.setup(ctx, args)
	case "doctor":
		return g.doctor(ctx, args)
	case "settings":
		return g.settings(ctx, args)
	case "reachability":
		return g.reachability(ctx, args)
	case "help", "--help", "-help", "-h":
		if len(args) > 0 {
			commandUsage(stdout, strings.Join(args, " "))
			return nil
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; run wgpanel help", cmd)
}

// register adds the global flags to fs. Commands accept them too, so that
// both "wgpanel --dev serve" and "wgpanel serve --dev" work.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.configDir, "config-dir", g.configDir, "UCI config directory (default /etc/config on OpenWrt, else STATE/config)")
	fs.StringVar(&g.iface, "interface", g.iface, "WireGuard interface to manage (default: option interface in wgpanel's config, else wg0)")
	fs.BoolVar(&g.dev, "dev", g.dev, "standalone mode: keep config in the state dir and bring the interface up ourselves")
	fs.StringVar(&g.stateDir, "state-dir", g.stateDir, "state directory off OpenWrt (default: that of a running serve --dev, else ~/.local/state/wgpanel)")
}

// parse parses a command's own flags plus the global ones, allowing flags
// after positional arguments ("peer add phone --qr").
func (g *globals) parse(name string, fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	g.register(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandUsage(g.stdout, name)
				return nil, err
			}
			return nil, fmt.Errorf("%s: %v; run wgpanel %s --help", name, err, name)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// isOpenWrt reports whether this machine is an OpenWrt router.
func isOpenWrt() bool {
	_, err := os.Stat("/etc/openwrt_release")
	return err == nil
}

func (g *globals) devMode() bool { return g.dev || (!isOpenWrt() && g.stateDir != "") }

// standaloneConfig reports whether the config lives in the state dir: with
// --dev, and on any machine that is not an OpenWrt router, so that
// `wgpanel peer add` next to a `serve --dev` finds its config without flags.
func (g *globals) standaloneConfig() bool { return g.devMode() || !isOpenWrt() }

func (g *globals) resolvedStateDir() (string, error) {
	if g.stateDir != "" {
		return filepath.Abs(g.stateDir)
	}
	if d := runningStateDir(); d != "" && !g.serving {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wgpanel"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: pass --state-dir DIR")
	}
	return filepath.Join(home, ".local", "state", "wgpanel"), nil
}

// dir returns the UCI directory in use.
func (g *globals) dir() (uci.Dir, error) {
	if g.configDir != "" {
		return uci.Dir(g.configDir), nil
	}
	if g.standaloneConfig() {
		s, err := g.resolvedStateDir()
		if err != nil {
			return "", err
		}
		return uci.Dir(filepath.Join(s, "config")), nil
	}
	return uci.Dir("/etc/config"), nil
}

func (g *globals) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
}

// env is what a command works with.
type env struct {
	dir   uci.Dir
	store *openwrt.Store
	dev   *wgdev.Client
	svc   *vpn.Service
	log   *slog.Logger
}

// openToWrite opens the configuration for a command that changes it, first
// creating a standalone state directory that does not exist yet.
func (g *globals) openToWrite() (*env, error) {
	if g.standaloneConfig() {
		if err := g.ensureStateDir(); err != nil {
			return nil, err
		}
	}
	return g.open(slog.LevelWarn)
}

func (g *globals) open(level slog.Level) (*env, error) {
	dir, err := g.dir()
	if err != nil {
		return nil, err
	}
	log := g.logger(level)
	store := openwrt.NewStore(dir, log.With("component", "openwrt"))
	store.Interface = g.iface
	if g.standaloneConfig() {
		// Only a router's /etc/shadow holds the password its owner knows.
		store.DefaultAuth = "password"
	} else {
		// On OpenWrt the network file is world-readable: client private
		// keys are shown once unless keep_private_keys says otherwise.
		store.ShowKeysOnce = true
	}
	dev := wgdev.New(log.With("component", "wgdev"))
	return &env{dir: dir, store: store, dev: dev, svc: vpn.NewService(store, dev, log.With("component", "vpn")), log: log}, nil
}

func (e *env) Close() { e.dev.Close() }

func (g *globals) reconcile(ctx context.Context, args []string) error {
	if _, err := g.parse("reconcile", flag.NewFlagSet("reconcile", flag.ContinueOnError), args); err != nil {
		return err
	}
	e, err := g.open(slog.LevelWarn)
	if err != nil {
		return err
	}
	defer e.Close()
	ch, err := e.svc.Reconcile(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, ch)
	return nil
}
