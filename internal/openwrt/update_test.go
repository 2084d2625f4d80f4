package openwrt

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// carol is the peer the add tests append.
func carol() vpn.Peer {
	priv := testKey(7)
	psk := testKey(8)
	return vpn.Peer{
		Name:         "carol-phone",
		PublicKey:    priv.PublicKey(),
		PrivateKey:   &priv,
		PresharedKey: &psk,
		AllowedIPs:   []netip.Prefix{netip.MustParsePrefix("10.66.66.4/32"), netip.MustParsePrefix("fd66:66:66::4/128")},
		Tunnel:       vpn.TunnelFull,
		Enabled:      true,
		Keepalive:    25,
		RouteAllowed: true,
	}
}

func TestUpdateServerNoChange(t *testing.T) {
	tests := []struct {
		name string
		fn   func(cfg *vpn.Config) error
	}{
		{"nothing", func(*vpn.Config) error { return nil }},
		{"same values again", func(cfg *vpn.Config) error {
			s := cfg.Server
			s.Addresses = append([]netip.Prefix(nil), s.Addresses...)
			for i := range s.Peers {
				p := &s.Peers[i]
				p.Tunnel = "" // the default, as absent in the file
				p.AllowedIPs = append([]netip.Prefix(nil), p.AllowedIPs...)
			}
			// Reordering peers must not move sections.
			s.Peers[0], s.Peers[1] = s.Peers[1], s.Peers[0]
			return nil
		}},
		{"settings and network changes are ignored", func(cfg *vpn.Config) error {
			cfg.Settings.Interface = "wg9"
			cfg.Network.LANs = nil
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, want := exampleDir(t)
			info, err := os.Stat(dir.Path("network"))
			if err != nil {
				t.Fatal(err)
			}
			mustUpdate(t, dir, tt.fn)
			if got := readFile(t, dir, "network"); string(got) != string(want) {
				t.Errorf("got file\n%s\nwant it unchanged:\n%s", got, want)
			}
			after, err := os.Stat(dir.Path("network"))
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(info, after) {
				t.Errorf("network file was replaced although nothing changed")
			}
		})
	}
}

// TestUpdateServerNoChangeKeepsComments checks that a hand-written file is
// not reformatted when nothing changes.
func TestUpdateServerNoChangeKeepsComments(t *testing.T) {
	text := "# my router\nconfig interface \"wg0\"\n  option proto wireguard\n  option private_key " +
		exampleServerPriv + "\n"
	dir := newDir(t, map[string][]byte{"network": []byte(text)})
	mustUpdate(t, dir, func(*vpn.Config) error { return nil })
	if got := readFile(t, dir, "network"); string(got) != text {
		t.Errorf("got\n%s\nwant unchanged\n%s", got, text)
	}
}

func TestUpdateServerAddPeer(t *testing.T) {
	dir, orig := exampleDir(t)
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		cfg.Server.Peers = append(cfg.Server.Peers, carol())
		return nil
	})
	got := readFile(t, dir, "network")
	// Everything before the new section is byte for byte the original.
	if prefix := strings.TrimSuffix(string(orig), "\n"); !strings.HasPrefix(string(got), prefix) {
		t.Errorf("got file that does not start with the original:\n%s", got)
	}
	testutil.Golden(t, "add-peer.network", got)

	cfg := mustLoad(t, dir)
	want := carol()
	p := findPeer(t, cfg.Server, want.PublicKey)
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("got %+v; want %+v", *p, want)
	}
}

func TestUpdateServerAddMinimalPeer(t *testing.T) {
	dir, _ := exampleDir(t)
	k := testKey(9).PublicKey()
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		cfg.Server.Peers = append(cfg.Server.Peers, vpn.Peer{
			PublicKey:  k,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.66.66.9/32")},
		})
		return nil
	})
	got := string(readFile(t, dir, "network"))
	want := "\nconfig wireguard_wg0\n\toption public_key '" + k.String() + "'\n\tlist allowed_ips '10.66.66.9/32'\n" +
		"\toption wgpanel_tunnel 'split'\n\toption disabled '1'\n\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("got file ending\n%s\nwant it to end with\n%s", got[len(got)-len(want)-20:], want)
	}
}

// removeBlock returns text without the block that starts with from and
// ends just before the next blank line (one section of the fixture).
func removeBlock(t *testing.T, text, from string) string {
	t.Helper()
	i := strings.Index(text, from)
	if i < 0 {
		t.Fatalf("no %q in text", from)
	}
	j := strings.Index(text[i:], "\n\n")
	return text[:i] + text[i+j+2:]
}

