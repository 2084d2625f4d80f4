package openwrt

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// cacheSettings is a wgpanel file that fills every setting Load clones.
const cacheSettings = "\nconfig wgpanel 'main'\n\toption endpoint 'vpn.example.org'\n\tlist dns '192.168.1.1'\n\tlist dns 'fd12:3456:789a::1'\n"

// cacheDir returns a config directory with the example network file plus
// a peer whose private key is kept and a settings file, every file's mtime
// an hour back so that Load caches what it reads (see racyWindow).
func cacheDir(t testing.TB) uci.Dir {
	t.Helper()
	network := string(fixture(t, "network.wireguard-example")) + fmt.Sprintf(
		"\nconfig wireguard_wg0\n\toption description 'carol-tablet'\n\toption public_key '%s'\n"+
			"\toption private_key '%s'\n\toption preshared_key '%s'\n\tlist allowed_ips '10.66.66.4/32'\n"+
			"\tlist allowed_ips 'fd66:66:66::4/128'\n\toption route_allowed_ips '1'\n\toption wgpanel_tunnel 'full'\n",
		testKey(3).PublicKey(), testKey(3), testKey(4))
	dir := newDir(t, map[string][]byte{"network": []byte(network), "wgpanel": []byte(cacheSettings)})
	settle(t, dir, "network", "wgpanel")
	return dir
}

