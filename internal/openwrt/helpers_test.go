package openwrt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil/fixtures"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// fixture returns the bytes of a shared fixture.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return fixtures.OpenWrt(t, name)
}

// newDir returns a fresh config directory holding the given files
// (package name -> content).
func newDir(t testing.TB, files map[string][]byte) uci.Dir {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return uci.Dir(dir)
}

// exampleDir returns a config directory whose network file is a copy of
// the LuCI-written WireGuard fixture.
func exampleDir(t testing.TB) (uci.Dir, []byte) {
	t.Helper()
	data := fixture(t, "network.wireguard-example")
	return newDir(t, map[string][]byte{"network": data}), data
}

func readFile(t testing.TB, dir uci.Dir, pkg string) []byte {
	t.Helper()
	b, err := os.ReadFile(dir.Path(pkg))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testKey returns a fixed key whose 32 bytes are all b.
func testKey(b byte) wgtypes.Key {
	var k wgtypes.Key
	for i := range k {
		k[i] = b
	}
	return k
}

func mustKey(t testing.TB, s string) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Keys in network.wireguard-example.
const (
	exampleServerPriv = "CcvwADVH2zpAeUlNula5lHaIIh398W30CV1SG1gFsLI="
	aliceKey          = "M1d0jWvad5v3w/OOZI7BAEn9pppVkm3XDuw8NM9Bb+s="
	alicePSK          = "ts3g4OqyrM2P3aky65O1v3AKzHdxkrmUGr3urb8CLCs="
	bobKey            = "3VKh4AHfAWf54ektXez/ng+5brBqzc3hx/UCkgsXfPM="
)

// configError asserts that err is a *vpn.Error with code ECONFIG whose
// message contains every one of parts.
func configError(t *testing.T, err error, parts ...string) {
	t.Helper()
	var ve *vpn.Error
	if !errors.As(err, &ve) {
		t.Fatalf("got error %v (%T); want *vpn.Error", err, err)
	}
	if ve.Code != vpn.ECONFIG {
		t.Errorf("got code %q; want %q (message %q)", ve.Code, vpn.ECONFIG, ve.Message)
	}
	for _, p := range parts {
		if !strings.Contains(ve.Message, p) {
			t.Errorf("got message %q; want it to contain %q", ve.Message, p)
		}
	}
}

// findPeer returns the peer with public key k.
func findPeer(t testing.TB, srv *vpn.Server, k wgtypes.Key) *vpn.Peer {
	t.Helper()
	for i := range srv.Peers {
		if srv.Peers[i].PublicKey == k {
			return &srv.Peers[i]
		}
	}
	t.Fatalf("no peer with key %s", k)
	return nil
}

// update runs UpdateServer with fn on a fresh store on dir and fails on error.
func mustUpdate(t testing.TB, dir uci.Dir, fn func(cfg *vpn.Config) error) {
	t.Helper()
	if err := NewStore(dir, nil).UpdateServer(context.Background(), fn); err != nil {
		t.Fatalf("UpdateServer: %v", err)
	}
}

func mustLoad(t testing.TB, dir uci.Dir) *vpn.Config {
	t.Helper()
	cfg, err := NewStore(dir, nil).Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}
