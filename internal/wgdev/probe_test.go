package wgdev

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestReachableReadsNoDevice checks that Reachable answers from opening
// WireGuard alone: unreachable while that fails, nil once it works, and
// never a read of the device (which would dump every peer).
func TestReachableReadsNoDevice(t *testing.T) {
	qemu := fmt.Errorf("socket: %w", syscall.EPROTONOSUPPORT)
	fb := &fakeBackend{dev: &wgtypes.Device{Name: "wg0"}, deviceErr: func() error {
		t.Error("Reachable read the device")
		return nil
	}}
	c, opens := fakeClient(t, qemu, fb)
	if err := c.Reachable(); !errors.Is(err, vpn.ErrDeviceUnreachable) {
		t.Fatalf("Reachable while opening fails: %v; want ErrDeviceUnreachable", err)
	}
	for range 2 {
		if err := c.Reachable(); err != nil {
			t.Fatalf("Reachable: %v; want nil", err)
		}
	}
	if *opens != 2 {
		t.Errorf("opened %d times; want 2 (the failure, then once for good)", *opens)
	}
}
