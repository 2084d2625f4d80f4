// Command guest runs inside the VM of the VM tests (e2e/vm), as the
// router's side of the test: it builds the network (namespaces and veth
// pairs), creates wg0 from UCI the way netifd does, runs `wgpanel serve` in
// router mode, drives the CLI and a phone with its own kernel WireGuard
// interface, and prints one line per step on the console:
//
//	WGVM STEP name PASS 123ms detail
//	WGVM STEP name FAIL reason
//	WGVM GOTEST line of the wgdev test binary's output
//	WGVM END pass|fail
//
// It stops at the first failed step: the later steps depend on it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/uci"
)

// The addresses of the test network, documentation and private ranges:
// the phone on the router's WAN side, a LAN host on its LAN side.
const (
	routerWAN    = "192.0.2.1"
	phoneWAN     = "192.0.2.2"
	routerLAN    = "192.168.1.1"
	lanHost      = "192.168.1.2"
	routerTunnel = "10.66.66.1"
	listenPort   = 51820
	wgIf         = "wg0"
	phoneIf      = "wgphone"
	configDir    = "/etc/config"
)

type guest struct {
	wgpanel string
	scale   time.Duration // how much slower than native this CPU is
	restore time.Duration // how soon serve must restore the device by itself
	failed  bool

	serve     *exec.Cmd
	serveLog  bytes.Buffer
	serveDone chan error

	laptop      wgtypes.Key // a peer that is in UCI before serve starts
	phoneKey    wgtypes.Key // the phone's public key
	phoneConfig string      // exactly what `peer add phone` printed
}

func main() {
	g := &guest{}
	flag.StringVar(&g.wgpanel, "wgpanel", "/usr/bin/wgpanel", "the wgpanel binary under test")
	scale := flag.Int("scale", 1, "multiply the timeouts by this")
	flag.DurationVar(&g.restore, "restore", 2*time.Second, "how soon serve must restore the device without a command")
	gotest := flag.String("gotest", "", "a go test binary to run after the steps")
	gotestSkip := flag.String("gotest-skip", "", "the go test binary's -test.skip")
	ci := flag.Bool("ci", false, "run the go test binary with CI=true: a missing prerequisite fails its test")
	flag.Parse()
	g.scale = time.Duration(*scale)

	// A failed step ends the run, except where a later step does not
	// depend on it (keepGoing).
	steps := []struct {
		name      string
		f         func() error
		keepGoing bool
	}{
		{"network", g.network, false},
		{"uci", g.writeUCI, false},
		{"netifd-up", g.netifdUp, false},
		{"serve", g.startServe, false},
		{"peer-add", g.peerAdd, false},
		{"phone-up", g.phoneUp, false},
		{"handshake", g.handshake, false},
		{"ping-router", func() error { return g.phonePings(routerTunnel, true) }, false},
		{"ping-lan", func() error { return g.phonePings(lanHost, true) }, false},
		{"peer-list", g.peerList, false},
		{"disable", g.disable, false},
		{"enable", g.enable, false},
		{"restore-recreated", g.restoreRecreated, true},
		{"restore-syncconf", g.restoreSyncconf, true},
		{"restore-luci-edit", g.luciEdit, true},
		{"remove", g.remove, false},
		{"serve-stop", g.stopServe, false},
	}
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.name
	}
	say("PLAN %s", strings.Join(names, " "))
	for _, s := range steps {
		start := time.Now()
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return s.f()
		}()
		if err != nil {
			say("STEP %s FAIL %s", s.name, oneLine(err.Error()))
			g.failed = true
			if !s.keepGoing {
				break
			}
			continue
		}
		say("STEP %s PASS %dms", s.name, time.Since(start).Milliseconds())
	}
	if g.serve != nil && g.serveAlive() == nil {
		g.serve.Process.Kill()
	}
	if g.failed && g.serve != nil {
		// serve's output is copied into serveLog until it has exited.
		g.serveDone <- <-g.serveDone
		for _, l := range strings.Split(strings.TrimSpace(g.serveLog.String()), "\n") {
			say("SERVELOG %s", l)
		}
	}
	if *gotest != "" {
		g.goTest(*gotest, *gotestSkip, *ci)
	}
	result := "pass"
	if g.failed {
		result = "fail"
	}
	say("END %s", result)
}

