package main

import (
	"context"
	"errors"
	"time"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/metrics"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// metricsSource reads what GET /metrics reports when a scraper asks.
type metricsSource struct{ e *env }

var _ api.MetricsSource = metricsSource{}

func (m metricsSource) MetricsToken(ctx context.Context) (string, error) {
	st, err := m.e.store.Settings(ctx)
	return st.MetricsToken, err
}

func (m metricsSource) MetricsSnapshot(ctx context.Context) (metrics.Snapshot, error) {
	st, err := m.e.store.Settings(ctx)
	if err != nil {
		return metrics.Snapshot{}, err
	}
	snap := metrics.Snapshot{Interface: st.Interface, Version: version, Now: time.Now()}
	if _, err := m.e.dev.State(st.Interface); err == nil {
		snap.InterfaceUp = true
	}
	views, err := m.e.svc.Peers(ctx)
	var ve *vpn.Error
	if errors.As(err, &ve) && ve.Code == vpn.ECONFIG {
		// No interface configured yet: an empty scrape, not an error.
		return snap, nil
	}
	if err != nil {
		return snap, err
	}
	for _, v := range views {
		if v.Problem != "" {
			continue
		}
		snap.Devices = append(snap.Devices, metrics.Device{
			Name: v.Name, PublicKey: v.PublicKey.String(), Enabled: v.Enabled,
			RxBytes: uint64(max(v.RxBytes, 0)), TxBytes: uint64(max(v.TxBytes, 0)), LastHandshake: v.LatestHandshake,
		})
	}
	return snap, nil
}
