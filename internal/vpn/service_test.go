package vpn_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

func mustKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// newConfig returns a router with a wg0 on 10.66.66.1/24 (and an IPv6
// subnet when v6), a LAN of 192.168.1.1/24 and the given endpoint.
func newConfig(t testing.TB, v6 bool, endpoint string) *vpn.Config {
	addrs := pfx("10.66.66.1/24")
	if v6 {
		addrs = append(addrs, pfx("fd66:66:66::1/64")...)
	}
	return &vpn.Config{
		Settings: vpn.Settings{Interface: "wg0", Endpoint: endpoint, KeepPrivateKeys: true, Auth: "password"},
		Server:   &vpn.Server{Interface: "wg0", PrivateKey: mustKey(t), ListenPort: 51820, Addresses: addrs},
		Network: vpn.Network{
			LANAddr: netip.MustParseAddr("192.168.1.1"),
			LANs:    pfx("192.168.1.0/24"),
		},
	}
}

type fixture struct {
	store *vpntest.Store
	dev   *vpntest.Device
	svc   *vpn.Service
}

func newFixture(t testing.TB, cfg *vpn.Config) *fixture {
	store := vpntest.NewStore(cfg)
	dev := vpntest.NewDevice("wg0")
	return &fixture{store: store, dev: dev, svc: vpn.NewService(store, dev, nil)}
}

func TestAddPeerConfig(t *testing.T) {
	tests := []struct {
		name     string
		v6       bool
		tunnel   vpn.Tunnel
		endpoint string
		want     []string // lines the config must contain
		warn     string   // substring of a warning, "" for none
	}{
		{"split v4", false, vpn.TunnelSplit, "vpn.example.org",
			[]string{"Address = 10.66.66.2/32", "DNS = 192.168.1.1", "AllowedIPs = 192.168.1.0/24, 10.66.66.0/24",
				"Endpoint = vpn.example.org:51820", "PersistentKeepalive = 25"}, ""},
		{"full v6", true, vpn.TunnelFull, "2001:db8::1",
			[]string{"Address = 10.66.66.2/32, fd66:66:66::2/128", "AllowedIPs = 0.0.0.0/0, ::/0", "Endpoint = [2001:db8::1]:51820"}, ""},
		{"split v6", true, vpn.TunnelSplit, "203.0.113.7",
			[]string{"AllowedIPs = 192.168.1.0/24, 10.66.66.0/24, fd66:66:66::/64", "Endpoint = 203.0.113.7:51820"}, ""},
		{"no endpoint", false, vpn.TunnelSplit, "", []string{"[Peer]"}, "No endpoint is set"},
		{"private endpoint", false, vpn.TunnelSplit, "192.168.2.253", []string{"Endpoint = 192.168.2.253:51820"}, "private or shared address"},
		{"cgnat endpoint", false, vpn.TunnelSplit, "100.70.1.2", []string{"Endpoint = 100.70.1.2:51820"}, "private or shared address"},
		{"endpoint with port", false, vpn.TunnelSplit, "vpn.example.org:443", []string{"Endpoint = vpn.example.org:443"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newConfig(t, tt.v6, tt.endpoint)
			f := newFixture(t, cfg)
			res, err := f.svc.AddPeer(context.Background(), "phone", tt.tunnel)
			if err != nil {
				t.Fatalf("AddPeer: %v", err)
			}
			for _, line := range tt.want {
				if !strings.Contains(res.Config, line+"\n") {
					t.Errorf("config lacks %q:\n%s", line, res.Config)
				}
			}
			if tt.endpoint == "" && strings.Contains(res.Config, "Endpoint") {
				t.Errorf("config has an Endpoint without one configured:\n%s", res.Config)
			}
			gotWarn := strings.Join(res.Warnings, "\n")
			if (tt.warn == "") != (gotWarn == "") || !strings.Contains(gotWarn, tt.warn) {
				t.Errorf("warnings = %q; want one containing %q", gotWarn, tt.warn)
			}
			if !strings.Contains(res.Config, "PublicKey = "+cfg.Server.PrivateKey.PublicKey().String()) {
				t.Errorf("config lacks the server's public key")
			}
			// The stored peer, the device and the config agree on the key.
			saved, _ := f.store.Load(context.Background())
			p := saved.Server.Peers[0]
			if p.PrivateKey == nil || !strings.Contains(res.Config, "PrivateKey = "+p.PrivateKey.String()) {
				t.Errorf("stored private key does not match the config")
			}
			if p.PrivateKey.PublicKey() != p.PublicKey {
				t.Errorf("stored public key does not derive from the private key")
			}
			if !strings.Contains(res.Config, "PresharedKey = "+p.PresharedKey.String()) {
				t.Errorf("config lacks the stored preshared key")
			}
			if got := f.dev.Keys(); len(got) != 1 || got[0] != p.PublicKey {
				t.Errorf("device peers = %v; want [%v]", got, p.PublicKey)
			}
		})
	}
}

