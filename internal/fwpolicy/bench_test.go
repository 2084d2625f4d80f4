package fwpolicy

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkApply250 changes one device's mode among 250 limited devices
// (about 800 rules) in the example firewall file, as a PATCH would.
func BenchmarkApply250(b *testing.B) {
	f, z := load(b, "firewall.wireguard-example")
	modes := []Mode{Internet, LAN, Hosts, All}
	p := Policy{Subnets: subnet}
	for i := range 250 {
		d := Device{Name: fmt.Sprintf("device %d", i), Mode: modes[i%4],
			Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 66, byte(i / 250), byte(2 + i%250)}), 32)}}
		if d.Mode == Hosts {
			d.Hosts = pfx("192.168.1.10/32")
		}
		p.Devices = append(p.Devices, d)
	}
	if _, err := Apply(f, p, z); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		p.Devices[7].Mode = modes[i%2]
		if _, err := Apply(f, p, z); err != nil {
			b.Fatal(err)
		}
	}
}
