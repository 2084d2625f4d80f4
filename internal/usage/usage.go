package usage

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

const (
	// BucketSize is the resolution of the recent history.
	BucketSize = 5 * time.Minute
	// SampleInterval is how often a caller should sample while a device is
	// connected: more often adds nothing to the history.
	SampleInterval = BucketSize
	// fineBuckets covers 48 hours of 5-minute buckets.
	fineBuckets = 48 * 60 / 5
	// days is how many daily totals are kept, today included.
	days = 90
	// ramInterval bounds how often Record writes the RAM snapshot.
	ramInterval = time.Minute
	// DefaultFlashInterval is history_flash_interval's default.
	DefaultFlashInterval = time.Hour
)

// Counter is one device's raw counters as the WireGuard device reports
// them.
type Counter struct {
	Key    string // the device's identity (its public key)
	Rx, Tx uint64 // bytes received from and sent to the device
}

// bucket is the traffic of one period. at is the period's number: the
// 5-minute slot since the epoch for recent buckets, the Unix time of local
// midnight for days.
type bucket struct {
	at     int64
	rx, tx uint64
}

type device struct {
	lastRx, lastTx   uint64 // the raw counters last seen
	totalRx, totalTx uint64 // everything counted, across resets
	fine             []bucket
	daily            []bucket
}

// Options configures a History.
type Options struct {
	// RAMPath is the snapshot in RAM, e.g. /tmp/wgpanel/usage; "" keeps none.
	RAMPath string
	// FlashPath is the snapshot on flash; "" keeps none.
	FlashPath string
	// FlashInterval is the least time between two flash writes by Record;
	// 0 means flash is never written, not even by Close.
	FlashInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// History is the traffic history of every device. Its methods may be
// called from several goroutines.
type History struct {
	opts Options

	mu         sync.Mutex
	devices    map[string]*device
	dirtyRAM   bool
	dirtyFlash bool // changed since the last flash write
	ramAt      time.Time
	flashAt    time.Time
	// FlashWrites counts the flash snapshots written, for tests and
	// benchmarks.
	flashWrites int
}

// Open returns the history loaded from the newer of the two snapshots. A
// missing snapshot is an empty history; an unreadable one is logged and
// ignored, so that a damaged file costs the history, never the service.
func Open(opts Options) *History {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	h := &History{opts: opts, devices: make(map[string]*device)}
	var newest time.Time
	for _, path := range []string{opts.FlashPath, opts.RAMPath} {
		if path == "" {
			continue
		}
		devs, saved, err := load(path)
		if err != nil {
			opts.Log.Warn("usage history not loaded", "file", path, "err", err)
			continue
		}
		if devs != nil && !saved.Before(newest) {
			h.devices, newest = devs, saved
		}
	}
	// The flash interval counts from start: a crash loop must not write
	// flash on every start.
	h.flashAt = opts.Now()
	return h
}

// Record adds the traffic since the last sample of each device in cs, at
// the clock's current time, and writes the snapshots that are due.
func (h *History) Record(cs []Counter) error {
	now := h.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := now.Unix() / int64(BucketSize/time.Second)
	day := midnight(now)
	for _, c := range cs {
		d := h.devices[c.Key]
		if d == nil {
			d = &device{}
			h.devices[c.Key] = d
			h.dirtyRAM, h.dirtyFlash = true, true
		}
		rx, tx := c.Rx-d.lastRx, c.Tx-d.lastTx
		if c.Rx < d.lastRx || c.Tx < d.lastTx {
			// The device's counters started again from zero.
			rx, tx = c.Rx, c.Tx
		}
		d.lastRx, d.lastTx = c.Rx, c.Tx
		if rx == 0 && tx == 0 {
			continue
		}
		d.totalRx += rx
		d.totalTx += tx
		d.fine = add(d.fine, slot, rx, tx)
		d.daily = add(d.daily, day, rx, tx)
		h.dirtyRAM, h.dirtyFlash = true, true
	}
	for _, d := range h.devices {
		d.trim(now)
	}
	return h.saveDueLocked(now, false)
}

// add adds rx and tx to the bucket at, which is the last or a new one.
func add(bs []bucket, at int64, rx, tx uint64) []bucket {
	if n := len(bs); n > 0 && bs[n-1].at >= at {
		// A clock set back lands in the newest bucket rather than
		// disordering them.
		bs[n-1].rx += rx
		bs[n-1].tx += tx
		return bs
	}
	return append(bs, bucket{at: at, rx: rx, tx: tx})
}

// trim drops the buckets older than the kept periods.
func (d *device) trim(now time.Time) {
	oldestSlot := now.Unix()/int64(BucketSize/time.Second) - fineBuckets + 1
	if i := slices.IndexFunc(d.fine, func(b bucket) bool { return b.at >= oldestSlot }); i != 0 {
		if i < 0 {
			i = len(d.fine)
		}
		d.fine = slices.Delete(d.fine, 0, i)
	}
	oldestDay := midnight(now.AddDate(0, 0, -(days - 1)))
	if i := slices.IndexFunc(d.daily, func(b bucket) bool { return b.at >= oldestDay }); i != 0 {
		if i < 0 {
			i = len(d.daily)
		}
		d.daily = slices.Delete(d.daily, 0, i)
	}
}

// midnight returns the Unix time at which t's day began, in t's location.
func midnight(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location()).Unix()
}

