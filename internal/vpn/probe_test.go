package vpn_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

// probingDevice is a fake device that, like wgdev.Client, can tell whether
// WireGuard is reachable without reading the device, and counts reads.
type probingDevice struct {
	*vpntest.Device
	reachable error
	reads     int
}

func (d *probingDevice) Reachable() error { return d.reachable }

func (d *probingDevice) State(name string) (*vpn.DeviceState, error) {
	d.reads++
	return d.Device.State(name)
}

// TestChangesProbeWithoutReadingDevice checks that add, disable and
// remove check reachability with the cheap probe, not by reading every
// peer, and that an unreachable WireGuard still refuses a change before
// anything is written.
func TestChangesProbeWithoutReadingDevice(t *testing.T) {
	store := vpntest.NewStore(newConfig(t, false, "vpn.example.org"))
	dev := &probingDevice{Device: vpntest.NewDevice("wg0")}
	svc := vpn.NewService(store, dev, nil)
	ctx := context.Background()

	added, err := svc.AddPeer(ctx, "phone", vpn.TunnelSplit)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RemovePeer(ctx, added.Peer.PublicKey); err != nil {
		t.Fatal(err)
	}
	if dev.reads != 0 {
		t.Errorf("add and remove read the device %d times; want none", dev.reads)
	}

	dev.reachable = &vpn.Error{Code: vpn.EUNAVAILABLE, Message: "WireGuard cannot be reached", Err: vpn.ErrDeviceUnreachable}
	writes := store.Writes
	if _, err := svc.AddPeer(ctx, "laptop", vpn.TunnelSplit); vpn.ErrorCode(err) != vpn.EUNAVAILABLE || !errors.Is(err, vpn.ErrDeviceUnreachable) {
		t.Errorf("add while unreachable: %v; want unavailable", err)
	}
	if store.Writes != writes {
		t.Errorf("add while unreachable wrote the store")
	}
}
