package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestHostCheck sends requests with the Host header a DNS rebinding attack
// produces (the attacker's own name, now resolving to the router) and with
// the names and addresses the page is meant to be reached by.
func TestHostCheck(t *testing.T) {
	e := newEnv(t)
	e.h = New(Config{Service: e.svc, Auth: e.auth, Hosts: &HostPolicy{
		Names: []string{"OpenWrt.lan", "router.lan", "wgpanel.example.org"},
		Addrs: []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fd00::1")},
		Local: func(a netip.Addr) bool { return a == netip.MustParseAddr("10.0.0.1") },
	}})
	tests := []struct {
		host string
		ok   bool
	}{
		{"192.168.1.1:8080", true},
		{"192.168.1.1", true},
		{"[fd00::1]:8080", true},
		{"openwrt.lan:8080", true},
		{"ROUTER.LAN", true},
		{"router.lan.:8080", true},
		{"wgpanel.example.org", true},
		{"10.0.0.1:8080", true}, // assigned on this host
		{"attacker.example:8080", false},
		{"192.168.1.1.attacker.example", false},
		{"10.0.0.2:8080", false},
		{"localhost:8080", false},
		{"", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/peers", "/", "/api/login"} {
			r := httptest.NewRequest("GET", path, nil)
			r.Host = tt.host
			r.AddCookie(e.cookie)
			w := e.serve(r)
			if got := w.Code != http.StatusMisdirectedRequest; got != tt.ok {
				t.Errorf("Host %q, %s: status %d; want allowed=%v", tt.host, path, w.Code, tt.ok)
			}
			if !tt.ok && (!strings.Contains(w.Body.String(), "allowed_host") || w.Header().Get("Content-Type") != "text/plain; charset=utf-8") {
				t.Errorf("Host %q: refused with %q (%s); want a plain page naming the allowed_host option", tt.host, w.Body, w.Header().Get("Content-Type"))
			}
		}
	}
	// /healthz tells nothing and stays reachable for monitoring.
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.Host = "attacker.example"
	if w := e.serve(r); w.Code != http.StatusOK {
		t.Errorf("/healthz with a foreign Host: %d; want 200", w.Code)
	}
}
