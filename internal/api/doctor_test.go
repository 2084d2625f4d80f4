package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/doctor"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

// fakeDiag is a Diagnostics over a vpntest.Store. Its router sits behind
// an ISP router (double NAT) and lacks the WAN firewall rule until
// firewall.rule is fixed; Setup gives the store a server when it has none.
type fakeDiag struct {
	store *vpntest.Store

	mu          sync.Mutex
	ruleOK      bool
	endpoint    string
	doctorCalls int
	fixCalls    [][]string
	setupCalls  []string
	// doctorErr, fixErr and setupErr, when set, are returned by the next
	// call of that method.
	doctorErr, fixErr, setupErr error
}

var _ Diagnostics = (*fakeDiag)(nil)

func newFakeDiag(st *vpntest.Store) *fakeDiag { return &fakeDiag{store: st} }

const (
	fakeRuleFinding = "No firewall rule accepts UDP 51820 from the wan zone, so phones' packets are dropped."
	fakeNATFinding  = "The router's WAN address 192.168.2.253 is private: it is behind another router."
	fakeNATFix      = "On your ISP router (gateway 192.168.2.254), forward UDP 51820 to 192.168.2.253."
	fakeRuleChange  = "firewall: added rule Allow-WireGuard accepting UDP 51820 from wan"
)

func (f *fakeDiag) configured() bool {
	cfg, _ := f.store.Load(context.Background())
	return cfg.Server != nil
}

func (f *fakeDiag) Doctor(ctx context.Context) ([]doctor.Check, error) {
	configured := f.configured()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doctorCalls++
	if err := f.doctorErr; err != nil {
		f.doctorErr = nil
		return nil, err
	}
	if !configured {
		return []doctor.Check{{ID: doctor.IDInterfaceExists, Status: doctor.StatusFail,
			Finding: "There is no WireGuard interface wg0 in the network configuration.",
			Fix:     "Run 'wgpanel setup' (or use the first-run page) to create it."}}, nil
	}
	rule := doctor.Check{ID: doctor.IDFirewallRule, Status: doctor.StatusOK,
		Finding: "The firewall rule Allow-WireGuard accepts UDP 51820 from the wan zone.", Fixable: true}
	if !f.ruleOK {
		rule.Status, rule.Finding, rule.Fix = doctor.StatusFail, fakeRuleFinding,
			"Add a rule accepting UDP 51820 from wan (the Fix button does it)."
	}
	return []doctor.Check{
		{ID: doctor.IDInterfaceExists, Status: doctor.StatusOK, Finding: "The WireGuard interface wg0 is configured with 10.66.66.1/24."},
		rule,
		{ID: doctor.IDWANNAT, Status: doctor.StatusWarn, Finding: fakeNATFinding, Fix: fakeNATFix},
	}, nil
}

func (f *fakeDiag) Fix(ctx context.Context, ids []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fixCalls = append(f.fixCalls, slices.Clone(ids))
	if err := f.fixErr; err != nil {
		f.fixErr = nil
		return nil, err
	}
	for _, id := range ids {
		if id != doctor.IDFirewallRule && id != doctor.IDFirewallZone {
			return nil, &vpn.Error{Code: vpn.EINVALID, Field: "ids",
				Message: "The check \"" + id + "\" has no automatic fix; follow the advice the doctor gives for it."}
		}
	}
	var changes []string
	if slices.Contains(ids, doctor.IDFirewallRule) && !f.ruleOK {
		f.ruleOK = true
		changes = append(changes, fakeRuleChange)
	}
	return changes, nil
}

