package vpn_test

import (
	"context"
	"errors"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

// failingApply is a fake device whose reads work but whose peer changes
// fail, as when wgctrl loses the device between the check and the apply.
type failingApply struct{ *vpntest.Device }

func (failingApply) SetPeer(string, vpn.DevicePeer) error {
	return vpn.ErrDeviceUnreachable
}

func (failingApply) RemovePeer(string, wgtypes.Key) error {
	return vpn.ErrDeviceUnreachable
}

// TestUpdatePeerFailedApplyKeepsName checks that an update whose live apply
// fails leaves the stored peer exactly as it was, its name included.
func TestUpdatePeerFailedApplyKeepsName(t *testing.T) {
	ctx := context.Background()
	store := vpntest.NewStore(newConfig(t, false, "vpn.example.org"))
	dev := vpntest.NewDevice("wg0")
	add, err := vpn.NewService(store, dev, nil).AddPeer(ctx, "phone", vpn.TunnelSplit)
	if err != nil {
		t.Fatal(err)
	}
	svc := vpn.NewService(store, failingApply{dev}, nil)
	name, off := "renamed", false
	_, err = svc.UpdatePeer(ctx, add.Peer.PublicKey, vpn.PeerUpdate{Name: &name, Enabled: &off})
	if !errors.Is(err, vpn.ErrDeviceUnreachable) {
		t.Fatalf("update = %v; want the device error", err)
	}
	cfg, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Server.Peers) != 1 {
		t.Fatalf("after a failed update the store has %d peers; want 1", len(cfg.Server.Peers))
	}
	if p := cfg.Server.Peers[0]; p.Name != "phone" || !p.Enabled {
		t.Errorf("after a failed update the peer is %q enabled=%v; want phone, enabled", p.Name, p.Enabled)
	}
}
