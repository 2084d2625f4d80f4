package main

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	usagehist "github.com/wgpanel/wgpanel/internal/usage"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

// TestHistoryAcrossRecreateAndRestart feeds serve's history sampler from a
// device whose counters grow, start again from zero when the device is
// re-created (as netifd does on ifup), and go on after a restart of serve
// (Close, then Open on the same files): the totals keep counting from the
// old ones, with no drop and no double count.
func TestHistoryAcrossRecreateAndRestart(t *testing.T) {
	dir := t.TempDir()
	open := func(dev vpn.Device) *history {
		opts := usagehist.Options{RAMPath: filepath.Join(dir, "usage.ram"), FlashPath: filepath.Join(dir, "usage"),
			FlashInterval: time.Hour, Log: slog.New(slog.DiscardHandler)}
		return &history{h: usagehist.Open(opts), dev: dev, ifname: "wg0"}
	}
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	key := priv.PublicKey()
	dev := vpntest.NewDevice("wg0")
	up := func(rx, tx int64) {
		if err := dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: key}); err != nil {
			t.Fatal(err)
		}
		dev.SetHandshake(key, time.Now(), rx, tx, netip.AddrPort{})
	}
	total := func(h *history) (uint64, uint64) {
		s := h.Usage(context.Background(), key, usagehist.Range48h)
		return s.TotalRx, s.TotalTx
	}
	h := open(dev)
	up(1000, 2000)
	h.record(0)
	up(5000, 7000)
	h.record(0)
	// netifd re-creates the device: the counters start from zero.
	if err := dev.RemovePeer("wg0", key); err != nil {
		t.Fatal(err)
	}
	up(300, 400)
	h.record(0)
	if rx, tx := total(h); rx != 5300 || tx != 7400 {
		t.Fatalf("after the re-creation: totals rx %d tx %d; want 5300 and 7400", rx, tx)
	}
	if err := h.close(); err != nil {
		t.Fatal(err)
	}

	// serve restarts; the device keeps its counters meanwhile.
	h = open(dev)
	if rx, tx := total(h); rx != 5300 || tx != 7400 {
		t.Fatalf("after a restart: totals rx %d tx %d; want 5300 and 7400", rx, tx)
	}
	up(800, 900)
	h.record(0)
	if rx, tx := total(h); rx != 5800 || tx != 7900 {
		t.Errorf("traffic after a restart: totals rx %d tx %d; want 5800 and 7900", rx, tx)
	}
	// The page's requests sample at most every pageRecordEvery.
	up(10800, 10900)
	h.record(pageRecordEvery)
	if rx := h.h.Query(key.String(), usagehist.Range48h).TotalRx; rx != 5800 {
		t.Errorf("a second sample within %v: total rx %d; want it unchanged (5800)", pageRecordEvery, rx)
	}
}