func TestUpdateServerRemovePeer(t *testing.T) {
	tests := []struct {
		name   string
		remove string
		block  string // the first line of the section that must go
	}{
		{"alice", aliceKey, "config wireguard_wg0\n\toption description 'alice-phone'"},
		{"bob", bobKey, "config wireguard_wg0\n\toption disabled '1'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, orig := exampleDir(t)
			k := mustKey(t, tt.remove)
			mustUpdate(t, dir, func(cfg *vpn.Config) error {
				var keep []vpn.Peer
				for _, p := range cfg.Server.Peers {
					if p.PublicKey != k {
						keep = append(keep, p)
					}
				}
				cfg.Server.Peers = keep
				return nil
			})
			got := string(readFile(t, dir, "network"))
			if want := removeBlock(t, string(orig), tt.block); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if cfg := mustLoad(t, dir); len(cfg.Server.Peers) != 1 || cfg.Server.Peers[0].PublicKey == k {
				t.Errorf("got peers %+v; want only the other one", cfg.Server.Peers)
			}
		})
	}
}

func TestUpdateServerRemoveNamedPeer(t *testing.T) {
	k := testKey(3).PublicKey()
	base := string(fixture(t, "network.wireguard-example"))
	named := "\nconfig wireguard_wg0 'carol'\n\toption public_key '" + k.String() + "'\n\tlist allowed_ips '10.66.66.5/32'\n\n"
	dir := newDir(t, map[string][]byte{"network": []byte(strings.TrimSuffix(base, "\n") + named)})
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		cfg.Server.Peers = cfg.Server.Peers[:2]
		return nil
	})
	if got := string(readFile(t, dir, "network")); got != base {
		t.Errorf("got\n%s\nwant\n%s", got, base)
	}
}

func TestUpdateServerChangePeer(t *testing.T) {
	alice, bob := "\toption persistent_keepalive '25'\n", "\toption route_allowed_ips '1'\n\n"
	tests := []struct {
		name   string
		key    string
		change func(p *vpn.Peer)
		old    string // text of the fixture that changes
		new    string
	}{
		{
			name:   "disable",
			key:    aliceKey,
			change: func(p *vpn.Peer) { p.Enabled = false },
			old:    alice,
			new:    alice + "\toption disabled '1'\n",
		},
		{
			name:   "enable",
			key:    bobKey,
			change: func(p *vpn.Peer) { p.Enabled = true },
			old:    "\toption disabled '1'\n",
			new:    "",
		},
		{
			name:   "rename",
			key:    aliceKey,
			change: func(p *vpn.Peer) { p.Name = "alice-tablet" },
			old:    "option description 'alice-phone'",
			new:    "option description 'alice-tablet'",
		},
		{
			name:   "full tunnel",
			key:    bobKey,
			change: func(p *vpn.Peer) { p.Tunnel = vpn.TunnelFull },
			old:    bob,
			new:    "\toption route_allowed_ips '1'\n\toption wgpanel_tunnel 'full'\n\n",
		},
		{
			name:   "drop preshared key and keepalive",
			key:    aliceKey,
			change: func(p *vpn.Peer) { p.PresharedKey = nil; p.Keepalive = 0 },
			old:    "\toption preshared_key '" + alicePSK + "'\n",
			new:    "",
		},
		{
			name:   "allowed ips replaced in place",
			key:    aliceKey,
			change: func(p *vpn.Peer) { p.AllowedIPs = p.AllowedIPs[:1] },
			old:    "\tlist allowed_ips 'fd66:66:66::2/128'\n",
			new:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, orig := exampleDir(t)
			k := mustKey(t, tt.key)
			mustUpdate(t, dir, func(cfg *vpn.Config) error {
				tt.change(findPeer(t, cfg.Server, k))
				return nil
			})
			want := strings.Replace(string(orig), tt.old, tt.new, 1)
			if tt.name == "drop preshared key and keepalive" {
				want = strings.Replace(want, alice, "", 1)
			}
			if got := string(readFile(t, dir, "network")); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestUpdateServerKeepsUnknownOptions checks that options wgpanel does not
// own stay in place when a peer changes.
func TestUpdateServerKeepsUnknownOptions(t *testing.T) {
	text := "\nconfig interface 'wg0'\n\toption proto 'wireguard'\n\toption private_key '" + exampleServerPriv + "'\n" +
		"\toption fwmark '0x42'\n\n" +
		"config wireguard_wg0\n\toption endpoint_host 'peer.example'\n\toption description 'x'\n\toption public_key '" +
		testKey(4).PublicKey().String() + "'\n\toption endpoint_port '4500'\n\n"
	dir := newDir(t, map[string][]byte{"network": []byte(text)})
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		cfg.Server.Peers[0].Name = "y"
		cfg.Server.ListenPort = 51000
		return nil
	})
	want := strings.Replace(text, "option description 'x'", "option description 'y'", 1)
	want = strings.Replace(want, "\toption fwmark '0x42'\n", "\toption fwmark '0x42'\n\toption listen_port '51000'\n", 1)
	if got := string(readFile(t, dir, "network")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestUpdateServerInterfaceOptions(t *testing.T) {
	dir, orig := exampleDir(t)
	newKey := testKey(5)
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		cfg.Server.PrivateKey = newKey
		cfg.Server.ListenPort = 0
		cfg.Server.MTU = 1420
		cfg.Server.Addresses = cfg.Server.Addresses[:1]
		return nil
	})
	want := strings.Replace(string(orig), "option private_key '"+exampleServerPriv+"'", "option private_key '"+newKey.String()+"'", 1)
	want = strings.Replace(want, "\toption listen_port '51820'\n", "", 1)
	want = strings.Replace(want, "\tlist addresses 'fd66:66:66::1/64'\n", "\toption mtu '1420'\n", 1)
	if got := string(readFile(t, dir, "network")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestUpdateServerFnError(t *testing.T) {
	dir, orig := exampleDir(t)
	boom := errors.New("boom")
	err := NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
		cfg.Server.Peers = nil
		return boom
	})
	if err != boom {
		t.Errorf("got error %v; want fn's error as is", err)
	}
	if got := readFile(t, dir, "network"); string(got) != string(orig) {
		t.Errorf("network changed although fn failed")
	}
}

func TestUpdateServerRejectsBadServer(t *testing.T) {
	tests := []struct {
		name string
		fn   func(s *vpn.Server)
	}{
		{"duplicate key", func(s *vpn.Server) { s.Peers = append(s.Peers, s.Peers[0]) }},
		{"zero public key", func(s *vpn.Server) { s.Peers[0].PublicKey = zeroKey }},
		{"bad tunnel", func(s *vpn.Server) { s.Peers[0].Tunnel = "half" }},
		{"renamed interface", func(s *vpn.Server) { s.Interface = "wg1" }},
		{"port out of range", func(s *vpn.Server) { s.ListenPort = 70000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, orig := exampleDir(t)
			err := NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
				tt.fn(cfg.Server)
				return nil
			})
			if err == nil {
				t.Fatal("got no error; want one")
			}
			if got := readFile(t, dir, "network"); string(got) != string(orig) {
				t.Errorf("network changed although the update was refused")
			}
		})
	}
	t.Run("removing the server", func(t *testing.T) {
		dir, _ := exampleDir(t)
		err := NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
			cfg.Server = nil
			return nil
		})
		if err == nil {
			t.Error("got no error; want one")
		}
	})
}