func say(format string, args ...any) {
	fmt.Printf("WGVM "+format+"\n", args...)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// run runs a command and returns its output; the error includes it.
func (g *guest) run(args ...string) (string, error) {
	return g.runIn("", args...)
}

// runIn runs a command in network namespace ns ("" for the router's).
func (g *guest) runIn(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second*g.scale)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, oneLine(string(out)))
	}
	return string(out), nil
}

// network makes the namespaces phone and lan and joins them to the
// router's (this one) with veth pairs, which busybox's ip cannot.
func (g *guest) network() error {
	// The VM must have no network device that could reach the host.
	devs, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return err
	}
	for _, d := range devs {
		if d.Name() != "lo" {
			return fmt.Errorf("the VM has a network device %s; it must have none (qemu -nic none)", d.Name())
		}
	}
	cmds := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "netns", "add", "phone"},
		{"ip", "netns", "add", "lan"},
		{"ip", "-n", "phone", "link", "set", "lo", "up"},
		{"ip", "-n", "lan", "link", "set", "lo", "up"},
		{"ip", "link", "add", "wan", "type", "veth", "peer", "name", "eth0", "netns", "phone"},
		{"ip", "link", "add", "lan1", "type", "veth", "peer", "name", "eth0", "netns", "lan"},
		{"ip", "addr", "add", routerWAN + "/24", "dev", "wan"},
		{"ip", "addr", "add", routerLAN + "/24", "dev", "lan1"},
		{"ip", "link", "set", "wan", "up"},
		{"ip", "link", "set", "lan1", "up"},
		{"ip", "-n", "phone", "addr", "add", phoneWAN + "/24", "dev", "eth0"},
		{"ip", "-n", "phone", "link", "set", "eth0", "up"},
		{"ip", "-n", "lan", "addr", "add", lanHost + "/24", "dev", "eth0"},
		{"ip", "-n", "lan", "link", "set", "eth0", "up"},
		{"ip", "-n", "lan", "route", "add", "default", "via", routerLAN},
	}
	for _, c := range cmds {
		if _, err := g.run(c...); err != nil {
			return err
		}
	}
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
}

