package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/metrics"
)

type fakeMetrics struct{ token string }

func (f *fakeMetrics) MetricsToken(context.Context) (string, error) { return f.token, nil }
func (f *fakeMetrics) MetricsSnapshot(context.Context) (metrics.Snapshot, error) {
	return metrics.Snapshot{Interface: "wg0", InterfaceUp: true, Version: "test", Now: time.Now(),
		Devices: []metrics.Device{{Name: "phone", PublicKey: "k", Enabled: true, RxBytes: 42}}}, nil
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	src := &fakeMetrics{}
	e.h = New(Config{Service: e.svc, Auth: e.auth, Metrics: src})
	scrape := func(auth string) *http.Response {
		r := e.request("GET", "/metrics", "")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return e.serve(r).Result()
	}
	if res := scrape("Bearer x"); res.StatusCode != http.StatusNotFound {
		t.Errorf("no token set: status %d; want 404", res.StatusCode)
	}
	src.token = "0123456789abcdef0123"
	for _, auth := range []string{"", "Bearer wrong", "Bearer 0123456789abcdef012", "Basic 0123456789abcdef0123"} {
		if res := scrape(auth); res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: status %d; want 401 with WWW-Authenticate", auth, res.StatusCode)
		}
	}
	w := e.serve(func() *http.Request {
		r := e.request("GET", "/metrics", "")
		r.Header.Set("Authorization", "Bearer "+src.token)
		return r
	}())
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != metrics.ContentType ||
		!strings.Contains(w.Body.String(), `wgpanel_device_received_bytes_total{interface="wg0",name="phone",public_key="k"} 42`) {
		t.Errorf("scrape: %d %q\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}
