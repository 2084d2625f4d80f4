package wgdev

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// BenchmarkState250Peers measures State on a real userspace device with
// 250 peers, each with an IPv4 and an IPv6 allowed IP, a preshared key and
// a keepalive: the UI polls State, and a router's CPU is slow.
func BenchmarkState250Peers(b *testing.B) {
	requireWireGuard(b)
	if !testutil.BenchInNetNS(b) {
		return
	}
	deviceTest(b)

	name := ifname(b, "b")
	up(b, LinkConfig{Name: name, PrivateKey: newKey(b), ListenPort: 51820})
	peers := make([]wgtypes.PeerConfig, 250)
	keepalive := 25 * time.Second
	for i := range peers {
		psk := newKey(b)
		v4 := netip.AddrFrom4([4]byte{10, 77, byte(i / 250), byte(2 + i%250)})
		v6 := netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x77, 14: byte(i >> 8), 15: byte(i)})
		peers[i] = wgtypes.PeerConfig{
			PublicKey:                   newKey(b).PublicKey(),
			PresharedKey:                &psk,
			PersistentKeepaliveInterval: &keepalive,
			AllowedIPs: []net.IPNet{
				{IP: v4.AsSlice(), Mask: net.CIDRMask(32, 32)},
				{IP: v6.AsSlice(), Mask: net.CIDRMask(128, 128)},
			},
		}
	}
	wg, err := wgctrl.New()
	if err != nil {
		b.Fatal(err)
	}
	err = wg.ConfigureDevice(name, wgtypes.Config{Peers: peers})
	wg.Close()
	if err != nil {
		b.Fatal(err)
	}

	c := New(nil)
	defer c.Close()
	st, err := c.State(name)
	if err != nil {
		b.Fatal(err)
	}
	if len(st.Peers) != 250 || len(st.Peers[0].AllowedIPs) != 2 {
		b.Fatalf("got %d peers with %d allowed IPs; want 250 with 2", len(st.Peers), len(st.Peers[0].AllowedIPs))
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.State(name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeviceState250 is State's own share of BenchmarkState250Peers:
// converting wgctrl's answer, without the UAPI round trip and parsing.
func BenchmarkDeviceState250(b *testing.B) {
	d := &wgtypes.Device{Name: "wg0", Peers: make([]wgtypes.Peer, 250)}
	for i := range d.Peers {
		d.Peers[i] = wgtypes.Peer{
			PublicKey:         newKey(b).PublicKey(),
			Endpoint:          &net.UDPAddr{IP: net.IPv4(192, 0, 2, byte(i)), Port: 40000 + i},
			LastHandshakeTime: time.Now(),
			AllowedIPs: []net.IPNet{
				{IP: net.IPv4(10, 77, 0, byte(i)), Mask: net.CIDRMask(32, 32)},
				{IP: net.ParseIP("fd00::2"), Mask: net.CIDRMask(128, 128)},
			},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		deviceState(d)
	}
}
