package main

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { t.stopped = true; return true }

// TestExpirerFakeClock runs the daemon's end dates on a fake clock: a
// device past its date is disabled at once, the timer waits for the next
// date (at most expiry.MaxWait at a time), and no timer is left when no
// date is pending.
func TestExpirerFakeClock(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	key := func() wgtypes.Key {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		return k.PublicKey()
	}
	a, b, c := key(), key(), key()
	cfg := &vpn.Config{Server: &vpn.Server{Peers: []vpn.Peer{
		{Name: "a", PublicKey: a, Enabled: true, Expires: now.Add(-time.Minute)},
		{Name: "b", PublicKey: b, Enabled: true, Expires: now.Add(90 * time.Minute)},
		{Name: "c", PublicKey: c, Enabled: false, Expires: now.Add(-time.Hour)},
		{Name: "d", PublicKey: key(), Enabled: true},
	}}}
	var disabled []string
	var timers []*fakeTimer
	x := &expirer{
		ctx:  context.Background(),
		load: func(context.Context) (*vpn.Config, error) { return cfg, nil },
		disable: func(_ context.Context, k string) error {
			disabled = append(disabled, k)
			for i := range cfg.Server.Peers {
				if cfg.Server.Peers[i].PublicKey.String() == k {
					cfg.Server.Peers[i].Enabled = false
				}
			}
			return nil
		},
		log: slog.New(slog.DiscardHandler),
		now: func() time.Time { return now },
		afterFunc: func(d time.Duration, f func()) stopper {
			ft := &fakeTimer{d: d, f: f}
			timers = append(timers, ft)
			return ft
		},
	}
	x.check(context.Background(), cfg)
	if !slices.Equal(disabled, []string{a.String()}) {
		t.Errorf("disabled %v; want only a", disabled)
	}
	if len(timers) != 1 || timers[0].d != time.Hour {
		t.Fatalf("timers %+v; want one of 1h (b is due in 90 min, waits are at most an hour)", timers)
	}
	now = now.Add(time.Hour)
	timers[0].f()
	if len(timers) != 2 || timers[1].d != 30*time.Minute || len(disabled) != 1 {
		t.Fatalf("after an hour: timers %d (last %v), disabled %v; want a second timer of 30m and nothing more disabled", len(timers), timers[len(timers)-1].d, disabled)
	}
	now = now.Add(30 * time.Minute)
	timers[1].f()
	if !slices.Equal(disabled, []string{a.String(), b.String()}) {
		t.Errorf("at b's date: disabled %v; want a and b", disabled)
	}
	if len(timers) != 2 {
		t.Errorf("no date pending: %d timers armed; want no new one", len(timers))
	}
	x.check(context.Background(), cfg)
	if len(timers) != 2 || len(disabled) != 2 {
		t.Errorf("a check with nothing due armed %d timers and disabled %v", len(timers), disabled)
	}
}