func TestUpdateServerCreatesInterface(t *testing.T) {
	orig := fixture(t, "network.default")
	dir := newDir(t, map[string][]byte{"network": orig})
	priv := testKey(6)
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		if cfg.Server != nil {
			t.Errorf("got server %+v; want nil", cfg.Server)
		}
		cfg.Server = &vpn.Server{
			PrivateKey: priv,
			ListenPort: 51820,
			Addresses:  []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24")},
			Peers:      []vpn.Peer{carol()},
		}
		return nil
	})
	got := readFile(t, dir, "network")
	if prefix := strings.TrimSuffix(string(orig), "\n"); !strings.HasPrefix(string(got), prefix) {
		t.Errorf("got file that does not start with the original:\n%s", got)
	}
	testutil.Golden(t, "create-interface.network", got)
	cfg := mustLoad(t, dir)
	if cfg.Server == nil || cfg.Server.PrivateKey != priv || cfg.Server.Interface != "wg0" || len(cfg.Server.Peers) != 1 {
		t.Errorf("got server %+v; want wg0 with one peer", cfg.Server)
	}
}

// TestUpdateServerConcurrent checks that concurrent updates from several
// stores on one directory lose no peer.
func TestUpdateServerConcurrent(t *testing.T) {
	dir, _ := exampleDir(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			k := testKey(byte(100 + i)).PublicKey()
			errs <- NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
				cfg.Server.Peers = append(cfg.Server.Peers, vpn.Peer{
					Name:       fmt.Sprintf("p%d", i),
					PublicKey:  k,
					AllowedIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 66, 66, byte(10 + i)}), 32)},
					Enabled:    true,
				})
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(mustLoad(t, dir).Server.Peers); got != 2+n {
		t.Errorf("got %d peers; want %d", got, 2+n)
	}
}

func TestUpdateServerCanceled(t *testing.T) {
	dir, _ := exampleDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := NewStore(dir, nil).UpdateServer(ctx, func(*vpn.Config) error {
		t.Error("fn called with a canceled context")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled", err)
	}
}
