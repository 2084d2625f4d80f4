package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// expirer disables devices at their end date (wgpanel_expires): with one
// timer for the next end date, armed again after every change of the
// configuration, and none at all while no end date is pending.
type expirer struct {
	ctx     context.Context // serve's: a timer firing after it ended does nothing
	load    func(ctx context.Context) (*vpn.Config, error)
	disable func(ctx context.Context, key string) error
	log     *slog.Logger

	now       func() time.Time
	afterFunc func(d time.Duration, f func()) stopper

	mu    sync.Mutex
	timer stopper
}

type stopper interface{ Stop() bool }

func newExpirer(ctx context.Context, svc *vpn.Service, load func(ctx context.Context) (*vpn.Config, error), log *slog.Logger) *expirer {
	return &expirer{
		ctx:  ctx,
		load: load,
		disable: func(ctx context.Context, ref string) error {
			key, err := vpn.ParseKey(ref)
			if err != nil {
				return err
			}
			off := false
			_, err = svc.UpdatePeer(ctx, key, vpn.PeerUpdate{Enabled: &off})
			return err
		},
		log:       log,
		now:       time.Now,
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
	}
}

// check disables the devices of cfg whose end date has come (the
// configuration first, then the device, as every change) and arms the
// timer for the next one.
func (x *expirer) check(ctx context.Context, cfg *vpn.Config) {
	if cfg.Server == nil {
		return
	}
	devs := make([]expiry.Device, 0, len(cfg.Server.Peers))
	for _, p := range cfg.Server.Peers {
		devs = append(devs, expiry.Device{Key: p.PublicKey.String(), Name: p.Name, Enabled: p.Enabled, Expires: p.Expires})
	}
	now := x.now()
	due, next := expiry.Next(devs, now)
	for _, d := range due {
		if err := x.disable(ctx, d.Key); err != nil {
			x.log.Warn("cannot disable a device at its end date", "name", d.Name, "err", err.Error())
			continue
		}
		x.log.Info("device disabled: its access ended", "name", d.Name, "expires", expiry.Format(d.Expires))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
	if wait, ok := expiry.Wait(next, now); ok {
		x.timer = x.afterFunc(wait, x.fire)
	}
}

// fire runs when the timer expires: it reads the configuration again.
func (x *expirer) fire() {
	if x.ctx.Err() != nil {
		return
	}
	cfg, err := x.load(x.ctx)
	if err != nil {
		x.log.Warn("cannot read the configuration for end dates", "err", err.Error())
		return
	}
	x.check(x.ctx, cfg)
}

// stop disarms the timer; serve calls it on exit.
func (x *expirer) stop() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.timer != nil {
		x.timer.Stop()
		x.timer = nil
	}
}
