package vpn_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestReconcileRestoresWhatNetifdLost puts peers on the device the way a
// buggy netifd leaves them (no preshared key, no keepalive, other allowed
// IPs) and checks that Reconcile restores each, and touches nothing that
// is already right.
func TestReconcileRestoresWhatNetifdLost(t *testing.T) {
	cfg := newConfig(t, false, "vpn.example.org")
	psk := mustKey(t)
	right, noPSK, noKA, wrongIPs := mustKey(t).PublicKey(), mustKey(t).PublicKey(), mustKey(t).PublicKey(), mustKey(t).PublicKey()
	cfg.Server.Peers = []vpn.Peer{
		{Name: "right", PublicKey: right, PresharedKey: &psk, AllowedIPs: pfx("10.66.66.2/32"), Enabled: true, Keepalive: 25},
		{Name: "no-psk", PublicKey: noPSK, PresharedKey: &psk, AllowedIPs: pfx("10.66.66.3/32"), Enabled: true},
		{Name: "no-keepalive", PublicKey: noKA, AllowedIPs: pfx("10.66.66.4/32"), Enabled: true, Keepalive: 25},
		{Name: "wrong-ips", PublicKey: wrongIPs, AllowedIPs: pfx("10.66.66.5/32", "fd66::5/128"), Enabled: true},
	}
	f := newFixture(t, cfg)
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: right, PresharedKey: &psk, AllowedIPs: pfx("10.66.66.2/32"), Keepalive: 25 * time.Second})
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: noPSK, AllowedIPs: pfx("10.66.66.3/32")})
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: noKA, AllowedIPs: pfx("10.66.66.4/32")})
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: wrongIPs, AllowedIPs: pfx("10.66.66.5/32")})
	f.dev.Calls = nil

	ch, err := f.svc.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Updated) != 3 || len(ch.Added)+len(ch.Removed) != 0 {
		t.Errorf("changes %v; want the three broken peers updated", ch)
	}
	for _, c := range f.dev.Calls {
		if strings.Contains(c, right.String()) {
			t.Errorf("reconcile touched the peer that was right: %s", c)
		}
	}
	st, _ := f.dev.State("wg0")
	for _, p := range st.Peers {
		if !p.HasPresharedKey && p.PublicKey != noKA && p.PublicKey != wrongIPs {
			t.Errorf("peer %s has no preshared key after reconcile", p.PublicKey)
		}
		if p.PublicKey == noKA && p.Keepalive != 25*time.Second {
			t.Errorf("keepalive %v after reconcile; want 25s", p.Keepalive)
		}
		if p.PublicKey == wrongIPs && len(p.AllowedIPs) != 2 {
			t.Errorf("allowed IPs %v after reconcile; want both", p.AllowedIPs)
		}
	}
}

// TestOddPeers checks what the service does with peer sections wgpanel
// cannot understand: it lists them with their problem, refuses to change
// them, leaves them alone on the device, and gives no new peer their
// address or name.
func TestOddPeers(t *testing.T) {
	cfg := newConfig(t, false, "vpn.example.org")
	good, oddKey := mustKey(t).PublicKey(), mustKey(t).PublicKey()
	cfg.Server.Peers = []vpn.Peer{{Name: "good", PublicKey: good, AllowedIPs: pfx("10.66.66.3/32"), Enabled: true}}
	cfg.Server.Odd = []vpn.OddPeer{
		{Name: "bad-psk", Section: "@wireguard_wg0[1]", PublicKey: oddKey, AllowedIPs: pfx("10.66.66.2/32"), Enabled: true,
			Problem: "option preshared_key: the value is not a valid WireGuard key"},
		{Name: "no-key", Section: "@wireguard_wg0[2]", AllowedIPs: pfx("10.66.66.4/32"), Enabled: true,
			Problem: "option public_key: the section has no public key, so netifd skips it"},
	}
	f := newFixture(t, cfg)
	ctx := context.Background()
	// netifd put the odd peer on the device as it read it.
	f.dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: oddKey, AllowedIPs: pfx("10.66.66.2/32")})

	ch, err := f.svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Removed) != 0 || len(ch.Added) != 1 {
		t.Errorf("reconcile: %v; want the good peer added and the odd one left alone", ch)
	}
	if keys := f.dev.Keys(); !slices.Contains(keys, oddKey) {
		t.Errorf("the odd peer is no longer on the device")
	}

	peers, err := f.svc.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	problems := map[string]string{}
	for _, p := range peers {
		problems[p.Name] = p.Problem
	}
	if len(peers) != 3 || problems["good"] != "" || !strings.Contains(problems["bad-psk"], "preshared_key") ||
		!strings.Contains(problems["no-key"], "no public key") {
		t.Errorf("peers and problems %q; want good without, bad-psk and no-key with their problem", problems)
	}

	for what, err := range map[string]error{
		"disable": func() error {
			off := false
			_, err := f.svc.UpdatePeer(ctx, oddKey, vpn.PeerUpdate{Enabled: &off})
			return err
		}(),
		"remove": f.svc.RemovePeer(ctx, oddKey),
	} {
		if vpn.ErrorCode(err) != vpn.ECONFLICT || !strings.Contains(err.Error(), "cannot change peer bad-psk") ||
			!strings.Contains(err.Error(), "preshared_key") {
			t.Errorf("%s the odd peer: %v; want a conflict naming it and its problem", what, err)
		}
	}

	if _, err := f.svc.AddPeer(ctx, "No-Key", vpn.TunnelSplit); vpn.ErrorCode(err) != vpn.ECONFLICT {
		t.Errorf("adding a peer named like an odd one: %v; want a conflict", err)
	}
	added, err := f.svc.AddPeer(ctx, "new", vpn.TunnelSplit)
	if err != nil {
		t.Fatal(err)
	}
	if got := added.Peer.Addresses; len(got) != 1 || got[0] != pfx("10.66.66.5/32")[0] {
		t.Errorf("new peer got %v; want 10.66.66.5/32, past the odd peers' addresses", got)
	}
}
