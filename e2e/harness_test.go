package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// The addresses of the test network. 192.0.2.0/24 (TEST-NET-1) stands for
// the internet between the phone and the router; 192.168.1.0/24 and
// 10.66.66.0/24 are the LAN and tunnel subnets of the starter config that
// `serve --dev` writes. All of them exist only inside namespaces the test
// made.
const (
	routerWAN    = "192.0.2.1"
	phoneWAN     = "192.0.2.2"
	routerLAN    = "192.168.1.1"
	lanHost      = "192.168.1.2"
	routerTunnel = "10.66.66.1"
	listenPort   = 51820
)

// Timeouts for the commands the tests run. Every exec has one.
const (
	quickTimeout = 10 * time.Second // ip, wg, wgpanel CLI calls
	pingTimeout  = 30 * time.Second
	serveTimeout = 3 * time.Minute // upper bound on one serve process's life
	buildTimeout = 5 * time.Minute
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error

	// The router build, made like buildBin; see routerBinary.
	routerBuildOnce sync.Once
	routerBuildDir  string
	routerBuildBin  string
	routerBuildErr  error

	// seq makes namespace and interface names unique within this process;
	// the pid makes them unique across processes.
	seq atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if routerBuildDir != "" {
		os.RemoveAll(routerBuildDir)
	}
	os.Exit(code)
}

// requireEnv skips (or fails under CI=true) when this machine cannot run
// the end-to-end tests.
func requireEnv(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTUN(t)
	testutil.RequireCommand(t, "ip", "wg", "wg-quick", "wireguard-go", "ping", "sysctl")
}

// wgpanelBinary returns the path of the wgpanel binary under test: the one
// WGPANEL_BIN names, or ./cmd/wgpanel built once for this test process.
func wgpanelBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WGPANEL_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "wgpanel-e2e-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "wgpanel")
		buildErr = goBuild(buildBin, nil)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// routerBinary returns the path of wgpanel as it is built for a router
// (`make ipk`): static (CGO_ENABLED=0), stripped, and without the embedded
// userspace WireGuard (tag nouserspace), since the kernel holds the device
// there. It is the one WGPANEL_ROUTER_BIN names, or ./cmd/wgpanel built
// so once for this test process. Only serve without --dev can run it.
func routerBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WGPANEL_ROUTER_BIN"); p != "" {
		return p
	}
	routerBuildOnce.Do(func() {
		routerBuildDir, routerBuildErr = os.MkdirTemp("", "wgpanel-e2e-router-")
		if routerBuildErr != nil {
			return
		}
		routerBuildBin = filepath.Join(routerBuildDir, "wgpanel")
		routerBuildErr = goBuild(routerBuildBin, []string{"CGO_ENABLED=0"},
			"-trimpath", "-buildvcs=false", "-tags", "nouserspace", "-ldflags", "-s -w")
	})
	if routerBuildErr != nil {
		t.Fatal(routerBuildErr)
	}
	return routerBuildBin
}

// goBuild builds ./cmd/wgpanel into out with extra environment variables
// and go build flags.
func goBuild(out string, env []string, flags ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, testutil.GoTool(), append(args, "./cmd/wgpanel")...)
	cmd.Dir = ".."
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return nil
}

// cmdResult is what one finished command left behind.
type cmdResult struct {
	argv           []string
	stdout, stderr string
	err            error
	took           time.Duration
}

func (r cmdResult) String() string {
	return fmt.Sprintf("%q: %v\nstdout:\n%s\nstderr:\n%s", r.argv, r.err, r.stdout, r.stderr)
}

