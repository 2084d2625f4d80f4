package openwrt

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

func TestLoadWireguardExample(t *testing.T) {
	dir, _ := exampleDir(t)
	cfg := mustLoad(t, dir)

	if got, want := cfg.Settings, DefaultSettings(); !reflect.DeepEqual(got, want) {
		t.Errorf("got settings %+v; want defaults %+v", got, want)
	}
	srv := cfg.Server
	if srv == nil {
		t.Fatal("got no server; want wg0")
	}
	if srv.Interface != "wg0" {
		t.Errorf("got interface %q; want wg0", srv.Interface)
	}
	if got, want := srv.PrivateKey, mustKey(t, exampleServerPriv); got != want {
		t.Errorf("got private key %s; want the fixture's", got.PublicKey())
	}
	if srv.ListenPort != 51820 {
		t.Errorf("got listen port %d; want 51820", srv.ListenPort)
	}
	if srv.MTU != 0 {
		t.Errorf("got MTU %d; want 0", srv.MTU)
	}
	wantAddrs := []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24"), netip.MustParsePrefix("fd66:66:66::1/64")}
	if !reflect.DeepEqual(srv.Addresses, wantAddrs) {
		t.Errorf("got addresses %v; want %v", srv.Addresses, wantAddrs)
	}
	if len(srv.Peers) != 2 {
		t.Fatalf("got %d peers; want 2", len(srv.Peers))
	}

	psk := mustKey(t, alicePSK)
	wantPeers := []vpn.Peer{
		{
			Name:         "alice-phone",
			PublicKey:    mustKey(t, aliceKey),
			PresharedKey: &psk,
			AllowedIPs:   []netip.Prefix{netip.MustParsePrefix("10.66.66.2/32"), netip.MustParsePrefix("fd66:66:66::2/128")},
			Tunnel:       vpn.TunnelSplit,
			Enabled:      true,
			Keepalive:    25,
			RouteAllowed: true,
		},
		{
			Name:         "bob-laptop",
			PublicKey:    mustKey(t, bobKey),
			AllowedIPs:   []netip.Prefix{netip.MustParsePrefix("10.66.66.3/32")},
			Tunnel:       vpn.TunnelSplit,
			Enabled:      false,
			RouteAllowed: true,
		},
	}
	for i, want := range wantPeers {
		if got := srv.Peers[i]; !reflect.DeepEqual(got, want) {
			t.Errorf("peer %d: got %+v; want %+v", i, got, want)
		}
	}

	wantNet := vpn.Network{
		LANAddr: netip.MustParseAddr("192.168.1.1"),
		LANs:    []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd12:3456:789a::/60")},
	}
	if !reflect.DeepEqual(cfg.Network, wantNet) {
		t.Errorf("got network %+v; want %+v", cfg.Network, wantNet)
	}
}

func TestLoadDefaultHasNoServer(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default")})
	cfg := mustLoad(t, dir)
	if cfg.Server != nil {
		t.Errorf("got server %+v; want nil", cfg.Server)
	}
	if got, want := cfg.Network.LANAddr, netip.MustParseAddr("192.168.1.1"); got != want {
		t.Errorf("got LAN address %v; want %v", got, want)
	}
	if cfg.Network.WANAddr.IsValid() {
		t.Errorf("got WAN address %v; want none (wan is DHCP)", cfg.Network.WANAddr)
	}
}

func TestLoadMissingNetwork(t *testing.T) {
	dir := newDir(t, nil)
	_, err := NewStore(dir, nil).Load(context.Background())
	configError(t, err, dir.Path("network"), "does not exist")

	err = NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
		t.Error("fn called for a missing network file")
		return nil
	})
	configError(t, err, "does not exist")
}

