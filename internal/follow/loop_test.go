package follow

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// harness runs a Loop on a fake clock with a fake reconcile and sampler.
type harness struct {
	t          *testing.T
	clk        *fakeClock
	loop       *Loop
	log        testutil.SyncBuffer
	reconciled chan struct{}
	sampled    chan struct{}
	connected  atomic.Bool
	failNext   atomic.Bool
	cancel     context.CancelFunc
	done       chan struct{}
}

const (
	quiet       = 300 * time.Millisecond
	sampleEvery = 10 * time.Second
	pageOpen    = 30 * time.Second
)

func start(t *testing.T) *harness {
	h := &harness{t: t, clk: newFakeClock(), reconciled: make(chan struct{}, 100), sampled: make(chan struct{}, 100), done: make(chan struct{})}
	h.loop = New(Config{
		Reconcile: func(context.Context) (*vpn.Changes, error) {
			h.reconciled <- struct{}{}
			if h.failNext.Swap(false) {
				return nil, errors.New("interface wg0 does not exist")
			}
			return &vpn.Changes{Added: make([]wgtypes.Key, 2)}, nil
		},
		Sample: func() bool {
			h.sampled <- struct{}{}
			return h.connected.Load()
		},
		Log:         slog.New(slog.NewTextHandler(&h.log, nil)),
		Quiet:       quiet,
		SampleEvery: sampleEvery,
		PageOpen:    pageOpen,
		Clock:       h.clk,
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.loop.Reconcile(ctx, "start")
	go func() { h.loop.Run(ctx); close(h.done) }()
	t.Cleanup(h.stop)
	// The start-up reconcile, and the sample at the start of Run.
	h.wantReconciles(1)
	h.wantSamples(1)
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		h.t.Error("Run did not return within 5 s of its context ending")
	}
}

// wantReconciles checks that exactly n reconciles happen now: n arrive
// within 5 s and no other within a short grace time.
func (h *harness) wantReconciles(n int) {
	h.t.Helper()
	want(h.t, "reconcile", h.reconciled, n)
}

func (h *harness) wantSamples(n int) {
	h.t.Helper()
	want(h.t, "sample", h.sampled, n)
}

func want(t *testing.T, what string, c chan struct{}, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %d of %d did not happen within 5 s", what, i+1, n)
		}
	}
	select {
	case <-c:
		t.Fatalf("got more than %d %s(s); want exactly %d", n, what, n)
	case <-time.After(20 * time.Millisecond):
	}
}

// idle waits until the loop has handled everything and checks that it
// armed no timer: an idle daemon must not wake up.
func (h *harness) idle() {
	h.t.Helper()
	for i := 0; i < 500 && h.clk.Armed() != 0; i++ {
		time.Sleep(time.Millisecond)
	}
	if n := h.clk.Armed(); n != 0 {
		h.t.Fatalf("%d timer(s) armed while idle; want none", n)
	}
}

func TestBurstOfEventsGivesOneReconcileAfterQuiet(t *testing.T) {
	h := start(t)
	h.idle()
	for i := 0; i < 5; i++ {
		h.loop.Changed("interface")
		h.clk.waitArmed(t, quiet)
		h.clk.Advance(quiet / 2) // never quiet long enough
	}
	h.loop.Changed("config")
	h.clk.waitArmed(t, quiet)
	h.wantReconciles(0)
	h.clk.Advance(quiet - time.Millisecond)
	h.wantReconciles(0)
	h.clk.Advance(time.Millisecond)
	h.wantReconciles(1)
	h.wantSamples(1)
	h.idle()
	var last string
	for _, l := range strings.Split(strings.TrimSpace(h.log.String()), "\n") {
		last = l
	}
	for _, w := range []string{"reason=interface,config", "added=2", "updated=0", "removed=0"} {
		if !strings.Contains(last, w) {
			t.Errorf("reconcile log line %q lacks %q", last, w)
		}
	}
	if n := strings.Count(h.log.String(), "reconciled"); n != 2 {
		t.Errorf("%d reconcile log lines; want 2 (start and the burst):\n%s", n, h.log.String())
	}
}

