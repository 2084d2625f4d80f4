package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// connectPhone adds peer "phone", brings its exact client config up in the
// phone namespace and checks one ping to the router's tunnel address. It
// returns the config text and the phone's public key.
func connectPhone(t *testing.T, tp *topo) (conf, key string) {
	t.Helper()
	conf = tp.mustWgpanel("peer", "add", "phone")
	tp.phoneUp(conf)
	if r := tp.ping(routerTunnel, "-c", "1", "-W", "3"); r.err != nil {
		t.Fatalf("phone cannot reach the router's tunnel address: %v", r)
	}
	return conf, tp.peerKey("phone")
}

// TestPhoneConnects checks the whole path a phone on holiday takes: the
// config `peer add` prints works unchanged in wg-quick, the handshake
// completes, and both the router and a host on the home LAN answer.
func TestPhoneConnects(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{phone: true, lan: true})

	conf := tp.mustWgpanel("peer", "add", "phone")
	if got, want := confValues(conf, "Endpoint"), []string{fmt.Sprintf("%s:%d", routerWAN, listenPort)}; !slices.Equal(got, want) {
		t.Errorf("client config Endpoint: got %q; want %q", got, want)
	}
	tp.phoneUp(conf)

	start := time.Now()
	r := tp.ping(routerTunnel, "-c", "3", "-i", "0.2", "-W", "3")
	if r.err != nil {
		t.Fatalf("ping router tunnel address: %v", r)
	}
	t.Logf("first ping round (handshake included) took %v", r.took.Round(time.Millisecond))
	if sent, got, ok := pingCounts(r.stdout); !ok || got != sent {
		t.Errorf("ping %s: got %d of %d replies; want all\n%s", routerTunnel, got, sent, r.stdout)
	}

	key := tp.peerKey("phone")
	hs, ok := tp.wgShow("latest-handshakes")[key]
	if !ok {
		t.Fatalf("router device has no peer %s (phone)", key)
	}
	if hs == "0" {
		t.Errorf("router device: latest handshake with the phone is 0; want a completed handshake")
	} else if sec, err := fmt.Sscan(hs, new(int64)); err != nil || sec != 1 {
		t.Errorf("router device: latest handshake %q is not a unix time", hs)
	}
	p := tp.peers()["phone"]
	if !p.Online {
		t.Errorf("peer list --json: phone online = false after a handshake %v ago; want true", time.Since(start).Round(time.Millisecond))
	}
	if p.RxBytes == 0 || p.TxBytes == 0 {
		t.Errorf("peer list --json: phone rx_bytes=%d tx_bytes=%d; want both > 0", p.RxBytes, p.TxBytes)
	}

	r = tp.ping(lanHost, "-c", "3", "-i", "0.2", "-W", "3")
	if r.err != nil {
		t.Fatalf("ping LAN host through the tunnel: %v", r)
	}
	if sent, got, ok := pingCounts(r.stdout); !ok || got != sent {
		t.Errorf("ping %s: got %d of %d replies; want all\n%s", lanHost, got, sent, r.stdout)
	}

	// wg-quick handed the config's DNS line (the router's LAN address by
	// default) to resolvconf.
	log := readFile(t, tp.resolvconfLog())
	if !strings.Contains(log, "nameserver "+routerLAN) {
		t.Errorf("resolvconf got %q; want a line \"nameserver %s\"", log, routerLAN)
	}
}

