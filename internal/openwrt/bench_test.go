package openwrt

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// network250 returns the example fixture with 250 more LuCI-style peers.
func network250(b *testing.B) []byte {
	var sb strings.Builder
	sb.WriteString(strings.TrimSuffix(string(fixture(b, "network.wireguard-example")), "\n"))
	for i := range 250 {
		var k wgtypes.Key
		k[5], k[6] = byte(i), byte(i>>8) // not byte 0: clamping clears its low bits
		k[2] = 0xaa
		fmt.Fprintf(&sb, "\nconfig wireguard_wg0\n\toption description 'peer%d'\n\toption public_key '%s'\n"+
			"\toption preshared_key '%s'\n\tlist allowed_ips '10.66.%d.%d/32'\n\toption route_allowed_ips '1'\n"+
			"\toption persistent_keepalive '25'\n",
			i, k.PublicKey(), k, 67+i/250, 2+i%250)
	}
	sb.WriteString("\n")
	return []byte(sb.String())
}

func BenchmarkLoad250(b *testing.B) {
	dir := newDir(b, map[string][]byte{"network": network250(b)})
	s := NewStore(dir, nil)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Load(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateServerAdd250 adds one peer to a server with 250 peers and
// commits (lock, re-read, write, fsync, rename); the peer is removed again
// outside the timer.
func BenchmarkUpdateServerAdd250(b *testing.B) {
	data := network250(b)
	dir := newDir(b, map[string][]byte{"network": data})
	s := NewStore(dir, nil)
	ctx := context.Background()
	k := testKey(200).PublicKey()
	for b.Loop() {
		err := s.UpdateServer(ctx, func(cfg *vpn.Config) error {
			cfg.Server.Peers = append(cfg.Server.Peers, vpn.Peer{
				Name: "new", PublicKey: k, Enabled: true,
				AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.66.68.2/32")},
			})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		// Put the file back the way libuci and wgpanel write it: a new
		// file renamed into place.
		tmp := dir.Path(".network.bench")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, dir.Path("network")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
