package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/wgdev"
)

// benchService returns the real stack in this process: the UCI store on a
// temporary config dir, a userspace WireGuard device brought up from it, and
// the service over both, with peers already added.
func benchService(b *testing.B, peers int) *vpn.Service {
	b.Helper()
	testutil.RequireTUN(b)
	dir := uci.Dir(filepath.Join(b.TempDir(), "config"))
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("wgb%d", os.Getpid()%100000)
	if err := openwrt.WriteStarter(dir, name, priv); err != nil {
		b.Fatal(err)
	}
	// A /16 leaves room for every iteration's peer.
	store := openwrt.NewStore(dir, nil)
	store.Interface = name
	ctx := context.Background()
	err = store.UpdateServer(ctx, func(cfg *vpn.Config) error {
		a := cfg.Server.Addresses[0].Addr()
		cfg.Server.Addresses[0] = netip.PrefixFrom(a, 16)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := store.Load(ctx)
	if err != nil {
		b.Fatal(err)
	}
	link, err := wgdev.Up(ctx, wgdev.LinkConfig{Name: name, PrivateKey: priv, ListenPort: cfg.Server.ListenPort,
		Addresses: cfg.Server.Addresses}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { link.Close() })
	dev := wgdev.New(nil)
	b.Cleanup(func() { dev.Close() })
	svc := vpn.NewService(store, dev, nil)
	for i := range peers {
		if _, err := svc.AddPeer(ctx, fmt.Sprintf("p%d", i), vpn.TunnelSplit); err != nil {
			b.Fatal(err)
		}
	}
	return svc
}

// BenchmarkAddPeerEndToEnd adds one peer the way `peer add` does: lock and
// re-read /etc/config/network, allocate an address, commit atomically with
// fsync, and apply the peer live to a real device that already has 250.
// Each added peer is removed again outside the timed part, so every
// iteration adds the 251st.
func BenchmarkAddPeerEndToEnd(b *testing.B) {
	if !testutil.BenchInNetNS(b) {
		return
	}
	svc := benchService(b, 250)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		added, err := svc.AddPeer(ctx, fmt.Sprintf("bench%d", i), vpn.TunnelSplit)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := svc.RemovePeer(ctx, added.Peer.PublicKey); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		i++
	}
}

// BenchmarkListPeers250Live lists 250 peers from UCI merged with the live
// statistics of a real device, which is what the page polls.
func BenchmarkListPeers250Live(b *testing.B) {
	if !testutil.BenchInNetNS(b) {
		return
	}
	svc := benchService(b, 250)
	// The page lists between changes: wait until openwrt.Store.Load may
	// keep what it parsed (rssSettle), else the time measured depends on
	// how fast the set-up added its peers.
	time.Sleep(rssSettle)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		peers, err := svc.Peers(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(peers) != 250 {
			b.Fatalf("listed %d peers; want 250", len(peers))
		}
	}
}