// Retain forgets the history of every device whose key is not in keep:
// the devices removed from the configuration, also while wgpanel was not
// running.
func (h *History) Retain(keep map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key := range h.devices {
		if !keep[key] {
			delete(h.devices, key)
			h.dirtyRAM, h.dirtyFlash = true, true
		}
	}
}

// Range is a period the history can be asked for.
type Range string

// The ranges of GET /api/peers/{id}/usage?range=.
const (
	Range48h Range = "48h"
	Range90d Range = "90d"
)

// ParseRange reads a range as the API spells it; "" is 48h.
func ParseRange(s string) (Range, error) {
	switch r := Range(s); r {
	case "":
		return Range48h, nil
	case Range48h, Range90d:
		return r, nil
	}
	return "", fmt.Errorf("%q is not a history range: use 48h or 90d", s)
}

// Point is the traffic of one period.
type Point struct {
	Start  time.Time
	Rx, Tx uint64
}

// Series is one device's history over a Range: the periods with traffic,
// oldest first, between From and To. Periods missing from Points had none.
// Step is the period length (BucketSize, or a day for 90d).
type Series struct {
	From, To         time.Time
	Step             time.Duration
	Points           []Point
	TotalRx, TotalTx uint64 // everything ever counted for the device
}

// Query returns device key's history over r. An unknown device has an
// empty series.
func (h *History) Query(key string, r Range) Series {
	now := h.opts.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Series{To: now}
	d := h.devices[key]
	if d != nil {
		d.trim(now)
		s.TotalRx, s.TotalTx = d.totalRx, d.totalTx
	}
	if r == Range90d {
		s.Step = 24 * time.Hour
		s.From = time.Unix(midnight(now.AddDate(0, 0, -(days-1))), 0).In(now.Location())
		if d != nil {
			for _, b := range d.daily {
				s.Points = append(s.Points, Point{Start: time.Unix(b.at, 0).In(now.Location()), Rx: b.rx, Tx: b.tx})
			}
		}
		return s
	}
	step := int64(BucketSize / time.Second)
	s.Step = BucketSize
	s.From = time.Unix((now.Unix()/step-fineBuckets+1)*step, 0).In(now.Location())
	if d != nil {
		for _, b := range d.fine {
			s.Points = append(s.Points, Point{Start: time.Unix(b.at*step, 0).In(now.Location()), Rx: b.rx, Tx: b.tx})
		}
	}
	return s
}

// Close writes both snapshots (flash only when FlashInterval is not 0).
// The daemon calls it on a clean shutdown.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.saveDueLocked(h.opts.Now(), true)
}

// FlashWrites returns how many flash snapshots were written since Open.
func (h *History) FlashWrites() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.flashWrites
}

// saveDueLocked writes the RAM snapshot when it changed and its interval
// has passed, and the flash one likewise; all means now, whatever the
// intervals.
func (h *History) saveDueLocked(now time.Time, all bool) error {
	var data []byte
	var errs []error
	if h.opts.RAMPath != "" && h.dirtyRAM && (all || now.Sub(h.ramAt) >= ramInterval) {
		data = encode(h.devices, now)
		if err := writeAtomic(h.opts.RAMPath, data); err != nil {
			errs = append(errs, err)
		} else {
			h.dirtyRAM, h.ramAt = false, now
		}
	}
	if h.opts.FlashPath != "" && h.opts.FlashInterval > 0 && h.dirtyFlash &&
		(all || now.Sub(h.flashAt) >= h.opts.FlashInterval) {
		if data == nil {
			data = encode(h.devices, now)
		}
		if err := writeAtomic(h.opts.FlashPath, data); err != nil {
			errs = append(errs, err)
		} else {
			h.dirtyFlash, h.flashAt = false, now
			h.flashWrites++
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("usage: save history: %w", errs[0])
	}
	return nil
}
