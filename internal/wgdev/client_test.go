package wgdev

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// fakeBackend returns canned answers; it stands in for wgctrl where a real
// system cannot produce an error on demand.
type fakeBackend struct {
	dev       *wgtypes.Device
	err       error
	configs   []wgtypes.Config
	closed    bool
	deviceErr func() error
}

func (f *fakeBackend) Device(name string) (*wgtypes.Device, error) {
	if f.deviceErr != nil {
		if err := f.deviceErr(); err != nil {
			return nil, err
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return f.dev, nil
}

func (f *fakeBackend) ConfigureDevice(name string, cfg wgtypes.Config) error {
	f.configs = append(f.configs, cfg)
	return f.err
}

func (f *fakeBackend) Close() error { f.closed = true; return nil }

// fakeClient returns a Client whose open hook returns the results in turn.
func fakeClient(t *testing.T, results ...any) (*Client, *int) {
	c := New(testLog(t))
	opens := 0
	c.kernelLoaded = func() bool { return false }
	c.open = func() (backend, error) {
		if opens >= len(results) {
			t.Fatalf("open called %d times; want at most %d", opens+1, len(results))
		}
		r := results[opens]
		opens++
		if err, ok := r.(error); ok {
			return nil, err
		}
		return r.(backend), nil
	}
	return c, &opens
}

func TestClientUnreachableThenRetry(t *testing.T) {
	qemu := fmt.Errorf("socket: %w", syscall.EPROTONOSUPPORT) // what wgctrl.New gives under qemu-user
	dev := &wgtypes.Device{Name: "wg0", ListenPort: 51820}
	c, opens := fakeClient(t, qemu, qemu, &fakeBackend{dev: dev})

	for i := range 2 {
		_, err := c.State("wg0")
		if !errors.Is(err, vpn.ErrDeviceUnreachable) {
			t.Fatalf("State #%d: got %v; want an error wrapping ErrDeviceUnreachable", i+1, err)
		}
		if !errors.Is(err, syscall.EPROTONOSUPPORT) {
			t.Errorf("State #%d: got %v; want the cause kept in the chain", i+1, err)
		}
		if got := vpn.ErrorCode(err); got != vpn.EUNAVAILABLE {
			t.Errorf("ErrorCode: got %q; want %q", got, vpn.EUNAVAILABLE)
		}
		msg := vpn.ErrorMessage(err)
		if !strings.HasPrefix(msg, "WireGuard cannot be reached: ") || !strings.Contains(msg, "qemu-user") {
			t.Errorf("message: got %q; want it to start with \"WireGuard cannot be reached: \" and explain qemu-user", msg)
		}
	}
	// Once opening works, the client works, and does not open again.
	for range 2 {
		st, err := c.State("wg0")
		if err != nil {
			t.Fatalf("State after open succeeds: %v", err)
		}
		if st.ListenPort != 51820 {
			t.Errorf("listen port: got %d; want 51820", st.ListenPort)
		}
	}
	if *opens != 3 {
		t.Errorf("open calls: got %d; want 3", *opens)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.State("wg0"); !errors.Is(err, errClosed) {
		t.Errorf("State after Close: got %v; want errClosed", err)
	}
}

func TestClientTranslatesErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		sentinel error // nil: neither sentinel
		msg      string
	}{
		{"missing device", os.ErrNotExist, vpn.ErrNoDevice, "interface wg0 does not exist"},
		{"socket vanished", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENOENT)},
			vpn.ErrNoDevice, "interface wg0 does not exist"},
		{"stale socket", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			vpn.ErrNoDevice, "interface wg0 does not exist (only a stale control socket is left in /var/run/wireguard)"},
		{"netlink EPERM", syscall.EPERM, vpn.ErrDeviceUnreachable,
			"WireGuard cannot be reached: permission denied; wgpanel must run as root (CAP_NET_ADMIN)"},
		{"socket EACCES", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EACCES)},
			vpn.ErrDeviceUnreachable, "WireGuard cannot be reached: permission denied; wgpanel must run as root (CAP_NET_ADMIN)"},
		{"other", syscall.EINVAL, nil, "internal error: wgdev: read wg0: invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fakeClient(t, &fakeBackend{err: tt.err})
			_, err := c.State("wg0")
			if err == nil {
				t.Fatal("State: got no error")
			}
			for _, s := range []error{vpn.ErrNoDevice, vpn.ErrDeviceUnreachable} {
				if got, want := errors.Is(err, s), s == tt.sentinel; got != want {
					t.Errorf("errors.Is(%v, %v): got %v; want %v", err, s, got, want)
				}
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("State: got %v; want the cause %v kept in the chain", err, tt.err)
			}
			if got := vpn.ErrorMessage(err); got != tt.msg {
				t.Errorf("message: got %q; want %q", got, tt.msg)
			}
		})
	}
}