// writeUCI writes the router's config as OpenWrt has it after wgpanel's
// setup: wg0 with its key, port and address, one peer (a laptop, with a
// preshared key), the firewall zone, and wgpanel's own options.
func (g *guest) writeUCI() error {
	serverKey, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return err
	}
	laptop, _ := wgtypes.GeneratePrivateKey()
	psk, _ := wgtypes.GenerateKey()
	g.laptop = laptop.PublicKey()
	network := fmt.Sprintf(`
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config interface 'lan'
	option device 'lan1'
	option proto 'static'
	option ipaddr '%s'
	option netmask '255.255.255.0'

config interface 'wan'
	option device 'wan'
	option proto 'static'
	option ipaddr '%s'
	option netmask '255.255.255.0'

config interface '%s'
	option proto 'wireguard'
	option private_key '%s'
	option listen_port '%d'
	list addresses '%s/24'

config wireguard_%s
	option description 'laptop'
	option public_key '%s'
	option preshared_key '%s'
	list allowed_ips '10.66.66.3/32'
	option route_allowed_ips '1'
`, routerLAN, routerWAN, wgIf, serverKey, listenPort, routerTunnel, wgIf, g.laptop, psk)
	firewall := fmt.Sprintf(`
config zone
	option name 'lan'
	list network 'lan'
	list network '%s'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'ACCEPT'

config zone
	option name 'wan'
	list network 'wan'
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'

config rule
	option name 'Allow-WireGuard'
	option src 'wan'
	option proto 'udp'
	option dest_port '%d'
	option target 'ACCEPT'
`, wgIf, listenPort)
	settings := fmt.Sprintf(`
config wgpanel 'main'
	option interface '%s'
	option endpoint '%s'
	option listen '127.0.0.1:8080'
`, wgIf, routerWAN)
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		return err
	}
	for name, text := range map[string]string{"network": network, "firewall": firewall, "wgpanel": settings} {
		if err := os.WriteFile(filepath.Join(configDir, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// netifdUp creates wg0 as OpenWrt 23.05/24.10's netifd does on ifup:
// delete it, add it, `wg setconf` with the key, port and enabled peers
// from UCI, add the address, set it up. With peers false the device gets
// its key and port but no peers, as after an ifup whose peers were lost.
func (g *guest) netifdUp() error { return g.netifdCreate(true) }

func (g *guest) netifdCreate(peers bool) error {
	conf, addrs, err := netifdConfig(peers, true)
	if err != nil {
		return err
	}
	g.run("ip", "link", "del", "dev", wgIf) // as netifd: it may not exist
	if _, err := g.run("ip", "link", "add", "dev", wgIf, "type", "wireguard"); err != nil {
		return err
	}
	if err := g.setconf("setconf", conf); err != nil {
		return err
	}
	for _, a := range addrs {
		if _, err := g.run("ip", "address", "add", a, "dev", wgIf); err != nil {
			return err
		}
	}
	if _, err := g.run("ip", "link", "set", "up", "dev", wgIf); err != nil {
		return err
	}
	if !peers {
		return nil
	}
	// The laptop is on the device with its preshared key.
	psks, err := g.wgShow(wgIf, "preshared-keys")
	if err != nil {
		return err
	}
	if p, ok := psks[g.laptop.String()]; !ok || p == "(none)" {
		return fmt.Errorf("after netifd's setconf the laptop is not on %s with its preshared key: %v", wgIf, keysOf(psks))
	}
	return nil
}

func (g *guest) setconf(verb, conf string) error {
	f := "/tmp/" + wgIf + ".conf"
	if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
		return err
	}
	defer os.Remove(f)
	_, err := g.run("wg", verb, wgIf, f)
	return err
}

// netifdConfig reads the network file as netifd's wireguard handler does
// and returns the `wg setconf` config and the interface's addresses. With
// psk false the preshared keys are left out, as one 25.12 handler did
// (openwrt/openwrt#21847).
func netifdConfig(peers, psk bool) (string, []string, error) {
	f, err := uci.Dir(configDir).Load("network")
	if err != nil {
		return "", nil, err
	}
	get := func(s *uci.Section, name string) string {
		v, _ := s.Get(name)
		return v
	}
	iface := f.Section(wgIf)
	if iface == nil || iface.Type != "interface" || len(iface.List("addresses")) == 0 {
		return "", nil, fmt.Errorf("the network file has no interface %s with addresses", wgIf)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Interface]\nPrivateKey = %s\nListenPort = %s\n", get(iface, "private_key"), get(iface, "listen_port"))
	for _, s := range f.SectionsByType("wireguard_" + wgIf) {
		if !peers || get(s, "disabled") == "1" || get(s, "public_key") == "" {
			continue
		}
		fmt.Fprintf(&b, "\n[Peer]\nPublicKey = %s\n", get(s, "public_key"))
		if k := get(s, "preshared_key"); k != "" && psk {
			fmt.Fprintf(&b, "PresharedKey = %s\n", k)
		}
		if ips := s.List("allowed_ips"); len(ips) > 0 {
			fmt.Fprintf(&b, "AllowedIPs = %s\n", strings.Join(ips, ", "))
		}
		if k := get(s, "persistent_keepalive"); k != "" && k != "0" {
			fmt.Fprintf(&b, "PersistentKeepalive = %s\n", k)
		}
	}
	return b.String(), iface.List("addresses"), nil
}

// startServe starts `wgpanel serve` in router mode (no --dev: the device
// is netifd's) and waits for its web UI.
func (g *guest) startServe() error {
	g.serve = exec.Command(g.wgpanel, "--config-dir", configDir, "serve", "--listen", "127.0.0.1:8080")
	g.serve.Stdout = &g.serveLog
	g.serve.Stderr = &g.serveLog
	if err := g.serve.Start(); err != nil {
		return err
	}
	g.serveDone = make(chan error, 1)
	go func() { g.serveDone <- g.serve.Wait() }()
	deadline := time.Now().Add(10 * time.Second * g.scale)
	c := &http.Client{Timeout: time.Second * g.scale}
	for {
		if resp, err := c.Get("http://127.0.0.1:8080/"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-g.serveDone:
			g.serveDone <- err
			return fmt.Errorf("serve exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve's web UI did not answer within %v", 10*time.Second*g.scale)
		}
	}
	// The device is the kernel's.
	out, err := g.run("ip", "-d", "link", "show", "dev", wgIf)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "wireguard") {
		return fmt.Errorf("%s is not a kernel WireGuard link: %s", wgIf, oneLine(out))
	}
	return g.serveAlive()
}

func (g *guest) serveAlive() error {
	select {
	case err := <-g.serveDone:
		g.serveDone <- err
		return fmt.Errorf("serve exited: %v", err)
	default:
		return nil
	}
}

func (g *guest) wgpanelCLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second*g.scale)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.wgpanel, append([]string{"--config-dir", configDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("wgpanel %s: %v: %s", strings.Join(args, " "), err, oneLine(stderr.String()))
	}
	return string(out), nil
}

