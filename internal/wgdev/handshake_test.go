package wgdev

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestHandshakeWithWgQuick is the end-to-end check: a device from Up,
// managed by Client, serves a "phone" that is Debian's wg-quick with its
// own wireguard-go in a second network namespace, joined to ours by a veth
// pair on 192.0.2.0/24. It shows a real handshake, traffic both ways and
// the statistics State reports, and that changing other peers live drops
// none of the phone's packets.
func TestHandshakeWithWgQuick(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)
	testutil.RequireCommand(t, "ip", "wg", "wg-quick", "wireguard-go", "ping")

	// The phone's config file must outlive wg-quick down in the cleanup,
	// so its directory is made before the cleanup is registered.
	dir := t.TempDir()
	phone := newPhoneNS(t)

	vethR, vethP := ifname(t, "r"), ifname(t, "q")
	run(t, "ip", "link", "set", "lo", "up")
	run(t, "ip", "link", "add", "name", vethR, "type", "veth", "peer", "name", vethP, "netns", phone.name)
	run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", vethR)
	run(t, "ip", "link", "set", vethR, "up")
	phone.run(t, "ip", "link", "set", "lo", "up")
	phone.run(t, "ip", "addr", "add", "192.0.2.2/24", "dev", vethP)
	phone.run(t, "ip", "link", "set", vethP, "up")

	server := ifname(t, "s")
	serverKey := newKey(t)
	up(t, LinkConfig{Name: server, PrivateKey: serverKey, ListenPort: 51820, Addresses: []netip.Prefix{
		netip.MustParsePrefix("10.77.0.1/24"), netip.MustParsePrefix("fd00:77::1/64"),
	}})
	c := New(testLog(t))
	defer c.Close()

	// Another peer exists before the phone is added.
	other := vpn.DevicePeer{PublicKey: newKey(t).PublicKey(),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.3/32")}}
	if err := c.SetPeer(server, other); err != nil {
		t.Fatal(err)
	}
	phoneKey, psk := newKey(t), newKey(t)
	if err := c.SetPeer(server, vpn.DevicePeer{
		PublicKey:    phoneKey.PublicKey(),
		PresharedKey: &psk,
		AllowedIPs:   []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32"), netip.MustParsePrefix("fd00:77::2/128")},
	}); err != nil {
		t.Fatal(err)
	}

	phoneIf := ifname(t, "ph")
	conf := filepath.Join(dir, phoneIf+".conf")
	text := fmt.Sprintf(`[Interface]
PrivateKey = %s
Address = 10.77.0.2/32, fd00:77::2/128

[Peer]
PublicKey = %s
PresharedKey = %s
Endpoint = 192.0.2.1:51820
AllowedIPs = 10.77.0.0/24, fd00:77::/64
`, phoneKey, serverKey.PublicKey(), psk)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	phone.conf = conf
	phone.run(t, "env", "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go", "wg-quick", "up", conf)

	before := time.Now()
	phone.run(t, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.1")
	phone.run(t, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "fd00:77::1")
	// The server now knows the phone's endpoint and can reach it too.
	run(t, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.77.0.2")

	st, err := c.State(server)
	if err != nil {
		t.Fatal(err)
	}
	got := findPeer(t, st, phoneKey.PublicKey().String())
	t.Logf("phone as State reports it: endpoint %v, handshake %v ago, rx %d B, tx %d B, psk %v",
		got.Endpoint, time.Since(got.LatestHandshake).Round(time.Millisecond), got.RxBytes, got.TxBytes, got.HasPresharedKey)
	if got.LatestHandshake.Before(before.Add(-time.Second)) || got.LatestHandshake.After(time.Now()) {
		t.Errorf("latest handshake: got %v; want between %v and now", got.LatestHandshake, before)
	}
	if got.RxBytes <= 0 || got.TxBytes <= 0 {
		t.Errorf("rx/tx: got %d/%d; want both > 0", got.RxBytes, got.TxBytes)
	}
	if got.Endpoint.Addr() != netip.MustParseAddr("192.0.2.2") || got.Endpoint.Port() == 0 {
		t.Errorf("endpoint: got %v; want 192.0.2.2 with a port", got.Endpoint)
	}
	if !got.HasPresharedKey {
		t.Error("HasPresharedKey: got false; want true")
	}
	if o := findPeer(t, st, other.PublicKey.String()); !o.LatestHandshake.IsZero() || o.RxBytes != 0 || o.Endpoint.IsValid() {
		t.Errorf("other peer: got %+v; want no handshake, no traffic, no endpoint", o)
	}

	// The phone's view agrees: wg(8) in its namespace has a handshake too.
	if out := phone.run(t, "wg", "show", phoneIf, "latest-handshakes"); strings.Contains(out, "\t0\n") {
		t.Errorf("wg show on the phone: got %q; want a handshake", out)
	}

	// Adding and removing other peers while the phone pings loses nothing
	// and needs no new handshake.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ping := exec.CommandContext(ctx, "ip", "netns", "exec", phone.name,
		"ping", "-c", "40", "-i", "0.05", "-W", "1", "10.77.0.1")
	var pingOut bytes.Buffer
	ping.Stdout, ping.Stderr = &pingOut, &pingOut
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		p := vpn.DevicePeer{PublicKey: newKey(t).PublicKey(),
			AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + i)}), 32)}}
		if err := c.SetPeer(server, p); err != nil {
			t.Fatal(err)
		}
		other.Keepalive = time.Duration(i%2) * 25 * time.Second
		if err := c.SetPeer(server, other); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
		if err := c.RemovePeer(server, p.PublicKey); err != nil {
			t.Fatal(err)
		}
	}
	if err := ping.Wait(); err != nil {
		t.Fatalf("ping during peer changes: %v\n%s", err, pingOut.String())
	}
	if sent, recv := pingCounts(t, pingOut.String()); sent != 40 || recv != 40 {
		t.Errorf("ping during peer changes: got %d of %d replies; want 40 of 40", recv, sent)
	}
	st2, err := c.State(server)
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.Peers) != 2 {
		t.Errorf("peers after the changes: got %d; want 2", len(st2.Peers))
	}
	got2 := findPeer(t, st2, phoneKey.PublicKey().String())
	if !got2.LatestHandshake.Equal(got.LatestHandshake) {
		t.Errorf("phone's handshake: got %v; want unchanged %v", got2.LatestHandshake, got.LatestHandshake)
	}
	if got2.RxBytes <= got.RxBytes || got2.TxBytes <= got.TxBytes {
		t.Errorf("phone's rx/tx: got %d/%d; want more than %d/%d", got2.RxBytes, got2.TxBytes, got.RxBytes, got.TxBytes)
	}
}