// TestLiveAddRemoveLosesNothing adds and removes another peer while the
// phone pings: live apply must never bounce the interface.
func TestLiveAddRemoveLosesNothing(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{phone: true})
	_, phoneKey := connectPhone(t, tp)

	const count = 60
	pingCmd := command(t.Context(), nil, inNS(tp.phone, "ping", "-n", "-i", "0.1", "-c", fmt.Sprint(count), "-w", "20", routerTunnel)...)
	var pingOut testutil.SyncBuffer
	pingCmd.Stdout = &pingOut
	pingCmd.Stderr = &pingOut
	if err := pingCmd.Start(); err != nil {
		t.Fatal(err)
	}
	pingDone := make(chan error, 1)
	go func() { pingDone <- pingCmd.Wait() }()
	pingRunning := func() bool {
		select {
		case err := <-pingDone:
			pingDone <- err
			return false
		default:
			return true
		}
	}

	time.Sleep(1 * time.Second)
	tablet := tp.mustWgpanel("peer", "add", "tablet")
	if len(confValues(tablet, "PrivateKey")) != 1 {
		t.Errorf("peer add tablet printed no client config:\n%s", tablet)
	}
	tabletKey := tp.peerKey("tablet")
	if !tp.onDevice(tabletKey) {
		t.Errorf("after peer add tablet: device peers %v; want tablet %s among them", tp.devicePeers(), tabletKey)
	}
	time.Sleep(1 * time.Second)
	tp.mustWgpanel("peer", "remove", "tablet")
	if tp.onDevice(tabletKey) {
		t.Errorf("after peer remove tablet: tablet %s still on the device", tabletKey)
	}
	if _, ok := tp.peers()["tablet"]; ok {
		t.Errorf("after peer remove tablet: peer list still shows tablet")
	}
	if !pingRunning() {
		t.Fatalf("the phone's ping ended before add and remove were done, so it proves nothing:\n%s", pingOut.String())
	}

	var err error
	select {
	case err = <-pingDone:
	case <-time.After(pingTimeout):
		t.Fatalf("ping did not finish within %v", pingTimeout)
	}
	out := pingOut.String()
	sent, got, ok := pingCounts(out)
	if err != nil || !ok || sent != count || got != count {
		t.Errorf("phone pings during live add/remove: got %d of %d replies (%v); want %d of %d\n%s", got, sent, err, count, count, out)
	}
	if !tp.onDevice(phoneKey) {
		t.Errorf("phone %s is no longer on the device", phoneKey)
	}
}

// TestRemovePhoneStopsTraffic checks that `peer remove` takes effect on
// the running device at once.
func TestRemovePhoneStopsTraffic(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{phone: true})
	_, key := connectPhone(t, tp)

	tp.mustWgpanel("peer", "remove", "phone")
	if tp.onDevice(key) {
		t.Errorf("after peer remove phone: phone %s still on the device", key)
	}
	if _, ok := tp.peers()["phone"]; ok {
		t.Errorf("after peer remove phone: peer list still shows phone")
	}
	r := tp.ping(routerTunnel, "-c", "3", "-i", "0.2", "-W", "1")
	if _, got, ok := pingCounts(r.stdout); r.exitCode() != 1 || !ok || got != 0 {
		t.Errorf("ping after peer remove phone: exit %d, %d replies; want exit 1 and no reply\n%v", r.exitCode(), got, r)
	}
}

// TestDeviceRecreatedIsRestored does what netifd does on every ifup of
// the interface (delete the device, create it again without peers) and
// checks that serve restores exactly the enabled UCI peers by itself.
func TestDeviceRecreatedIsRestored(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{phone: true})
	_, phoneKey := connectPhone(t, tp)
	tp.mustWgpanel("peer", "add", "laptop")
	tp.mustWgpanel("peer", "add", "spare")
	tp.mustWgpanel("peer", "disable", "spare")
	laptopKey, spareKey := tp.peerKey("laptop"), tp.peerKey("spare")
	want := []string{phoneKey, laptopKey}
	sort.Strings(want)
	if got := tp.devicePeers(); !slices.Equal(got, want) {
		t.Fatalf("before the device is deleted: device peers %v; want %v (phone, laptop; spare is disabled)", got, want)
	}
	if p := tp.peers()["spare"]; p.Enabled {
		t.Errorf("peer list --json after peer disable spare: enabled = true; want false")
	}
	privKey := tp.serverPrivateKey()

	// The embedded device of serve dies with its link.
	mustRun(t, quickTimeout, "ip", "-n", tp.router, "link", "del", tp.wgIf)
	time.Sleep(300 * time.Millisecond)
	if !tp.serveRunning() {
		tp.serveGone = true
		t.Fatalf("serve exited when its device was deleted: %v; want it to keep running (its log follows)", tp.serveErr)
	}

	// Recreate it like netifd: a fresh device with key, port and address
	// but no peers. Serve notices the new link and restores the peers by
	// itself.
	tp.netifdUp(privKey)
	tp.waitDevicePeers(want, 2*time.Second)
	if !tp.waitLogLine(2*time.Second, "reconciled the interface", "added=2") {
		t.Errorf("serve did not log the restore as one line with counts (added=2):\n%s", tp.serveLog.String())
	}

	// The same, taken from the network file itself.
	var enabled []string
	for _, s := range tp.uciPeers() {
		key := strings.Join(s.options["public_key"], ",")
		if strings.Join(s.options["disabled"], ",") == "1" {
			if key != spareKey {
				t.Errorf("network file: peer %s is disabled; want only spare (%s) disabled", key, spareKey)
			}
			continue
		}
		enabled = append(enabled, key)
	}
	sort.Strings(enabled)
	if got := tp.devicePeers(); !slices.Equal(got, enabled) {
		t.Errorf("after reconcile: device peers %v; want the enabled peers of the network file %v", got, enabled)
	}
	ips := tp.wgShow("allowed-ips")
	for name, p := range tp.peers() {
		if !p.Enabled {
			continue
		}
		if got, want := sortedFields(ips[p.PublicKey]), sortedFields(strings.Join(p.Addresses, " ")); !slices.Equal(got, want) {
			t.Errorf("after reconcile: device allowed-ips of %s %v; want %v", name, got, want)
		}
	}

	// Nothing is left to change.
	again := tp.mustWgpanel("reconcile")
	if strings.Contains(again, phoneKey) || strings.Contains(again, laptopKey) || strings.Contains(again, spareKey) {
		t.Errorf("reconcile after serve restored the device reports changes:\n%s", again)
	}

	// The phone's old session died with the device. WireGuard starts a new
	// handshake when a sent packet gets no answer for 15 s
	// (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT), so allow a little more than that.
	start := time.Now()
	var r cmdResult
	for i := 0; i < 25; i++ {
		if r = tp.ping(routerTunnel, "-c", "1", "-W", "1"); r.err == nil {
			break
		}
	}
	if r.err != nil {
		t.Fatalf("phone cannot reach the router %v after reconcile: %v", time.Since(start).Round(time.Millisecond), r)
	}
	t.Logf("phone reached the router again %v after reconcile", time.Since(start).Round(time.Millisecond))
}

