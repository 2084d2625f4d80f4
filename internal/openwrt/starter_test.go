package openwrt

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/uci"
)

func TestWriteStarter(t *testing.T) {
	dir := uci.Dir(filepath.Join(t.TempDir(), "config")) // does not exist yet
	priv := testKey(42)
	if err := WriteStarter(dir, "wg0", priv); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, dir, "network")
	testutil.Golden(t, "starter.network", got)

	cfg := mustLoad(t, dir)
	if cfg.Server == nil {
		t.Fatal("got no server; want wg0")
	}
	if cfg.Server.PrivateKey != priv || cfg.Server.ListenPort != 51820 || len(cfg.Server.Peers) != 0 {
		t.Errorf("got server %+v; want wg0 with the given key, port 51820 and no peers", cfg.Server)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24")}; !reflect.DeepEqual(cfg.Server.Addresses, want) {
		t.Errorf("got addresses %v; want %v", cfg.Server.Addresses, want)
	}
	if want := netip.MustParseAddr("192.168.1.1"); cfg.Network.LANAddr != want {
		t.Errorf("got LAN address %v; want %v", cfg.Network.LANAddr, want)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}; !reflect.DeepEqual(cfg.Network.LANs, want) {
		t.Errorf("got LANs %v; want %v", cfg.Network.LANs, want)
	}

	// A second call, even with another key, leaves the file alone.
	if err := WriteStarter(dir, "wg0", testKey(43)); err != nil {
		t.Fatal(err)
	}
	if again := readFile(t, dir, "network"); string(again) != string(got) {
		t.Errorf("WriteStarter changed an existing network file")
	}
}

func TestWriteStarterKeepsExistingFile(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default")})
	if err := WriteStarter(dir, "wg0", testKey(1)); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dir, "network"); string(got) != string(fixture(t, "network.default")) {
		t.Errorf("WriteStarter changed an existing network file")
	}
}

func TestWriteStarterBadInput(t *testing.T) {
	dir := uci.Dir(t.TempDir())
	if err := WriteStarter(dir, "wg-0", testKey(1)); err == nil {
		t.Error("bad interface name: got no error")
	}
	if err := WriteStarter(dir, "wg0", zeroKey); err == nil {
		t.Error("zero key: got no error")
	}
	if _, err := os.Stat(dir.Path("network")); err == nil {
		t.Error("a network file was written for bad input")
	}
}
