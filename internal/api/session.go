package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/wgpanel/wgpanel/internal/auth"
)

// cookieName is the session cookie's name.
const cookieName = "wgpanel_session"

type sessionKey struct{}

// sessionJSON answers GET /api/session and a successful login.
type sessionJSON struct {
	Authenticated bool      `json:"authenticated"`
	Auth          string    `json:"auth"` // "shadow" or "password"
	ExpiresAt     time.Time `json:"expires_at"`
}

// requireSession lets a request through only with a live session cookie;
// the session is then in the request's context.
func (s *server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			s.unauthorized(w)
			return
		}
		sess, ok := s.auth.CheckSession(c.Value)
		if !ok {
			s.unauthorized(w)
			return
		}
		if hook, ok := r.Context().Value(sessionHookKey{}).(func()); ok {
			hook()
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// unauthorized answers 401. It names the auth mode, so the login form can
// say which password it wants; that the mode is known is harmless.
func (s *server) unauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, struct {
		errorBody
		Auth string `json:"auth"`
	}{errorBody{Error: "Log in first."}, s.auth.Mode()})
}

// handleLogin checks the password and starts a session.
func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	client := clientAddr(r)
	if ok, wait := s.auth.AllowLogin(client); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		s.log.Warn("login rate limited", "client", client)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests,
			fmt.Sprintf("Too many login attempts. Wait %d seconds and try again.", secs), "password")
		return
	}
	var req struct {
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	err := s.auth.CheckPassword(req.Password)
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrWrongPassword):
		s.log.Warn("login failed: wrong password", "client", client)
		writeError(w, http.StatusUnauthorized, "Wrong password.", "password")
		return
	case errors.Is(err, auth.ErrNoPassword):
		writeError(w, http.StatusForbidden, err.Error(), "password")
		return
	default:
		// The details go to the log only: this answer goes to anyone on
		// the LAN, before any login.
		s.log.Error("login: cannot check the password", "err", err)
		writeError(w, http.StatusInternalServerError,
			"The password cannot be checked because of a configuration problem; the router's log (logread) says which.", "password")
		return
	}
	// A new login replaces the session the browser had, if any.
	if c, err := r.Cookie(cookieName); err == nil {
		s.auth.EndSession(c.Value)
	}
	token := s.auth.NewSession()
	sess, _ := s.auth.CheckSession(token)
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("login", "client", client)
	writeJSON(w, http.StatusOK, sessionJSON{Authenticated: true, Auth: s.auth.Mode(), ExpiresAt: sess.Expires.UTC()})
}

// handleLogout ends the session and clears the cookie.
func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.auth.EndSession(c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	w.WriteHeader(http.StatusNoContent)
}

// handleSession describes the caller's session; requireSession already
// answered 401 when there is none.
func (s *server) handleSession(w http.ResponseWriter, r *http.Request) {
	sess, _ := r.Context().Value(sessionKey{}).(auth.Session)
	writeJSON(w, http.StatusOK, sessionJSON{Authenticated: true, Auth: s.auth.Mode(), ExpiresAt: sess.Expires.UTC()})
}

// clientAddr is the address login attempts are counted by. wgpanel is
// reached directly, never through a proxy, so X-Forwarded-For would only
// let a guesser pick their own bucket and is ignored.
func clientAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a
}

type sessionHookKey struct{}

// WithSessionHook returns ctx carrying hook, which requireSession calls for
// every request with a live session. The server uses it to tell the
// connections of logged-in browsers from others (see cmd/wgpanel).
func WithSessionHook(ctx context.Context, hook func()) context.Context {
	return context.WithValue(ctx, sessionHookKey{}, hook)
}
