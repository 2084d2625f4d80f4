package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/usage"
)

type fakeUsage struct{ from time.Time }

func (f fakeUsage) Sample() {}

func (f fakeUsage) Usage(_ context.Context, key wgtypes.Key, r usage.Range) usage.Series {
	return usage.Series{From: f.from, To: f.from.Add(48 * time.Hour), Step: usage.BucketSize,
		Points:  []usage.Point{{Start: f.from, Rx: 10, Tx: 20}, {Start: f.from.Add(47 * time.Hour), Rx: 1, Tx: 2}},
		TotalRx: 111, TotalTx: 222}
}

func TestUsageAPI(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.do("GET", "/api/usage", ""), http.StatusServiceUnavailable, "")
	from := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e.h = New(Config{Service: e.svc, Auth: e.auth, Usage: fakeUsage{from}})
	id := e.add("phone", "split").Peer.ID

	w := e.do("GET", "/api/peers/"+id+"/usage?range=48h", "")
	u := decodeJSON[usageJSON](t, w)
	if w.Code != http.StatusOK || u.StepSeconds != 300 || len(u.Points) != 2 || u.Points[1].Tx != 2 || u.TotalRx != 111 || !u.From.Equal(from) {
		t.Errorf("usage = %d %+v", w.Code, u)
	}
	wantError(t, e.do("GET", "/api/peers/"+id+"/usage?range=1y", ""), http.StatusBadRequest, "range")
	wantError(t, e.do("GET", "/api/peers/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/usage", ""), http.StatusNotFound, "")

	sum := decodeJSON[struct {
		Usage map[string][]uint64 `json:"usage"`
	}](t, e.do("GET", "/api/usage", ""))
	b := sum.Usage[id]
	if len(b) != sparkBins || b[0] != 30 || b[sparkBins-1] != 3 {
		t.Errorf("summary of %s = %v; want 24 bins, 30 first, 3 last", id, b)
	}
}
