// Package doctor explains why a phone gets no handshake or no traffic.
//
// Run turns plain facts (the UCI configuration as internal/openwrt reads
// it, the live device state, the WAN's runtime address and gateway) into a
// list of checks, each ok, warn or fail with a one-sentence finding and
// what to do, naming the actual addresses and port. It reads nothing
// itself, so tests need no router; Collect gathers the facts on a real
// system. A Doctor keeps a short in-memory history of each peer's endpoint
// across runs, which is how it notices one key used on two devices.
//
// Doctor only reads. Fix applies, on request, the two fixes that are safe
// and local (the firewall rule for the WireGuard port and the interface's
// firewall zone) through internal/openwrt, and nothing else. It knows no
// UCI option names: those stay in internal/openwrt.
package doctor
