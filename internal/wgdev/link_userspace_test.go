//go:build !nouserspace

package wgdev

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// The tests in this file need the embedded wireguard-go, which a build with
// the nouserspace tag leaves out.

func TestUpWithoutTUN(t *testing.T) {
	defer func(f func() bool, p string, k bool) { hasNetAdmin, tunPath, tryKernel = f, p, k }(hasNetAdmin, tunPath, tryKernel)
	// Pretend to be root: Up fails at the TUN check, before it creates
	// anything, so this runs anywhere and touches nothing.
	hasNetAdmin = func() bool { return true }
	tunPath = "/nonexistent/dev/net/tun"
	tryKernel = false

	name := ifname(t, "nt")
	_, err := Up(context.Background(), LinkConfig{Name: name, PrivateKey: newKey(t)}, testLog(t))
	if !errors.Is(err, vpn.ErrDeviceUnreachable) {
		t.Errorf("Up: got %v; want an error wrapping ErrDeviceUnreachable", err)
	}
	want := "no /nonexistent/dev/net/tun: load the tun module (modprobe tun) to create interface " + name
	if got := vpn.ErrorMessage(err); got != want {
		t.Errorf("message: got %q; want %q", got, want)
	}
	if fileExists(sockPath(name)) {
		t.Errorf("%s was left behind", sockPath(name))
	}
}

func TestDoneAfterSocketRemoved(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)

	name := ifname(t, "s")
	l := up(t, LinkConfig{Name: name, PrivateKey: newKey(t), ListenPort: 51820})
	if l.Kind() != KindUserspace {
		t.Skip("the kernel has WireGuard; only a userspace device has a socket")
	}
	if err := os.Remove(sockPath(name)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, l.Done(), 5*time.Second, "Done after the UAPI socket was removed")
	assertReleased(t, name, 51820)
}

// TestUpRefusesBusySocket: a wireguard-go in another network namespace
// serving the same name has its socket in the shared /var/run/wireguard in
// use, and Up must neither create the interface nor take the socket.
func TestUpRefusesBusySocket(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	deviceTest(t)
	testutil.RequireCommand(t, "ip")
	if wantKind() != KindUserspace {
		t.Skip("the kernel has WireGuard; Up makes a kernel link, which has no socket")
	}

	busy := ifname(t, "u")
	if err := os.MkdirAll("/var/run/wireguard", 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", sockPath(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Up(context.Background(), LinkConfig{Name: busy, PrivateKey: newKey(t)}, testLog(t))
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("Up(%s) with its socket in use: got %v; want an error wrapping os.ErrExist", busy, err)
	}
	if want := "another WireGuard process already serves interface " + busy; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Up(%s) with its socket in use: got %v; want it to contain %q", busy, err, want)
	}
	if showLink(t, busy) != nil {
		t.Errorf("Up(%s) with its socket in use created the interface", busy)
	}
	if !fileExists(sockPath(busy)) {
		t.Errorf("Up(%s) removed the socket another process serves", busy)
	}
}
