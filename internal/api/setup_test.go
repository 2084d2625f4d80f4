package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// newKey makes a private key for the fake setup.
func newKey() (wgtypes.Key, error) { return wgtypes.GeneratePrivateKey() }

type setupOut struct {
	Interface         string   `json:"interface"`
	Created           bool     `json:"created"`
	PublicKey         string   `json:"public_key"`
	ListenPort        int      `json:"listen_port"`
	Addresses         []string `json:"addresses"`
	Changes           []string `json:"changes"`
	Notes             []string `json:"notes"`
	Endpoint          string   `json:"endpoint"`
	SuggestedEndpoint string   `json:"suggested_endpoint"`
	SuggestionReason  string   `json:"suggestion_reason"`
}

func unconfigured(c *vpn.Config, _ *auth.Config) { c.Server = nil; c.Settings.Endpoint = "" }

func TestSetup(t *testing.T) {
	e := newEnv(t, unconfigured)
	st := decodeJSON[struct {
		Configured bool `json:"configured"`
	}](t, e.do("GET", "/api/status", ""))
	if st.Configured {
		t.Fatal("status says configured before setup; want configured false so the page shows the first-run screen")
	}

	w := e.do("POST", "/api/setup", `{}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200 (body %q)", w.Code, w.Body)
	}
	got := decodeJSON[setupOut](t, w)
	cfg, _ := e.store.Load(context.Background())
	if cfg.Server == nil {
		t.Fatal("the store has no server after setup")
	}
	if got.Interface != "wg0" || !got.Created || got.PublicKey != cfg.Server.PublicKey().String() || got.ListenPort != 51820 ||
		strings.Join(got.Addresses, ",") != "10.66.66.1/24" || len(got.Changes) != 3 || len(got.Notes) != 1 ||
		got.Endpoint != "" || got.SuggestedEndpoint != "203.0.113.7" || got.SuggestionReason == "" {
		t.Errorf("setup = %+v; want wg0 created with its key, port, address, three changes, a note and a suggested endpoint", got)
	}
	for _, k := range []string{"interface", "created", "public_key", "listen_port", "addresses", "changes", "notes",
		"endpoint", "suggested_endpoint", "suggestion_reason"} {
		if !strings.Contains(w.Body.String(), `"`+k+`":`) {
			t.Errorf("body %s lacks %q", w.Body, k)
		}
	}
	if strings.Contains(w.Body.String(), "Packages") || strings.Contains(w.Body.String(), "packages") {
		t.Errorf("body %s names the UCI packages; want only the fields of the contract", w.Body)
	}
	if st := decodeJSON[struct {
		Configured bool `json:"configured"`
	}](t, e.do("GET", "/api/status", "")); !st.Configured {
		t.Error("status says not configured after setup")
	}

	// A second run adopts and changes nothing; the endpoint given now is
	// stored, trimmed.
	w = e.do("POST", "/api/setup", `{"endpoint":"  vpn.example.net "}`)
	if w.Code != http.StatusOK {
		t.Fatalf("second setup: status = %d; want 200 (body %q)", w.Code, w.Body)
	}
	got = decodeJSON[setupOut](t, w)
	if got.Created || got.Endpoint != "vpn.example.net" || got.SuggestedEndpoint != "" ||
		!slices.Equal(got.Changes, []string{"wgpanel: set endpoint vpn.example.net"}) || got.Notes == nil {
		t.Errorf("second setup = %+v; want adopted, only the endpoint set, notes []", got)
	}
	if want := []string{"", "vpn.example.net"}; !slices.Equal(e.diag.setupCalls, want) {
		t.Errorf("Setup got endpoints %q; want %q", e.diag.setupCalls, want)
	}

	// No body at all is the same as {}.
	w = e.do("POST", "/api/setup", "")
	if w.Code != http.StatusOK {
		t.Fatalf("setup without body: status = %d; want 200 (body %q)", w.Code, w.Body)
	}
	if got := decodeJSON[setupOut](t, w); len(got.Changes) != 0 || got.Changes == nil {
		t.Errorf("third setup changes = %#v; want []", got.Changes)
	}
}

func TestSetupErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		setupErr error
		status   int
		field    string
		calls    int
	}{
		{"endpoint with a port", `{"endpoint":"vpn.example.net:51820"}`, nil, http.StatusBadRequest, "endpoint", 1},
		{"endpoint not a string", `{"endpoint":5}`, nil, http.StatusBadRequest, "endpoint", 0},
		{"unknown field", `{"endpoint":"vpn.example.net","port":51820}`, nil, http.StatusBadRequest, "port", 0},
		{"trailing data", `{} {}`, nil, http.StatusBadRequest, "", 0},
		{"too large", `{"endpoint":"` + strings.Repeat("a", maxBody) + `"}`, nil, http.StatusRequestEntityTooLarge, "", 0},
		{"OpenWrt cannot apply it", `{}`, &vpn.Error{Code: vpn.EUNAVAILABLE,
			Message: "The configuration was written, but OpenWrt could not apply it."}, http.StatusServiceUnavailable, "", 1},
		{"interface name taken", `{}`, &vpn.Error{Code: vpn.ECONFIG,
			Message: "The network section wg0 is not a WireGuard interface."}, http.StatusInternalServerError, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, unconfigured)
			e.diag.setupErr = tt.setupErr
			b := wantError(t, e.do("POST", "/api/setup", tt.body), tt.status, tt.field)
			if tt.setupErr != nil && b.Error != vpn.ErrorMessage(tt.setupErr) {
				t.Errorf("error = %q; want %q", b.Error, vpn.ErrorMessage(tt.setupErr))
			}
			if _, _, n := e.diag.calls(); n != tt.calls {
				t.Errorf("Setup called %d times; want %d", n, tt.calls)
			}
			if e.diag.configured() {
				t.Error("a failed setup request configured the interface")
			}
		})
	}
}

// TestSetupAdopted checks an adopted interface whose private key is
// missing: the answer has no public key rather than the zero key's.
func TestSetupAdopted(t *testing.T) {
	e := newEnv(t)
	e.h = New(Config{Service: e.svc, Auth: e.auth, Diagnostics: emptyDiag{}})
	w := e.do("POST", "/api/setup", `{}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200 (body %q)", w.Code, w.Body)
	}
	got := decodeJSON[setupOut](t, w)
	if got.PublicKey != "" || got.Addresses == nil || got.Changes == nil || got.Notes == nil {
		t.Errorf("setup = %+v; want no public key and [] lists", got)
	}
}