func TestEventsThatNeverPauseStillReconcile(t *testing.T) {
	h := start(t)
	h.idle()
	// An event every 250 ms, never 300 ms of quiet: the reconcile comes
	// 1.5 s after the first event all the same.
	h.loop.Changed("interface") // at T
	h.clk.waitArmed(t, quiet)
	for i := 1; i <= 5; i++ {
		h.clk.Advance(250 * time.Millisecond)
		h.wantReconciles(0)
		h.loop.Changed("interface") // at T+250ms*i
		left := min(quiet, 1500*time.Millisecond-time.Duration(i)*250*time.Millisecond)
		h.clk.waitArmed(t, left) // 250 ms after the last event
	}
	h.clk.Advance(250 * time.Millisecond) // T+1.5s
	h.wantReconciles(1)
}

func TestReconcileErrorIsLoggedAndLoopGoesOn(t *testing.T) {
	h := start(t)
	h.failNext.Store(true)
	h.loop.Changed("signal")
	h.clk.waitArmed(t, quiet)
	h.clk.Advance(quiet)
	h.wantReconciles(1)
	if !strings.Contains(h.log.String(), "cannot reconcile") || !strings.Contains(h.log.String(), "wg0 does not exist") {
		t.Errorf("log does not explain the failed reconcile:\n%s", h.log.String())
	}
	h.loop.Changed("interface")
	h.clk.waitArmed(t, quiet)
	h.clk.Advance(quiet)
	h.wantReconciles(1)
}

func TestPageOpenSamplesUntilPageCloses(t *testing.T) {
	h := start(t)
	h.idle()
	h.loop.PageOpen() // at T
	h.wantSamples(1)  // at once, so the doctor has something to show
	h.clk.waitArmed(t, sampleEvery)
	for i := 0; i < 2; i++ { // T+10s, T+20s
		h.clk.Advance(sampleEvery)
		h.wantSamples(1)
		h.clk.waitArmed(t, sampleEvery)
	}
	// The page polls again at T+20s: it counts as open until T+50s.
	h.loop.PageOpen()
	for i := 0; i < 2; i++ { // T+30s, T+40s
		h.clk.Advance(sampleEvery)
		h.wantSamples(1)
		h.clk.waitArmed(t, sampleEvery)
	}
	h.clk.Advance(sampleEvery) // T+50s: the last sample
	h.wantSamples(1)
	// No more samples, no timer.
	h.idle()
	h.clk.Advance(time.Hour)
	h.wantSamples(0)
	h.wantReconciles(0)
}

func TestConnectedPeerKeepsSampling(t *testing.T) {
	h := start(t)
	h.connected.Store(true)
	h.loop.PageOpen()
	h.wantSamples(1)
	h.clk.waitArmed(t, sampleEvery)
	for i := 0; i < 10; i++ { // 100 s, long after the page closed
		h.clk.Advance(sampleEvery)
		h.wantSamples(1)
		h.clk.waitArmed(t, sampleEvery)
	}
	h.connected.Store(false)
	h.clk.Advance(sampleEvery)
	h.wantSamples(1)
	h.idle()
}

func TestConnectedAtReconcileStartsSampling(t *testing.T) {
	h := start(t)
	h.idle()
	h.connected.Store(true)
	h.loop.Changed("config")
	h.clk.waitArmed(t, quiet)
	h.clk.Advance(quiet)
	h.wantReconciles(1)
	h.wantSamples(1)
	h.clk.waitArmed(t, sampleEvery)
	h.clk.Advance(sampleEvery)
	h.wantSamples(1)
}

func TestNoSamplerNoTimers(t *testing.T) {
	clk := newFakeClock()
	n := atomic.Int32{}
	l := New(Config{
		Reconcile: func(context.Context) (*vpn.Changes, error) { n.Add(1); return &vpn.Changes{}, nil },
		Clock:     clk,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	l.Changed("config")
	clk.waitArmed(t, DefaultQuiet)
	clk.Advance(DefaultQuiet)
	l.PageOpen()
	for i := 0; i < 500 && (n.Load() != 1 || clk.Armed() != 0); i++ {
		time.Sleep(time.Millisecond)
	}
	if n.Load() != 1 || clk.Armed() != 0 {
		t.Errorf("reconciles %d, armed timers %d; want 1 and 0", n.Load(), clk.Armed())
	}
	cancel()
	<-done
}
