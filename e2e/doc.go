// Package e2e holds wgpanel's end-to-end tests. They run the real wgpanel
// binary as root in network namespaces: a router namespace running
// `wgpanel serve --dev`, a phone namespace that brings up, with Debian's
// wg-quick and wireguard-go, the exact client config `wgpanel peer add`
// printed, and a LAN host behind the router. See shared/docs/TESTING.md.
//
// The package has no code of its own; everything is in its _test.go files.
// The tests skip without root, /dev/net/tun or the Debian tools, and fail
// instead when CI=true. Set WGPANEL_BIN to test a prebuilt binary; otherwise
// the tests build ./cmd/wgpanel once.
package e2e
