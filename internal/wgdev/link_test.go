package wgdev

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

func TestUpRejectsBadConfig(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name string
		cfg  LinkConfig
		want string
	}{
		{"empty name", LinkConfig{PrivateKey: key}, `"" is not a valid interface name`},
		{"long name", LinkConfig{Name: "wg0123456789abcd", PrivateKey: key}, "is not a valid interface name"},
		{"slash", LinkConfig{Name: "wg/0", PrivateKey: key}, "is not a valid interface name"},
		{"dot", LinkConfig{Name: ".", PrivateKey: key}, "is not a valid interface name"},
		{"no key", LinkConfig{Name: "wg0"}, "the private key is empty"},
		{"port", LinkConfig{Name: "wg0", PrivateKey: key, ListenPort: 65536}, "listen port 65536 is out of range"},
		{"mtu", LinkConfig{Name: "wg0", PrivateKey: key, MTU: 100}, "MTU 100 is out of range"},
		{"ipv6 mtu", LinkConfig{Name: "wg0", PrivateKey: key, MTU: 1000,
			Addresses: []netip.Prefix{netip.MustParsePrefix("fd00::1/64")}}, "IPv6 needs an MTU of at least 1280"},
		{"bad address", LinkConfig{Name: "wg0", PrivateKey: key, Addresses: []netip.Prefix{{}}},
			"is not a valid IPv4 or IPv6 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Up(context.Background(), tt.cfg, testLog(t))
			if err == nil {
				l.Close()
				t.Fatalf("Up: got no error; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Up: got %q; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestUpWithoutRoot(t *testing.T) {
	defer func(f func() bool) { hasNetAdmin = f }(hasNetAdmin)
	hasNetAdmin = func() bool { return false }

	_, err := Up(context.Background(), LinkConfig{Name: "wg0", PrivateKey: newKey(t)}, testLog(t))
	if !errors.Is(err, vpn.ErrDeviceUnreachable) {
		t.Errorf("Up: got %v; want an error wrapping ErrDeviceUnreachable", err)
	}
	if got, want := vpn.ErrorMessage(err), "creating interface wg0 needs root (CAP_NET_ADMIN)"; got != want {
		t.Errorf("message: got %q; want %q", got, want)
	}
}

func TestUp(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)
	testutil.RequireCommand(t, "ip")

	name := ifname(t, "a")
	key := newKey(t)
	addrs := []netip.Prefix{
		netip.MustParsePrefix("10.77.0.1/24"),
		netip.MustParsePrefix("fd00:77::1/64"),
	}
	l := up(t, LinkConfig{Name: name, PrivateKey: key, ListenPort: 51820, Addresses: addrs, MTU: 1380})

	if l.Name() != name {
		t.Errorf("Name: got %q; want %q", l.Name(), name)
	}
	if want := wantKind(); l.Kind() != want {
		t.Errorf("Kind: got %q; want %q", l.Kind(), want)
	}

	d := wgDevice(t, name)
	if d.PublicKey != key.PublicKey() {
		t.Errorf("public key: got %s; want %s", d.PublicKey, key.PublicKey())
	}
	if d.ListenPort != 51820 {
		t.Errorf("listen port: got %d; want 51820", d.ListenPort)
	}
	if len(d.Peers) != 0 {
		t.Errorf("peers: got %d; want 0", len(d.Peers))
	}
	if l.Kind() == KindUserspace && !fileExists(sockPath(name)) {
		t.Errorf("UAPI socket %s is missing", sockPath(name))
	}

	il := showLink(t, name)
	if il == nil {
		t.Fatalf("ip does not show %s", name)
	}
	if il.MTU != 1380 {
		t.Errorf("MTU: got %d; want 1380", il.MTU)
	}
	if !slices.Contains(il.Flags, "UP") {
		t.Errorf("flags: got %v; want UP among them", il.Flags)
	}
	got := il.prefixes(t)
	for _, want := range addrs {
		if !slices.Contains(got, want) {
			t.Errorf("addresses: got %v; want %v among them", got, want)
		}
	}

	// The listen port is really bound: another socket cannot take it.
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 51820}); err == nil {
		c.Close()
		t.Errorf("port 51820 is free; want it held by %s", name)
	}

	// wg(8) sees the device, with the key hidden.
	if out := run(t, "wg", "show", name); !strings.Contains(out, key.PublicKey().String()) ||
		strings.Contains(out, key.String()) {
		t.Errorf("wg show %s: got %q; want the public key and not the private key", name, out)
	}
}

func TestUpRefusesExistingInterface(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)
	testutil.RequireCommand(t, "ip")

	// Someone else's interface of another kind.
	bridge := ifname(t, "br")
	run(t, "ip", "link", "add", "name", bridge, "type", "bridge")
	_, err := Up(context.Background(), LinkConfig{Name: bridge, PrivateKey: newKey(t)}, testLog(t))
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("Up(%s): got %v; want an error wrapping os.ErrExist", bridge, err)
	}
	if err != nil && !strings.Contains(err.Error(), "interface "+bridge+" already exists") {
		t.Errorf("Up(%s): got %q; want it to say the interface already exists", bridge, err)
	}
	if showLink(t, bridge) == nil {
		t.Errorf("Up deleted the existing interface %s", bridge)
	}

	// Our own device: a second Up fails and the first is unharmed.
	name := ifname(t, "a")
	key := newKey(t)
	up(t, LinkConfig{Name: name, PrivateKey: key, ListenPort: 51820})
	_, err = Up(context.Background(), LinkConfig{Name: name, PrivateKey: newKey(t), ListenPort: 51821}, testLog(t))
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("second Up(%s): got %v; want an error wrapping os.ErrExist", name, err)
	}
	if d := wgDevice(t, name); d.PublicKey != key.PublicKey() || d.ListenPort != 51820 {
		t.Errorf("first device after second Up: got key %s port %d; want %s 51820",
			d.PublicKey, d.ListenPort, key.PublicKey())
	}
}