func TestConfigureInterfacePortInUse(t *testing.T) {
	// A userspace device answers a failed set with an errno in text.
	uapiErr := os.NewSyscallError("read", errors.New("wguser: errno=98"))
	c, _ := fakeClient(t, &fakeBackend{err: uapiErr})
	err := c.ConfigureInterface("wg0", newKey(t), 51820)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("ConfigureInterface: got %v; want it to match EADDRINUSE", err)
	}
	if want := "listen port 51820 is already in use"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ConfigureInterface: got %v; want it to contain %q", err, want)
	}
}

func TestClientSendsOnlyOnePeer(t *testing.T) {
	fb := &fakeBackend{}
	c, _ := fakeClient(t, fb)
	psk := newKey(t)
	p := vpn.DevicePeer{
		PublicKey:    newKey(t).PublicKey(),
		PresharedKey: &psk,
		AllowedIPs:   []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32"), netip.MustParsePrefix("fd00::2/128")},
		Keepalive:    25 * time.Second,
	}
	if err := c.SetPeer("wg0", p); err != nil {
		t.Fatal(err)
	}
	if err := c.RemovePeer("wg0", p.PublicKey); err != nil {
		t.Fatal(err)
	}
	priv := newKey(t)
	if err := c.ConfigureInterface("wg0", priv, 0); err != nil {
		t.Fatal(err)
	}
	if len(fb.configs) != 3 {
		t.Fatalf("configs: got %d; want 3", len(fb.configs))
	}
	for i, cfg := range fb.configs[:2] {
		if cfg.ReplacePeers || len(cfg.Peers) != 1 || cfg.PrivateKey != nil || cfg.ListenPort != nil {
			t.Errorf("config #%d: got %+v; want one peer, ReplacePeers=false, no interface change", i+1, cfg)
		}
	}
	set := fb.configs[0].Peers[0]
	if !set.ReplaceAllowedIPs || set.Remove || *set.PresharedKey != psk || *set.PersistentKeepaliveInterval != 25*time.Second ||
		len(set.AllowedIPs) != 2 || set.AllowedIPs[0].String() != "10.0.0.2/32" || set.AllowedIPs[1].String() != "fd00::2/128" {
		t.Errorf("SetPeer config: got %+v", set)
	}
	if rm := fb.configs[1].Peers[0]; !rm.Remove || rm.PublicKey != p.PublicKey {
		t.Errorf("RemovePeer config: got %+v; want Remove of %s", rm, p.PublicKey)
	}
	if ci := fb.configs[2]; ci.ReplacePeers || ci.Peers != nil || *ci.PrivateKey != priv || ci.ListenPort != nil {
		t.Errorf("ConfigureInterface with port 0: got %+v; want the key only", ci)
	}
}

func TestClientReopensWhenKernelAppears(t *testing.T) {
	dev := &wgtypes.Device{Name: "wg0", Type: wgtypes.LinuxKernel}
	first, second := &fakeBackend{err: os.ErrNotExist}, &fakeBackend{dev: dev}
	c, opens := fakeClient(t, first, second)
	loaded := false
	c.kernelLoaded = func() bool { return loaded }

	if _, err := c.State("wg0"); !errors.Is(err, vpn.ErrNoDevice) {
		t.Fatalf("State before the module loads: got %v; want ErrNoDevice", err)
	}
	loaded = true // say, Up created the first kernel link
	if _, err := c.State("wg0"); err != nil {
		t.Fatalf("State after the module loaded: %v", err)
	}
	if *opens != 2 || !first.closed {
		t.Errorf("got %d opens, first closed %v; want 2 opens and the first closed", *opens, first.closed)
	}
}

