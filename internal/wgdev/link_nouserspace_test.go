//go:build nouserspace

package wgdev

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// wantNoUserspace checks the error Up returns in a nouserspace build when
// the kernel has no WireGuard, and that nothing was left behind.
func wantNoUserspace(t *testing.T, name string, err error) {
	t.Helper()
	if !errors.Is(err, vpn.ErrDeviceUnreachable) {
		t.Errorf("Up: got %v; want an error wrapping ErrDeviceUnreachable", err)
	}
	want := "cannot create interface " + name + ": this build of wgpanel has no built-in userspace WireGuard; " +
		"load the kernel module (kmod-wireguard, modprobe wireguard) for standalone mode"
	if got := vpn.ErrorMessage(err); got != want {
		t.Errorf("message: got %q; want %q", got, want)
	}
	if _, err := net.InterfaceByName(name); err == nil {
		t.Errorf("interface %s was created", name)
	}
	if fileExists(sockPath(name)) {
		t.Errorf("%s was created", sockPath(name))
	}
}

func TestUpWithoutUserspace(t *testing.T) {
	defer func(f func() bool, k bool) { hasNetAdmin, tryKernel = f, k }(hasNetAdmin, tryKernel)
	// Pretend to be root and that the kernel has no WireGuard: Up fails
	// before it creates anything, so this runs anywhere and touches nothing.
	hasNetAdmin = func() bool { return true }
	tryKernel = false

	name := ifname(t, "nu")
	l, err := Up(context.Background(), LinkConfig{Name: name, PrivateKey: newKey(t)}, testLog(t))
	if err == nil {
		l.Close()
		t.Fatal("Up: got no error; want one saying this build has no userspace WireGuard")
	}
	wantNoUserspace(t, name, err)
}

// TestUpWithoutKernelModule is the same through the real kernel, which
// answers that it has no WireGuard.
func TestUpWithoutKernelModule(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	testutil.RequireRoot(t)
	if kernelModuleLoaded() {
		t.Skip("the kernel has WireGuard, so Up makes a kernel link; TestUp covers that")
	}

	name := ifname(t, "nk")
	l, err := Up(context.Background(), LinkConfig{Name: name, PrivateKey: newKey(t)}, testLog(t))
	if err == nil {
		l.Close()
		t.Fatal("Up: got no error; want one saying this build has no userspace WireGuard")
	}
	wantNoUserspace(t, name, err)
}
