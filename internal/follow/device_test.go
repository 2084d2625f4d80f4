package follow

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

// TestLoopRestoresFakeDevice runs the loop with the real reconcile of
// internal/vpn on a fake store and device: the device loses its peers (as
// when netifd re-creates it) and gets a stray one; after the event and the
// quiet time it holds exactly the enabled peers again, and a second event
// changes nothing on it.
func TestLoopRestoresFakeDevice(t *testing.T) {
	key := func() wgtypes.Key {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	one, two, off := key().PublicKey(), key().PublicKey(), key().PublicKey()
	psk := key()
	ips := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	store := vpntest.NewStore(&vpn.Config{
		Settings: vpn.Settings{Interface: "wg0"},
		Server: &vpn.Server{Interface: "wg0", PrivateKey: key(), Addresses: ips("10.66.66.1/24"), Peers: []vpn.Peer{
			{Name: "one", PublicKey: one, PresharedKey: &psk, AllowedIPs: ips("10.66.66.2/32"), Enabled: true},
			{Name: "two", PublicKey: two, AllowedIPs: ips("10.66.66.3/32"), Enabled: true, Keepalive: 25},
			{Name: "off", PublicKey: off, AllowedIPs: ips("10.66.66.4/32")},
		}},
	})
	dev := vpntest.NewDevice("wg0")
	svc := vpn.NewService(store, dev, nil)
	clk := newFakeClock()
	done := make(chan struct{}, 10)
	l := New(Config{
		Reconcile: func(ctx context.Context) (*vpn.Changes, error) {
			defer func() { done <- struct{}{} }()
			return svc.Reconcile(ctx)
		},
		Clock: clk,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)

	want := []wgtypes.Key{one, two}
	slices.SortFunc(want, func(a, b wgtypes.Key) int { return slices.Compare(a[:], b[:]) })
	event := func() {
		t.Helper()
		l.Changed("interface")
		clk.waitArmed(t, DefaultQuiet)
		clk.Advance(DefaultQuiet)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("no reconcile within 5 s of the quiet time")
		}
		if got := dev.Keys(); !slices.Equal(got, want) {
			t.Fatalf("device peers %v; want one and two", got)
		}
	}
	// The device comes up empty but for a peer UCI does not know.
	dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: key().PublicKey(), AllowedIPs: ips("10.66.66.9/32")})
	event()
	st, _ := dev.State("wg0")
	for _, p := range st.Peers {
		if p.PublicKey == one && !p.HasPresharedKey {
			t.Error("peer one lacks its preshared key")
		}
		if p.PublicKey == two && p.Keepalive != 25*time.Second {
			t.Errorf("peer two has keepalive %v; want 25s", p.Keepalive)
		}
	}
	dev.Calls = nil
	event()
	if len(dev.Calls) != 0 {
		t.Errorf("a reconcile with nothing to do changed the device: %v", dev.Calls)
	}
}