func TestPeerConfigRejects(t *testing.T) {
	key := newKey(t).PublicKey()
	tests := []struct {
		name string
		p    vpn.DevicePeer
		want string
	}{
		{"no key", vpn.DevicePeer{}, "the public key is empty"},
		{"negative keepalive", vpn.DevicePeer{PublicKey: key, Keepalive: -time.Second}, "keepalive -1s is out of range"},
		{"huge keepalive", vpn.DevicePeer{PublicKey: key, Keepalive: 70000 * time.Second}, "is out of range"},
		{"bad prefix", vpn.DevicePeer{PublicKey: key, AllowedIPs: []netip.Prefix{{}}}, "is not a valid IPv4 or IPv6 prefix"},
		{"mapped prefix", vpn.DevicePeer{PublicKey: key, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.1/128")}},
			"is not a valid IPv4 or IPv6 prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fakeClient(t) // must not even open wgctrl
			err := c.SetPeer("wg0", tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SetPeer: got %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDeviceStateConversion(t *testing.T) {
	k1 := keyFromString(t, "YH6LR3cYaBRgxxmjYSUAP3SX3OwlInHYLN2cMldG7ng=")
	k2 := keyFromString(t, "0HqY7BX9rgQ6iixWxiO3r34BqQjRFE8cSqiwg/zd6GQ=")
	psk := keyFromString(t, "kHl7Ug/RmXDdDU5zvZ8qyqnKkcyNZgC6Dj8AQTGGY2o=")
	hs := time.Date(2026, 5, 1, 12, 0, 0, 5, time.UTC)
	d := &wgtypes.Device{
		Name:       "wg0",
		PublicKey:  k1,
		ListenPort: 51820,
		Peers: []wgtypes.Peer{
			{
				PublicKey:    k1,
				PresharedKey: psk,
				// A v4 endpoint in the 16-byte form net.ParseIP returns.
				Endpoint:                    &net.UDPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000},
				LastHandshakeTime:           hs,
				ReceiveBytes:                100,
				TransmitBytes:               200,
				AllowedIPs:                  []net.IPNet{mustIPNet(t, "10.0.0.2/32"), mustIPNet(t, "fd00::2/128")},
				PersistentKeepaliveInterval: 25 * time.Second,
			},
			{
				PublicKey:         k2,
				LastHandshakeTime: time.Unix(0, 0), // the kernel's "never"
				// A v4 network in 16-byte form with a 4-byte mask, as wgctrl may return it.
				AllowedIPs: []net.IPNet{{IP: net.ParseIP("10.0.0.3"), Mask: net.CIDRMask(32, 32)}},
			},
		},
	}
	st := deviceState(d)
	want := []vpn.PeerStats{
		{
			PublicKey:       k1,
			HasPresharedKey: true,
			Endpoint:        netip.MustParseAddrPort("192.0.2.7:40000"),
			LatestHandshake: hs,
			RxBytes:         100,
			TxBytes:         200,
			AllowedIPs:      []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32"), netip.MustParsePrefix("fd00::2/128")},
			Keepalive:       25 * time.Second,
		},
		{
			PublicKey:  k2,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.3/32")},
		},
	}
	if st.Name != "wg0" || st.PublicKey != k1 || st.ListenPort != 51820 {
		t.Errorf("device: got %s %s %d; want wg0 %s 51820", st.Name, st.PublicKey, st.ListenPort, k1)
	}
	if len(st.Peers) != len(want) {
		t.Fatalf("peers: got %d; want %d", len(st.Peers), len(want))
	}
	for i := range want {
		if !peerStatsEqual(st.Peers[i], want[i]) {
			t.Errorf("peer %d: got %+v; want %+v", i, st.Peers[i], want[i])
		}
	}
	// The peers share a backing array; appending to one must not touch the next.
	_ = append(st.Peers[0].AllowedIPs, netip.MustParsePrefix("192.0.2.0/24"))
	if got := st.Peers[1].AllowedIPs[0]; got != netip.MustParsePrefix("10.0.0.3/32") {
		t.Errorf("peer 1 after appending to peer 0: got %v; want 10.0.0.3/32", got)
	}
}

func peerStatsEqual(a, b vpn.PeerStats) bool {
	return a.PublicKey == b.PublicKey && a.HasPresharedKey == b.HasPresharedKey && a.Endpoint == b.Endpoint &&
		a.LatestHandshake.Equal(b.LatestHandshake) && a.RxBytes == b.RxBytes && a.TxBytes == b.TxBytes &&
		slices.Equal(a.AllowedIPs, b.AllowedIPs) && a.Keepalive == b.Keepalive
}

func mustIPNet(t *testing.T, s string) net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return *n
}

// TestStateNoDevice asks the real wgctrl about an interface that does not
// exist. It creates nothing, so it runs anywhere.
func TestStateNoDevice(t *testing.T) {
	name := ifname(t, "nx")
	c := New(testLog(t))
	defer c.Close()
	_, err := c.State(name)
	if errors.Is(err, vpn.ErrDeviceUnreachable) {
		// Under qemu-user, say; a test of its own covers the message.
		testutil.SkipOrFail(t, "WireGuard cannot be reached here: %v", err)
	}
	checks := map[string]error{
		"State":      err,
		"SetPeer":    c.SetPeer(name, vpn.DevicePeer{PublicKey: newKey(t).PublicKey()}),
		"RemovePeer": c.RemovePeer(name, newKey(t).PublicKey()),
	}
	for op, err := range checks {
		if !errors.Is(err, vpn.ErrNoDevice) {
			t.Errorf("%s: got %v; want an error wrapping ErrNoDevice", op, err)
			continue
		}
		if got, want := vpn.ErrorMessage(err), "interface "+name+" does not exist"; got != want {
			t.Errorf("%s message: got %q; want %q", op, got, want)
		}
	}
}

// TestClientPeers runs Client against a real userspace device.
func TestClientPeers(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)

	name := ifname(t, "c")
	key := newKey(t)
	up(t, LinkConfig{Name: name, PrivateKey: key, ListenPort: 51820,
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")}})
	c := New(testLog(t))
	defer c.Close()

	psk := newKey(t)
	p1 := vpn.DevicePeer{
		PublicKey:    newKey(t).PublicKey(),
		PresharedKey: &psk,
		AllowedIPs:   []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32"), netip.MustParsePrefix("fd00:77::2/128")},
		Keepalive:    25 * time.Second,
	}
	p2 := vpn.DevicePeer{
		PublicKey:  newKey(t).PublicKey(),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.3/32")},
	}
	want1 := vpn.PeerStats{PublicKey: p1.PublicKey, HasPresharedKey: true, AllowedIPs: p1.AllowedIPs, Keepalive: 25 * time.Second}
	want2 := vpn.PeerStats{PublicKey: p2.PublicKey, AllowedIPs: p2.AllowedIPs}

	check := func(step string, want ...vpn.PeerStats) {
		t.Helper()
		st, err := c.State(name)
		if err != nil {
			t.Fatalf("%s: State: %v", step, err)
		}
		if st.Name != name || st.PublicKey != key.PublicKey() || st.ListenPort != 51820 {
			t.Errorf("%s: device: got %s %s %d; want %s %s 51820", step, st.Name, st.PublicKey, st.ListenPort,
				name, key.PublicKey())
		}
		if len(st.Peers) != len(want) {
			t.Fatalf("%s: got %d peers; want %d", step, len(st.Peers), len(want))
		}
		for _, w := range want {
			i := slices.IndexFunc(st.Peers, func(p vpn.PeerStats) bool { return p.PublicKey == w.PublicKey })
			if i < 0 {
				t.Errorf("%s: peer %s is missing", step, w.PublicKey)
				continue
			}
			got := st.Peers[i]
			slices.SortFunc(got.AllowedIPs, comparePrefix)
			if !peerStatsEqual(got, w) {
				t.Errorf("%s: peer %s: got %+v; want %+v", step, w.PublicKey, got, w)
			}
		}
	}

	if err := c.SetPeer(name, p1); err != nil {
		t.Fatal(err)
	}
	check("after adding p1", want1)
	if err := c.SetPeer(name, p2); err != nil {
		t.Fatal(err)
	}
	check("after adding p2", want1, want2)

	// Updating p2 replaces its allowed IPs and leaves p1 alone.
	p2.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.77.0.4/32")}
	p2.Keepalive = 10 * time.Second
	want2 = vpn.PeerStats{PublicKey: p2.PublicKey, AllowedIPs: p2.AllowedIPs, Keepalive: 10 * time.Second}
	if err := c.SetPeer(name, p2); err != nil {
		t.Fatal(err)
	}
	check("after updating p2", want1, want2)

	if err := c.RemovePeer(name, p2.PublicKey); err != nil {
		t.Fatal(err)
	}
	check("after removing p2", want1)
	for _, k := range []wgtypes.Key{p2.PublicKey, newKey(t).PublicKey()} {
		if err := c.RemovePeer(name, k); err != nil {
			t.Errorf("RemovePeer of an absent peer: got %v; want nil", err)
		}
	}
	check("after removing absent peers", want1)

	// A nil preshared key and zero keepalive clear them.
	p1.PresharedKey, p1.Keepalive = nil, 0
	want1.HasPresharedKey, want1.Keepalive = false, 0
	if err := c.SetPeer(name, p1); err != nil {
		t.Fatal(err)
	}
	check("after clearing p1's psk and keepalive", want1)

	// A new key and port keep the peers.
	key = newKey(t)
	if err := c.ConfigureInterface(name, key, 51820); err != nil {
		t.Fatal(err)
	}
	check("after ConfigureInterface", want1)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