// peerAdd adds the phone with the CLI and checks it is on the device.
func (g *guest) peerAdd() error {
	out, err := g.wgpanelCLI("peer", "add", "phone")
	if err != nil {
		return err
	}
	g.phoneConfig = out
	priv, err := wgtypes.ParseKey(confValue(out, "PrivateKey"))
	if err != nil {
		return fmt.Errorf("peer add printed no private key: %v", err)
	}
	g.phoneKey = priv.PublicKey()
	if got, want := confValue(out, "Endpoint"), fmt.Sprintf("%s:%d", routerWAN, listenPort); got != want {
		return fmt.Errorf("the config's endpoint is %q; want %q", got, want)
	}
	return g.wantOnDevice(true)
}

// wantOnDevice checks whether the phone is a peer of the router's wg0.
func (g *guest) wantOnDevice(want bool) error {
	psks, err := g.wgShow(wgIf, "preshared-keys")
	if err != nil {
		return err
	}
	p, ok := psks[g.phoneKey.String()]
	switch {
	case ok != want:
		return fmt.Errorf("phone on %s: %v; want %v (peers %v)", wgIf, ok, want, keysOf(psks))
	case ok && p == "(none)":
		return fmt.Errorf("phone is on %s without its preshared key", wgIf)
	}
	return nil
}

// phoneUp brings up the phone's own kernel WireGuard interface in its
// namespace from the exact config wgpanel printed, as wg-quick would:
// the [Interface] lines wg does not take (Address, DNS) become addresses,
// each AllowedIPs a route.
func (g *guest) phoneUp() error {
	if _, err := g.runIn("phone", "ip", "link", "add", "dev", phoneIf, "type", "wireguard"); err != nil {
		return err
	}
	if err := g.phoneSetconf(); err != nil {
		return err
	}
	for _, a := range splitList(confValue(g.phoneConfig, "Address")) {
		if _, err := g.runIn("phone", "ip", "address", "add", a, "dev", phoneIf); err != nil {
			return err
		}
	}
	if _, err := g.runIn("phone", "ip", "link", "set", "up", "dev", phoneIf); err != nil {
		return err
	}
	for _, r := range splitList(confValue(g.phoneConfig, "AllowedIPs")) {
		if strings.HasSuffix(r, "/0") {
			return fmt.Errorf("the split-tunnel config routes everything: %s", r)
		}
		if _, err := g.runIn("phone", "ip", "route", "replace", r, "dev", phoneIf); err != nil {
			return err
		}
	}
	return nil
}