// settle sets the mtime of the packages' files an hour back, keeping their
// content and inode.
func settle(t testing.TB, dir uci.Dir, pkgs ...string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for _, pkg := range pkgs {
		if err := os.Chtimes(dir.Path(pkg), old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// loadCached loads through s and fails unless the result is now cached.
func loadCached(t *testing.T, s *Store) *vpn.Config {
	t.Helper()
	cfg, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.cache.Load() == nil {
		t.Fatal("Load of files an hour old cached nothing; want them cached")
	}
	return cfg
}

// rewrite replaces the content of dir's pkg with what edit makes of it,
// either by renaming a new file over it (as every UCI commit does) or in
// place (as an editor may), and then sets the mtime back to the old one.
// With an edit that keeps the size only the inode or the ctime tell.
func rewrite(t *testing.T, dir uci.Dir, pkg string, inPlace bool, edit func(string) string) {
	t.Helper()
	path := dir.Path(pkg)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data := edit(readFileString(t, path))
	if inPlace {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		tmp := filepath.Join(string(dir), "."+pkg+".new")
		if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func readFileString(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameSize replaces old by new in s, which must have the same length.
func sameSize(t *testing.T, old, new string) func(string) string {
	return func(s string) string {
		if len(old) != len(new) || !strings.Contains(s, old) {
			t.Fatalf("bad edit %q -> %q", old, new)
		}
		return strings.Replace(s, old, new, 1)
	}
}

// TestLoadCacheSeesChanges checks that a Load after a change made by
// another store, another process or the store's own fields sees it, even
// when the cache held the old state.
func TestLoadCacheSeesChanges(t *testing.T) {
	alice := mustKey(t, aliceKey)
	peerName := func(cfg *vpn.Config) string { return findPeer(t, cfg.Server, alice).Name }
	tests := []struct {
		name   string
		change func(t *testing.T, dir uci.Dir, s *Store)
		got    func(cfg *vpn.Config) string
		want   string
	}{
		{
			name: "another store commits a peer's new name",
			change: func(t *testing.T, dir uci.Dir, _ *Store) {
				mustUpdate(t, dir, func(cfg *vpn.Config) error {
					findPeer(t, cfg.Server, alice).Name = "alice-tablet"
					return nil
				})
			},
			got: peerName, want: "alice-tablet",
		},
		{
			name: "another process renames a file of the same size and mtime over it",
			change: func(t *testing.T, dir uci.Dir, _ *Store) {
				rewrite(t, dir, "network", false, sameSize(t, "'alice-phone'", "'alice-phono'"))
			},
			got: peerName, want: "alice-phono",
		},
		{
			name: "an editor rewrites it in place with the same size and mtime",
			change: func(t *testing.T, dir uci.Dir, _ *Store) {
				rewrite(t, dir, "network", true, sameSize(t, "'alice-phone'", "'alice-phono'"))
			},
			got: peerName, want: "alice-phono",
		},
		{
			name: "another store sets an option in wgpanel's file",
			change: func(t *testing.T, dir uci.Dir, _ *Store) {
				if err := NewStore(dir, nil).SetSetting(context.Background(), "endpoint", "203.0.113.7"); err != nil {
					t.Fatal(err)
				}
			},
			got: func(cfg *vpn.Config) string { return cfg.Settings.Endpoint }, want: "203.0.113.7",
		},
		{
			name: "wgpanel's file is removed",
			change: func(t *testing.T, dir uci.Dir, _ *Store) {
				if err := os.Remove(dir.Path("wgpanel")); err != nil {
					t.Fatal(err)
				}
			},
			got: func(cfg *vpn.Config) string { return cfg.Settings.Endpoint }, want: "",
		},
		{
			name: "the store's DefaultAuth is set",
			change: func(_ *testing.T, _ uci.Dir, s *Store) {
				s.DefaultAuth = "password"
			},
			got: func(cfg *vpn.Config) string { return cfg.Settings.Auth }, want: "password",
		},
		{
			name: "the store's Interface names one that does not exist",
			change: func(_ *testing.T, _ uci.Dir, s *Store) {
				s.Interface = "wg9"
			},
			got: func(cfg *vpn.Config) string { return fmt.Sprint(cfg.Server != nil) }, want: "false",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := cacheDir(t)
			s := NewStore(dir, nil)
			before := tt.got(loadCached(t, s))
			if before == tt.want {
				t.Fatalf("before the change got %q already", before)
			}
			tt.change(t, dir, s)
			cfg, err := s.Load(context.Background())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tt.got(cfg); got != tt.want {
				t.Errorf("after the change got %q; want %q", got, tt.want)
			}
			if want := mustLoad(t, dir); s.Interface == "" && s.DefaultAuth == "" && !reflect.DeepEqual(cfg, want) {
				t.Errorf("after the change got %+v; want what a fresh store loads, %+v", cfg, want)
			}
		})
	}
}

// TestLoadCacheHit checks that a second Load of unchanged files is served
// from the cache and equals what a fresh store reads.
func TestLoadCacheHit(t *testing.T) {
	dir := cacheDir(t)
	s := NewStore(dir, nil)
	first := loadCached(t, s)
	entry := s.cache.Load()
	second := loadCached(t, s)
	if s.cache.Load() != entry {
		t.Errorf("the second Load of unchanged files replaced the cache entry; want it served from the cache")
	}
	if want := mustLoad(t, dir); !reflect.DeepEqual(first, want) || !reflect.DeepEqual(second, want) {
		t.Errorf("got %+v and %+v; want what a fresh store loads, %+v", first, second, want)
	}
}

// TestLoadCacheWaitsForSettledFiles checks that files changed within
// racyWindow are not cached, and that a broken file is not either.
func TestLoadCacheWaitsForSettledFiles(t *testing.T) {
	dir := cacheDir(t)
	s := NewStore(dir, nil)
	if err := os.WriteFile(dir.Path("wgpanel"), []byte(cacheSettings), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.cache.Load() != nil {
		t.Errorf("Load cached a file written just now; want it read again until it is %v old", racyWindow)
	}
	settle(t, dir, "wgpanel")
	loadCached(t, s)

	rewrite(t, dir, "network", false, func(s string) string { return s + "\nconfig broken\n\toption 'x\n" })
	if _, err := s.Load(context.Background()); err == nil {
		t.Fatal("Load of a malformed network file: got no error")
	}
	if _, err := s.Load(context.Background()); err == nil {
		t.Error("second Load of a malformed network file: got no error; want it read again, not the cached state")
	}
}

// TestLoadResultIsOwnedByCaller changes everything a caller can reach in a
// Load result and checks that the next Load does not see any of it.
func TestLoadResultIsOwnedByCaller(t *testing.T) {
	dir := cacheDir(t)
	want := mustLoad(t, dir)
	s := NewStore(dir, nil)
	for round := range 3 { // the miss that fills the cache, then hits
		cfg := loadCached(t, s)
		if !reflect.DeepEqual(cfg, want) {
			t.Fatalf("round %d: got %+v; want %+v", round, cfg, want)
		}
		carol := findPeer(t, cfg.Server, testKey(3).PublicKey())
		if carol.PrivateKey == nil || carol.PresharedKey == nil || len(cfg.Settings.DNS) == 0 {
			t.Fatal("the test config lacks a kept private key, a preshared key or DNS")
		}
		cfg.Settings.DNS[0] = netip.MustParseAddr("192.0.2.53")
		cfg.Settings.DNS = append(cfg.Settings.DNS, netip.MustParseAddr("192.0.2.54"))
		cfg.Settings.Endpoint = "changed.example"
		cfg.Network.LANs[0] = netip.MustParsePrefix("192.0.2.0/24")
		cfg.Network.LANAddr = netip.MustParseAddr("192.0.2.1")
		cfg.Server.Addresses[0] = netip.MustParsePrefix("192.0.2.1/24")
		cfg.Server.ListenPort = 1
		for i := range cfg.Server.Peers {
			p := &cfg.Server.Peers[i]
			p.Name += "-changed"
			p.AllowedIPs[0] = netip.MustParsePrefix("192.0.2.99/32")
			if p.PresharedKey != nil {
				*p.PresharedKey = testKey(9)
			}
		}
		*carol.PrivateKey = testKey(8)
		// Appending to one peer's addresses must not overwrite the next
		// peer's, even within one result.
		first := &cfg.Server.Peers[0]
		next := slices.Clone(cfg.Server.Peers[1].AllowedIPs)
		first.AllowedIPs = append(first.AllowedIPs, netip.MustParsePrefix("192.0.2.100/32"))
		if got := cfg.Server.Peers[1].AllowedIPs; !slices.Equal(got, next) {
			t.Errorf("round %d: appending to peer 0's addresses changed peer 1's to %v; want %v", round, got, next)
		}
		cfg.Server.Peers = append(cfg.Server.Peers[:1], cfg.Server.Peers[2:]...)
		cfg.Server = nil
	}
}

// TestCloneConfigShares checks cloneConfig on a Config with every field
// set: the clone is equal and shares no slice or pointer with the original.
// It also fails when vpn.Config gains a slice, pointer or map that this
// test (and so, likely, cloneConfig) does not know of.
func TestCloneConfigShares(t *testing.T) {
	known := []string{
		"Settings.DNS", "Server", "Server.Addresses", "Server.Peers",
		"Server.Peers[].PresharedKey", "Server.Peers[].PrivateKey", "Server.Peers[].AllowedIPs",
		"Server.Odd", "Server.Odd[].AllowedIPs", "Network.LANs",
	}
	if got := referencePaths(reflect.TypeFor[vpn.Config](), ""); !slices.Equal(got, known) {
		t.Errorf("vpn.Config's slices and pointers are %q; want %q (teach cloneConfig about the new ones)", got, known)
	}

	k1, k2, k3 := testKey(1), testKey(2), testKey(3)
	orig := &vpn.Config{
		Settings: vpn.Settings{Interface: "wg0", Endpoint: "vpn.example.org", DNS: []netip.Addr{netip.MustParseAddr("192.168.1.1")},
			MTU: 1400, KeepPrivateKeys: true, Listen: ":8080", Auth: "password", PasswordHash: "$1$x$y"},
		Server: &vpn.Server{Interface: "wg0", PrivateKey: testKey(7), ListenPort: 51820, MTU: 1420,
			Addresses: []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24")},
			Peers: []vpn.Peer{
				{Name: "a", PublicKey: k1.PublicKey(), PresharedKey: &k1, PrivateKey: &k2,
					AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.66.66.2/32"), netip.MustParsePrefix("fd66::2/128")},
					Tunnel:     vpn.TunnelFull, Enabled: true, Keepalive: 25, RouteAllowed: true},
				{Name: "b", PublicKey: k3.PublicKey(), AllowedIPs: []netip.Prefix{}},
				{Name: "c", PublicKey: k2.PublicKey(), PresharedKey: &k3},
			},
			Odd: []vpn.OddPeer{{Name: "d", Section: "@wireguard_wg0[3]", Problem: "option public_key: missing",
				AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.66.66.9/32")}}},
		},
		Network: vpn.Network{LANAddr: netip.MustParseAddr("192.168.1.1"),
			LANs: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}, WANAddr: netip.MustParseAddr("203.0.113.1")},
	}
	clone := cloneConfig(orig)
	if !reflect.DeepEqual(clone, orig) {
		t.Fatalf("got %+v; want %+v", clone, orig)
	}
	if shared := sharedPaths(reflect.ValueOf(clone).Elem(), reflect.ValueOf(orig).Elem(), ""); len(shared) > 0 {
		t.Errorf("the clone shares %q with the original; want nothing shared", shared)
	}
	for _, c := range []*vpn.Config{{}, {Server: &vpn.Server{}}} {
		if got := cloneConfig(c); !reflect.DeepEqual(got, c) {
			t.Errorf("clone of %+v: got %+v", c, got)
		}
	}
}

// referencePaths lists the fields of t (recursing into structs of package
// vpn, slice elements and pointer targets) that are slices, pointers or
// maps.
func referencePaths(t reflect.Type, path string) []string {
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		if t.PkgPath() != reflect.TypeFor[vpn.Config]().PkgPath() {
			return nil // netip and wgtypes values are immutable
		}
		for i := range t.NumField() {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			out = append(out, referencePaths(f.Type, p)...)
		}
	case reflect.Pointer:
		out = append(out, path)
		out = append(out, referencePaths(t.Elem(), path)...)
	case reflect.Slice:
		out = append(out, path)
		out = append(out, referencePaths(t.Elem(), path+"[]")...)
	case reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		out = append(out, path)
	}
	return out
}

// sharedPaths lists where a and b (of the same type) hold the same
// non-empty slice backing array or the same pointer.
func sharedPaths(a, b reflect.Value, path string) []string {
	var out []string
	switch a.Kind() {
	case reflect.Struct:
		if a.Type().PkgPath() != reflect.TypeFor[vpn.Config]().PkgPath() {
			return nil
		}
		for i := range a.NumField() {
			out = append(out, sharedPaths(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
		}
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return nil
		}
		if a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		out = append(out, sharedPaths(a.Elem(), b.Elem(), path)...)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			out = append(out, path)
		}
		for i := range min(a.Len(), b.Len()) {
			out = append(out, sharedPaths(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// TestLoadConcurrentWithCommits runs Loads while another store commits, for
// the race detector, and checks that each Load sees a complete state.
func TestLoadConcurrentWithCommits(t *testing.T) {
	dir := cacheDir(t)
	s := NewStore(dir, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cfg, err := s.Load(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if n := len(cfg.Server.Peers); n != 3 && n != 4 {
					errs <- fmt.Errorf("Load got %d peers; want 3 or 4", n)
					return
				}
				cfg.Server.Peers[0].Name = "scribble"
			}
		})
	}
	extra := testKey(5).PublicKey()
	for i := range 20 {
		mustUpdate(t, dir, func(cfg *vpn.Config) error {
			if i%2 == 0 {
				cfg.Server.Peers = append(cfg.Server.Peers, vpn.Peer{Name: "extra", PublicKey: extra, Enabled: true,
					AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.66.66.5/32")}})
			} else {
				cfg.Server.Peers = slices.DeleteFunc(cfg.Server.Peers, func(p vpn.Peer) bool { return p.PublicKey == extra })
			}
			return nil
		})
		settle(t, dir, "network")
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := mustLoad(t, dir), loadCached(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after the commits: the store's Load got %+v; want what a fresh store loads, %+v", want, got)
	}
}

// BenchmarkLoad250Cached is BenchmarkLoad250 with files that have not
// changed for a while, as on a router between two changes: Load stats both
// files and clones the cached configuration.
func BenchmarkLoad250Cached(b *testing.B) {
	dir := newDir(b, map[string][]byte{"network": network250(b)})
	settle(b, dir, "network")
	s := NewStore(dir, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := s.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Server.Peers) != 252 {
			b.Fatalf("got %d peers; want 252", len(cfg.Server.Peers))
		}
	}
	if s.cache.Load() == nil {
		b.Fatal("nothing cached")
	}
}