func TestAddPeerNotKept(t *testing.T) {
	cfg := newConfig(t, false, "vpn.example.org")
	cfg.Settings.KeepPrivateKeys = false
	f := newFixture(t, cfg)
	res, err := f.svc.AddPeer(context.Background(), "phone", vpn.TunnelSplit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Config, "PrivateKey = ") {
		t.Fatalf("config shown once lacks the private key")
	}
	saved, _ := f.store.Load(context.Background())
	if saved.Server.Peers[0].PrivateKey != nil {
		t.Errorf("private key stored although keep_private_keys is off")
	}
	_, _, err = f.svc.PeerConfig(context.Background(), res.Peer.PublicKey)
	if got := vpn.ErrorCode(err); got != vpn.ECONFLICT {
		t.Errorf("PeerConfig code = %q; want %q (%v)", got, vpn.ECONFLICT, err)
	}
}

func TestAddPeerErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*fixture)
		peer   string
		tunnel vpn.Tunnel
		code   string
		field  string
	}{
		{"empty name", nil, "", vpn.TunnelSplit, vpn.EINVALID, "name"},
		{"long name", nil, strings.Repeat("x", 65), vpn.TunnelSplit, vpn.EINVALID, "name"},
		{"control char", nil, "pho\nne", vpn.TunnelSplit, vpn.EINVALID, "name"},
		{"padded name", nil, " phone", vpn.TunnelSplit, vpn.EINVALID, "name"},
		{"key as name", nil, "M1d0jWvad5v3w/OOZI7BAEn9pppVkm3XDuw8NM9Bb+s=", vpn.TunnelSplit, vpn.EINVALID, "name"},
		{"bad tunnel", nil, "phone", "sideways", vpn.EINVALID, "tunnel"},
		{"duplicate", func(f *fixture) { f.svc.AddPeer(context.Background(), "Phone", vpn.TunnelSplit) }, "phone", vpn.TunnelSplit, vpn.ECONFLICT, "name"},
		{"unreachable", func(f *fixture) { f.dev.SetUnreachable(true) }, "phone", vpn.TunnelSplit, vpn.EUNAVAILABLE, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newConfig(t, false, "vpn.example.org"))
			if tt.setup != nil {
				tt.setup(f)
			}
			before, _ := f.store.Load(context.Background())
			_, err := f.svc.AddPeer(context.Background(), tt.peer, tt.tunnel)
			if got := vpn.ErrorCode(err); got != tt.code {
				t.Fatalf("code = %q; want %q (%v)", got, tt.code, err)
			}
			var ve *vpn.Error
			if errors.As(err, &ve) && ve.Field != tt.field {
				t.Errorf("field = %q; want %q", ve.Field, tt.field)
			}
			after, _ := f.store.Load(context.Background())
			if len(after.Server.Peers) != len(before.Server.Peers) {
				t.Errorf("a failed add changed the store: %d peers, had %d", len(after.Server.Peers), len(before.Server.Peers))
			}
		})
	}
}

func TestAddPeerFullSubnet(t *testing.T) {
	cfg := newConfig(t, false, "vpn.example.org")
	cfg.Server.Addresses = pfx("10.66.66.1/29") // hosts .1-.6; .1 is the server
	f := newFixture(t, cfg)
	var got []string
	for i := range 5 {
		res, err := f.svc.AddPeer(context.Background(), fmt.Sprintf("p%d", i), vpn.TunnelSplit)
		if err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
		got = append(got, res.Peer.Addresses[0].String())
	}
	want := "10.66.66.2/32 10.66.66.3/32 10.66.66.4/32 10.66.66.5/32 10.66.66.6/32"
	if strings.Join(got, " ") != want {
		t.Errorf("addresses = %v; want %v", got, want)
	}
	_, err := f.svc.AddPeer(context.Background(), "one-too-many", vpn.TunnelSplit)
	if vpn.ErrorCode(err) != vpn.ECONFLICT || !strings.Contains(err.Error(), "10.66.66.0/29 has no free address left") {
		t.Errorf("err = %v; want a conflict naming 10.66.66.0/29", err)
	}
	// A removed peer's address is handed out again.
	p, _ := f.svc.Peer(context.Background(), "p1")
	if err := f.svc.RemovePeer(context.Background(), p.PublicKey); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.AddPeer(context.Background(), "again", vpn.TunnelSplit)
	if err != nil || res.Peer.Addresses[0].String() != "10.66.66.3/32" {
		t.Errorf("re-add = %v, %v; want 10.66.66.3/32", res, err)
	}
}

