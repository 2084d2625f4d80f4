package api

import (
	"net/http"
	"net/netip"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// setupJSON is the answer of POST /api/setup.
type setupJSON struct {
	Interface string `json:"interface"`
	// Created is false when an existing interface was adopted.
	Created    bool           `json:"created"`
	PublicKey  string         `json:"public_key"`
	ListenPort int            `json:"listen_port"`
	Addresses  []netip.Prefix `json:"addresses"`
	// Changes lists every change written, in words; empty when everything
	// was already in place.
	Changes []string `json:"changes"`
	// Notes are what setup could not or would not do.
	Notes []string `json:"notes"`
	// Endpoint is wgpanel's endpoint after setup; when it is "",
	// SuggestedEndpoint and SuggestionReason say what to set.
	Endpoint          string `json:"endpoint"`
	SuggestedEndpoint string `json:"suggested_endpoint"`
	SuggestionReason  string `json:"suggestion_reason"`
}

// handleSetup creates or adopts the WireGuard interface with its firewall
// zone and WAN rule. The body {"endpoint": "..."} is optional.
func (s *server) handleSetup(w http.ResponseWriter, r *http.Request) {
	d := s.diagnostics(w)
	if d == nil {
		return
	}
	var req struct {
		Endpoint string `json:"endpoint"`
	}
	if !emptyBody(r) && !decode(w, r, &req) {
		return
	}
	s.diagMu.Lock()
	defer s.diagMu.Unlock()

	res, err := d.Setup(r.Context(), strings.TrimSpace(req.Endpoint))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := setupJSON{
		Interface:         res.Interface,
		Created:           res.Created,
		ListenPort:        res.ListenPort,
		Addresses:         nonNil(res.Addresses),
		Changes:           nonNil(res.Changes),
		Notes:             nonNil(res.Notes),
		Endpoint:          res.Endpoint,
		SuggestedEndpoint: res.SuggestedEndpoint,
		SuggestionReason:  res.SuggestionReason,
	}
	if res.PublicKey != (wgtypes.Key{}) {
		out.PublicKey = res.PublicKey.String()
	}
	writeJSON(w, http.StatusOK, out)
}
