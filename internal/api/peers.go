package api

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// PeerJSON is one peer in API answers and in `wgpanel peer list --json`.
type PeerJSON struct {
	// ID is the public key in unpadded URL-safe base64, for URLs.
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	PublicKey      string         `json:"public_key"`
	Addresses      []netip.Prefix `json:"addresses"`
	Tunnel         vpn.Tunnel     `json:"tunnel"`
	Enabled        bool           `json:"enabled"`
	PrivateKeyKept bool           `json:"private_key_kept"`
	// LatestHandshake is RFC 3339 in UTC, null when never.
	LatestHandshake *time.Time `json:"latest_handshake"`
	// Endpoint is the address the peer last sent from, null when unknown.
	Endpoint *string `json:"endpoint"`
	RxBytes  int64   `json:"rx_bytes"`
	TxBytes  int64   `json:"tx_bytes"`
	Online   bool    `json:"online"`
	// Problem, for a peer section wgpanel cannot read, says why; such a
	// peer cannot be changed through wgpanel.
	Problem string `json:"problem,omitempty"`
}

func toPeerJSON(v *vpn.PeerView) PeerJSON {
	p := PeerJSON{
		ID:             vpn.KeyID(v.PublicKey),
		Name:           v.Name,
		PublicKey:      v.PublicKey.String(),
		Addresses:      nonNil(v.Addresses),
		Tunnel:         v.Tunnel,
		Enabled:        v.Enabled,
		PrivateKeyKept: v.PrivateKeyKept,
		RxBytes:        v.RxBytes,
		TxBytes:        v.TxBytes,
		Online:         v.Online,
		Problem:        v.Problem,
	}
	if v.Problem != "" && v.PublicKey == (wgtypes.Key{}) {
		// A section without a readable key: an id of its own, for the page
		// to tell rows apart; it names no peer the API can change.
		p.ID, p.PublicKey = "section-"+v.Section, ""
	}
	if !v.LatestHandshake.IsZero() {
		t := v.LatestHandshake.UTC().Truncate(time.Second)
		p.LatestHandshake = &t
	}
	if v.Endpoint.IsValid() {
		e := v.Endpoint.String()
		p.Endpoint = &e
	}
	return p
}

// peerID parses the {id} of the URL: a public key in unpadded URL-safe
// base64 (other base64 forms of the key are accepted too). A malformed id
// is answered with 400, a well-formed unknown one later with 404.
func (s *server) peerID(w http.ResponseWriter, r *http.Request) (wgtypes.Key, bool) {
	k, err := vpn.ParseKey(chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "The peer id in the address is not a WireGuard public key.", "id")
		return wgtypes.Key{}, false
	}
	return k, true
}

// PeerList is the answer of GET /api/peers.
type PeerList struct {
	Peers []PeerJSON `json:"peers"`
}

// PeersJSON converts peers to the JSON form of GET /api/peers, so that the
// CLI's `peer list --json` prints exactly what the API answers.
func PeersJSON(peers []vpn.PeerView) PeerList {
	out := make([]PeerJSON, len(peers))
	for i := range peers {
		out[i] = toPeerJSON(&peers[i])
	}
	return PeerList{Peers: out}
}

// handlePeerList lists every peer with its live statistics.
func (s *server) handlePeerList(w http.ResponseWriter, r *http.Request) {
	views, err := s.svc.Peers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PeersJSON(views))
}

// createdJSON answers POST /api/peers.
type createdJSON struct {
	Peer PeerJSON `json:"peer"`
	// Config is the client's wg-quick file, with its private key.
	Config   string   `json:"config"`
	Warnings []string `json:"warnings"`
	// QRSVG is the config's QR code, only when the private key was not
	// kept: then this answer is the only time the code can be made.
	QRSVG string `json:"qr_svg,omitempty"`
}

// handlePeerCreate adds a peer and returns its client config.
func (s *server) handlePeerCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string `json:"name"`
		Tunnel string `json:"tunnel"`
	}
	if !decode(w, r, &req) {
		return
	}
	added, err := s.svc.AddPeer(r.Context(), req.Name, vpn.Tunnel(req.Tunnel))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := createdJSON{Peer: toPeerJSON(&added.Peer), Config: added.Config, Warnings: nonNil(added.Warnings)}
	if !added.Peer.PrivateKeyKept {
		svg, err := qrSVG(added.Config)
		if err != nil {
			// The peer exists now; the config text is still worth having.
			s.log.Error("QR code of a new peer", "err", err)
			out.Warnings = append(out.Warnings, "The QR code could not be made; use the config text instead.")
		}
		out.QRSVG = svg
	}
	w.Header().Set("Location", "/api/peers/"+out.Peer.ID)
	writeJSON(w, http.StatusCreated, out)
}

// handlePeerUpdate renames, enables or disables a peer.
func (s *server) handlePeerUpdate(w http.ResponseWriter, r *http.Request) {
	key, ok := s.peerID(w, r)
	if !ok {
		return
	}
	var req struct {
		Name    *string `json:"name"`
		Enabled *bool   `json:"enabled"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Name == nil && req.Enabled == nil {
		writeError(w, http.StatusBadRequest, "Nothing to change: send name or enabled.", "")
		return
	}
	v, err := s.svc.UpdatePeer(r.Context(), key, vpn.PeerUpdate{Name: req.Name, Enabled: req.Enabled})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Peer PeerJSON `json:"peer"`
	}{toPeerJSON(&v)})
}

// handlePeerDelete removes a peer.
func (s *server) handlePeerDelete(w http.ResponseWriter, r *http.Request) {
	key, ok := s.peerID(w, r)
	if !ok {
		return
	}
	if err := s.svc.RemovePeer(r.Context(), key); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// peerConfig returns the name and client config of the peer in the URL, or
// answers with the error and returns false.
func (s *server) peerConfig(w http.ResponseWriter, r *http.Request) (name, config string, ok bool) {
	key, ok := s.peerID(w, r)
	if !ok {
		return "", "", false
	}
	name, config, err := s.svc.PeerConfig(r.Context(), key)
	if err != nil {
		s.fail(w, r, err)
		return "", "", false
	}
	return name, config, true
}

// handlePeerConfig sends the peer's wg-quick file as a download.
func (s *server) handlePeerConfig(w http.ResponseWriter, r *http.Request) {
	name, config, ok := s.peerConfig(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+configFileName(name)+`"`)
	w.Write([]byte(config))
}

// handlePeerQRPNG sends the peer's config as a QR code in PNG.
func (s *server) handlePeerQRPNG(w http.ResponseWriter, r *http.Request) {
	_, config, ok := s.peerConfig(w, r)
	if !ok {
		return
	}
	png, err := qrPNG(config)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

// handlePeerQRSVG sends the peer's config as a QR code in SVG.
func (s *server) handlePeerQRSVG(w http.ResponseWriter, r *http.Request) {
	_, config, ok := s.peerConfig(w, r)
	if !ok {
		return
	}
	svg, err := qrSVG(config)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Write([]byte(svg))
}

// configFileName makes a file name from a peer name that is safe in a
// Content-Disposition header and that wg-quick and the WireGuard apps
// accept as a tunnel name: at most 15 characters of [A-Za-z0-9_=+.-].
func configFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() == 15 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_=+.-", r):
			b.WriteRune(r)
		case r == ' ' || r > 127:
			b.WriteByte('_')
		}
	}
	base := strings.TrimLeft(b.String(), ".")
	if base == "" {
		base = "wgpanel"
	}
	return base + ".conf"
}
