package follow

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Defaults for Config's durations.
const (
	// DefaultQuiet is how long events must pause before a reconcile:
	// netifd's ifup deletes and adds the link, then runs wg setconf, within
	// a few milliseconds of each other.
	DefaultQuiet = 300 * time.Millisecond
	// DefaultSampleEvery is how often the device is sampled while the page
	// is open or a peer is connected. WireGuard sends a keepalive or
	// handshake at least every few tens of seconds on an active tunnel, so
	// two devices sharing a key show up within a few samples.
	DefaultSampleEvery = 10 * time.Second
	// DefaultPageOpen is how long after its last request the page counts as
	// open; the page polls every few seconds while visible.
	DefaultPageOpen = 30 * time.Second
	// maxWaitQuiets bounds the wait for quiet, in Quiet periods: events
	// that never pause (a flapping link) still get a reconcile within
	// about 1.5 s of the first.
	maxWaitQuiets = 5
)

// Config is what the loop acts on. Reconcile is required.
type Config struct {
	// Reconcile brings the device in line with the configuration.
	Reconcile func(ctx context.Context) (*vpn.Changes, error)
	// Sample reads the device once for the doctor and reports whether a
	// peer is connected. Nil disables sampling.
	Sample func() (connected bool)
	// Log gets one line per reconcile. Nil discards.
	Log *slog.Logger

	Quiet       time.Duration // default DefaultQuiet
	SampleEvery time.Duration // default DefaultSampleEvery
	PageOpen    time.Duration // default DefaultPageOpen

	// Clock is for tests; nil means the real one.
	Clock Clock
}

// Clock is the loop's view of time. Tests provide a fake one.
type Clock interface {
	Now() time.Time
	// NewTimer returns a stopped timer.
	NewTimer() Timer
}

// Timer is a one-shot timer that can be re-armed.
type Timer interface {
	C() <-chan time.Time
	// Reset arms the timer to fire once after d, replacing any earlier
	// arming.
	Reset(d time.Duration)
	// Stop disarms the timer.
	Stop()
}

// Loop is the daemon's event loop. Changed and PageOpen may be called from
// any goroutine, before or while Run runs.
type Loop struct {
	cfg Config

	mu       sync.Mutex
	reasons  []string  // why a reconcile is pending, in arrival order
	lastPage time.Time // when the page last asked for something

	changed chan struct{} // capacity 1: a pending wake-up
	page    chan struct{} // capacity 1
}

// New returns a loop for cfg.
func New(cfg Config) *Loop {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = DefaultQuiet
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = DefaultSampleEvery
	}
	if cfg.PageOpen <= 0 {
		cfg.PageOpen = DefaultPageOpen
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	return &Loop{cfg: cfg, changed: make(chan struct{}, 1), page: make(chan struct{}, 1)}
}

// Changed says that the device or the configuration may have changed, for
// the given reason ("interface", "config", "signal"...): the loop
// reconciles once events have paused for Config.Quiet. It never blocks.
func (l *Loop) Changed(reason string) {
	l.mu.Lock()
	if !slices.Contains(l.reasons, reason) {
		l.reasons = append(l.reasons, reason)
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// PageOpen says that the web page asked for something: the loop samples
// the device until the page has been silent for Config.PageOpen and no
// peer is connected. It never blocks.
func (l *Loop) PageOpen() {
	l.mu.Lock()
	l.lastPage = l.cfg.Clock.Now()
	l.mu.Unlock()
	select {
	case l.page <- struct{}{}:
	default:
	}
}

// Run handles events until ctx ends. It samples the device once at the
// start, and goes on sampling if a peer is connected.
func (l *Loop) Run(ctx context.Context) {
	clk := l.cfg.Clock
	quiet := clk.NewTimer()
	defer quiet.Stop()
	sample := clk.NewTimer()
	defer sample.Stop()

	var (
		pending  bool      // a reconcile waits for the quiet timer
		since    time.Time // when the first pending event came
		sampling bool      // the sample timer is armed
	)
	pageOpen := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return !l.lastPage.IsZero() && clk.Now().Before(l.lastPage.Add(l.cfg.PageOpen))
	}
	// startSampling samples now, and goes on sampling while a peer is
	// connected or the page is open.
	startSampling := func() {
		if sampling || l.cfg.Sample == nil {
			return
		}
		if l.cfg.Sample() || pageOpen() {
			sampling = true
			sample.Reset(l.cfg.SampleEvery)
		}
	}
	startSampling()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.changed:
			now := clk.Now()
			if !pending {
				pending, since = true, now
			}
			wait := min(l.cfg.Quiet, since.Add(maxWaitQuiets*l.cfg.Quiet).Sub(now))
			quiet.Reset(max(wait, 0))
		case <-quiet.C():
			if !pending {
				continue
			}
			pending = false
			l.Reconcile(ctx, "")
			// A peer may have been connected all along: sample once, and
			// go on sampling only if so.
			startSampling()
		case <-l.page:
			startSampling()
		case <-sample.C():
			if l.cfg.Sample() || pageOpen() {
				sample.Reset(l.cfg.SampleEvery)
			} else {
				sampling = false
			}
		}
	}
}

// Reconcile reconciles now and logs it on one line, with reason and the
// reasons of the events that were waiting (serve calls it once at start,
// before the web UI listens). Run calls it after events.
func (l *Loop) Reconcile(ctx context.Context, reason string) {
	l.mu.Lock()
	reasons := l.reasons
	if reason != "" && !slices.Contains(reasons, reason) {
		reasons = append([]string{reason}, reasons...)
	}
	reason = strings.Join(reasons, ",")
	if reason == "" {
		// The events were handled by an earlier reconcile already.
		reason = "recheck"
	}
	l.reasons = nil
	l.mu.Unlock()
	start := l.cfg.Clock.Now()
	ch, err := l.cfg.Reconcile(ctx)
	took := l.cfg.Clock.Now().Sub(start).Round(time.Millisecond)
	if err != nil {
		l.cfg.Log.Warn("cannot reconcile the interface", "reason", reason, "err", err.Error())
		return
	}
	l.cfg.Log.Info("reconciled the interface with the configuration", "reason", reason,
		"added", len(ch.Added), "updated", len(ch.Updated), "removed", len(ch.Removed), "took", took.String())
}

// realClock is the system clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer() Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return realTimer{t}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }

// Reset re-arms the timer. Since Go 1.23 a stopped or reset timer never
// delivers a stale tick, so no draining is needed.
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