func (f *fakeDiag) Setup(ctx context.Context, endpoint string) (*openwrt.SetupResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setupCalls = append(f.setupCalls, endpoint)
	if err := f.setupErr; err != nil {
		f.setupErr = nil
		return nil, err
	}
	if strings.Contains(endpoint, ":") {
		return nil, &vpn.Error{Code: vpn.EINVALID, Field: "endpoint",
			Message: "endpoint: \"" + endpoint + "\" includes a port; give only the host name or address."}
	}
	res := &openwrt.SetupResult{Interface: "wg0", ListenPort: 51820,
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24")}}
	err := f.store.UpdateServer(ctx, func(c *vpn.Config) error {
		if c.Server == nil {
			key, err := newKey()
			if err != nil {
				return err
			}
			c.Server = &vpn.Server{Interface: "wg0", PrivateKey: key, ListenPort: 51820, Addresses: res.Addresses}
			res.Created = true
			res.Changes = []string{
				"network: created interface wg0 (proto wireguard, listen_port 51820, addresses 10.66.66.1/24)",
				"firewall: added wg0 to zone lan",
				fakeRuleChange,
			}
			res.Notes = []string{"The router's WAN address 192.168.2.253 is private: forward UDP 51820 on your ISP router."}
		}
		res.PublicKey = c.Server.PublicKey()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Created {
		f.ruleOK = true
	}
	if f.endpoint == "" && endpoint != "" {
		f.endpoint = endpoint
		res.Changes = append(res.Changes, "wgpanel: set endpoint "+endpoint)
	}
	res.Endpoint = f.endpoint
	if res.Endpoint == "" {
		res.SuggestedEndpoint, res.SuggestionReason = "203.0.113.7", "The router's WAN address 203.0.113.7 is public."
	}
	return res, nil
}

// calls returns how often each method was called.
func (f *fakeDiag) calls() (doctorN, fixN, setupN int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.doctorCalls, len(f.fixCalls), len(f.setupCalls)
}

type checksOut struct {
	Checks []doctor.Check `json:"checks"`
}

type fixOut struct {
	Changes []string       `json:"changes"`
	Checks  []doctor.Check `json:"checks"`
}

// statusByID returns "id=status" for each check, in order.
func statusByID(checks []doctor.Check) string {
	s := make([]string, len(checks))
	for i, c := range checks {
		s[i] = c.ID + "=" + c.Status
	}
	return strings.Join(s, " ")
}

func TestDoctor(t *testing.T) {
	t.Run("checks", func(t *testing.T) {
		e := newEnv(t)
		w := e.do("GET", "/api/doctor", "")
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d; want 200 (body %q)", w.Code, w.Body)
		}
		got := decodeJSON[checksOut](t, w).Checks
		want, _ := newFakeDiag(e.store).Doctor(context.Background())
		if !slices.Equal(got, want) {
			t.Errorf("checks = %+v; want %+v", got, want)
		}
		// The JSON is the issue's {"checks": [{"id", "status", "finding", "fix"}]}.
		body := w.Body.String()
		for _, s := range []string{`{"checks":[{"id":"interface.exists","status":"ok","finding":`,
			`"id":"firewall.rule","status":"fail"`, `"fixable":true`, fakeNATFix} {
			if !strings.Contains(body, s) {
				t.Errorf("body %s lacks %s", body, s)
			}
		}
	})
	t.Run("no interface", func(t *testing.T) {
		e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Server = nil })
		got := decodeJSON[checksOut](t, e.do("GET", "/api/doctor", "")).Checks
		if s := statusByID(got); s != "interface.exists=fail" {
			t.Errorf("checks = %s; want interface.exists=fail", s)
		}
	})
	t.Run("empty is [] not null", func(t *testing.T) {
		e := newEnv(t)
		e.h = New(Config{Service: e.svc, Auth: e.auth, Diagnostics: emptyDiag{}})
		if got := strings.TrimSpace(e.do("GET", "/api/doctor", "").Body.String()); got != `{"checks":[]}` {
			t.Errorf("body = %s; want {\"checks\":[]}", got)
		}
	})
	errs := []struct {
		name   string
		err    error
		status int
		logged bool
	}{
		{"unavailable", &vpn.Error{Code: vpn.EUNAVAILABLE, Message: "The router's configuration cannot be read."}, http.StatusServiceUnavailable, false},
		{"internal", errors.New("boom"), http.StatusInternalServerError, true},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.diag.doctorErr = tt.err
			b := wantError(t, e.do("GET", "/api/doctor", ""), tt.status, "")
			if tt.status == http.StatusServiceUnavailable && b.Error != "The router's configuration cannot be read." {
				t.Errorf("error = %q; want the Diagnostics' message", b.Error)
			}
			if got := strings.Contains(e.logBuf.String(), "boom"); got != tt.logged {
				t.Errorf("logged = %v; want %v (log %q)", got, tt.logged, e.logBuf)
			}
		})
	}
}

// emptyDiag is a Diagnostics that finds nothing and does nothing.
type emptyDiag struct{}

func (emptyDiag) Doctor(context.Context) ([]doctor.Check, error)  { return nil, nil }
func (emptyDiag) Fix(context.Context, []string) ([]string, error) { return nil, nil }
func (emptyDiag) Setup(context.Context, string) (*openwrt.SetupResult, error) {
	return &openwrt.SetupResult{}, nil
}

