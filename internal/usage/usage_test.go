package usage

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// clock is a fake clock tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
}

func open(t testing.TB, dir string, c *clock) *History {
	t.Helper()
	return Open(Options{
		RAMPath:       filepath.Join(dir, "tmp", "usage"),
		FlashPath:     filepath.Join(dir, "flash", "usage"),
		FlashInterval: DefaultFlashInterval,
		Now:           c.now,
	})
}

// sum adds up a series' points.
func sum(s Series) (rx, tx uint64) {
	for _, p := range s.Points {
		rx += p.Rx
		tx += p.Tx
	}
	return rx, tx
}

func record(t testing.TB, h *History, key string, rx, tx uint64) {
	t.Helper()
	if err := h.Record([]Counter{{Key: key, Rx: rx, Tx: tx}}); err != nil {
		t.Fatal(err)
	}
}

func checkTotals(t *testing.T, h *History, key string, wantRx, wantTx uint64) {
	t.Helper()
	for _, r := range []Range{Range48h, Range90d} {
		s := h.Query(key, r)
		if s.TotalRx != wantRx || s.TotalTx != wantTx {
			t.Errorf("%s totals = %d/%d; want %d/%d", r, s.TotalRx, s.TotalTx, wantRx, wantTx)
		}
		if rx, tx := sum(s); rx != wantRx || tx != wantTx {
			t.Errorf("%s buckets add up to %d/%d; want %d/%d", r, rx, tx, wantRx, wantTx)
		}
	}
}

// TestRecreatedDeviceKeepsCounting: netifd re-creates the device mid-way;
// its counters restart at zero and the history goes on from the old total.
func TestRecreatedDeviceKeepsCounting(t *testing.T) {
	c := newClock()
	h := open(t, t.TempDir(), c)
	steps := []struct {
		rx, tx         uint64
		wantRx, wantTx uint64
	}{
		{1000, 500, 1000, 500},
		{3000, 1500, 3000, 1500},
		{3000, 1500, 3000, 1500}, // the same counters again: no double count
		{200, 100, 3200, 1600},   // re-created: counted from zero
		{700, 300, 3700, 1800},
		{0, 0, 3700, 1800}, // re-created, nothing sent yet
		{50, 0, 3750, 1800},
	}
	for i, st := range steps {
		c.advance(5 * time.Minute)
		record(t, h, "phone", st.rx, st.tx)
		t.Run(fmt.Sprint("step", i), func(t *testing.T) { checkTotals(t, h, "phone", st.wantRx, st.wantTx) })
	}
	// The other direction alone going down is a reset too.
	c.advance(5 * time.Minute)
	record(t, h, "phone", 60, 0)
	checkTotals(t, h, "phone", 3760, 1800)
}

// TestRestartKeepsHistory reloads the history as a restarted wgpanel does
// (RAM snapshot) and as a rebooted router does (flash snapshot only).
func TestRestartKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	h := open(t, dir, c)
	for i := range 30 {
		c.advance(5 * time.Minute)
		record(t, h, "phone", uint64(i+1)*1000, uint64(i+1)*100)
		record(t, h, "laptop", uint64(i+1)*7, 0)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	want := h.Query("phone", Range48h)

	// wgpanel restarts; the device kept its counters.
	h = open(t, dir, c)
	if got := h.Query("phone", Range48h); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart:\ngot  %+v\nwant %+v", got, want)
	}
	c.advance(5 * time.Minute)
	record(t, h, "phone", 31000, 3100)
	checkTotals(t, h, "phone", 31000, 3100)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	// The router reboots: /tmp is empty, the device counts from zero.
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	h = open(t, dir, c)
	checkTotals(t, h, "phone", 31000, 3100)
	c.advance(5 * time.Minute)
	record(t, h, "phone", 500, 50)
	checkTotals(t, h, "phone", 31500, 3150)
	checkTotals(t, h, "laptop", 210, 0)
}

func TestWindows(t *testing.T) {
	c := newClock()
	h := Open(Options{Now: c.now})
	var total uint64
	// One sample an hour for 100 days, 10 bytes each.
	for range 100 * 24 {
		c.advance(time.Hour)
		total += 10
		record(t, h, "phone", total, 0)
	}
	s := h.Query("phone", Range48h)
	if len(s.Points) != 48 || s.Step != BucketSize {
		t.Errorf("48h: %d points, step %v; want 48, 5m", len(s.Points), s.Step)
	}
	if s.Points[0].Start.Before(s.From) || s.To != c.t || s.To.Sub(s.From) > 48*time.Hour {
		t.Errorf("48h: from %v to %v, first point %v", s.From, s.To, s.Points[0].Start)
	}
	d := h.Query("phone", Range90d)
	if len(d.Points) != 90 || d.Step != 24*time.Hour {
		t.Fatalf("90d: %d points, step %v; want 90, 24h", len(d.Points), d.Step)
	}
	// Full days have 24 samples; today has as many as hours have passed.
	if got := d.Points[0].Rx; got != 240 {
		t.Errorf("oldest day: %d bytes; want 240", got)
	}
	if got, want := d.Points[89].Rx, uint64(c.t.Hour()+1)*10; got != want { // 00:00 counts too
		t.Errorf("today: %d bytes; want %d", got, want)
	}
	if d.TotalRx != total {
		t.Errorf("total %d; want %d (totals outlive the windows)", d.TotalRx, total)
	}
	if got := h.Query("nobody", Range90d); len(got.Points) != 0 || got.TotalRx != 0 {
		t.Errorf("unknown device: %+v", got)
	}
}