// phoneSetconf gives the phone's interface its key and peer: the config
// without wg-quick's own lines. Run again, it is the phone turning its
// tunnel off and on, which starts a fresh handshake.
func (g *guest) phoneSetconf() error {
	var b strings.Builder
	for _, l := range strings.Split(g.phoneConfig, "\n") {
		k, _, _ := strings.Cut(l, "=")
		switch strings.TrimSpace(k) {
		case "Address", "DNS", "MTU", "Table":
			continue
		}
		b.WriteString(l + "\n")
	}
	f := "/tmp/phone.conf"
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		return err
	}
	defer os.Remove(f)
	_, err := g.runIn("phone", "wg", "setconf", phoneIf, f)
	return err
}

// handshake waits until the phone reaches the router's tunnel address.
func (g *guest) handshake() error {
	start := time.Now()
	if err := g.waitPing(routerTunnel, 10*time.Second*g.scale); err != nil {
		return err
	}
	hs, err := g.wgShowIn("phone", phoneIf, "latest-handshakes")
	if err != nil {
		return err
	}
	for _, v := range hs {
		if v == "0" {
			return fmt.Errorf("the phone's latest handshake is 0 after a ping went through")
		}
	}
	say("INFO handshake and first ping after %dms", time.Since(start).Milliseconds())
	return nil
}

// waitPing pings addr from the phone, one packet at a time, until one
// answers or d passes.
func (g *guest) waitPing(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		_, err := g.runIn("phone", "ping", "-c", "1", "-W", "1", addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the phone got no answer from %s within %v: %v", addr, d, err)
		}
	}
}

// phonePings sends three pings from the phone and checks that all (want)
// or none are answered.
func (g *guest) phonePings(addr string, want bool) error {
	out, err := g.runIn("phone", "ping", "-c", "3", "-i", "0.2", "-W", "1", addr)
	got := strings.Contains(out, "3 packets received")
	none := strings.Contains(out, " 0 packets received")
	switch {
	case want && (err != nil || !got):
		return fmt.Errorf("ping %s from the phone: want 3 replies: %v %s", addr, err, oneLine(out))
	case !want && (err == nil || !none):
		return fmt.Errorf("ping %s from the phone: want no reply: %s", addr, oneLine(out))
	}
	return nil
}

type listedPeer struct {
	Name            string          `json:"name"`
	PublicKey       string          `json:"public_key"`
	Enabled         bool            `json:"enabled"`
	LatestHandshake json.RawMessage `json:"latest_handshake"`
	RxBytes         int64           `json:"rx_bytes"`
	TxBytes         int64           `json:"tx_bytes"`
}

func (g *guest) peers() (map[string]listedPeer, error) {
	out, err := g.wgpanelCLI("peer", "list", "--json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Peers []listedPeer `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("peer list --json: %v: %s", err, oneLine(out))
	}
	m := map[string]listedPeer{}
	for _, p := range list.Peers {
		m[p.Name] = p
	}
	return m, nil
}

// peerList checks that `peer list --json` shows the phone's handshake and
// traffic, read from the kernel device.
func (g *guest) peerList() error {
	ps, err := g.peers()
	if err != nil {
		return err
	}
	p, ok := ps["phone"]
	if !ok {
		return fmt.Errorf("peer list --json has no phone: %v", ps)
	}
	hs := strings.Trim(string(p.LatestHandshake), `"`)
	if hs == "" || hs == "null" || strings.HasPrefix(hs, "0001-") || hs == "0" {
		return fmt.Errorf("peer list --json: phone has no handshake (%s)", p.LatestHandshake)
	}
	if p.RxBytes <= 0 || p.TxBytes <= 0 || !p.Enabled || p.PublicKey != g.phoneKey.String() {
		return fmt.Errorf("peer list --json: phone %+v; want enabled, its key, traffic both ways", p)
	}
	say("INFO peer list: phone handshake %s rx %d tx %d", hs, p.RxBytes, p.TxBytes)
	return nil
}

