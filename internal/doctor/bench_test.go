package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestDoctorConcurrent runs and observes from several goroutines, as the
// daemon's sampler and HTTP handlers do (run with -race).
func TestDoctorConcurrent(t *testing.T) {
	d := New()
	in := input(t, healthy(t), device(t), publicWAN)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				if (i+j)%2 == 0 {
					d.Observe(withEndpoint(t, fmt.Sprintf("198.51.100.%d:4000", j%3+1)))
				} else {
					_ = d.Run(context.Background(), in)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRun250 runs every check on a server with 250 connected peers,
// with the doctor's endpoint history warm.
func BenchmarkRun250(b *testing.B) {
	in := input(b, healthy(b), device(b), publicWAN)
	srv := *in.Config.Server
	dev := *in.Device
	for i := range 250 {
		var k wgtypes.Key
		k[1], k[2] = byte(i), byte(i>>8)
		srv.Peers = append(srv.Peers, vpn.Peer{Name: fmt.Sprintf("peer%d", i), PublicKey: k, Enabled: true})
		dev.Peers = append(dev.Peers, vpn.PeerStats{PublicKey: k, LatestHandshake: epoch,
			Endpoint: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 40000)})
	}
	cfg := *in.Config
	cfg.Server = &srv
	in.Config, in.Device = &cfg, &dev
	d := New()
	now := epoch
	d.Now = func() time.Time { return now }
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(10 * time.Second)
		_ = d.Run(context.Background(), in)
	}
}