func TestFlashWrites(t *testing.T) {
	tests := []struct {
		name      string
		interval  time.Duration
		wantRun   int // flash writes during 10 hours of traffic
		wantClose int // after Close
	}{
		{"hourly", time.Hour, 10, 11},
		{"never", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := newClock()
			h := Open(Options{RAMPath: filepath.Join(dir, "ram"), FlashPath: filepath.Join(dir, "flash"),
				FlashInterval: tt.interval, Now: c.now})
			for i := range 10 * 60 / 5 {
				c.advance(5 * time.Minute)
				record(t, h, "phone", uint64(i+1)*1e6, uint64(i+1)*1e5)
			}
			if got := h.FlashWrites(); got != tt.wantRun {
				t.Errorf("flash writes in 10 h = %d; want %d", got, tt.wantRun)
			}
			c.advance(time.Minute)
			record(t, h, "phone", 1e9, 1e8)
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if got := h.FlashWrites(); got != tt.wantClose {
				t.Errorf("flash writes after Close = %d; want %d", got, tt.wantClose)
			}
			_, err := os.Stat(filepath.Join(dir, "flash"))
			if (err == nil) != (tt.wantClose > 0) {
				t.Errorf("flash file exists: %v; want %v", err == nil, tt.wantClose > 0)
			}
		})
	}
	// No traffic, no writes: an idle device does not wear the flash.
	dir := t.TempDir()
	c := newClock()
	h := Open(Options{FlashPath: filepath.Join(dir, "flash"), FlashInterval: time.Hour, Now: c.now})
	record(t, h, "phone", 10, 10)
	for range 48 {
		c.advance(time.Hour)
		record(t, h, "phone", 10, 10)
	}
	if got := h.FlashWrites(); got != 1 {
		t.Errorf("idle device: %d flash writes in 48 h; want 1 (the first sample's)", got)
	}
}

func TestDamagedSnapshot(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	h := open(t, dir, c)
	c.advance(5 * time.Minute)
	record(t, h, "phone", 1234, 56)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "tmp", "usage"))
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation and every flipped byte is refused, never a panic.
	for i := range len(good) {
		if _, _, err := decode(good[:i]); err == nil {
			t.Errorf("truncated to %d bytes: accepted", i)
		}
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x40
		if _, _, err := decode(bad); err == nil {
			t.Errorf("byte %d flipped: accepted", i)
		}
	}
	// A damaged RAM snapshot falls back to the flash one.
	if err := os.WriteFile(filepath.Join(dir, "tmp", "usage"), good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	h = open(t, dir, c)
	checkTotals(t, h, "phone", 1234, 56)
}

func TestRetain(t *testing.T) {
	c := newClock()
	h := open(t, t.TempDir(), c)
	record(t, h, "phone", 10, 10)
	record(t, h, "laptop", 10, 10)
	h.Retain(map[string]bool{"laptop": true})
	if s := h.Query("phone", Range48h); s.TotalRx != 0 || len(s.Points) != 0 {
		t.Errorf("forgotten device still has %+v", s)
	}
	if s := h.Query("laptop", Range48h); s.TotalRx == 0 {
		t.Errorf("kept device lost its history: %+v", s)
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{"": Range48h, "48h": Range48h, "90d": Range90d} {
		if got, err := ParseRange(in); err != nil || got != want {
			t.Errorf("ParseRange(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseRange("7d"); err == nil {
		t.Error("ParseRange(7d) accepted")
	}
}

// BenchmarkFlashWrites samples 250 devices under steady traffic every 5
// minutes of a fake clock (one iteration is one sample) and reports flash
// writes per hour of traffic (at most 1 with the default interval), the
// snapshot's size with full 48-hour histories, and the heap the history
// holds.
func BenchmarkFlashWrites(b *testing.B) {
	dir := b.TempDir()
	c := newClock()
	h := Open(Options{RAMPath: filepath.Join(dir, "ram"), FlashPath: filepath.Join(dir, "flash"),
		FlashInterval: DefaultFlashInterval, Now: c.now})
	const n = 250
	cs := make([]Counter, n)
	for i := range cs {
		cs[i].Key = fmt.Sprintf("device-%03d-%s", i, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	}
	// Fill 48 hours first so that the snapshot has its full size.
	step := func() {
		c.advance(SampleInterval)
		for i := range cs {
			cs[i].Rx += 1_000_000 + uint64(i)
			cs[i].Tx += 100_000
		}
		if err := h.Record(cs); err != nil {
			b.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range fineBuckets {
		step()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	start, writes := c.t, h.FlashWrites()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.StopTimer()
	hours := c.t.Sub(start).Hours()
	b.ReportMetric(float64(h.FlashWrites()-writes)/hours, "flash-writes/hour")
	fi, err := os.Stat(filepath.Join(dir, "flash"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size()), "snapshot-bytes")
	b.ReportMetric(heap, "history-heap-bytes")
	if perHour := float64(h.FlashWrites()-writes) / hours; hours >= 1 && perHour > 1 {
		b.Errorf("%.2f flash writes per hour; want at most 1", perHour)
	}
}
