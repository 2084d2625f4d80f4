package vpn_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

func TestPeerAccessAndExpiry(t *testing.T) {
	f := newFixture(t, newConfig(t, false, "vpn.example.org"))
	ctx := context.Background()
	code := func(err error) string { return vpn.ErrorCode(err) }

	if _, err := f.svc.AddPeerWith(ctx, "guest", vpn.TunnelFull, vpn.PeerOptions{Access: vpn.AccessHosts}); code(err) != vpn.EINVALID {
		t.Errorf("hosts without addresses: got %v; want EINVALID", err)
	}
	if _, err := f.svc.AddPeerWith(ctx, "guest", vpn.TunnelFull, vpn.PeerOptions{Access: "guests"}); code(err) != vpn.EINVALID {
		t.Errorf("unknown access: got %v; want EINVALID", err)
	}
	if _, err := f.svc.AddPeerWith(ctx, "guest", vpn.TunnelFull, vpn.PeerOptions{Expires: time.Now().Add(-time.Hour)}); code(err) != vpn.EINVALID {
		t.Errorf("end date in the past: got %v; want EINVALID", err)
	}
	end := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	a, err := f.svc.AddPeerWith(ctx, "guest", vpn.TunnelFull, vpn.PeerOptions{Access: vpn.AccessInternet, Expires: end})
	if err != nil || a.Peer.Access != vpn.AccessInternet || !a.Peer.Expires.Equal(end) {
		t.Fatalf("add = %+v, %v", a, err)
	}
	key := a.Peer.PublicKey

	hosts := []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32")}
	mode := vpn.AccessHosts
	v, err := f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Access: &mode, Hosts: &hosts})
	if err != nil || v.Access != vpn.AccessHosts || len(v.Hosts) != 1 {
		t.Fatalf("to hosts = %+v, %v", v, err)
	}
	mode = vpn.AccessLAN
	if v, err = f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Access: &mode}); err != nil || v.Access != vpn.AccessLAN || len(v.Hosts) != 0 {
		t.Errorf("to lan = %+v, %v; want lan without hosts", v, err)
	}

	// The daemon disabled it at its end date.
	if err := f.store.UpdateServer(ctx, func(cfg *vpn.Config) error {
		cfg.Server.Peers[0].Expires = time.Now().Add(-time.Minute)
		cfg.Server.Peers[0].Enabled = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	on := true
	_, err = f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Enabled: &on})
	var ve *vpn.Error
	if !errors.As(err, &ve) || ve.Code != vpn.ECONFLICT || ve.Field != "expires" {
		t.Fatalf("enable an expired device: got %v; want ECONFLICT on expires", err)
	}
	never := time.Time{}
	if v, err = f.svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Enabled: &on, Expires: &never}); err != nil || !v.Enabled || !v.Expires.IsZero() {
		t.Errorf("enable with no end date = %+v, %v", v, err)
	}
}

// TestCheckAccessSpelling checks that CheckAccess judges the access as
// ParseAccess reads it: " hosts" is hosts mode, which needs addresses.
func TestCheckAccessSpelling(t *testing.T) {
	if err := vpn.CheckAccess(" hosts", nil); err == nil {
		t.Error(`CheckAccess(" hosts", no addresses) = nil; want the hosts-mode refusal`)
	}
	hosts := []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32")}
	if err := vpn.CheckAccess(" hosts ", hosts); err != nil {
		t.Errorf(`CheckAccess(" hosts ", one address) = %v; want nil`, err)
	}
}
