package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/wgpanel/wgpanel/internal/metrics"
)

// MetricsSource feeds GET /metrics. Token is the metrics_token setting, read
// at every scrape so that a change needs no restart ("" turns /metrics
// off); Snapshot reads the device and the configuration.
type MetricsSource interface {
	MetricsToken(ctx context.Context) (string, error)
	MetricsSnapshot(ctx context.Context) (metrics.Snapshot, error)
}

// handleMetrics serves the Prometheus text format to a scraper that sends
// "Authorization: Bearer <metrics_token>". It is outside the session (a
// scraper has no cookie) and, being a GET, outside the CSRF check. With no
// token set it does not exist (404).
func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token := ""
	if s.metrics != nil {
		t, err := s.metrics.MetricsToken(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		token = t
	}
	if token == "" {
		writeError(w, http.StatusNotFound, "There is no such page.", "")
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// Hashes first: the comparison then takes the same time whatever the
	// lengths.
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(token))
	if !ok || subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wgpanel metrics"`)
		writeError(w, http.StatusUnauthorized, "The metrics need the header Authorization: Bearer with the metrics_token setting.", "")
		return
	}
	snap, err := s.metrics.MetricsSnapshot(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", metrics.ContentType)
	if err := metrics.Write(w, snap); err != nil {
		s.log.Warn("writing /metrics", "err", err)
	}
}
