package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

const testPassword = "correct horse"

var (
	hashOnce sync.Once
	testHash string
)

// passwordHash returns a hash of testPassword, made once per test binary.
func passwordHash(t testing.TB) string {
	hashOnce.Do(func() {
		h, err := auth.HashPassword(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		testHash = h
	})
	return testHash
}

func mustKey(t testing.TB) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newConfig returns a router with wg0 on 10.66.66.1/24, a LAN of
// 192.168.1.0/24 and an endpoint, keeping client private keys.
func newConfig(t testing.TB) *vpn.Config {
	return &vpn.Config{
		Settings: vpn.Settings{Interface: "wg0", Endpoint: "vpn.example.com", KeepPrivateKeys: true, Auth: "password"},
		Server: &vpn.Server{Interface: "wg0", PrivateKey: mustKey(t), ListenPort: 51820,
			Addresses: []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24")}},
		Network: vpn.Network{
			LANAddr: netip.MustParseAddr("192.168.1.1"),
			LANs:    []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
		},
	}
}

// env is one API over fakes, with a logged-in session cookie.
type env struct {
	t      testing.TB
	h      http.Handler
	store  *vpntest.Store
	dev    *vpntest.Device
	svc    *vpn.Service
	auth   *auth.Authenticator
	logBuf *testutil.SyncBuffer
	cookie *http.Cookie
	// diag is the fake setup and doctor behind /api/setup and /api/doctor.
	diag *fakeDiag
}

type envOpt func(*vpn.Config, *auth.Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	cfg := newConfig(t)
	hash := passwordHash(t)
	acfg := auth.Config{Mode: auth.ModePassword, Hash: func() (string, error) { return hash, nil }}
	for _, o := range opts {
		o(cfg, &acfg)
	}
	a, err := auth.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: vpntest.NewStore(cfg), dev: vpntest.NewDevice("wg0"), auth: a, logBuf: &testutil.SyncBuffer{}}
	log := slog.New(slog.NewTextHandler(e.logBuf, nil))
	e.svc = vpn.NewService(e.store, e.dev, log)
	e.diag = newFakeDiag(e.store)
	e.h = New(Config{Service: e.svc, Auth: a, Log: log, Diagnostics: e.diag})
	e.cookie = &http.Cookie{Name: cookieName, Value: a.NewSession()}
	return e
}

// request builds a request with the session cookie (unless anon) and a
// JSON body when body is not "".
func (e *env) request(method, path, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// do sends a request with the session cookie.
func (e *env) do(method, path, body string) *httptest.ResponseRecorder {
	r := e.request(method, path, body)
	r.AddCookie(e.cookie)
	return e.serve(r)
}

// anon sends a request without a cookie.
func (e *env) anon(method, path, body string) *httptest.ResponseRecorder {
	return e.serve(e.request(method, path, body))
}

func decodeJSON[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q; want application/json (body %q)", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body, err)
	}
	return v
}

// wantError checks an error answer's status and JSON body.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, field string) errorBody {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d; want %d (body %q)", w.Code, status, w.Body)
	}
	b := decodeJSON[errorBody](t, w)
	if b.Error == "" {
		t.Errorf("error message is empty; want one (body %q)", w.Body)
	}
	if b.Field != field {
		t.Errorf("field = %q; want %q (body %q)", b.Field, field, w.Body)
	}
	return b
}

type peerOut struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	PublicKey       string   `json:"public_key"`
	Addresses       []string `json:"addresses"`
	Tunnel          string   `json:"tunnel"`
	Enabled         bool     `json:"enabled"`
	PrivateKeyKept  bool     `json:"private_key_kept"`
	LatestHandshake *string  `json:"latest_handshake"`
	Endpoint        *string  `json:"endpoint"`
	RxBytes         int64    `json:"rx_bytes"`
	TxBytes         int64    `json:"tx_bytes"`
	Online          bool     `json:"online"`
}

type createdOut struct {
	Peer     peerOut  `json:"peer"`
	Config   string   `json:"config"`
	Warnings []string `json:"warnings"`
	QRSVG    string   `json:"qr_svg"`
}

// add creates a peer through the API and returns the answer.
func (e *env) add(name, tunnel string) createdOut {
	e.t.Helper()
	w := e.do("POST", "/api/peers", `{"name":"`+name+`","tunnel":"`+tunnel+`"}`)
	if w.Code != http.StatusCreated {
		e.t.Fatalf("add %s: status %d; want 201 (body %q)", name, w.Code, w.Body)
	}
	return decodeJSON[createdOut](e.t, w)
}