func TestLoadInterfaceNotWireguard(t *testing.T) {
	dir, _ := exampleDir(t)
	if err := NewStore(dir, nil).SetSetting(context.Background(), "interface", "lan"); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, dir)
	if cfg.Server != nil {
		t.Errorf("got server for interface lan; want nil")
	}
	before := readFile(t, dir, "network")
	err := NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
		cfg.Server = &vpn.Server{PrivateKey: testKey(1)}
		return nil
	})
	configError(t, err, "'lan' exists but is not a WireGuard interface")
	if got := readFile(t, dir, "network"); string(got) != string(before) {
		t.Errorf("network changed after a refused update")
	}
}

func TestLoadNamedPeerSections(t *testing.T) {
	net := string(fixture(t, "network.wireguard-example")) +
		"\nconfig wireguard_wg0 'carol'\n\toption public_key '" + testKey(3).PublicKey().String() + "'\n" +
		"\toption endpoint_host 'carol.example'\n\toption wgpanel_tunnel 'full'\n\toption persistent_keepalive '15'\n"
	dir := newDir(t, map[string][]byte{"network": []byte(net)})
	cfg := mustLoad(t, dir)
	if len(cfg.Server.Peers) != 3 {
		t.Fatalf("got %d peers; want 3", len(cfg.Server.Peers))
	}
	p := findPeer(t, cfg.Server, testKey(3).PublicKey())
	if p.Name != "" || p.Tunnel != vpn.TunnelFull || p.Keepalive != 15 || !p.Enabled || p.RouteAllowed {
		t.Errorf("got %+v; want unnamed enabled full-tunnel peer with keepalive 15", p)
	}
}

// TestLoadBadValues checks that each value of the interface or the LAN
// wgpanel cannot read is an ECONFIG error naming the file, the section and
// the option, and that secrets stay out of the message. (A peer section
// wgpanel cannot read is no error: see TestOddPeers.)
func TestLoadBadValues(t *testing.T) {
	example := string(fixture(t, "network.wireguard-example"))
	tests := []struct {
		name    string
		old     string // text in the fixture to replace
		new     string
		want    []string
		noMatch string // must not appear in the message
	}{
		{
			name:    "bad server key",
			old:     "option private_key '" + exampleServerPriv + "'",
			new:     "option private_key 'short'",
			want:    []string{"interface 'wg0', option private_key", "not a valid WireGuard key"},
			noMatch: "short",
		},
		{
			name: "no server key",
			old:  "\toption private_key '" + exampleServerPriv + "'\n",
			new:  "",
			want: []string{"interface 'wg0', option private_key: the interface has no private key"},
		},
		{
			name: "port out of range",
			old:  "option listen_port '51820'",
			new:  "option listen_port '70000'",
			want: []string{"interface 'wg0', option listen_port", `"70000" is not a number from 0 to 65535`},
		},
		{
			name: "bad interface address",
			old:  "list addresses '10.66.66.1/24'",
			new:  "list addresses '10.66.666.1/24'",
			want: []string{"interface 'wg0', option addresses", "10.66.666.1/24"},
		},
		{
			name: "bad lan address",
			old:  "option ipaddr '192.168.1.1'",
			new:  "option ipaddr '192.168.1'",
			want: []string{"interface 'lan', option ipaddr", `"192.168.1" is not an IPv4 address`},
		},
		{
			name: "bad lan netmask",
			old:  "option netmask '255.255.255.0'",
			new:  "option netmask '255.0.255.0'",
			want: []string{"interface 'lan', option netmask", `"255.0.255.0" is not a netmask`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(example, tt.old) {
				t.Fatalf("fixture lacks %q", tt.old)
			}
			data := []byte(strings.Replace(example, tt.old, tt.new, 1))
			dir := newDir(t, map[string][]byte{"network": data})
			_, err := NewStore(dir, nil).Load(context.Background())
			configError(t, err, append([]string{dir.Path("network")}, tt.want...)...)
			if tt.noMatch != "" && err != nil && strings.Contains(err.Error(), tt.noMatch) {
				t.Errorf("got message %q; want it without the secret %q", err, tt.noMatch)
			}

			// UpdateServer refuses the same file and leaves it alone.
			err = NewStore(dir, nil).UpdateServer(context.Background(), func(*vpn.Config) error {
				t.Error("fn called although the file has a bad value")
				return nil
			})
			configError(t, err, tt.want...)
			if got := readFile(t, dir, "network"); string(got) != string(data) {
				t.Errorf("network changed after a refused update")
			}
		})
	}
}

