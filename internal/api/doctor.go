package api

import (
	"bufio"
	"context"
	"io"
	"net/http"

	"github.com/wgpanel/wgpanel/internal/doctor"
	"github.com/wgpanel/wgpanel/internal/openwrt"
)

// Diagnostics is the router side of setup and the doctor: cmd/wgpanel
// provides it over openwrt.Store, the WireGuard device and a doctor.Doctor.
// Its errors are answered like the service's: the code of a *vpn.Error
// picks the HTTP status (EINVALID 400, EUNAVAILABLE 503, ...), its Field
// names the request field at fault.
type Diagnostics interface {
	// Doctor runs every check once; it only reads.
	Doctor(ctx context.Context) ([]doctor.Check, error)
	// Fix applies the fixes of the checks with these IDs and nothing else,
	// and returns the changes made, in words. ids is never empty: the API
	// turns an empty list into the IDs of the failing fixable checks first.
	Fix(ctx context.Context, ids []string) ([]string, error)
	// Setup creates or adopts the WireGuard interface, its firewall zone
	// and WAN rule, and applies them. A non-empty endpoint is stored as
	// wgpanel's endpoint when none is set yet.
	Setup(ctx context.Context, endpoint string) (*openwrt.SetupResult, error)
}

// fixJSON is the answer of POST /api/doctor/fix.
type fixJSON struct {
	// Changes lists what the fixes wrote, in words; empty when nothing
	// needed fixing.
	Changes []string `json:"changes"`
	// Checks is a fresh doctor run after the fixes.
	Checks []doctor.Check `json:"checks"`
}

// diagnostics returns the configured Diagnostics, or answers 503 and
// returns nil when there is none.
func (s *server) diagnostics(w http.ResponseWriter) Diagnostics {
	if s.diag == nil {
		writeError(w, http.StatusServiceUnavailable,
			"Setup and the doctor are not available in this wgpanel server; run 'wgpanel setup' or 'wgpanel doctor' on the router instead.", "")
	}
	return s.diag
}

// handleDoctor runs the doctor's checks.
func (s *server) handleDoctor(w http.ResponseWriter, r *http.Request) {
	d := s.diagnostics(w)
	if d == nil {
		return
	}
	checks, err := d.Doctor(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doctor.Report{Checks: nonNil(checks)})
}

// handleDoctorFix applies the fixes of the checks named in ids, or of every
// failing fixable check when ids is empty or the body is, and answers with
// the changes and a fresh doctor run.
func (s *server) handleDoctorFix(w http.ResponseWriter, r *http.Request) {
	d := s.diagnostics(w)
	if d == nil {
		return
	}
	var req struct {
		IDs []string `json:"ids"`
	}
	if !emptyBody(r) && !decode(w, r, &req) {
		return
	}
	// Fixes and setup write the same files; one at a time.
	s.diagMu.Lock()
	defer s.diagMu.Unlock()

	ids := dedupe(req.IDs)
	if len(ids) == 0 {
		checks, err := d.Doctor(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ids = doctor.FixableIDs(checks)
		if len(ids) == 0 {
			writeJSON(w, http.StatusOK, fixJSON{Changes: []string{}, Checks: nonNil(checks)})
			return
		}
	}
	changes, err := d.Fix(r.Context(), ids)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	checks, err := d.Doctor(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, fixJSON{Changes: nonNil(changes), Checks: nonNil(checks)})
}

// dedupe returns ids without repeats, in their first order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// emptyBody reports whether the request has no body at all, for the routes
// where the whole body is optional. It keeps the body readable otherwise.
func emptyBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	br := bufio.NewReaderSize(r.Body, 512)
	if _, err := br.Peek(1); err == io.EOF {
		return true
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return false
}