func TestDoctorFix(t *testing.T) {
	rule := [][]string{{doctor.IDFirewallRule}}
	tests := []struct {
		name    string
		body    string
		before  func(*fakeDiag)
		calls   [][]string // the ids Fix received
		changes []string
		checks  string
	}{
		{"one check", `{"ids":["firewall.rule"]}`, nil, rule, []string{fakeRuleChange},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
		{"repeated id is fixed once", `{"ids":["firewall.rule","firewall.rule"]}`, nil, rule, []string{fakeRuleChange},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
		{"empty ids fix every fixable check", `{"ids":[]}`, nil, rule, []string{fakeRuleChange},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
		{"no ids", `{}`, nil, rule, []string{fakeRuleChange},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
		{"no body", ``, nil, rule, []string{fakeRuleChange},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
		{"nothing to fix", `{}`, func(f *fakeDiag) { f.ruleOK = true }, nil, []string{},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
		{"already fixed", `{"ids":["firewall.rule"]}`, func(f *fakeDiag) { f.ruleOK = true }, rule, []string{},
			"interface.exists=ok firewall.rule=ok wan.nat=warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.before != nil {
				tt.before(e.diag)
			}
			w := e.do("POST", "/api/doctor/fix", tt.body)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; want 200 (body %q)", w.Code, w.Body)
			}
			got := decodeJSON[fixOut](t, w)
			if !slices.EqualFunc(e.diag.fixCalls, tt.calls, slices.Equal) {
				t.Errorf("Fix got %q; want %q", e.diag.fixCalls, tt.calls)
			}
			if got.Changes == nil || !slices.Equal(got.Changes, tt.changes) {
				t.Errorf("changes = %#v; want %#v", got.Changes, tt.changes)
			}
			if s := statusByID(got.Checks); s != tt.checks {
				t.Errorf("checks = %s; want the fresh run %s", s, tt.checks)
			}
		})
	}

	bad := []struct {
		name   string
		body   string
		fixErr error
		status int
		field  string
		calls  int // Fix calls
	}{
		{"check without a fix", `{"ids":["wan.nat"]}`, nil, http.StatusBadRequest, "ids", 1},
		{"ids not a list", `{"ids":"firewall.rule"}`, nil, http.StatusBadRequest, "ids", 0},
		{"unknown field", `{"id":["firewall.rule"]}`, nil, http.StatusBadRequest, "id", 0},
		{"not JSON", `ids=firewall.rule`, nil, http.StatusBadRequest, "", 0},
		{"too large", `{"ids":["` + strings.Repeat("x", maxBody) + `"]}`, nil, http.StatusRequestEntityTooLarge, "", 0},
		{"firewall cannot be reloaded", `{"ids":["firewall.rule"]}`,
			&vpn.Error{Code: vpn.EUNAVAILABLE, Message: "The firewall could not be reloaded."}, http.StatusServiceUnavailable, "", 1},
		{"no zone for the LAN", `{"ids":["firewall.zone"]}`,
			&vpn.Error{Code: vpn.ECONFIG, Message: "There is no firewall zone for the LAN."}, http.StatusInternalServerError, "", 1},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.diag.fixErr = tt.fixErr
			wantError(t, e.do("POST", "/api/doctor/fix", tt.body), tt.status, tt.field)
			if _, n, _ := e.diag.calls(); n != tt.calls {
				t.Errorf("Fix called %d times; want %d", n, tt.calls)
			}
			if e.diag.ruleOK {
				t.Error("the rule was fixed by a request that failed")
			}
		})
	}
}

// TestDiagnosticsSession checks that setup and the doctor need a session,
// refuse other origins, and answer 503 when the server has no Diagnostics.
func TestDiagnosticsSession(t *testing.T) {
	routes := []struct{ method, path, body string }{
		{"GET", "/api/doctor", ""},
		{"POST", "/api/doctor/fix", `{"ids":["firewall.rule"]}`},
		{"POST", "/api/setup", `{"endpoint":"vpn.example.net"}`},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Server = nil })
			wantError(t, e.anon(rt.method, rt.path, rt.body), http.StatusUnauthorized, "")
			r := e.request(rt.method, rt.path, rt.body)
			r.AddCookie(&http.Cookie{Name: cookieName, Value: "forged-token"})
			wantError(t, e.serve(r), http.StatusUnauthorized, "")

			if rt.method == "POST" {
				for _, h := range []map[string]string{
					{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
					{"Origin": "http://evil.example"},
				} {
					r := e.request(rt.method, rt.path, rt.body)
					r.AddCookie(e.cookie)
					for k, v := range h {
						r.Header.Set(k, v)
					}
					wantError(t, e.serve(r), http.StatusForbidden, "")
				}
			}
			if d, f, s := e.diag.calls(); d+f+s != 0 {
				t.Errorf("Diagnostics called (doctor %d, fix %d, setup %d) by refused requests; want never", d, f, s)
			}
			if e.diag.configured() {
				t.Error("a refused request set up the interface")
			}

			// Without Diagnostics the routes say so, after the session check.
			e.h = New(Config{Service: e.svc, Auth: e.auth})
			wantError(t, e.anon(rt.method, rt.path, rt.body), http.StatusUnauthorized, "")
			b := wantError(t, e.do(rt.method, rt.path, rt.body), http.StatusServiceUnavailable, "")
			if !strings.Contains(b.Error, "not available") {
				t.Errorf("error = %q; want one saying setup and the doctor are not available", b.Error)
			}
		})
	}
}