func TestMalformedNetwork(t *testing.T) {
	data := []byte(strings.Replace(string(fixture(t, "network.wireguard-example")),
		"option listen_port '51820'", "option listen_port '51820", 1))
	dir := newDir(t, map[string][]byte{"network": data})

	_, err := NewStore(dir, nil).Load(context.Background())
	configError(t, err, dir.Path("network")+" line ", "fix or restore the file (wgpanel did not change it)")

	err = NewStore(dir, nil).UpdateServer(context.Background(), func(*vpn.Config) error {
		t.Error("fn called for a malformed file")
		return nil
	})
	configError(t, err, dir.Path("network")+" line ", "wgpanel did not change it")
	if got := readFile(t, dir, "network"); string(got) != string(data) {
		t.Errorf("malformed network file changed; want it untouched")
	}
}

func TestNetworkFacts(t *testing.T) {
	tests := []struct {
		name string
		text string
		want vpn.Network
	}{
		{
			name: "cidr ipaddr",
			text: "config interface 'lan'\n\toption proto 'static'\n\toption ipaddr '10.0.5.1/16'\n",
			want: vpn.Network{LANAddr: netip.MustParseAddr("10.0.5.1"), LANs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}},
		},
		{
			name: "list ipaddr and ip6addr",
			text: "config interface 'lan'\n\toption proto 'static'\n\tlist ipaddr '192.168.7.1/24'\n\tlist ipaddr '172.16.0.1/12'\n\tlist ip6addr 'fd00:1::1/64'\n",
			want: vpn.Network{LANAddr: netip.MustParseAddr("192.168.7.1"), LANs: []netip.Prefix{
				netip.MustParsePrefix("192.168.7.0/24"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("fd00:1::/64")}},
		},
		{
			name: "netmask as length and dotted mask in ipaddr",
			text: "config interface 'lan'\n\toption proto 'static'\n\toption ipaddr '192.168.8.1 10.1.1.1/255.255.0.0'\n\toption netmask '23'\n",
			want: vpn.Network{LANAddr: netip.MustParseAddr("192.168.8.1"), LANs: []netip.Prefix{
				netip.MustParsePrefix("192.168.8.0/23"), netip.MustParsePrefix("10.1.0.0/16")}},
		},
		{
			name: "ula with hint",
			text: "config globals 'globals'\n\toption ula_prefix 'fd12:3456:789a::/48'\n\n" +
				"config interface 'lan'\n\toption proto 'static'\n\toption ipaddr '192.168.1.1'\n\toption netmask '255.255.255.0'\n\toption ip6assign '60'\n\toption ip6hint '1234'\n",
			want: vpn.Network{LANAddr: netip.MustParseAddr("192.168.1.1"), LANs: []netip.Prefix{
				netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd12:3456:789a:1230::/60")}},
		},
		{
			name: "dhcp lan and static wan",
			text: "config interface 'lan'\n\toption proto 'dhcp'\n\n" +
				"config interface 'wan'\n\toption proto 'static'\n\toption ipaddr '198.51.100.7'\n\toption netmask '255.255.255.0'\n",
			want: vpn.Network{WANAddr: netip.MustParseAddr("198.51.100.7")},
		},
		{
			name: "unreadable static wan is ignored",
			text: "config interface 'wan'\n\toption proto 'static'\n\toption ipaddr 'bogus'\n",
			want: vpn.Network{},
		},
		{
			name: "no lan",
			text: "config interface 'loopback'\n\toption proto 'static'\n\toption ipaddr '127.0.0.1'\n",
			want: vpn.Network{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t, map[string][]byte{"network": []byte(tt.text)})
			got := mustLoad(t, dir).Network
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}