// TestConcurrentAdds starts 50 `peer add` processes at once: the UCI lock
// must keep every peer and never hand out an address twice.
func TestConcurrentAdds(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{})
	const n = 50

	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr strings.Builder
	}
	procs := make([]*proc, n)
	start := time.Now()
	for i := range procs {
		p := &proc{cmd: command(t.Context(), nil, inNS(tp.router, tp.bin, "--config-dir", tp.configDir, "peer", "add", fmt.Sprintf("p%d", i))...)}
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start peer add p%d: %v", i, err)
		}
		procs[i] = p
	}
	addrs := map[string]string{} // client Address -> peer name
	for i, p := range procs {
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			err = <-done
		}
		name := fmt.Sprintf("p%d", i)
		if err != nil {
			t.Errorf("peer add %s: %v\nstderr: %s", name, err, p.stderr.String())
			continue
		}
		a := confValues(p.stdout.String(), "Address")
		if len(a) != 1 {
			t.Errorf("peer add %s: client config Address lines %q; want one", name, a)
			continue
		}
		if other, dup := addrs[a[0]]; dup {
			t.Errorf("peer add %s and %s both got Address %s", other, name, a[0])
		}
		addrs[a[0]] = name
	}
	t.Logf("%d concurrent peer add processes took %v", n, time.Since(start).Round(time.Millisecond))

	// UCI has each of them once, with distinct addresses.
	uci := tp.uciPeers()
	if len(uci) != n {
		t.Errorf("network file has %d wireguard_%s sections; want %d", len(uci), tp.wgIf, n)
	}
	names := map[string]bool{}
	allowed := map[string]string{}
	var uciKeys []string
	for _, s := range uci {
		name := strings.Join(s.options["description"], ",")
		if names[name] {
			t.Errorf("network file: peer %q twice", name)
		}
		names[name] = true
		for _, a := range s.options["allowed_ips"] {
			if other, dup := allowed[a]; dup {
				t.Errorf("network file: %s and %s both have allowed_ips %s", other, name, a)
			}
			allowed[a] = name
		}
		if len(s.options["allowed_ips"]) == 0 {
			t.Errorf("network file: peer %q has no allowed_ips", name)
		}
		uciKeys = append(uciKeys, strings.Join(s.options["public_key"], ","))
	}
	for i := 0; i < n; i++ {
		if !names[fmt.Sprintf("p%d", i)] {
			t.Errorf("network file: peer p%d missing", i)
		}
	}
	sort.Strings(uciKeys)

	// The CLI and the device agree with the file.
	if got := len(tp.peers()); got != n {
		t.Errorf("peer list --json: %d peers; want %d", got, n)
	}
	if got := tp.devicePeers(); !slices.Equal(got, uciKeys) {
		t.Errorf("device has %d peers, UCI %d; want the same public keys\ndevice: %v\nUCI:    %v", len(got), len(uciKeys), got, uciKeys)
	}
}

func containsWord(s, word string) bool {
	return slices.Contains(strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}), word)
}

func sortedFields(s string) []string {
	f := strings.Fields(strings.ReplaceAll(s, ",", " "))
	sort.Strings(f)
	return f
}
