package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

type extraOut struct {
	Peer struct {
		ID          string     `json:"id"`
		Access      string     `json:"access"`
		Hosts       []string   `json:"hosts"`
		Expires     *time.Time `json:"expires"`
		ExpiresText string     `json:"expires_text"`
		Enabled     bool       `json:"enabled"`
	} `json:"peer"`
}

func TestPeerAccessAPI(t *testing.T) {
	e := newEnv(t)
	end := time.Now().Add(73 * time.Hour).UTC().Truncate(time.Second)
	w := e.do("POST", "/api/peers", `{"name":"guest","tunnel":"full","access":"internet","expires":"`+end.Format(time.RFC3339)+`"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	out := decodeJSON[extraOut](t, w)
	if out.Peer.Access != "internet" || out.Peer.Expires == nil || !out.Peer.Expires.Equal(end) || out.Peer.ExpiresText != "expires in 3 days" {
		t.Errorf("created peer %+v", out.Peer)
	}
	if p := e.storedPeers()[0]; p.Access != vpn.AccessInternet || !p.Expires.Equal(end) {
		t.Errorf("stored %+v", p)
	}
	id := out.Peer.ID

	w = e.do("PATCH", "/api/peers/"+id, `{"access":"hosts","hosts":["192.168.1.10","192.168.1.64/28"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("patch: %d %s", w.Code, w.Body)
	}
	out = decodeJSON[extraOut](t, w)
	if out.Peer.Access != "hosts" || strings.Join(out.Peer.Hosts, " ") != "192.168.1.10 192.168.1.64/28" {
		t.Errorf("patched peer %+v", out.Peer)
	}

	for _, tt := range []struct{ body, field string }{
		{`{"access":"guest"}`, "access"},
		{`{"access":"hosts","hosts":[]}`, "hosts"},
		{`{"hosts":["printer"]}`, "hosts"},
		{`{"expires":"tomorrow"}`, "expires"},
		{`{"expires":"2001-01-01T00:00:00Z"}`, "expires"},
	} {
		wantError(t, e.do("PATCH", "/api/peers/"+id, tt.body), http.StatusBadRequest, tt.field)
	}
	wantError(t, e.do("POST", "/api/peers", `{"name":"x","access":"hosts"}`), http.StatusBadRequest, "hosts")

	// Expired and disabled by the daemon: enabling asks for a new date.
	if err := e.store.UpdateServer(t.Context(), func(cfg *vpn.Config) error {
		cfg.Server.Peers[0].Expires = time.Now().Add(-time.Hour)
		cfg.Server.Peers[0].Enabled = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.listPeers(); len(got) != 1 {
		t.Fatal(got)
	}
	b := wantError(t, e.do("PATCH", "/api/peers/"+id, `{"enabled":true}`), http.StatusConflict, "expires")
	if !strings.Contains(b.Error, "give it a new end date or none") {
		t.Errorf("message %q", b.Error)
	}
	w = e.do("PATCH", "/api/peers/"+id, `{"enabled":true,"expires":""}`)
	if out = decodeJSON[extraOut](t, w); w.Code != http.StatusOK || !out.Peer.Enabled || out.Peer.Expires != nil {
		t.Errorf("enable with no end date: %d %s", w.Code, w.Body)
	}
}