func (e *env) listPeers() []peerOut {
	e.t.Helper()
	w := e.do("GET", "/api/peers", "")
	if w.Code != http.StatusOK {
		e.t.Fatalf("list: status %d; want 200 (body %q)", w.Code, w.Body)
	}
	return decodeJSON[struct {
		Peers []peerOut `json:"peers"`
	}](e.t, w).Peers
}

// storedPeers returns the peers as the store has them.
func (e *env) storedPeers() []vpn.Peer {
	e.t.Helper()
	cfg, err := e.store.Load(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg.Server.Peers
}

// TestRoutesNeedSession checks that nothing but /healthz, POST /api/login
// and the page answers without a session, and that a bad cookie is as good
// as none.
func TestRoutesNeedSession(t *testing.T) {
	e := newEnv(t)
	id := e.add("phone", "split").Peer.ID
	routes := []struct{ method, path, body string }{
		{"POST", "/api/logout", ""},
		{"GET", "/api/session", ""},
		{"GET", "/api/status", ""},
		{"GET", "/api/peers", ""},
		{"POST", "/api/peers", `{"name":"laptop"}`},
		{"PATCH", "/api/peers/" + id, `{"enabled":false}`},
		{"DELETE", "/api/peers/" + id, ""},
		{"GET", "/api/peers/" + id + "/config", ""},
		{"GET", "/api/peers/" + id + "/qr.png", ""},
		{"GET", "/api/peers/" + id + "/qr.svg", ""},
		{"GET", "/api/unknown", ""},
		{"PUT", "/api/peers", `{}`},
		{"GET", "/api/", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			wantError(t, e.anon(rt.method, rt.path, rt.body), http.StatusUnauthorized, "")
			r := e.request(rt.method, rt.path, rt.body)
			r.AddCookie(&http.Cookie{Name: cookieName, Value: "forged-token"})
			wantError(t, e.serve(r), http.StatusUnauthorized, "")
		})
	}
	// The 401 names the auth mode so the login form can ask for the right password.
	if got := decodeJSON[map[string]string](t, e.anon("GET", "/api/session", ""))["auth"]; got != "password" {
		t.Errorf("401 auth = %q; want password", got)
	}
	if n := len(e.storedPeers()); n != 1 {
		t.Errorf("store has %d peers after refused requests; want 1", n)
	}
	if !e.storedPeers()[0].Enabled {
		t.Error("refused PATCH disabled the peer")
	}

	for _, path := range []string{"/healthz", "/", "/app.js", "/style.css"} {
		if w := e.anon("GET", path, ""); w.Code != http.StatusOK {
			t.Errorf("GET %s without session: %d; want 200", path, w.Code)
		}
	}
	if w := e.anon("POST", "/api/login", `{"password":"`+testPassword+`"}`); w.Code != http.StatusOK {
		t.Errorf("POST /api/login without session: %d; want 200", w.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	reqs := []struct {
		name string
		r    *http.Request
		api  bool
	}{
		{"page", e.request("GET", "/", ""), false},
		{"script", e.request("GET", "/app.js", ""), false},
		{"missing file", e.request("GET", "/nope.txt", ""), false},
		{"healthz", e.request("GET", "/healthz", ""), true},
		{"401", e.request("GET", "/api/peers", ""), true},
		{"login 400", e.request("POST", "/api/login", "{"), true},
	}
	authed := e.request("GET", "/api/peers", "")
	authed.AddCookie(e.cookie)
	reqs = append(reqs, struct {
		name string
		r    *http.Request
		api  bool
	}{"peers", authed, true})
	csrf := e.request("POST", "/api/login", `{"password":"x"}`)
	csrf.Header.Set("Sec-Fetch-Site", "cross-site")
	reqs = append(reqs, struct {
		name string
		r    *http.Request
		api  bool
	}{"csrf 403", csrf, true})

	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for _, rq := range reqs {
		t.Run(rq.name, func(t *testing.T) {
			w := e.serve(rq.r)
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
			if rq.api {
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control = %q; want no-store", got)
				}
			}
		})
	}
}

func TestLogin(t *testing.T) {
	login := func(e *env, body string) *httptest.ResponseRecorder {
		return e.anon("POST", "/api/login", body)
	}
	t.Run("right password", func(t *testing.T) {
		e := newEnv(t)
		w := login(e, `{"password":"`+testPassword+`"}`)
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d; want 200 (%q)", w.Code, w.Body)
		}
		res := w.Result()
		var c *http.Cookie
		for _, x := range res.Cookies() {
			if x.Name == cookieName {
				c = x
			}
		}
		if c == nil {
			t.Fatal("no session cookie set")
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want true, Strict, /, false (plain HTTP)",
				c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
		body := decodeJSON[map[string]any](t, w)
		if body["authenticated"] != true || body["auth"] != "password" || body["expires_at"] == nil {
			t.Errorf("body = %v; want authenticated, auth and expires_at", body)
		}
		// The cookie opens the API.
		r := e.request("GET", "/api/session", "")
		r.AddCookie(c)
		if w := e.serve(r); w.Code != http.StatusOK {
			t.Errorf("GET /api/session with the new cookie: %d; want 200", w.Code)
		}
	})
	t.Run("secure cookie over TLS", func(t *testing.T) {
		e := newEnv(t)
		r := e.request("POST", "/api/login", `{"password":"`+testPassword+`"}`)
		r.TLS = &tls.ConnectionState{}
		w := e.serve(r)
		if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("cookies = %v; want one Secure cookie", cs)
		}
	})
	tests := []struct {
		name   string
		opt    envOpt
		body   string
		status int
		field  string
	}{
		{"wrong password", nil, `{"password":"wrong"}`, http.StatusUnauthorized, "password"},
		{"empty password", nil, `{"password":""}`, http.StatusUnauthorized, "password"},
		{"unknown field", nil, `{"password":"x","user":"root"}`, http.StatusBadRequest, "user"},
		{"wrong type", nil, `{"password":5}`, http.StatusBadRequest, "password"},
		{"not json", nil, `password=x`, http.StatusBadRequest, ""},
		{"no body", nil, ``, http.StatusBadRequest, ""},
		{"trailing data", nil, `{"password":"x"} {}`, http.StatusBadRequest, ""},
		{"too large", nil, `{"password":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"no password set", func(_ *vpn.Config, a *auth.Config) {
			a.Hash = func() (string, error) { return "", nil }
		}, `{"password":"x"}`, http.StatusForbidden, "password"},
		{"hash unreadable", func(_ *vpn.Config, a *auth.Config) {
			a.Hash = func() (string, error) { return "", io.ErrUnexpectedEOF }
		}, `{"password":"x"}`, http.StatusInternalServerError, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []envOpt
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			e := newEnv(t, opts...)
			w := login(e, tt.body)
			wantError(t, w, tt.status, tt.field)
			if len(w.Result().Cookies()) != 0 {
				t.Errorf("a failed login set cookies %v", w.Result().Cookies())
			}
		})
	}
	t.Run("no password set message", func(t *testing.T) {
		e := newEnv(t, func(_ *vpn.Config, a *auth.Config) { a.Hash = func() (string, error) { return "", nil } })
		if b := wantError(t, login(e, `{"password":"x"}`), http.StatusForbidden, "password"); !strings.Contains(b.Error, "wgpanel passwd") {
			t.Errorf("message = %q; want it to say how to set a password", b.Error)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	from := func(addr, pw string) *httptest.ResponseRecorder {
		r := e.request("POST", "/api/login", `{"password":"`+pw+`"}`)
		r.RemoteAddr = addr
		return e.serve(r)
	}
	for range auth.DefaultLoginBurst {
		wantError(t, from("192.0.2.7:4000", "guess"), http.StatusUnauthorized, "password")
	}
	// Even the right password waits: the limit is on attempts.
	w := from("192.0.2.7:4001", testPassword)
	wantError(t, w, http.StatusTooManyRequests, "password")
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q; want a positive number of seconds", ra)
	}
	if w := from("192.0.2.8:4000", testPassword); w.Code != http.StatusOK {
		t.Errorf("another client: status %d; want 200", w.Code)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	w := e.do("POST", "/api/logout", "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d; want 204", w.Code)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != cookieName || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("logout cookies = %v; want the session cookie cleared", cs)
	}
	wantError(t, e.do("GET", "/api/peers", ""), http.StatusUnauthorized, "")
	wantError(t, e.do("POST", "/api/logout", ""), http.StatusUnauthorized, "")
}

func TestSession(t *testing.T) {
	e := newEnv(t)
	w := e.do("GET", "/api/session", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200", w.Code)
	}
	b := decodeJSON[struct {
		Authenticated bool      `json:"authenticated"`
		Auth          string    `json:"auth"`
		ExpiresAt     time.Time `json:"expires_at"`
	}](t, w)
	if !b.Authenticated || b.Auth != "password" {
		t.Errorf("session = %+v; want authenticated in mode password", b)
	}
	if d := time.Until(b.ExpiresAt); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("expires in %v; want about the 30 min idle timeout", d)
	}
}

// TestCrossOrigin checks that state-changing requests from another site are
// refused and change nothing, while the page's own requests pass.
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	id := e.add("phone", "split").Peer.ID
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string]string
		status  int
	}{
		{"add from another site (fetch metadata)", "POST", "/api/peers", `{"name":"evil"}`,
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"add from another origin (old browser)", "POST", "/api/peers", `{"name":"evil"}`,
			map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"add from LuCI on another port (same-site)", "POST", "/api/peers", `{"name":"evil"}`,
			map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://example.com:80"}, http.StatusForbidden},
		{"delete from another site", "DELETE", "/api/peers/" + id, "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"disable from another site", "PATCH", "/api/peers/" + id, `{"enabled":false}`,
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"logout from another site", "POST", "/api/logout", "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"read from another site is not state-changing", "GET", "/api/peers", "",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusOK},
		{"add from the page", "POST", "/api/peers", `{"name":"laptop"}`,
			map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, http.StatusCreated},
		{"add from curl (no browser headers)", "POST", "/api/peers", `{"name":"tablet"}`, nil, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.request(tt.method, tt.path, tt.body)
			r.AddCookie(e.cookie)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := e.serve(r)
			if tt.status == http.StatusForbidden {
				wantError(t, w, http.StatusForbidden, "")
			} else if w.Code != tt.status {
				t.Errorf("status = %d; want %d (%q)", w.Code, tt.status, w.Body)
			}
		})
	}
	t.Run("login from another site", func(t *testing.T) {
		r := e.request("POST", "/api/login", `{"password":"`+testPassword+`"}`)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := e.serve(r)
		wantError(t, w, http.StatusForbidden, "")
		if len(w.Result().Cookies()) != 0 {
			t.Error("a cross-site login set a cookie")
		}
	})
	peers := e.storedPeers()
	var names []string
	for _, p := range peers {
		names = append(names, p.Name)
		if p.Name == "phone" && !p.Enabled {
			t.Error("a cross-site PATCH disabled phone")
		}
	}
	if got, want := strings.Join(names, ","), "phone,laptop,tablet"; got != want {
		t.Errorf("stored peers = %s; want %s", got, want)
	}
	if w := e.do("GET", "/api/session", ""); w.Code != http.StatusOK {
		t.Errorf("session after a cross-site logout: %d; want still 200", w.Code)
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	e.dev.SetUnreachable(true)
	w := e.anon("GET", "/healthz", "")
	if w.Code != http.StatusOK || w.Body.String() != "ok\n" {
		t.Errorf("healthz = %d %q; want 200 ok", w.Code, w.Body)
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/app.js", "text/javascript; charset=utf-8", 200},
		{"/style.css", "text/css; charset=utf-8", 200},
		{"/missing.js", "text/plain; charset=utf-8", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := e.anon("GET", tt.path, "")
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q; want %q", got, tt.ctype)
			}
			if tt.status != 200 {
				return
			}
			tag := w.Header().Get("ETag")
			if tag == "" || w.Header().Get("Cache-Control") != "no-cache" {
				t.Fatalf("ETag = %q, Cache-Control = %q; want a tag and no-cache", tag, w.Header().Get("Cache-Control"))
			}
			r := e.request("GET", tt.path, "")
			r.Header.Set("If-None-Match", tag)
			if w := e.serve(r); w.Code != http.StatusNotModified {
				t.Errorf("revalidation: status %d; want 304", w.Code)
			}
		})
	}
	if w := e.anon("POST", "/", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d; want 405", w.Code)
	}
}

func TestStatus(t *testing.T) {
	type statusOut struct {
		Interface   string   `json:"interface"`
		Configured  bool     `json:"configured"`
		PublicKey   string   `json:"public_key"`
		ListenPort  int      `json:"listen_port"`
		Addresses   []string `json:"addresses"`
		Endpoint    string   `json:"endpoint"`
		DeviceUp    bool     `json:"device_up"`
		DeviceError string   `json:"device_error"`
		Warnings    []string `json:"warnings"`
	}
	t.Run("up", func(t *testing.T) {
		e := newEnv(t)
		w := e.do("GET", "/api/status", "")
		if w.Code != 200 {
			t.Fatalf("status %d; want 200", w.Code)
		}
		st := decodeJSON[statusOut](t, w)
		cfg, _ := e.store.Load(context.Background())
		if st.Interface != "wg0" || !st.Configured || st.PublicKey != cfg.Server.PublicKey().String() ||
			st.ListenPort != 51820 || strings.Join(st.Addresses, ",") != "10.66.66.1/24" ||
			st.Endpoint != "vpn.example.com" || !st.DeviceUp || st.DeviceError != "" || st.Warnings == nil {
			t.Errorf("status = %+v; want wg0 configured and up with its key, port, address and endpoint", st)
		}
	})
	t.Run("device unreachable is an answer, not an error", func(t *testing.T) {
		e := newEnv(t)
		e.dev.SetUnreachable(true)
		w := e.do("GET", "/api/status", "")
		if w.Code != 200 {
			t.Fatalf("status %d; want 200", w.Code)
		}
		if st := decodeJSON[statusOut](t, w); st.DeviceUp || st.DeviceError == "" {
			t.Errorf("status = %+v; want device_up false with a device_error", st)
		}
	})
	t.Run("no endpoint warns", func(t *testing.T) {
		e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Settings.Endpoint = "" })
		if st := decodeJSON[statusOut](t, e.do("GET", "/api/status", "")); len(st.Warnings) == 0 {
			t.Errorf("warnings = %v; want one about the endpoint", st.Warnings)
		}
	})
	t.Run("no interface", func(t *testing.T) {
		e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Server = nil })
		st := decodeJSON[statusOut](t, e.do("GET", "/api/status", ""))
		if st.Configured || st.PublicKey != "" || st.DeviceError == "" || st.Addresses == nil {
			t.Errorf("status = %+v; want not configured, no key, a device_error and [] addresses", st)
		}
	})
}

func TestPeerList(t *testing.T) {
	e := newEnv(t)
	if w := e.do("GET", "/api/peers", ""); strings.TrimSpace(w.Body.String()) != `{"peers":[]}` {
		t.Errorf("empty list = %q; want {\"peers\":[]}", w.Body)
	}
	phone := e.add("phone", "split").Peer
	e.add("laptop", "full")
	key, err := vpn.ParseKey(phone.ID)
	if err != nil {
		t.Fatal(err)
	}
	hs := time.Now().Add(-90 * time.Second)
	e.dev.SetHandshake(key, hs, 12345, 67890, netip.MustParseAddrPort("198.51.100.7:43210"))

	peers := e.listPeers()
	if len(peers) != 2 {
		t.Fatalf("listed %d peers; want 2", len(peers))
	}
	p, l := peers[0], peers[1]
	wantHS := hs.UTC().Truncate(time.Second).Format(time.RFC3339)
	if p.Name != "phone" || p.ID != phone.ID || p.PublicKey != key.String() || p.Tunnel != "split" ||
		!p.Enabled || !p.PrivateKeyKept || strings.Join(p.Addresses, ",") != "10.66.66.2/32" ||
		p.LatestHandshake == nil || *p.LatestHandshake != wantHS || p.Endpoint == nil ||
		*p.Endpoint != "198.51.100.7:43210" || p.RxBytes != 12345 || p.TxBytes != 67890 || !p.Online {
		t.Errorf("phone = %+v; want its fields with handshake %s, online", p, wantHS)
	}
	if l.Name != "laptop" || l.Tunnel != "full" || l.LatestHandshake != nil || l.Endpoint != nil || l.Online {
		t.Errorf("laptop = %+v; want full tunnel, never seen, offline", l)
	}
	// The raw JSON has null, not "" or a zero time, for never.
	raw := e.do("GET", "/api/peers", "").Body.String()
	if !strings.Contains(raw, `"latest_handshake":null`) || !strings.Contains(raw, `"endpoint":null`) {
		t.Errorf("list %q; want null latest_handshake and endpoint for laptop", raw)
	}
	if strings.Contains(raw, "PrivateKey") || strings.Contains(raw, "private_key\"") {
		t.Errorf("list %q contains a private key field", raw)
	}

	t.Run("old handshake is offline", func(t *testing.T) {
		e.dev.SetHandshake(key, time.Now().Add(-4*time.Minute), 1, 1, netip.AddrPort{})
		if p := e.listPeers()[0]; p.Online {
			t.Errorf("phone online with a 4-minute-old handshake; want offline")
		}
	})
	t.Run("device unreachable still lists", func(t *testing.T) {
		e.dev.SetUnreachable(true)
		defer e.dev.SetUnreachable(false)
		if n := len(e.listPeers()); n != 2 {
			t.Errorf("listed %d peers; want 2", n)
		}
	})
	t.Run("no interface is a config error", func(t *testing.T) {
		e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Server = nil })
		wantError(t, e.do("GET", "/api/peers", ""), http.StatusInternalServerError, "")
		if strings.Contains(e.logBuf.String(), "request failed") {
			t.Errorf("a config error was logged (%q); want only internal errors logged", e.logBuf)
		}
	})
}

func TestPeerCreate(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		e := newEnv(t)
		w := e.do("POST", "/api/peers", `{"name":"phone","tunnel":"full"}`)
		if w.Code != http.StatusCreated {
			t.Fatalf("status %d; want 201 (%q)", w.Code, w.Body)
		}
		c := decodeJSON[createdOut](t, w)
		if loc := w.Header().Get("Location"); loc != "/api/peers/"+c.Peer.ID {
			t.Errorf("Location = %q; want /api/peers/%s", loc, c.Peer.ID)
		}
		if c.Peer.Name != "phone" || c.Peer.Tunnel != "full" || !c.Peer.Enabled || !c.Peer.PrivateKeyKept {
			t.Errorf("peer = %+v; want phone, full, enabled, key kept", c.Peer)
		}
		for _, line := range []string{"[Interface]", "PrivateKey = ", "Address = 10.66.66.2/32", "AllowedIPs = 0.0.0.0/0, ::/0", "Endpoint = vpn.example.com:51820"} {
			if !strings.Contains(c.Config, line) {
				t.Errorf("config lacks %q:\n%s", line, c.Config)
			}
		}
		if c.QRSVG != "" {
			t.Error("qr_svg is set although the key is kept; want the QR only on request")
		}
		if c.Warnings == nil {
			t.Error("warnings is null; want []")
		}
		if keys := e.dev.Keys(); len(keys) != 1 || vpn.KeyID(keys[0]) != c.Peer.ID {
			t.Errorf("device peers = %v; want the new peer", keys)
		}
		if strings.Contains(e.logBuf.String(), "PrivateKey") || strings.Contains(e.logBuf.String(), c.Config[strings.Index(c.Config, "PrivateKey = ")+13:][:44]) {
			t.Errorf("the log holds the private key: %q", e.logBuf)
		}
	})
	t.Run("tunnel defaults to split", func(t *testing.T) {
		e := newEnv(t)
		if c := e.add("phone", ""); c.Peer.Tunnel != "split" {
			t.Errorf("tunnel = %q; want split", c.Peer.Tunnel)
		}
	})
	t.Run("key not kept: the answer carries the only QR", func(t *testing.T) {
		e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Settings.KeepPrivateKeys = false })
		c := e.add("phone", "split")
		if c.Peer.PrivateKeyKept || !strings.HasPrefix(c.QRSVG, "<svg") {
			t.Fatalf("kept=%v qr_svg=%.20q; want not kept with an SVG", c.Peer.PrivateKeyKept, c.QRSVG)
		}
		if got := decodeSVG(t, c.QRSVG); got != c.Config {
			t.Errorf("qr_svg decodes to %q; want the config %q", got, c.Config)
		}
	})

	tests := []struct {
		name   string
		opt    envOpt
		before func(e *env)
		body   string
		status int
		field  string
	}{
		{"duplicate name", nil, func(e *env) { e.add("phone", "split") }, `{"name":"Phone"}`, http.StatusConflict, "name"},
		{"empty name", nil, nil, `{"name":""}`, http.StatusBadRequest, "name"},
		{"missing name", nil, nil, `{"tunnel":"split"}`, http.StatusBadRequest, "name"},
		{"name too long", nil, nil, `{"name":"` + strings.Repeat("x", 65) + `"}`, http.StatusBadRequest, "name"},
		{"bad tunnel", nil, nil, `{"name":"phone","tunnel":"most"}`, http.StatusBadRequest, "tunnel"},
		{"unknown field", nil, nil, `{"name":"phone","dns":"1.1.1.1"}`, http.StatusBadRequest, "dns"},
		{"wrong type", nil, nil, `{"name":7}`, http.StatusBadRequest, "name"},
		{"not an object", nil, nil, `["phone"]`, http.StatusBadRequest, ""},
		{"broken json", nil, nil, `{"name":"phone"`, http.StatusBadRequest, ""},
		{"too large", nil, nil, `{"name":"` + strings.Repeat("x", 65<<10) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"no free address", func(c *vpn.Config, _ *auth.Config) {
			c.Server.Addresses = []netip.Prefix{netip.MustParsePrefix("10.9.9.1/30")}
		}, func(e *env) { e.add("first", "split") }, `{"name":"second"}`, http.StatusConflict, ""},
		{"device unreachable", nil, func(e *env) { e.dev.SetUnreachable(true) }, `{"name":"phone"}`, http.StatusServiceUnavailable, ""},
		{"no interface", func(c *vpn.Config, _ *auth.Config) { c.Server = nil }, nil, `{"name":"phone"}`, http.StatusInternalServerError, ""},
		{"store write fails", nil, func(e *env) { e.store.FailNext = io.ErrShortWrite }, `{"name":"phone"}`, http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []envOpt
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			e := newEnv(t, opts...)
			if tt.before != nil {
				tt.before(e)
			}
			var before []vpn.Peer
			if cfg, _ := e.store.Load(context.Background()); cfg.Server != nil {
				before = cfg.Server.Peers
			}
			devBefore := len(e.dev.Keys())
			wantError(t, e.do("POST", "/api/peers", tt.body), tt.status, tt.field)
			var after []vpn.Peer
			if cfg, _ := e.store.Load(context.Background()); cfg.Server != nil {
				after = cfg.Server.Peers
			}
			if len(after) != len(before) {
				t.Errorf("store has %d peers after a failed add; want %d", len(after), len(before))
			}
			e.dev.SetUnreachable(false)
			if n := len(e.dev.Keys()); n != devBefore {
				t.Errorf("device has %d peers after a failed add; want %d", n, devBefore)
			}
			logged := strings.Contains(e.logBuf.String(), "request failed")
			if wantLog := tt.name == "store write fails"; logged != wantLog {
				t.Errorf("logged = %v; want %v (only internal errors are logged): %q", logged, wantLog, e.logBuf)
			}
		})
	}
}