// exitCode returns the command's exit status, or -1 when it did not exit
// normally (killed, timed out, not started).
func (r cmdResult) exitCode() int {
	if r.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// command returns argv as an *exec.Cmd bounded by ctx. WaitDelay stops
// Wait from hanging on pipes a daemonized child might keep open.
func command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// run runs argv to completion within timeout.
func run(timeout time.Duration, env []string, argv ...string) cmdResult {
	return runInput(timeout, env, nil, argv...)
}

// runInput runs argv like run, with stdin (when not nil) as its standard input.
func runInput(timeout time.Duration, env []string, stdin io.Reader, argv ...string) cmdResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := command(ctx, env, argv...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return cmdResult{argv: argv, stdout: stdout.String(), stderr: stderr.String(), err: err, took: time.Since(start)}
}

// mustRun runs argv and fails the test when it does not exit 0.
func mustRun(t testing.TB, timeout time.Duration, argv ...string) string {
	t.Helper()
	r := run(timeout, nil, argv...)
	if r.err != nil {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// inNS prefixes argv so that it runs in network namespace ns.
func inNS(ns string, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// baseEnv is the test process's environment without LOG_LEVEL (it would
// make a daemonized wireguard-go keep our pipes open) and with PATH
// replaced when path is not empty.
func baseEnv(path string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LOG_LEVEL=") || (path != "" && strings.HasPrefix(kv, "PATH=")) {
			continue
		}
		env = append(env, kv)
	}
	if path != "" {
		env = append(env, "PATH="+path)
	}
	return env
}

// topo is one test's network: a router namespace running `wgpanel serve
// --dev` (or, with topoOptions.router, `wgpanel serve` as on OpenWrt), and
// optionally a phone namespace on the router's WAN side and a LAN host
// namespace on its LAN side.
type topo struct {
	t   testing.TB
	bin string
	id  string
	dir string // scratch directory: state dir, phone config, shim

	stateDir  string
	configDir string // stateDir/config

	router, phone, lan string // namespace names; "" when absent
	wgIf               string // the router's WireGuard interface
	phoneIf            string // the phone's wg-quick interface

	// password is the web password passwd set in router mode; "" with
	// --dev, where serve prints one (webPassword).
	password string

	serve     *exec.Cmd
	serveLog  testutil.SyncBuffer
	serveDone chan struct{}
	serveErr  error // valid once serveDone is closed
	serveGone bool  // serve was stopped, or its early exit reported, already
}

type topoOptions struct {
	phone bool // a phone namespace at 192.0.2.2 on the router's WAN side
	lan   bool // a LAN host namespace at 192.168.1.2 on the router's LAN side

	// beforeServe, when set, runs just before serve's first start, for
	// example to pre-write S/config/network.
	beforeServe func(tp *topo)

	// router runs serve as on OpenWrt: the router build (routerBinary)
	// without --dev, on S/config, with the web password set beforehand by
	// `wgpanel passwd` (tp.password), and the WireGuard device brought up
	// beforehand the way netifd does (netifdUp), from the interface
	// beforeServe must write into S/config/network. Serve's start-up
	// reconcile puts the peers on it.
	router bool
}

// routerPassword is the web password of topologies in router mode.
const routerPassword = "router-web-password"

// newTopo builds the namespaces, starts serve in the router namespace and
// waits until its interface is up. Everything is undone in t.Cleanup.
func newTopo(t testing.TB, opts topoOptions) *topo {
	t.Helper()
	requireEnv(t)
	bin := wgpanelBinary(t)
	if opts.router {
		bin = routerBinary(t)
	}
	id := fmt.Sprintf("%d%02d", os.Getpid()%10000000, seq.Add(1)%100)
	tp := &topo{
		t:       t,
		bin:     bin,
		id:      id,
		dir:     t.TempDir(),
		router:  "wgpe2e-" + id + "-router",
		wgIf:    "wgs" + id,
		phoneIf: "wgp" + id,
	}
	tp.stateDir = filepath.Join(tp.dir, "state")
	tp.configDir = filepath.Join(tp.stateDir, "config")
	start := time.Now()

	tp.addNS(tp.router)
	mustRun(t, quickTimeout, inNS(tp.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")...)
	if opts.phone {
		tp.phone = "wgpe2e-" + id + "-phone"
		tp.addNS(tp.phone)
		tp.link(tp.router, "vw"+id, routerWAN+"/24", tp.phone, "vp"+id, phoneWAN+"/24")
	}
	if opts.lan {
		tp.lan = "wgpe2e-" + id + "-lan"
		tp.addNS(tp.lan)
		tp.link(tp.router, "vl"+id, routerLAN+"/24", tp.lan, "vh"+id, lanHost+"/24")
		mustRun(t, quickTimeout, "ip", "-n", tp.lan, "route", "add", "default", "via", routerLAN)
	}
	// Removing our uniquely named UAPI sockets runs after the namespaces
	// are gone, in case a killed wireguard-go left one behind.
	t.Cleanup(func() {
		for _, name := range []string{tp.wgIf, tp.phoneIf} {
			os.Remove(filepath.Join("/var/run/wireguard", name+".sock"))
		}
	})
	if opts.beforeServe != nil {
		opts.beforeServe(tp)
	}
	tp.startServe(opts.router)
	t.Logf("topology %s up in %v", id, time.Since(start).Round(time.Millisecond))
	return tp
}

// addNS creates namespace ns with lo up, and deletes it in t.Cleanup after
// stopping every process still in it.
func (tp *topo) addNS(ns string) {
	t := tp.t
	t.Helper()
	mustRun(t, quickTimeout, "ip", "netns", "add", ns)
	t.Cleanup(func() { deleteNS(t, ns) })
	mustRun(t, quickTimeout, "ip", "-n", ns, "link", "set", "lo", "up")
}

// deleteNS stops the processes left in ns (a daemonized wireguard-go is
// re-parented to pid 1, so nothing else would) and deletes it.
func deleteNS(t testing.TB, ns string) {
	for i := 0; i < 40; i++ { // 4 s at most
		r := run(quickTimeout, nil, "ip", "netns", "pids", ns)
		pids := strings.Fields(r.stdout)
		if r.err != nil || len(pids) == 0 {
			break
		}
		sig := syscall.SIGTERM
		if i >= 20 {
			sig = syscall.SIGKILL
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, sig)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := run(quickTimeout, nil, "ip", "netns", "del", ns); r.err != nil {
		t.Errorf("cleanup: %v", r)
	}
}

// link joins two namespaces with a veth pair and gives each end an address.
func (tp *topo) link(ns1, if1, addr1, ns2, if2, addr2 string) {
	t := tp.t
	t.Helper()
	mustRun(t, quickTimeout, "ip", "-n", ns1, "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", ns2)
	mustRun(t, quickTimeout, "ip", "-n", ns1, "addr", "add", addr1, "dev", if1)
	mustRun(t, quickTimeout, "ip", "-n", ns2, "addr", "add", addr2, "dev", if2)
	mustRun(t, quickTimeout, "ip", "-n", ns1, "link", "set", if1, "up")
	mustRun(t, quickTimeout, "ip", "-n", ns2, "link", "set", if2, "up")
}

// startServe pre-writes S/config/wgpanel (our interface name, the router's
// WAN address as endpoint) and starts `wgpanel serve --dev` in the router
// namespace. With router set, it then sets the web password with
// `wgpanel passwd`, brings the device up like netifd and starts `wgpanel
// --config-dir S/config serve --listen 127.0.0.1:8080` instead. t.Cleanup
// stops serve with SIGTERM and checks it exits 0.
func (tp *topo) startServe(router bool) {
	t := tp.t
	t.Helper()
	if err := os.MkdirAll(tp.configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	settings := fmt.Sprintf("\nconfig wgpanel 'main'\n\toption interface '%s'\n\toption endpoint '%s'\n\toption listen '127.0.0.1:8080'\n",
		tp.wgIf, routerWAN)
	if err := os.WriteFile(filepath.Join(tp.configDir, "wgpanel"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := inNS(tp.router, tp.bin, "--dev", "--state-dir", tp.stateDir, "serve")
	if router {
		argv = inNS(tp.router, tp.bin, "--config-dir", tp.configDir, "serve", "--listen", "127.0.0.1:8080")
		tp.password = routerPassword
		passwd := []string{tp.bin, "--config-dir", tp.configDir, "passwd"}
		if r := runInput(quickTimeout, nil, strings.NewReader(tp.password+"\n"), passwd...); r.err != nil {
			t.Fatalf("set the web password: %v", r)
		}
		tp.netifdUp(tp.serverPrivateKey())
	}

	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	// serve --dev records its state directory in the runtime directory
	// for other commands; each topology keeps that record to itself.
	cmd := command(ctx, append(baseEnv(""), "XDG_RUNTIME_DIR="+tp.dir), argv...)
	cmd.Stdout = &tp.serveLog
	cmd.Stderr = &tp.serveLog
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start serve: %v", err)
	}
	tp.serve = cmd
	tp.serveGone = false
	tp.serveDone = make(chan struct{})
	go func() {
		tp.serveErr = cmd.Wait()
		close(tp.serveDone)
	}()
	t.Cleanup(func() {
		defer cancel()
		tp.stopServe()
		if t.Failed() {
			t.Logf("serve log:\n%s", tp.serveLog.String())
		}
	})

	// Wait until the device listens on its port and has its address.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if !tp.serveRunning() {
			tp.serveGone = true
			t.Fatalf("serve exited early: %v (its log follows)", tp.serveErr)
		}
		port := run(quickTimeout, nil, inNS(tp.router, "wg", "show", tp.wgIf, "listen-port")...)
		addr := run(quickTimeout, nil, "ip", "-n", tp.router, "-o", "-4", "addr", "show", "dev", tp.wgIf)
		if port.err == nil && strings.TrimSpace(port.stdout) == strconv.Itoa(listenPort) &&
			strings.Contains(addr.stdout, routerTunnel+"/24") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not bring %s up within 10 s (its log follows):\n%v\n%v", tp.wgIf, port, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLogLine reports whether serve logs, within the given time, a line
// that holds every one of parts. serve logs a change after it made it, so
// a test that saw the change must still wait for its line.
func (tp *topo) waitLogLine(within time.Duration, parts ...string) bool {
	deadline := time.Now().Add(within)
	for {
		for _, line := range strings.Split(tp.serveLog.String(), "\n") {
			if containsAll(line, parts) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func (tp *topo) serveRunning() bool {
	select {
	case <-tp.serveDone:
		return false
	default:
		return true
	}
}

// stopServe sends SIGTERM and checks that serve exits 0 within 10 s.
func (tp *topo) stopServe() {
	t := tp.t
	// Stopped and checked once: a later call (a cleanup) has nothing to do.
	defer func() { tp.serveGone = true }()
	if !tp.serveRunning() {
		if tp.serveGone {
			return
		}
		t.Errorf("serve exited before SIGTERM: %v; want it running until SIGTERM", tp.serveErr)
		return
	}
	tp.serve.Process.Signal(syscall.SIGTERM)
	select {
	case <-tp.serveDone:
		if tp.serveErr != nil {
			t.Errorf("serve after SIGTERM: %v; want exit status 0", tp.serveErr)
		}
	case <-time.After(10 * time.Second):
		tp.serve.Process.Kill()
		<-tp.serveDone
		t.Errorf("serve did not exit within 10 s of SIGTERM")
	}
}

// netifdUp creates the router's WireGuard device tp.wgIf the way netifd
// does on every ifup on OpenWrt: a fresh device without peers (Debian's
// wireguard-go stands in for the kernel module), given the server's
// private key (base64) and listen port with `wg set`, its tunnel address,
// and set up. t.Cleanup deletes the link, which ends that wireguard-go;
// deleteNS catches what is left.
func (tp *topo) netifdUp(privKey string) {
	t := tp.t
	t.Helper()
	keyFile := filepath.Join(tp.dir, "server.key")
	writeFile(t, keyFile, privKey+"\n", 0o600)
	if r := run(quickTimeout, baseEnv(""), inNS(tp.router, "wireguard-go", tp.wgIf)...); r.err != nil {
		t.Fatalf("create the device like netifd: %v", r)
	}
	t.Cleanup(func() {
		run(quickTimeout, nil, "ip", "-n", tp.router, "link", "del", tp.wgIf)
	})
	mustRun(t, quickTimeout, inNS(tp.router, "wg", "set", tp.wgIf, "private-key", keyFile, "listen-port", fmt.Sprint(listenPort))...)
	mustRun(t, quickTimeout, "ip", "-n", tp.router, "addr", "add", routerTunnel+"/24", "dev", tp.wgIf)
	mustRun(t, quickTimeout, "ip", "-n", tp.router, "link", "set", tp.wgIf, "up")
}

// wgpanel runs the wgpanel CLI in the router namespace against the state
// dir's config.
func (tp *topo) wgpanel(args ...string) cmdResult {
	argv := append([]string{tp.bin, "--config-dir", tp.configDir}, args...)
	return run(quickTimeout, nil, inNS(tp.router, argv...)...)
}

// mustWgpanel runs the wgpanel CLI and fails the test unless it exits 0.
func (tp *topo) mustWgpanel(args ...string) string {
	tp.t.Helper()
	r := tp.wgpanel(args...)
	if r.err != nil {
		tp.t.Fatalf("%v", r)
	}
	return r.stdout
}

// peerJSON is one entry of `peer list --json`. Fields whose JSON type the
// tests do not depend on stay raw.
type peerJSON struct {
	ID              json.RawMessage `json:"id"`
	Name            string          `json:"name"`
	PublicKey       string          `json:"public_key"`
	Addresses       []string        `json:"addresses"`
	Tunnel          string          `json:"tunnel"`
	Enabled         bool            `json:"enabled"`
	PrivateKeyKept  bool            `json:"private_key_kept"`
	LatestHandshake json.RawMessage `json:"latest_handshake"`
	Endpoint        json.RawMessage `json:"endpoint"`
	RxBytes         int64           `json:"rx_bytes"`
	TxBytes         int64           `json:"tx_bytes"`
	Online          bool            `json:"online"`
}

// peers returns `peer list --json` by peer name.
func (tp *topo) peers() map[string]peerJSON {
	t := tp.t
	t.Helper()
	out := tp.mustWgpanel("peer", "list", "--json")
	var list struct {
		Peers []peerJSON `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("peer list --json: %v\n%s", err, out)
	}
	m := make(map[string]peerJSON, len(list.Peers))
	for _, p := range list.Peers {
		if _, dup := m[p.Name]; dup {
			t.Fatalf("peer list --json: name %q twice\n%s", p.Name, out)
		}
		m[p.Name] = p
	}
	return m
}

// peerKey returns the public key `peer list --json` shows for name.
func (tp *topo) peerKey(name string) string {
	tp.t.Helper()
	p, ok := tp.peers()[name]
	if !ok || p.PublicKey == "" {
		tp.t.Fatalf("peer list --json has no public key for %q", name)
	}
	return p.PublicKey
}

// wgShow returns `wg show <wgIf> <what>` in the router namespace as a map
// from the first field of each line to the rest.
func (tp *topo) wgShow(what string) map[string]string {
	tp.t.Helper()
	out := mustRun(tp.t, quickTimeout, inNS(tp.router, "wg", "show", tp.wgIf, what)...)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m[f[0]] = strings.Join(f[1:], " ")
	}
	return m
}

// devicePeers returns the sorted public keys of the peers on the router's device.
func (tp *topo) devicePeers() []string {
	tp.t.Helper()
	var keys []string
	for k := range tp.wgShow("peers") {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (tp *topo) onDevice(key string) bool {
	tp.t.Helper()
	_, ok := tp.wgShow("peers")[key]
	return ok
}

// phoneUp writes conf, the exact text `peer add` printed, to
// DIR/<phoneIf>.conf and brings it up with wg-quick and Debian's
// wireguard-go in the phone namespace. A resolvconf shim first in PATH
// records what wg-quick hands it. t.Cleanup takes the tunnel down.
func (tp *topo) phoneUp(conf string) {
	t := tp.t
	t.Helper()
	shimDir := filepath.Join(tp.dir, "shim")
	if err := os.MkdirAll(shimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shim := fmt.Sprintf("#!/bin/sh\necho \"resolvconf $*\" >> '%s'\ncat >> '%s'\nexit 0\n",
		tp.resolvconfLog(), tp.resolvconfLog())
	if err := os.WriteFile(filepath.Join(shimDir, "resolvconf"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(tp.dir, tp.phoneIf+".conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(shimDir + ":" + os.Getenv("PATH"))
	env = append(env, "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go")
	if r := run(quickTimeout, env, inNS(tp.phone, "wg-quick", "up", confPath)...); r.err != nil {
		t.Fatalf("phone: %v", r)
	}
	t.Cleanup(func() {
		// The tunnel may be gone already; deleteNS stops what is left.
		run(quickTimeout, env, inNS(tp.phone, "wg-quick", "down", confPath)...)
	})
}

func (tp *topo) resolvconfLog() string { return filepath.Join(tp.dir, "resolvconf.log") }

// ping runs ping in the phone namespace with args before the target.
func (tp *topo) ping(target string, args ...string) cmdResult {
	argv := append([]string{"ping", "-n"}, args...)
	argv = append(argv, target)
	return run(pingTimeout, nil, inNS(tp.phone, argv...)...)
}

// pingCounts returns the transmitted and received counts from ping's summary.
func pingCounts(out string) (sent, received int, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "packets transmitted") {
			continue
		}
		// "60 packets transmitted, 60 received, 0% packet loss, time 5905ms"
		parts := strings.Split(line, ",")
		if len(parts) < 2 {
			return 0, 0, false
		}
		s, err1 := strconv.Atoi(strings.Fields(parts[0])[0])
		r, err2 := strconv.Atoi(strings.Fields(parts[1])[0])
		return s, r, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

// confValues returns the values of every "Key = value" line in a wg-quick
// config, in order.
func confValues(conf, key string) []string {
	var vals []string
	for _, line := range strings.Split(conf, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	return vals
}

// uciSection is one section of a UCI file as `uci commit` writes it.
type uciSection struct {
	typ, name string
	options   map[string][]string // option and list values
}

// readUCI parses a UCI file minimally: config/option/list lines with
// single-quoted, double-quoted or bare values. It is enough for files
// written in `uci commit` style; internal/uci has the real parser.
func readUCI(t testing.TB, path string) []uciSection {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var secs []uciSection
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "config":
			s := uciSection{typ: unquote(f[1]), options: map[string][]string{}}
			if len(f) > 2 {
				s.name = unquote(f[2])
			}
			secs = append(secs, s)
		case "option", "list":
			if len(secs) == 0 || len(f) < 3 {
				t.Fatalf("%s:%d: unexpected %q", path, n, sc.Text())
			}
			v := unquote(strings.Join(f[2:], " "))
			key := unquote(f[1])
			s := secs[len(secs)-1]
			if f[0] == "option" {
				s.options[key] = []string{v}
			} else {
				s.options[key] = append(s.options[key], v)
			}
		}
	}
	return secs
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// uciPeers returns the wireguard_<wgIf> sections of S/config/network.
func (tp *topo) uciPeers() []uciSection {
	tp.t.Helper()
	var peers []uciSection
	for _, s := range readUCI(tp.t, filepath.Join(tp.configDir, "network")) {
		if s.typ == "wireguard_"+tp.wgIf {
			peers = append(peers, s)
		}
	}
	return peers
}

// serverPrivateKey returns the private key of interface wgIf in S/config/network.
func (tp *topo) serverPrivateKey() string {
	tp.t.Helper()
	for _, s := range readUCI(tp.t, filepath.Join(tp.configDir, "network")) {
		if s.typ == "interface" && s.name == tp.wgIf && len(s.options["private_key"]) == 1 {
			return s.options["private_key"][0]
		}
	}
	tp.t.Fatalf("%s/network has no private_key for interface %s", tp.configDir, tp.wgIf)
	return ""
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}