func TestAllocateSkipsDisabledAndForeign(t *testing.T) {
	cfg := newConfig(t, true, "vpn.example.org")
	cfg.Server.Peers = []vpn.Peer{
		{Name: "old", PublicKey: mustKey(t).PublicKey(), AllowedIPs: pfx("10.66.66.2/32"), Enabled: false},
		{Name: "site", PublicKey: mustKey(t).PublicKey(), AllowedIPs: pfx("10.66.66.3/32", "fd66:66:66::9/128", "172.16.0.0/16"), Enabled: true},
	}
	f := newFixture(t, cfg)
	res, err := f.svc.AddPeer(context.Background(), "phone", vpn.TunnelSplit)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(res.Peer.Addresses)
	if want := "[10.66.66.4/32 fd66:66:66::4/128]"; got != want {
		t.Errorf("addresses = %s; want %s", got, want)
	}
}

func TestPeersMergesStats(t *testing.T) {
	f := newFixture(t, newConfig(t, false, "vpn.example.org"))
	ctx := context.Background()
	a, _ := f.svc.AddPeer(ctx, "phone", vpn.TunnelSplit)
	b, _ := f.svc.AddPeer(ctx, "laptop", vpn.TunnelFull)
	c, _ := f.svc.AddPeer(ctx, "stale", vpn.TunnelSplit)
	ep := netip.MustParseAddrPort("198.51.100.9:40000")
	f.dev.SetHandshake(a.Peer.PublicKey, time.Now().Add(-30*time.Second), 1000, 2000, ep)
	f.dev.SetHandshake(c.Peer.PublicKey, time.Now().Add(-10*time.Minute), 5, 6, ep)
	peers, err := f.svc.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 3 {
		t.Fatalf("got %d peers; want 3", len(peers))
	}
	if p := peers[0]; !p.Online || p.RxBytes != 1000 || p.TxBytes != 2000 || p.Endpoint != ep {
		t.Errorf("phone = %+v; want online with 1000/2000 bytes from %v", p, ep)
	}
	if p := peers[1]; p.Online || !p.LatestHandshake.IsZero() || p.Tunnel != vpn.TunnelFull {
		t.Errorf("laptop = %+v; want offline, never, full", p)
	}
	if p := peers[2]; p.Online || p.RxBytes != 5 {
		t.Errorf("stale = %+v; want offline with 5 bytes", p)
	}
	// An unreachable device is not an error for listing.
	f.dev.SetUnreachable(true)
	peers, err = f.svc.Peers(ctx)
	if err != nil || len(peers) != 3 || peers[0].Online {
		t.Errorf("unreachable list = %d peers, %v; want 3 without stats", len(peers), err)
	}
	st, err := f.svc.Status(ctx)
	if err != nil || st.DeviceUp || !strings.Contains(st.DeviceError, "cannot be reached") {
		t.Errorf("status = %+v, %v; want device down with a reason", st, err)
	}
	_ = b
}