func TestUpPortInUse(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)

	c, err := net.ListenUDP("udp", &net.UDPAddr{Port: 51820})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	name := ifname(t, "p")
	l, err := Up(context.Background(), LinkConfig{Name: name, PrivateKey: newKey(t), ListenPort: 51820}, testLog(t))
	if err == nil {
		l.Close()
		t.Fatal("Up: got no error; want the port to be in use")
	}
	t.Logf("Up with the port taken: %v", err)
	if want := "listen port 51820 is already in use"; !strings.Contains(err.Error(), want) {
		t.Errorf("Up: got %q; want it to contain %q", err, want)
	}
	// Nothing is left behind.
	if showLink(t, name) != nil {
		t.Errorf("interface %s was left behind", name)
	}
	if fileExists(sockPath(name)) {
		t.Errorf("%s was left behind", sockPath(name))
	}
}

func TestLinkClose(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)

	name := ifname(t, "c")
	l, err := Up(context.Background(), LinkConfig{Name: name, PrivateKey: newKey(t), ListenPort: 51820}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
		t.Fatal("Done is closed before Close")
	default:
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitClosed(t, l.Done(), time.Second, "Done after Close")
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	assertReleased(t, name, 51820)
}

// assertReleased checks that nothing of the device called name is left and
// its port is free.
func assertReleased(t *testing.T, name string, port int) {
	t.Helper()
	// The kernel removes a TUN link when its file is closed; give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for showLink(t, name) != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if showLink(t, name) != nil {
		t.Errorf("interface %s still exists", name)
	}
	if fileExists(sockPath(name)) {
		t.Errorf("%s still exists", sockPath(name))
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{Port: port})
	if err != nil {
		t.Errorf("port %d is not free: %v", port, err)
	} else {
		c.Close()
	}
	if _, err := New(nil).State(name); !errors.Is(err, vpn.ErrNoDevice) {
		t.Errorf("State(%s): got %v; want ErrNoDevice", name, err)
	}
}

// TestDoneAfterLinkDelete shows what happens when someone deletes the
// interface under a running wireguard-go: reading the TUN fails, the
// device closes itself, and the Link releases the rest.
func TestDoneAfterLinkDelete(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)
	testutil.RequireCommand(t, "ip")

	name := ifname(t, "d")
	key := newKey(t)
	l, err := Up(context.Background(), LinkConfig{Name: name, PrivateKey: key, ListenPort: 51820}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run(t, "ip", "link", "del", name)
	waitClosed(t, l.Done(), 5*time.Second, "Done after ip link del")
	t.Logf("Done fired %v after ip link del", time.Since(start))
	for i := range 2 {
		if err := l.Close(); err != nil {
			t.Errorf("Close #%d after Done: %v", i+1, err)
		}
	}
	assertReleased(t, name, 51820)

	// Another Up can take the name and the port again.
	l2 := up(t, LinkConfig{Name: name, PrivateKey: key, ListenPort: 51820})
	if d := wgDevice(t, name); d.ListenPort != 51820 {
		t.Errorf("re-created device: got port %d; want 51820", d.ListenPort)
	}
	_ = l2
}

// TestLinkWatcher checks the watcher a kernel WireGuard link relies on,
// with a bridge, since test machines often lack the WireGuard module.
func TestLinkWatcher(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip")

	index := func(name string) uint32 {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(ifi.Index)
	}
	br1, br2 := ifname(t, "b1"), ifname(t, "b2")
	run(t, "ip", "link", "add", "name", br1, "type", "bridge")
	run(t, "ip", "link", "add", "name", br2, "type", "bridge")

	w, err := watchLink(index(br1), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer w.stop()
	run(t, "ip", "link", "del", br2) // not ours
	select {
	case <-w.gone:
		t.Fatalf("watcher for %s fired when %s was deleted", br1, br2)
	case <-time.After(200 * time.Millisecond):
	}
	run(t, "ip", "link", "del", br1)
	waitClosed(t, w.gone, 5*time.Second, "watcher firing after ip link del")

	// A watcher stops promptly while its link still exists.
	br3 := ifname(t, "b3")
	run(t, "ip", "link", "add", "name", br3, "type", "bridge")
	w3, err := watchLink(index(br3), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { w3.stop(); close(stopped) }()
	waitClosed(t, stopped, 2*time.Second, "watcher stop")
	select {
	case <-w3.gone:
		t.Errorf("watcher for %s says gone after stop; it still exists", br3)
	default:
	}
	// deleteLinkIfOurs refuses a link whose name does not match.
	if err := deleteLinkIfOurs(index(br3), "someone-else"); err != nil {
		t.Fatal(err)
	}
	if showLink(t, br3) == nil {
		t.Errorf("deleteLinkIfOurs deleted %s under another name", br3)
	}
	if err := deleteLinkIfOurs(index(br3), br3); err != nil {
		t.Fatal(err)
	}
	if showLink(t, br3) != nil {
		t.Errorf("deleteLinkIfOurs left %s", br3)
	}
}

// keyFromString is for table tests that need fixed keys.
func keyFromString(t testing.TB, s string) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