func findPeer(t *testing.T, st *vpn.DeviceState, key string) vpn.PeerStats {
	t.Helper()
	i := slices.IndexFunc(st.Peers, func(p vpn.PeerStats) bool { return p.PublicKey.String() == key })
	if i < 0 {
		t.Fatalf("peer %s is not on %s", key, st.Name)
	}
	return st.Peers[i]
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

func pingCounts(t *testing.T, out string) (sent, recv int) {
	t.Helper()
	m := pingSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in ping output:\n%s", out)
	}
	sent, _ = strconv.Atoi(m[1])
	recv, _ = strconv.Atoi(m[2])
	return sent, recv
}

// phoneNS is a named network namespace (ip netns) standing in for a phone.
type phoneNS struct {
	name string
	conf string // wg-quick config, once up
}

// newPhoneNS creates the namespace and registers its removal, with
// everything running in it.
func newPhoneNS(t *testing.T) *phoneNS {
	t.Helper()
	ns := &phoneNS{name: fmt.Sprintf("wgdev-phone-%d", os.Getpid())}
	run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() { ns.remove(t) })
	return ns
}

func (ns *phoneNS) run(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns.name}, args...)...)
}

// remove takes the phone's interface down, stops what still runs in the
// namespace (wg-quick daemonizes wireguard-go, which is re-parented to
// pid 1) and deletes the namespace.
func (ns *phoneNS) remove(t *testing.T) {
	if ns.conf != "" {
		if out, err := exec.Command("ip", "netns", "exec", ns.name, "wg-quick", "down", ns.conf).CombinedOutput(); err != nil {
			t.Logf("wg-quick down: %v\n%s", err, out)
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		pids := ns.pids(t)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			syscall.Kill(pid, sig)
		}
		for deadline := time.Now().Add(2 * time.Second); len(ns.pids(t)) > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v\n%s", ns.name, err, out)
	}
}

func (ns *phoneNS) pids(t *testing.T) []int {
	out, err := exec.Command("ip", "netns", "pids", ns.name).Output()
	if err != nil {
		t.Logf("ip netns pids %s: %v", ns.name, err)
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