// disable checks that a disabled phone is taken off the device at once
// and its traffic stops.
func (g *guest) disable() error {
	if _, err := g.wgpanelCLI("peer", "disable", "phone"); err != nil {
		return err
	}
	if err := g.wantOnDevice(false); err != nil {
		return err
	}
	return g.phonePings(routerTunnel, false)
}

// enable puts the phone back; once it turns its tunnel off and on (its
// old session died on the router) its traffic passes again.
func (g *guest) enable() error {
	if _, err := g.wgpanelCLI("peer", "enable", "phone"); err != nil {
		return err
	}
	if err := g.wantOnDevice(true); err != nil {
		return err
	}
	if err := g.phoneSetconf(); err != nil {
		return err
	}
	if err := g.waitPing(routerTunnel, 10*time.Second*g.scale); err != nil {
		return err
	}
	return g.phonePings(lanHost, true)
}

// restoreRecreated deletes wg0 and creates it again netifd's way, with its
// key, port and address but none of its peers, and waits for serve to put
// the enabled peers back by itself, without any command.
func (g *guest) restoreRecreated() error {
	if err := g.netifdCreate(false); err != nil {
		return err
	}
	start := time.Now()
	if err := g.waitPeers(start); err != nil {
		return err
	}
	return g.phoneBack()
}

// restoreSyncconf does what OpenWrt 25.12's handler did: the link kept,
// `wg syncconf` with the UCI peers but without their preshared keys, then
// the ifup hotplug event, on which wgpanel's hotplug script has procd send
// serve SIGUSR1. serve must put the keys back by itself.
func (g *guest) restoreSyncconf() error {
	conf, _, err := netifdConfig(true, false)
	if err != nil {
		return err
	}
	if err := g.setconf("syncconf", conf); err != nil {
		return err
	}
	start := time.Now()
	if err := g.serve.Process.Signal(syscall.SIGUSR1); err != nil {
		return fmt.Errorf("signal serve as the hotplug script does: %v", err)
	}
	if err := g.waitPeers(start); err != nil {
		return err
	}
	return g.phonePings(routerTunnel, true)
}

