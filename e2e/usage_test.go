package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// usageTotals returns the totals of GET /api/peers/{id}/usage?range=48h.
func usageTotals(t *testing.T, c *nsClient, id string) (rx, tx uint64) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, webURL+"/api/peers/"+id+"/usage?range=48h", nil)
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		TotalRx uint64 `json:"total_rx"`
		TotalTx uint64 `json:"total_tx"`
		Points  []json.RawMessage
	}
	if err := json.Unmarshal(c.do(req, http.StatusOK), &u); err != nil {
		t.Fatal(err)
	}
	if u.TotalRx > 0 && len(u.Points) == 0 {
		t.Errorf("usage has totals but no point in the last 48 hours")
	}
	return u.TotalRx, u.TotalTx
}

// TestUsageSurvivesRestart lets the phone send traffic, reads its history
// through the API, restarts serve and checks that the history is still
// there (serve saves it on exit and loads it at start).
func TestUsageSurvivesRestart(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{phone: true, lan: true})
	waitWebUI(t, tp)
	_, key := connectPhone(t, tp)
	id := keyID(t, key)
	if r := tp.ping(lanHost, "-c", "5", "-i", "0.2", "-s", "1000", "-W", "2"); r.err != nil {
		t.Fatalf("ping the LAN host: %v", r)
	}
	password := webPassword(t, tp)
	c := newNSClient(t, tp.router)
	c.post("/api/login", fmt.Sprintf(`{"password": %q}`, password), http.StatusOK)
	rx, tx := usageTotals(t, c, id)
	if rx < 5000 || tx < 5000 {
		t.Fatalf("usage after 5 pings of 1000 bytes: rx %d tx %d; want at least 5000 each", rx, tx)
	}

	tp.stopServe()
	tp.startServe(false)
	c = newNSClient(t, tp.router)
	var loggedIn bool
	for i := 0; i < 50 && !loggedIn; i++ { // 5 s for the new serve to listen
		// startServe wrote the settings anew: the new serve prints a new
		// password.
		if m := passwordLine.FindAllStringSubmatch(tp.serveLog.String(), -1); len(m) == 2 {
			password = m[1][1]
		} else {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		req, err := http.NewRequest(http.MethodPost, webURL+"/api/login", strings.NewReader(fmt.Sprintf(`{"password": %q}`, password)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if res, err := c.c.Do(req); err == nil {
			res.Body.Close()
			loggedIn = res.StatusCode == http.StatusOK
		}
		if !loggedIn {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !loggedIn {
		t.Fatal("cannot log in to the restarted serve")
	}
	rx2, tx2 := usageTotals(t, c, id)
	if rx2 < rx || tx2 < tx {
		t.Errorf("after a restart of serve: rx %d tx %d; want at least the %d and %d from before", rx2, tx2, rx, tx)
	}
}
