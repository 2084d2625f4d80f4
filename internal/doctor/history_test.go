package doctor

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// clock is a fake time source for a Doctor.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestDoctor() (*Doctor, *clock) {
	c := &clock{t: epoch}
	d := New()
	d.Now = c.now
	return d, c
}

// withEndpoint returns the example device with alice's endpoint set to ep.
func withEndpoint(t *testing.T, ep string) *vpn.DeviceState {
	d := device(t)
	d.Peers[0].Endpoint = netip.MustParseAddrPort(ep)
	return d
}

func TestPeerEndpointsAlternate(t *testing.T) {
	const home, hotel, lte, cafe = "198.51.100.20:40000", "203.0.113.99:51000", "192.0.2.77:3333", "198.51.100.200:1234"
	tests := []struct {
		name  string
		eps   []string
		every time.Duration
		warn  bool
	}{
		{"two devices with one key", []string{home, hotel, home, hotel, home, hotel}, 10 * time.Second, true},
		{"same address, two ports (two devices behind one NAT)", []string{home, "198.51.100.20:40001", home, "198.51.100.20:40001"}, 10 * time.Second, true},
		{"phone roaming through networks", []string{home, lte, cafe, hotel, home}, 10 * time.Second, false},
		{"out and back once", []string{home, lte, home, home, home}, 10 * time.Second, false},
		{"back and forth over hours", []string{home, lte, home, lte, home, lte}, 20 * time.Minute, false},
		{"steady", []string{home, home, home, home}, 10 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, clk := newTestDoctor()
			var checks []Check
			for _, ep := range tt.eps {
				checks = d.Run(context.Background(), input(t, healthy(t), withEndpoint(t, ep), publicWAN))
				clk.t = clk.t.Add(tt.every)
			}
			if !tt.warn {
				expect(t, checks, IDPeerEndpoints, StatusOK, []string{"No peer's endpoint"}, nil)
				return
			}
			c := expect(t, checks, IDPeerEndpoints, StatusWarn, []string{"'alice-phone'", tt.eps[0], tt.eps[1], "two devices"},
				[]string{"its own peer"})
			if strings.Count(c.Finding, ":") < 2 {
				t.Errorf("got finding %q; want both endpoints with ports", c.Finding)
			}
		})
	}
}

func TestPeerEndpointsRecover(t *testing.T) {
	d, clk := newTestDoctor()
	step := func(ep string) []Check {
		checks := d.Run(context.Background(), input(t, healthy(t), withEndpoint(t, ep), publicWAN))
		clk.t = clk.t.Add(15 * time.Second)
		return checks
	}
	var checks []Check
	for _, ep := range []string{"198.51.100.20:40000", "203.0.113.99:51000", "198.51.100.20:40000", "203.0.113.99:51000"} {
		checks = step(ep)
	}
	expect(t, checks, IDPeerEndpoints, StatusWarn, nil, nil)
	// The second device is switched off: the warning ends once the flips
	// have left the window.
	for range 41 { // ten minutes and a quarter
		checks = step("203.0.113.99:51000")
	}
	expect(t, checks, IDPeerEndpoints, StatusOK, nil, nil)
}

func TestPeerEndpointsObserveBetweenRuns(t *testing.T) {
	d, clk := newTestDoctor()
	// The daemon samples every 10 seconds; the page asks once.
	for _, ep := range []string{"198.51.100.20:40000", "203.0.113.99:51000", "198.51.100.20:40000", "203.0.113.99:51000"} {
		d.Observe(withEndpoint(t, ep))
		clk.t = clk.t.Add(10 * time.Second)
	}
	// The run's own sample (the current endpoint) does not hide the history.
	checks := d.Run(context.Background(), input(t, healthy(t), withEndpoint(t, "203.0.113.99:51000"), publicWAN))
	expect(t, checks, IDPeerEndpoints, StatusWarn, []string{"'alice-phone'", "198.51.100.20:40000", "203.0.113.99:51000"}, nil)

	// A one-shot run (the CLI) has no history and says so.
	checks = Run(context.Background(), input(t, healthy(t), withEndpoint(t, "203.0.113.99:51000"), publicWAN))
	expect(t, checks, IDPeerEndpoints, StatusOK, []string{"not watched the peers long enough"}, nil)
}

func TestPeerEndpointsUnknownPeerAndBounds(t *testing.T) {
	d, clk := newTestDoctor()
	var stranger wgtypes.Key
	stranger[0] = 0x42
	state := func(i int) *vpn.DeviceState {
		s := device(t)
		ep := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(1000+i%2))
		s.Peers = append(s.Peers, vpn.PeerStats{PublicKey: stranger, Endpoint: ep, LatestHandshake: epoch})
		return s
	}
	for i := range 200 {
		d.Observe(state(i))
		clk.t = clk.t.Add(time.Second)
	}
	if n := len(d.history[stranger].changes); n > maxChanges {
		t.Errorf("got %d changes kept; want at most %d", n, maxChanges)
	}
	checks := d.Run(context.Background(), input(t, healthy(t), state(200), publicWAN))
	expect(t, checks, IDPeerEndpoints, StatusWarn, []string{"'" + stranger.String()[:8] + "...'", "192.0.2.10:1000", "192.0.2.10:1001"}, nil)

	// A peer gone from the device is forgotten after the window.
	clk.t = clk.t.Add(defaultWindow + time.Minute)
	d.Observe(device(t))
	if _, ok := d.history[stranger]; ok {
		t.Error("the history of a peer gone from the device was kept")
	}
}