func TestEnableDisableRenameRemove(t *testing.T) {
	f := newFixture(t, newConfig(t, false, "vpn.example.org"))
	ctx := context.Background()
	a, _ := f.svc.AddPeer(ctx, "phone", vpn.TunnelSplit)
	b, _ := f.svc.AddPeer(ctx, "tablet", vpn.TunnelSplit)
	key := a.Peer.PublicKey

	off := false
	v, err := f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Enabled: &off})
	if err != nil || v.Enabled {
		t.Fatalf("disable = %+v, %v", v, err)
	}
	if got := f.dev.Keys(); len(got) != 1 || got[0] != b.Peer.PublicKey {
		t.Errorf("after disable the device has %v; want only tablet", got)
	}
	saved, _ := f.store.Load(ctx)
	if len(saved.Server.Peers) != 2 || saved.Server.Peers[0].Enabled {
		t.Errorf("a disabled peer must stay in the store, disabled")
	}
	on := true
	if _, err := f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if len(f.dev.Keys()) != 2 {
		t.Errorf("after enable the device has %d peers; want 2", len(f.dev.Keys()))
	}

	name := "TABLET"
	if _, err := f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Name: &name}); vpn.ErrorCode(err) != vpn.ECONFLICT {
		t.Errorf("rename to a taken name: %v; want conflict", err)
	}
	name = "alice phone"
	if v, err := f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Name: &name}); err != nil || v.Name != name {
		t.Errorf("rename = %+v, %v", v, err)
	}
	if _, err := f.svc.UpdatePeer(ctx, mustKey(t), vpn.PeerUpdate{Name: &name}); vpn.ErrorCode(err) != vpn.ENOTFOUND {
		t.Errorf("update unknown: %v; want not found", err)
	}

	if err := f.svc.RemovePeer(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Peer(ctx, "alice phone"); vpn.ErrorCode(err) != vpn.ENOTFOUND {
		t.Errorf("removed peer still found: %v", err)
	}
	if got := f.dev.Keys(); len(got) != 1 {
		t.Errorf("device after remove has %d peers; want 1", len(got))
	}
	if err := f.svc.RemovePeer(ctx, key); vpn.ErrorCode(err) != vpn.ENOTFOUND {
		t.Errorf("second remove: %v; want not found", err)
	}
}

func TestPeerLookup(t *testing.T) {
	f := newFixture(t, newConfig(t, false, "vpn.example.org"))
	ctx := context.Background()
	a, _ := f.svc.AddPeer(ctx, "phone", vpn.TunnelSplit)
	k := a.Peer.PublicKey
	for _, ref := range []string{"phone", "PHONE", k.String(), strings.TrimRight(k.String(), "="), vpn.KeyID(k)} {
		p, err := f.svc.Peer(ctx, ref)
		if err != nil || p.PublicKey != k {
			t.Errorf("Peer(%q) = %v, %v; want the phone", ref, p.PublicKey, err)
		}
	}
	if _, err := f.svc.Peer(ctx, "nobody"); vpn.ErrorCode(err) != vpn.ENOTFOUND {
		t.Errorf("unknown name: %v; want not found", err)
	}
}

func TestReconcile(t *testing.T) {
	cfg := newConfig(t, false, "vpn.example.org")
	on1, on2, off, stray := mustKey(t).PublicKey(), mustKey(t).PublicKey(), mustKey(t).PublicKey(), mustKey(t).PublicKey()
	cfg.Server.Peers = []vpn.Peer{
		{Name: "one", PublicKey: on1, AllowedIPs: pfx("10.66.66.2/32"), Enabled: true},
		{Name: "two", PublicKey: on2, AllowedIPs: pfx("10.66.66.3/32"), Enabled: true},
		{Name: "off", PublicKey: off, AllowedIPs: pfx("10.66.66.4/32"), Enabled: false},
	}
	f := newFixture(t, cfg)
	// The device has: "two" with wrong addresses, "off", and a stray peer.
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: on2, AllowedIPs: pfx("10.66.66.9/32")})
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: off, AllowedIPs: pfx("10.66.66.4/32")})
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: stray, AllowedIPs: pfx("10.66.66.5/32")})

	ch, err := f.svc.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ch.Added) != fmt.Sprint([]wgtypes.Key{on1}) || fmt.Sprint(ch.Updated) != fmt.Sprint([]wgtypes.Key{on2}) || len(ch.Removed) != 2 {
		t.Errorf("changes = %+v; want added one, updated two, removed off and stray", ch)
	}
	for _, want := range []string{"added peer one", "updated peer two", "removed peer off", "removed peer " + stray.String()} {
		if !strings.Contains(ch.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, ch)
		}
	}
	st, _ := f.dev.State("wg0")
	if len(st.Peers) != 2 {
		t.Errorf("device has %d peers; want the 2 enabled", len(st.Peers))
	}
	ch, err = f.svc.Reconcile(context.Background())
	if err != nil || !ch.Empty() {
		t.Errorf("second reconcile = %v, %v; want no change", ch, err)
	}
	f.dev.SetAbsent(true)
	if _, err := f.svc.Reconcile(context.Background()); vpn.ErrorCode(err) != vpn.EUNAVAILABLE {
		t.Errorf("reconcile without device: %v; want unavailable", err)
	}
}

