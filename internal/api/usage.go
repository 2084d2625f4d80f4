package api

import (
	"context"
	"net/http"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/usage"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// UsageSource is the devices' traffic history. Sample reads the device
// into it, so that the answers that follow include the traffic until now;
// each request samples once.
type UsageSource interface {
	Sample()
	Usage(ctx context.Context, key wgtypes.Key, r usage.Range) usage.Series
}

// usagePoint is one period with traffic: bytes received from and sent to
// the device.
type usagePoint struct {
	Start time.Time `json:"start"`
	Rx    uint64    `json:"rx"`
	Tx    uint64    `json:"tx"`
}

// usageJSON answers GET /api/peers/{id}/usage?range=48h|90d: the periods
// with traffic, oldest first, between from and to, each step_seconds long
// (periods missing had none), and everything ever counted.
type usageJSON struct {
	Range       usage.Range  `json:"range"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	StepSeconds int64        `json:"step_seconds"`
	Points      []usagePoint `json:"points"`
	TotalRx     uint64       `json:"total_rx"`
	TotalTx     uint64       `json:"total_tx"`
}

func (s *server) usageSource(w http.ResponseWriter) UsageSource {
	if s.usage == nil {
		writeError(w, http.StatusServiceUnavailable, "This wgpanel server keeps no usage history.", "")
	}
	return s.usage
}

// handlePeerUsage answers one device's traffic history.
func (s *server) handlePeerUsage(w http.ResponseWriter, r *http.Request) {
	key, ok := s.peerID(w, r)
	if !ok {
		return
	}
	rg, err := usage.ParseRange(r.URL.Query().Get("range"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "The range must be 48h or 90d.", "range")
		return
	}
	src := s.usageSource(w)
	if src == nil {
		return
	}
	if _, err := s.svc.Peer(r.Context(), key.String()); err != nil {
		s.fail(w, r, err)
		return
	}
	src.Sample()
	ser := src.Usage(r.Context(), key, rg)
	out := usageJSON{Range: rg, From: ser.From.UTC(), To: ser.To.UTC(), StepSeconds: int64(ser.Step / time.Second),
		Points: make([]usagePoint, len(ser.Points)), TotalRx: ser.TotalRx, TotalTx: ser.TotalTx}
	for i, p := range ser.Points {
		out.Points[i] = usagePoint{p.Start.UTC(), p.Rx, p.Tx}
	}
	writeJSON(w, http.StatusOK, out)
}

// sparkBins is how many bars GET /api/usage gives per device: two hours
// each over 48 hours.
const sparkBins = 24

// handleUsageSummary answers every device's traffic over the last 48 hours
// in sparkBins totals (received plus sent), by device id, for the page's
// sparklines: {"usage": {"<id>": [..24 numbers..]}}.
func (s *server) handleUsageSummary(w http.ResponseWriter, r *http.Request) {
	src := s.usageSource(w)
	if src == nil {
		return
	}
	views, err := s.svc.Peers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	src.Sample()
	out := make(map[string][]uint64, len(views))
	for i := range views {
		v := &views[i]
		if v.PublicKey == (wgtypes.Key{}) {
			continue
		}
		out[vpn.KeyID(v.PublicKey)] = bins(src.Usage(r.Context(), v.PublicKey, usage.Range48h))
	}
	writeJSON(w, http.StatusOK, struct {
		Usage map[string][]uint64 `json:"usage"`
	}{out})
}

// bins sums a series into sparkBins equal periods.
func bins(ser usage.Series) []uint64 {
	out := make([]uint64, sparkBins)
	span := ser.To.Sub(ser.From)
	if span <= 0 {
		return out
	}
	for _, p := range ser.Points {
		i := int(int64(p.Start.Sub(ser.From)) * sparkBins / int64(span))
		out[min(max(i, 0), sparkBins-1)] += p.Rx + p.Tx
	}
	return out
}