func TestPeerUpdate(t *testing.T) {
	e := newEnv(t)
	phone := e.add("phone", "split").Peer
	e.add("laptop", "split")
	path := "/api/peers/" + phone.ID

	w := e.do("PATCH", path, `{"name":"old phone"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("rename: %d; want 200 (%q)", w.Code, w.Body)
	}
	if p := decodeJSON[struct {
		Peer peerOut `json:"peer"`
	}](t, w).Peer; p.Name != "old phone" || p.ID != phone.ID {
		t.Errorf("renamed peer = %+v; want old phone with the same id", p)
	}

	w = e.do("PATCH", path, `{"enabled":false}`)
	if w.Code != http.StatusOK {
		t.Fatalf("disable: %d; want 200 (%q)", w.Code, w.Body)
	}
	if p := decodeJSON[struct {
		Peer peerOut `json:"peer"`
	}](t, w).Peer; p.Enabled {
		t.Error("disabled peer answers enabled")
	}
	if n := len(e.dev.Keys()); n != 1 {
		t.Errorf("device has %d peers after disable; want 1", n)
	}
	if w := e.do("PATCH", path, `{"enabled":true,"name":"phone"}`); w.Code != http.StatusOK {
		t.Fatalf("enable: %d; want 200 (%q)", w.Code, w.Body)
	}
	if n := len(e.dev.Keys()); n != 2 {
		t.Errorf("device has %d peers after enable; want 2", n)
	}

	unknown := vpn.KeyID(mustKey(t).PublicKey())
	tests := []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"duplicate name", path, `{"name":"LAPTOP"}`, http.StatusConflict, "name"},
		{"empty name", path, `{"name":""}`, http.StatusBadRequest, "name"},
		{"nothing to change", path, `{}`, http.StatusBadRequest, ""},
		{"unknown field", path, `{"tunnel":"full"}`, http.StatusBadRequest, "tunnel"},
		{"wrong type", path, `{"enabled":"yes"}`, http.StatusBadRequest, "enabled"},
		{"too large", path, `{"name":"` + strings.Repeat("x", 65<<10) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"unknown peer", "/api/peers/" + unknown, `{"enabled":false}`, http.StatusNotFound, ""},
		{"malformed id", "/api/peers/not-a-key", `{"enabled":false}`, http.StatusBadRequest, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.do("PATCH", tt.path, tt.body), tt.status, tt.field)
			p := e.storedPeers()[0]
			if p.Name != "phone" || !p.Enabled {
				t.Errorf("stored phone = %q enabled=%v after a failed PATCH; want unchanged", p.Name, p.Enabled)
			}
		})
	}
	t.Run("device unreachable", func(t *testing.T) {
		e.dev.SetUnreachable(true)
		wantError(t, e.do("PATCH", path, `{"enabled":false}`), http.StatusServiceUnavailable, "")
		e.dev.SetUnreachable(false)
		if p := e.storedPeers()[0]; !p.Enabled {
			t.Error("stored phone is disabled after a failed PATCH; want unchanged (nothing changes when a request fails)")
		}
	})
}

