package api

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/web"
)

// maxBody is the largest request body accepted; larger ones get 413.
const maxBody = 64 << 10

// contentSecurityPolicy allows only the page's own files: no inline script
// or style, no framing, no form posts elsewhere. Images may be data: URLs
// for a QR code that exists only in a create response.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
	"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Config is what New needs.
type Config struct {
	Service *vpn.Service
	Auth    *auth.Authenticator
	// Log receives internal errors and login events; nothing when nil.
	Log *slog.Logger
	// Static is the page's files (index.html at the root); web.FS when nil.
	Static fs.FS
	// Diagnostics serves setup and the doctor (/api/setup, /api/doctor);
	// when nil those routes answer 503.
	Diagnostics Diagnostics
	// Settings serves /api/settings and Reach /api/reachability; when
	// nil those routes answer 503.
	Settings SettingsStore
	Reach    Reachability
	// Usage serves the traffic history (/api/usage, /api/peers/{id}/usage);
	// when nil those routes answer 503.
	Usage UsageSource
	// Metrics serves GET /metrics; when nil it answers 404.
	Metrics MetricsSource
	// Hosts are the names and addresses the page answers to (see
	// hostcheck.go); nil checks nothing.
	Hosts *HostPolicy
}

// server holds the handlers' dependencies.
type server struct {
	svc  *vpn.Service
	auth *auth.Authenticator
	log  *slog.Logger
	diag Diagnostics
	// settings and reach serve /api/settings and /api/reachability.
	settings SettingsStore
	reach    Reachability
	usage    UsageSource
	metrics  MetricsSource
	// diagMu makes setup and doctor fixes, which write the same files,
	// run one at a time.
	diagMu sync.Mutex
}

// New returns the HTTP handler for the whole of wgpanel's web side.
func New(cfg Config) http.Handler {
	s := &server{svc: cfg.Service, auth: cfg.Auth, log: cfg.Log, diag: cfg.Diagnostics, settings: cfg.Settings, reach: cfg.Reach, usage: cfg.Usage, metrics: cfg.Metrics}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	static := cfg.Static
	if static == nil {
		static = web.FS
	}

	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "There is no such page.", "")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "This method is not allowed here.", "")
	})
	r.Get("/healthz", s.handleHealthz)
	r.Get("/metrics", s.handleMetrics)
	r.Route("/api", func(r chi.Router) {
		r.Use(apiHeaders)
		r.Post("/login", s.handleLogin)
		r.Group(func(r chi.Router) {
			r.Use(s.requireSession)
			r.Post("/logout", s.handleLogout)
			r.Get("/session", s.handleSession)
			r.Get("/status", s.handleStatus)
			r.Get("/peers", s.handlePeerList)
			r.Post("/peers", s.handlePeerCreate)
			r.Patch("/peers/{id}", s.handlePeerUpdate)
			r.Delete("/peers/{id}", s.handlePeerDelete)
			r.Get("/peers/{id}/config", s.handlePeerConfig)
			r.Get("/peers/{id}/qr.png", s.handlePeerQRPNG)
			r.Get("/peers/{id}/qr.svg", s.handlePeerQRSVG)
			r.Get("/peers/{id}/usage", s.handlePeerUsage)
			r.Get("/usage", s.handleUsageSummary)
			r.Get("/doctor", s.handleDoctor)
			r.Post("/doctor/fix", s.handleDoctorFix)
			r.Post("/setup", s.handleSetup)
			r.Get("/settings", s.handleSettingsGet)
			r.Patch("/settings", s.handleSettingsPatch)
			r.Get("/reachability", s.handleReachability)
			r.Post("/reachability/discover", s.handleReachabilityDiscover)
		})
		// Unknown API paths and methods need a session too, so that
		// nothing about the API can be learnt without one.
		r.NotFound(s.requireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "There is no such API route.", "")
		})).ServeHTTP)
		r.MethodNotAllowed(s.requireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "This method is not allowed here.", "")
		})).ServeHTTP)
	})
	r.Method(http.MethodGet, "/*", staticHandler(static))

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeError(w, http.StatusForbidden, "This request came from another web site and was refused.", "")
	}))
	return securityHeaders(checkHost(cfg.Hosts, csrf.Handler(r)))
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// apiHeaders keeps API answers out of every cache and bounds request bodies.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// staticHandler serves the page. Embedded files carry no modification time,
// so each gets an ETag from its content, computed once here, and browsers
// revalidate ("no-cache") so that an upgraded binary's page is used at once.
func staticHandler(fsys fs.FS) http.Handler {
	etags := make(map[string]string)
	_ = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		etags["/"+path] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		return nil
	})
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/") {
			p += "index.html"
		}
		if tag, ok := etags[p]; ok {
			w.Header().Set("ETag", tag)
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
