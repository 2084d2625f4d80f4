package wgdev

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// Tests that create interfaces run in their own network namespace through
// testutil.InNetNS (see there why a child process). /var/run/wireguard is
// shared by all namespaces, so interface names include the pid of the
// process that creates them.

// ifname returns an interface name unique to this process.
func ifname(t testing.TB, suffix string) string {
	t.Helper()
	name := fmt.Sprintf("wgd%d%s", os.Getpid(), suffix)
	if len(name) > 15 {
		t.Fatalf("interface name %q is longer than 15 bytes", name)
	}
	return name
}

// testLog returns a logger that writes into the test's output.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// deviceTest checks the prerequisites of a test that creates interfaces.
// It must be called inside InNetNS's child. A nouserspace build creates
// kernel links only, so it needs the kernel module rather than a TUN.
func deviceTest(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t)
	requireWireGuard(t)
	if userspaceBuilt {
		testutil.RequireTUN(t)
	}
}

// requireWireGuard skips (or fails under CI) in a nouserspace build when the
// kernel has no WireGuard module, so that Up cannot create any device. A
// benchmark must call it before testutil.BenchInNetNS as well, since a skip
// in the benchmark's child process reaches the parent only as a failure.
func requireWireGuard(t testing.TB) {
	t.Helper()
	if !userspaceBuilt && !kernelModuleLoaded() {
		testutil.SkipOrFail(t, "built with -tags nouserspace, which has no userspace WireGuard, "+
			"and the kernel has no WireGuard module (modprobe wireguard)")
	}
}

// wantKind is the kind of Link Up creates on this machine.
func wantKind() string {
	if kernelModuleLoaded() {
		return KindKernel
	}
	return KindUserspace
}

// up calls Up and closes the link when the test ends.
func up(t testing.TB, cfg LinkConfig) *Link {
	t.Helper()
	l, err := Up(context.Background(), cfg, testLog(t))
	if err != nil {
		t.Fatalf("Up(%s): %v", cfg.Name, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close(%s): %v", cfg.Name, err)
		}
	})
	return l
}

// run runs a command and fails the test when it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipLink is the part of `ip -j addr show` the tests look at.
type ipLink struct {
	Ifname   string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	AddrInfo []struct {
		Local     string `json:"local"`
		Prefixlen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// showLink returns what iproute2 reports about the interface, or nil when
// it does not exist.
func showLink(t testing.TB, name string) *ipLink {
	t.Helper()
	out, err := exec.Command("ip", "-j", "addr", "show", "dev", name).Output()
	if err != nil {
		if _, statErr := os.Stat("/sys/class/net/" + name); os.IsNotExist(statErr) {
			return nil
		}
		t.Fatalf("ip -j addr show dev %s: %v", name, err)
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("parse ip -j output %q: %v", out, err)
	}
	if len(links) != 1 {
		t.Fatalf("ip -j addr show dev %s: got %d links; want 1", name, len(links))
	}
	return &links[0]
}

// prefixes returns the interface's addresses.
func (l *ipLink) prefixes(t testing.TB) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, a := range l.AddrInfo {
		addr, err := netip.ParseAddr(a.Local)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, netip.PrefixFrom(addr, a.Prefixlen))
	}
	return ps
}

// wgDevice reads the device through wgctrl directly, not through Client.
func wgDevice(t testing.TB, name string) *wgtypes.Device {
	t.Helper()
	c, err := wgctrl.New()
	if err != nil {
		t.Fatalf("wgctrl.New: %v", err)
	}
	defer c.Close()
	d, err := c.Device(name)
	if err != nil {
		t.Fatalf("wgctrl Device(%s): %v", name, err)
	}
	return d
}

// waitClosed fails the test unless ch is closed within d.
func waitClosed(t testing.TB, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