func TestPeerDelete(t *testing.T) {
	e := newEnv(t)
	phone := e.add("phone", "split").Peer
	e.add("laptop", "split")
	path := "/api/peers/" + phone.ID

	t.Run("device unreachable", func(t *testing.T) {
		e := newEnv(t)
		id := e.add("phone", "split").Peer.ID
		e.dev.SetUnreachable(true)
		wantError(t, e.do("DELETE", "/api/peers/"+id, ""), http.StatusServiceUnavailable, "")
		e.dev.SetUnreachable(false)
		if n := len(e.storedPeers()); n != 1 {
			t.Errorf("store has %d peers after a failed delete; want 1 (nothing changes when a request fails)", n)
		}
	})
	wantError(t, e.do("DELETE", "/api/peers/%2F%2F", ""), http.StatusBadRequest, "id")

	if w := e.do("DELETE", path, ""); w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("delete: %d %q; want 204 and no body", w.Code, w.Body)
	}
	if peers := e.listPeers(); len(peers) != 1 || peers[0].Name != "laptop" {
		t.Errorf("peers after delete = %+v; want only laptop", peers)
	}
	if n := len(e.dev.Keys()); n != 1 {
		t.Errorf("device has %d peers; want 1", n)
	}
	wantError(t, e.do("DELETE", path, ""), http.StatusNotFound, "")
}