func TestNoServer(t *testing.T) {
	cfg := newConfig(t, false, "")
	cfg.Server = nil
	f := newFixture(t, cfg)
	ctx := context.Background()
	if _, err := f.svc.AddPeer(ctx, "phone", vpn.TunnelSplit); vpn.ErrorCode(err) != vpn.ECONFIG || !strings.Contains(err.Error(), "wgpanel setup") {
		t.Errorf("add without server: %v", err)
	}
	st, err := f.svc.Status(ctx)
	if err != nil || st.Configured || st.DeviceError == "" {
		t.Errorf("status = %+v, %v; want unconfigured with a reason", st, err)
	}
}

func TestApplyFailureRollsBack(t *testing.T) {
	f := newFixture(t, newConfig(t, false, "vpn.example.org"))
	// Reachable for the early check, then failing on SetPeer: simulate by
	// making the device unreachable inside the store write.
	store := &hookStore{Store: f.store, after: func() { f.dev.SetUnreachable(true) }}
	svc := vpn.NewService(store, f.dev, nil)
	_, err := svc.AddPeer(context.Background(), "phone", vpn.TunnelSplit)
	if vpn.ErrorCode(err) != vpn.EUNAVAILABLE {
		t.Fatalf("err = %v; want unavailable", err)
	}
	cfg, _ := f.store.Load(context.Background())
	if len(cfg.Server.Peers) != 0 {
		t.Errorf("store keeps %d peers after a failed apply; want 0", len(cfg.Server.Peers))
	}
}

type hookStore struct {
	*vpntest.Store
	once  sync.Once
	after func()
}

func (h *hookStore) UpdateServer(ctx context.Context, fn func(*vpn.Config) error) error {
	err := h.Store.UpdateServer(ctx, fn)
	h.once.Do(h.after)
	return err
}

func TestConcurrentAdds(t *testing.T) {
	f := newFixture(t, newConfig(t, false, "vpn.example.org"))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := f.svc.AddPeer(context.Background(), fmt.Sprintf("p%d", i), vpn.TunnelSplit); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cfg, _ := f.store.Load(context.Background())
	seen := map[netip.Prefix]bool{}
	for _, p := range cfg.Server.Peers {
		if seen[p.AllowedIPs[0]] {
			t.Errorf("address %v handed out twice", p.AllowedIPs[0])
		}
		seen[p.AllowedIPs[0]] = true
	}
	if len(seen) != 50 || len(f.dev.Keys()) != 50 {
		t.Errorf("got %d addresses and %d device peers; want 50 each", len(seen), len(f.dev.Keys()))
	}
}

func BenchmarkPeers250(b *testing.B) {
	f := newFixture(b, newConfig(b, true, "vpn.example.org"))
	ctx := context.Background()
	for i := range 250 {
		if _, err := f.svc.AddPeer(ctx, fmt.Sprintf("p%d", i), vpn.TunnelSplit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Peers(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestServerPublicKeyRemembered checks that the remembered derivation never
// gives one server's public key for another's private key.
func TestServerPublicKeyRemembered(t *testing.T) {
	var servers [2]vpn.Server
	for i := range servers {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		servers[i].PrivateKey = k
	}
	for range 3 {
		for i := range servers {
			if got, want := servers[i].PublicKey(), servers[i].PrivateKey.PublicKey(); got != want {
				t.Fatalf("server %d: PublicKey() = %s; want %s", i, got, want)
			}
		}
	}
}

func TestIsPublic(t *testing.T) {
	for s, want := range map[string]bool{
		"198.51.100.7": true, "2001:db8::1": true, "::ffff:198.51.100.7": true,
		"10.0.0.1": false, "192.168.1.1": false, "::ffff:192.168.1.1": false, "100.64.1.1": false,
		"127.0.0.1": false, "169.254.1.1": false, "fe80::1": false, "fd00::1": false, "::1": false,
		"0.0.0.0": false, "224.0.0.1": false, "255.255.255.255": false, "ff02::1": false,
	} {
		if got := vpn.IsPublic(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsPublic(%s) = %v; want %v", s, got, want)
		}
	}
	if vpn.IsPublic(netip.Addr{}) {
		t.Error("IsPublic of the zero Addr = true")
	}
}
