package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestLoginErrorTellsNothing makes the password unreadable: the answer to
// a client that has not logged in must not carry the error's details.
func TestLoginErrorTellsNothing(t *testing.T) {
	const secret = "detail-from-a-config-file"
	e := newEnv(t, func(_ *vpn.Config, a *auth.Config) {
		a.Hash = func() (string, error) { return "", errors.New(secret) }
	})
	w := e.anon("POST", "/api/login", `{"password":"x"}`)
	b := wantError(t, w, http.StatusInternalServerError, "password")
	if strings.Contains(b.Error, secret) {
		t.Errorf("login answer %q carries the error's details", b.Error)
	}
	if !strings.Contains(e.logBuf.String(), secret) {
		t.Error("the details are not in the log")
	}
}

// TestSessionHook checks that the hook in the request's context runs for a
// request with a live session and only then.
func TestSessionHook(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name   string
		cookie bool
		want   int
	}{{"with a session", true, 1}, {"without", false, 0}} {
		calls := 0
		r := e.request("GET", "/api/session", "")
		r = r.WithContext(WithSessionHook(r.Context(), func() { calls++ }))
		if tt.cookie {
			r.AddCookie(e.cookie)
		}
		e.serve(r)
		if calls != tt.want {
			t.Errorf("%s: hook called %d times; want %d", tt.name, calls, tt.want)
		}
	}
}