func TestPeerConfig(t *testing.T) {
	e := newEnv(t)
	c := e.add("Anna's phone!", "split")
	w := e.do("GET", "/api/peers/"+c.Peer.ID+"/config", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d; want 200 (%q)", w.Code, w.Body)
	}
	if got := w.Body.String(); got != c.Config {
		t.Errorf("config = %q; want the one from create %q", got, c.Config)
	}
	if got, want := w.Header().Get("Content-Disposition"), `attachment; filename="Annas_phone.conf"`; got != want {
		t.Errorf("Content-Disposition = %q; want %q", got, want)
	}
	if got := w.Header().Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q; want text/plain; charset=utf-8", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
	wantError(t, e.do("GET", "/api/peers/"+vpn.KeyID(mustKey(t).PublicKey())+"/config", ""), http.StatusNotFound, "")
	wantError(t, e.do("GET", "/api/peers/abc/config", ""), http.StatusBadRequest, "id")

	t.Run("key not kept", func(t *testing.T) {
		e := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Settings.KeepPrivateKeys = false })
		id := e.add("phone", "split").Peer.ID
		for _, suffix := range []string{"/config", "/qr.png", "/qr.svg"} {
			wantError(t, e.do("GET", "/api/peers/"+id+suffix, ""), http.StatusConflict, "")
		}
	})
}

func TestConfigFileName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"phone", "phone.conf"},
		{"Anna's phone", "Annas_phone.conf"},
		{`a"b\c/d;e`, "abcde.conf"},
		{"über-laptop", "_ber-laptop.conf"},
		{"a very long device name", "a_very_long_dev.conf"},
		{"..hidden", "hidden.conf"},
		{"\"\"", "wgpanel.conf"},
		{"手机", "__.conf"},
		{"k=v+1.x", "k=v+1.x.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := configFileName(tt.name); got != tt.want {
				t.Errorf("configFileName(%q) = %q; want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{vpn.EINVALID, 400},
		{vpn.ENOTFOUND, 404},
		{vpn.ECONFLICT, 409},
		{vpn.EUNAVAILABLE, 503},
		{vpn.ECONFIG, 500},
		{vpn.EINTERNAL, 500},
		{"something new", 500},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := statusOf(tt.code); got != tt.want {
				t.Errorf("statusOf(%q) = %d; want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestUnknownAPIRoute(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.do("GET", "/api/nothing", ""), http.StatusNotFound, "")
	wantError(t, e.do("PUT", "/api/peers", "{}"), http.StatusMethodNotAllowed, "")
}
