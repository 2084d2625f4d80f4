package main

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	usagehist "github.com/wgpanel/wgpanel/internal/usage"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Where the usage history is kept on OpenWrt: in RAM, and on flash beside
// the configuration (listed in /lib/upgrade/keep.d/wgpanel).
const (
	openWrtUsageRAM   = "/tmp/wgpanel/usage"
	openWrtUsageFlash = "/etc/wgpanel/usage"
)

// pageRecordEvery bounds how often the page's list requests read the
// device for the history: the page lists the devices every few seconds.
const pageRecordEvery = 15 * time.Second

// history samples the device into the usage history: when the page asks,
// at every reconcile (the interface went down or was re-created), and at
// most every usagehist.SampleInterval while the loop samples a connected
// device. It never starts a timer of its own.
type history struct {
	h      *usagehist.History
	dev    vpn.Device
	ifname string

	mu   sync.Mutex
	last time.Time // the last Record
}

// openHistory opens the usage history in its place for this mode: RAM and
// flash files on OpenWrt, the state directory in --dev (config is its
// config directory), in memory only otherwise.
func (g *globals) openHistory(e *env, settings vpn.Settings) *history {
	opts := usagehist.Options{FlashInterval: settings.HistoryFlashInterval, Log: e.log.With("component", "usage")}
	switch {
	case g.devMode():
		state := filepath.Dir(string(e.dir))
		opts.RAMPath, opts.FlashPath = filepath.Join(state, "usage.ram"), filepath.Join(state, "usage")
	case isOpenWrt():
		opts.RAMPath, opts.FlashPath = openWrtUsageRAM, openWrtUsageFlash
	}
	return &history{h: usagehist.Open(opts), dev: e.dev, ifname: settings.Interface}
}

// record reads the device and records its counters, unless the last
// record is younger than every.
func (r *history) record(every time.Duration) {
	r.mu.Lock()
	due := time.Since(r.last) >= every
	r.mu.Unlock()
	if !due {
		return
	}
	st, err := r.dev.State(r.ifname)
	if err != nil {
		return
	}
	r.recordState(st, 0)
}

// recordState records counters already read, unless the last record is
// younger than every.
func (r *history) recordState(st *vpn.DeviceState, every time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.last) < every {
		return
	}
	cs := make([]usagehist.Counter, 0, len(st.Peers))
	for _, p := range st.Peers {
		cs = append(cs, usagehist.Counter{Key: p.PublicKey.String(), Rx: uint64(max(p.RxBytes, 0)), Tx: uint64(max(p.TxBytes, 0))})
	}
	if err := r.h.Record(cs); err == nil {
		r.last = time.Now()
	}
}

// forget drops the history of devices no longer in cfg. A peer wgpanel
// cannot read keeps its history: it is still on the device.
func (r *history) forget(cfg *vpn.Config) {
	keep := make(map[string]bool, len(cfg.Server.Peers)+len(cfg.Server.Odd))
	for _, p := range cfg.Server.Peers {
		keep[p.PublicKey.String()] = true
	}
	for _, o := range cfg.Server.Odd {
		keep[o.PublicKey.String()] = true
	}
	r.h.Retain(keep)
}

// Sample reads the device into the history now, for the history's own
// requests (one per request).
func (r *history) Sample() { r.record(0) }

// Usage answers the history of one device.
func (r *history) Usage(_ context.Context, key wgtypes.Key, rg usagehist.Range) usagehist.Series {
	return r.h.Query(key.String(), rg)
}

func (r *history) close() error { return r.h.Close() }
