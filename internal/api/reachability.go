package api

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/wgpanel/wgpanel/internal/reach"
)

// Reachability makes the verdict on whether phones can reach the router;
// cmd/wgpanel provides it over the doctor's checks. Verdict only reads
// local state; Discover asks the configured STUN server for the public
// address first (the owner pressed the button) and fails with a
// *vpn.Error when the feature is off or no answer came.
type Reachability interface {
	Verdict(ctx context.Context) (*reach.Result, error)
	Discover(ctx context.Context) (*reach.Result, error)
	// CanDiscover reports whether a STUN server is configured.
	CanDiscover(ctx context.Context) bool
}

type suggestionJSON struct {
	Value string `json:"value"`
	Why   string `json:"why"`
}

// reachJSON is GET /api/reachability and POST /api/reachability/discover.
// Addresses are null when unknown.
type reachJSON struct {
	Verdict     string           `json:"verdict"`
	Summary     string           `json:"summary"`
	Fix         string           `json:"fix"`
	FixIDs      []string         `json:"fix_ids"`
	WANIPv4     *string          `json:"wan_ipv4"`
	PublicIPv4  *string          `json:"public_ipv4"`
	PublicIPv6  *string          `json:"public_ipv6"`
	Discovered  bool             `json:"discovered"`
	Endpoint    string           `json:"endpoint"`
	Port        int              `json:"port"`
	Suggestions []suggestionJSON `json:"suggestions"`
	CanDiscover bool             `json:"can_discover"`
}

func addrJSON(a netip.Addr) *string {
	if !a.IsValid() {
		return nil
	}
	s := a.String()
	return &s
}

func (s *server) reachability(w http.ResponseWriter) Reachability {
	if s.reach == nil {
		writeError(w, http.StatusServiceUnavailable, "The reachability check is not available in this wgpanel server; run 'wgpanel reachability' on the router.", "")
	}
	return s.reach
}

func (s *server) handleReachability(w http.ResponseWriter, r *http.Request) {
	if rs := s.reachability(w); rs != nil {
		s.writeReach(w, r, rs, rs.Verdict)
	}
}

func (s *server) handleReachabilityDiscover(w http.ResponseWriter, r *http.Request) {
	if rs := s.reachability(w); rs != nil {
		s.writeReach(w, r, rs, rs.Discover)
	}
}

func (s *server) writeReach(w http.ResponseWriter, r *http.Request, rs Reachability, get func(context.Context) (*reach.Result, error)) {
	res, err := get(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ReachJSON(res, rs.CanDiscover(r.Context())))
}

// ReachJSON converts a verdict to the JSON form of GET /api/reachability,
// so that `wgpanel reachability --json` prints what the API answers.
func ReachJSON(res *reach.Result, canDiscover bool) any {
	out := reachJSON{
		Verdict: res.Verdict, Summary: res.Summary, Fix: res.Fix, FixIDs: nonNil(res.FixIDs),
		WANIPv4: addrJSON(res.WANIPv4), PublicIPv4: addrJSON(res.PublicIPv4), PublicIPv6: addrJSON(res.PublicIPv6),
		Discovered: res.Discovered, Endpoint: res.Endpoint, Port: res.Port,
		Suggestions: []suggestionJSON{}, CanDiscover: canDiscover,
	}
	for _, sg := range res.Suggestions {
		out.Suggestions = append(out.Suggestions, suggestionJSON(sg))
	}
	return out
}
