package openwrt

import (
	"context"
	"testing"
)

// BenchmarkSetupNoChange is the idempotent path: setup on a router where
// everything is in place (the LuCI-made interface) writes nothing.
func BenchmarkSetupNoChange(b *testing.B) {
	dir := newDir(b, map[string][]byte{
		"network":  fixture(b, "network.wireguard-example"),
		"firewall": fixture(b, "firewall.wireguard-example"),
	})
	st := NewStore(dir, nil)
	for b.Loop() {
		if _, err := st.Setup(context.Background(), SetupOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFacts reads network, firewall and dhcp for one doctor run.
func BenchmarkFacts(b *testing.B) {
	dir := newDir(b, map[string][]byte{
		"network":  fixture(b, "network.wireguard-example"),
		"firewall": fixture(b, "firewall.wireguard-example"),
		"dhcp":     []byte("config dnsmasq\n\toption domain 'lan'\n\toption localservice '1'\n"),
	})
	st := NewStore(dir, nil)
	for b.Loop() {
		if _, err := st.Facts(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
