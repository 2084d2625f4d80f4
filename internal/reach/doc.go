// Package reach tells a router owner, in one sentence, whether phones on
// the internet can reach the WireGuard server and the one thing to do when
// they cannot: a verdict built from the doctor's local checks (firewall,
// NAT in front of the router, endpoint), plus the addresses phones could
// dial. It also asks a STUN server (RFC 8489) for the router's public IPv4
// address, but only when the owner asks for it.
//
// It does not run the checks itself (internal/doctor does), reads no
// configuration, and sends nothing on the network except Discover's one
// STUN exchange.
package reach
