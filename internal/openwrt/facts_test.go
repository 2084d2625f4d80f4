package openwrt

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

func mustFacts(t *testing.T, files map[string][]byte) *Facts {
	t.Helper()
	fa, err := NewStore(newDir(t, files), nil).Facts(context.Background())
	if err != nil {
		t.Fatalf("Facts: %v", err)
	}
	return fa
}

func TestFactsLuCIExample(t *testing.T) {
	fa := mustFacts(t, map[string][]byte{
		"network":  fixture(t, "network.wireguard-example"),
		"firewall": fixture(t, "firewall.wireguard-example"),
	})
	want := &Facts{
		Interface:      "wg0",
		InterfaceType:  "interface",
		InterfaceProto: "wireguard",
		HasPrivateKey:  true,
		PublicKey:      mustKey(t, exampleServerPriv).PublicKey(),
		ListenPort:     51820,
		Addresses:      []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24"), netip.MustParsePrefix("fd66:66:66::1/64")},
		WANProto:       "dhcp",
		LANs:           []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd12:3456:789a::/60")},
		Firewall: FirewallFacts{
			Present: true, WANZone: "wan", LANZone: "lan", Zone: "lan", LANForward: "ACCEPT",
			ForwardsToLAN: true, WANRule: "Allow-WireGuard", DNSAccepted: true,
		},
		DNS: DNSFacts{RouterAddrs: []netip.Addr{
			netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fd12:3456:789a::1"),
			netip.MustParseAddr("10.66.66.1"), netip.MustParseAddr("fd66:66:66::1"),
		}},
	}
	if !reflect.DeepEqual(fa, want) {
		t.Errorf("got\n%+v\nwant\n%+v", fa, want)
	}
}

func TestFactsStaticWAN(t *testing.T) {
	network := withWAN(t, "config interface 'wan'\n\toption device 'wan'\n\toption proto 'static'\n\toption ipaddr '192.168.2.253'\n"+
		"\toption netmask '255.255.255.0'\n\toption gateway '192.168.2.254'\n\toption mtu '1480'\n")
	fa := mustFacts(t, map[string][]byte{"network": network})
	if fa.WANProto != "static" || fa.WANAddr != netip.MustParsePrefix("192.168.2.253/24") ||
		fa.WANGateway != netip.MustParseAddr("192.168.2.254") || fa.WANMTU != 1480 {
		t.Errorf("got WAN %s %v via %v MTU %d; want static 192.168.2.253/24 via 192.168.2.254 MTU 1480",
			fa.WANProto, fa.WANAddr, fa.WANGateway, fa.WANMTU)
	}
	if fa.InterfaceType != "" || fa.Firewall.Present || fa.DNS.Present {
		t.Errorf("got %+v; want no interface, no firewall and no dhcp", fa)
	}
	for _, p := range fa.LANs {
		if p.Contains(netip.MustParseAddr("192.168.2.253")) {
			t.Errorf("got the WAN subnet %v among the LANs", p)
		}
	}
}

func TestFactsFirewallPolicies(t *testing.T) {
	fw := "config defaults\n\toption input 'ACCEPT'\n\toption forward 'REJECT'\n\n" +
		"config zone\n\toption name 'lan'\n\toption network 'lan'\n\n" +
		"config zone\n\toption name 'wan'\n\toption network 'wan wan6'\n\toption input 'REJECT'\n\n" +
		"config zone\n\toption name 'vpn'\n\toption network 'wg0'\n\toption enabled '0'\n\n"
	fa := mustFacts(t, map[string][]byte{"network": fixture(t, "network.wireguard-example"), "firewall": []byte(fw)})
	want := FirewallFacts{Present: true, WANZone: "wan", LANZone: "lan", LANForward: "REJECT"}
	if fa.Firewall != want {
		t.Errorf("got %+v; want %+v (the disabled zone ignored, defaults applied)", fa.Firewall, want)
	}
}

func TestFactsDNS(t *testing.T) {
	network := fixture(t, "network.wireguard-example")
	tests := []struct {
		name, dnsmasq string
		answers       []string
		restriction   string
	}{
		{"everywhere", "", []string{"192.168.1.1", "fd12:3456:789a::1", "10.66.66.1", "fd66:66:66::1"}, ""},
		{"only lan", "\tlist interface 'lan'\n", []string{"192.168.1.1", "fd12:3456:789a::1"}, "interface lan"},
		{"not wg0", "\tlist notinterface 'wg0'\n", []string{"192.168.1.1", "fd12:3456:789a::1"}, "notinterface wg0"},
		{"listen address", "\tlist listen_address '10.66.66.1'\n", []string{"10.66.66.1"}, "listen_address 10.66.66.1"},
		{"off", "\toption port '0'\n", nil, "port 0 (DNS off)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dhcp := "config dnsmasq\n\toption domain 'lan'\n" + tt.dnsmasq + "\nconfig dhcp 'lan'\n\toption interface 'lan'\n"
			fa := mustFacts(t, map[string][]byte{"network": network, "dhcp": []byte(dhcp)})
			var got []string
			for _, a := range fa.DNS.Answers {
				got = append(got, a.String())
			}
			if !fa.DNS.Present || !reflect.DeepEqual(got, tt.answers) || fa.DNS.Restriction != tt.restriction {
				t.Errorf("got present %v answers %v restriction %q; want %v %q", fa.DNS.Present, got, fa.DNS.Restriction, tt.answers, tt.restriction)
			}
		})
	}
}

func TestFactsErrors(t *testing.T) {
	_, err := NewStore(newDir(t, nil), nil).Facts(context.Background())
	configError(t, err, "does not exist")
	_, err = NewStore(newDir(t, map[string][]byte{
		"network": fixture(t, "network.default"), "firewall": []byte("config zone\n\toption name 'x\n"),
	}), nil).Facts(context.Background())
	configError(t, err, "firewall line 2")
}

func TestEnsureErrors(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default"), "firewall": fixture(t, "firewall.default")})
	if _, _, err := NewStore(dir, nil).EnsureWANRule(ctx); vpn.ErrorCode(err) != vpn.ECONFIG || !strings.Contains(err.Error(), "wgpanel setup") {
		t.Errorf("EnsureWANRule without an interface: got %v; want a config error pointing at setup", err)
	}
	network := strings.Replace(string(fixture(t, "network.wireguard-example")), "\toption listen_port '51820'\n", "", 1)
	dir = newDir(t, map[string][]byte{"network": []byte(network), "firewall": fixture(t, "firewall.default")})
	if _, _, err := NewStore(dir, nil).EnsureWANRule(ctx); vpn.ErrorCode(err) != vpn.ECONFIG || !strings.Contains(err.Error(), "listen_port") {
		t.Errorf("EnsureWANRule without a port: got %v; want a config error about listen_port", err)
	}
	if _, _, err := NewStore(newDir(t, map[string][]byte{"network": fixture(t, "network.default"), "firewall": fixture(t, "firewall.default")}), nil).EnsureZone(ctx); vpn.ErrorCode(err) != vpn.ECONFIG {
		t.Errorf("EnsureZone without an interface: got %v; want a config error", err)
	}
	// No firewall file: nothing is created, a note says why.
	dir = newDir(t, map[string][]byte{"network": fixture(t, "network.wireguard-example")})
	changes, notes, err := NewStore(dir, nil).EnsureZone(ctx)
	if err != nil || len(changes) != 0 || len(notes) != 1 {
		t.Errorf("EnsureZone without a firewall: got %q %q %v; want one note", changes, notes, err)
	}
}
