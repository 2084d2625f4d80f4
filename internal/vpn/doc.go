// Package vpn is wgpanel's domain: the road-warrior WireGuard server, its
// peers and the client configs handed to phones. Service adds, removes,
// lists and reconciles peers following the one rule about state: every
// change is written to the config store (UCI) first, then applied live to
// the device, one peer at a time.
//
// The package knows neither UCI syntax nor wgctrl. It depends on two small
// interfaces it declares itself, Store and Device; the real ones live in
// internal/openwrt and internal/wgdev.
package vpn
