// Package api is wgpanel's HTTP side: the JSON API under /api, the login
// session cookie, QR codes and config downloads of one peer, /healthz, and
// the embedded page from package web.
//
// Handlers translate between HTTP and vpn.Service (or, for /api/setup and
// /api/doctor, the Diagnostics that cmd/wgpanel provides) and nothing more:
// every rule about peers lives in internal/vpn, about setup in
// internal/openwrt, about checks and fixes in internal/doctor, about
// passwords and sessions in internal/auth. One function, statusOf, maps vpn error codes
// to HTTP statuses; only internal errors are logged.
//
// Every route but /healthz, POST /api/login and the static page needs a
// session. State-changing requests from another origin are refused with
// net/http's CrossOriginProtection. The package does not listen on a socket,
// choose an address or terminate TLS: cmd/wgpanel does.
package api