// luciEdit adds a peer to the network file as LuCI does (libuci writes a
// temp file and renames it into place) and waits for serve to put it on
// the device by itself, then takes it out again the same way.
func (g *guest) luciEdit() error {
	path := filepath.Join(configDir, "network")
	before, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tablet, _ := wgtypes.GeneratePrivateKey()
	key := tablet.PublicKey().String()
	section := fmt.Sprintf("\nconfig wireguard_%s\n\toption description 'tablet'\n\toption public_key '%s'\n\tlist allowed_ips '10.66.66.9/32'\n", wgIf, key)
	write := func(data []byte) error {
		tmp := filepath.Join(configDir, ".network.uci-vmtest")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	wait := func(want bool) error {
		start := time.Now()
		for {
			peers, err := g.wgShow(wgIf, "allowed-ips")
			if err != nil {
				return err
			}
			_, ok := peers[key]
			if ok == want {
				say("INFO serve applied LuCI's edit (tablet on the device: %v) %dms after the rename", want, time.Since(start).Milliseconds())
				return g.serveAlive()
			}
			if time.Since(start) > g.restore {
				return fmt.Errorf("serve did not apply LuCI's edit within %v: tablet on the device %v; want %v", g.restore, ok, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := write(append(before, section...)); err != nil {
		return err
	}
	if err := wait(true); err != nil {
		return err
	}
	if err := write(before); err != nil {
		return err
	}
	return wait(false)
}

// waitPeers waits up to g.restore after start until the phone and the
// laptop are on the device with their preshared keys.
func (g *guest) waitPeers(start time.Time) error {
	want := []string{g.laptop.String(), g.phoneKey.String()}
	slices.Sort(want)
	for {
		psks, err := g.wgShow(wgIf, "preshared-keys")
		if err != nil {
			return err
		}
		ok := slices.Equal(keysOf(psks), want)
		for _, p := range psks {
			ok = ok && p != "(none)"
		}
		if ok {
			say("INFO serve restored the peers %dms after the change", time.Since(start).Milliseconds())
			return g.serveAlive()
		}
		if time.Since(start) > g.restore {
			return fmt.Errorf("serve did not restore the peers within %v without a command: device has %d peers, want %d with preshared keys (%v)",
				g.restore, len(psks), len(want), psksState(psks))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// phoneBack turns the phone's tunnel off and on (its session died with the
// device) and checks that it reaches the router and the LAN again.
func (g *guest) phoneBack() error {
	if err := g.phoneSetconf(); err != nil {
		return err
	}
	if err := g.waitPing(routerTunnel, 10*time.Second*g.scale); err != nil {
		return err
	}
	return g.phonePings(lanHost, true)
}

// remove takes the phone off for good.
func (g *guest) remove() error {
	if _, err := g.wgpanelCLI("peer", "remove", "phone"); err != nil {
		return err
	}
	if err := g.wantOnDevice(false); err != nil {
		return err
	}
	ps, err := g.peers()
	if err != nil {
		return err
	}
	if _, ok := ps["phone"]; ok {
		return fmt.Errorf("peer list still shows phone after peer remove")
	}
	return g.phonePings(routerTunnel, false)
}

// stopServe sends SIGTERM and wants a clean exit.
func (g *guest) stopServe() error {
	if err := g.serveAlive(); err != nil {
		return err
	}
	g.serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.serveDone:
		if err != nil {
			return fmt.Errorf("serve after SIGTERM: %v", err)
		}
		return nil
	case <-time.After(5 * time.Second * g.scale):
		return fmt.Errorf("serve did not exit within %v of SIGTERM", 5*time.Second*g.scale)
	}
}

// goTest runs a go test binary, as root against the kernel module, and
// passes its output on.
func (g *guest) goTest(bin, skip string, ci bool) {
	say("GOTEST-START %s", bin)
	// Within the host's bound on the whole VM run (see vm_test.go).
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second*g.scale)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.v", "-test.count=1", fmt.Sprintf("-test.timeout=%v", 10*time.Second*g.scale))
	if skip != "" {
		cmd.Args = append(cmd.Args, "-test.skip="+skip)
	}
	cmd.Dir = filepath.Dir(bin)
	if ci {
		cmd.Env = append(os.Environ(), "CI=true")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		say("GOTEST-END fail %v", err)
		g.failed = true
		return
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		say("GOTEST-END fail %v", err)
		g.failed = true
		return
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		say("GOTEST %s", sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		say("GOTEST-END fail %v", err)
		g.failed = true
		return
	}
	say("GOTEST-END pass")
}

// wgShow returns `wg show IF what` as public key -> value.
func (g *guest) wgShow(ifname, what string) (map[string]string, error) {
	return g.wgShowIn("", ifname, what)
}

func (g *guest) wgShowIn(ns, ifname, what string) (map[string]string, error) {
	out, err := g.runIn(ns, "wg", "show", ifname, what)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok {
			m[k] = v
		}
	}
	return m, nil
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// psksState says which peers have a preshared key, without printing keys.
func psksState(m map[string]string) string {
	var b strings.Builder
	for _, k := range keysOf(m) {
		fmt.Fprintf(&b, "%s…:%v ", k[:6], m[k] != "(none)")
	}
	return strings.TrimSpace(b.String())
}

// confValue returns the value of the first "Key = value" line in conf.
func confValue(conf, key string) string {
	for _, l := range strings.Split(conf, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func splitList(s string) []string {
	var r []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			if _, _, err := net.ParseCIDR(f); err == nil {
				r = append(r, f)
			}
		}
	}
	return r
}
