package openwrt

import (
	"bytes"
	"context"
	"encoding/base64"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// oddFixture is a network file with every kind of peer section netifd
// accepts or skips that wgpanel must cope with (see the comments in it).
func oddFixture(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/network.odd-peers")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestOddPeers reads the fixture: sections netifd reads are peers, read
// as netifd reads them; sections wgpanel cannot understand are listed as
// odd with the reason, and nothing fails.
func TestOddPeers(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": oddFixture(t)})
	cfg, err := NewStore(dir, nil).Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v; want the odd sections listed, not an error", err)
	}
	type peer struct {
		enabled, route bool
		keepalive      int
	}
	wantPeers := map[string]peer{
		"disabled-two":         {enabled: true},
		"keepalive-off":        {enabled: true},
		"unknown-options":      {enabled: true},
		"disabled-capital-yes": {enabled: true},
		"disabled-yes":         {enabled: false, route: true},
	}
	got := map[string]peer{}
	for _, p := range cfg.Server.Peers {
		got[p.Name] = peer{p.Enabled, p.RouteAllowed, p.Keepalive}
	}
	for name, w := range wantPeers {
		g, ok := got[name]
		if !ok {
			t.Errorf("peer %s: not among the peers %v", name, got)
			continue
		}
		if g != w {
			t.Errorf("peer %s: got %+v; want %+v", name, g, w)
		}
	}
	if len(got) != len(wantPeers) {
		t.Errorf("peers %v; want exactly %v", got, wantPeers)
	}

	wantOdd := map[string][]string{
		"no-key":          {"@wireguard_wg0[2]", "option public_key", "no public key", "netifd skips it"},
		"bad-key":         {"option public_key", `"not-a-key" is not a valid WireGuard key`},
		"bad-psk":         {"option preshared_key", "not a valid WireGuard key"},
		"bad-keepalive":   {"option persistent_keepalive", `"often"`, "'off'"},
		"bad-allowed-ips": {"option allowed_ips", "10.66.66.11/33"},
		"bad-tunnel":      {"option wgpanel_tunnel", `"half" is neither 'split' nor 'full'`},
		"duplicate-key":   {"option public_key", "is also the key of peer 'disabled-two'"},
	}
	for _, o := range cfg.Server.Odd {
		parts, ok := wantOdd[o.Name]
		if !ok {
			t.Errorf("odd peer %s (%s): %s; want it read as a peer", o.Name, o.Section, o.Problem)
			continue
		}
		delete(wantOdd, o.Name)
		for _, p := range parts {
			if !strings.Contains(o.Section+" "+o.Problem, p) {
				t.Errorf("odd peer %s: section %s, problem %q; want it to contain %q", o.Name, o.Section, o.Problem, p)
			}
		}
		if strings.Contains(o.Problem, "c2VjcmV0c2VjcmV0") {
			t.Errorf("odd peer %s: the problem shows the preshared key: %q", o.Name, o.Problem)
		}
		if o.Name != "bad-allowed-ips" && len(o.AllowedIPs) != 1 {
			t.Errorf("odd peer %s: allowed IPs %v; want its one address, so that no new peer gets it", o.Name, o.AllowedIPs)
		}
	}
	for name := range wantOdd {
		t.Errorf("section %s is not listed as odd", name)
	}
}

// TestOddPeersLeftAlone changes the readable peers of the fixture and
// checks that every odd section, and every option wgpanel does not know,
// is byte for byte as it was.
func TestOddPeersLeftAlone(t *testing.T) {
	data := oddFixture(t)
	dir := newDir(t, map[string][]byte{"network": data})
	st := NewStore(dir, nil)
	ctx := context.Background()
	err := st.UpdateServer(ctx, func(cfg *vpn.Config) error {
		srv := cfg.Server
		srv.Peers = slices.DeleteFunc(srv.Peers, func(p vpn.Peer) bool { return p.Name == "keepalive-off" })
		for i := range srv.Peers {
			switch srv.Peers[i].Name {
			case "disabled-two", "unknown-options":
				srv.Peers[i].Enabled = false
			case "disabled-yes":
				srv.Peers[i].Enabled = true
			}
		}
		srv.Peers = append(srv.Peers, vpn.Peer{Name: "new", PublicKey: testKey(40).PublicKey(), Enabled: true,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.66.66.14/32")}})
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateServer: %v", err)
	}
	after := readFile(t, dir, "network")
	for _, block := range bytes.Split(data, []byte("\n\n")) {
		// Comments go on every commit, as with libuci.
		if i := bytes.Index(block, []byte("config ")); i > 0 {
			block = block[i:]
		}
		s := string(block)
		odd := false
		for _, n := range []string{"no-key", "bad-key", "bad-psk", "bad-keepalive", "bad-allowed-ips", "bad-tunnel", "duplicate-key"} {
			if strings.Contains(s, "option description '"+n+"'") {
				odd = true
			}
		}
		if odd && !bytes.Contains(after, block) {
			t.Errorf("odd section changed; want it as it was:\n%s\n--- file now:\n%s", s, after)
		}
	}
	for _, opt := range []string{"option endpoint_host 'peer.example.org'", "option future_option 'whatever'",
		"list future_list 'a'\n\tlist future_list 'b'"} {
		if !bytes.Contains(after, []byte(opt)) {
			t.Errorf("the unknown option %q is gone", opt)
		}
	}
	cfg, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]bool{}
	for _, p := range cfg.Server.Peers {
		state[p.Name] = p.Enabled
	}
	want := map[string]bool{"disabled-two": false, "unknown-options": false, "disabled-yes": true,
		"disabled-capital-yes": true, "new": true}
	if !maps.Equal(state, want) {
		t.Errorf("after the update: peers %v; want %v", state, want)
	}
	if len(cfg.Server.Odd) != 7 {
		t.Errorf("after the update: %d odd peers; want the 7 of the fixture", len(cfg.Server.Odd))
	}
}

// TestValuesSplitLikeTheShell checks that list and option values are split
// into words as wireguard.sh's shell splits them: at spaces, tabs and
// newlines only.
func TestValuesSplitLikeTheShell(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"10.0.0.2/32"}, []string{"10.0.0.2/32"}},
		{[]string{" a  b\tc\nd "}, []string{"a", "b", "c", "d"}},
		{[]string{"a b", "", "c"}, []string{"a", "b", "c"}},
		{[]string{"a\u00a0b"}, []string{"a\u00a0b"}}, // not a shell blank
		{[]string{"a\rb"}, []string{"a\rb"}},
		{[]string{" \t"}, []string{}},
	} {
		sec := &uci.Section{Type: "wireguard_wg0"}
		sec.SetList("allowed_ips", tc.in)
		if got := values(sec, "allowed_ips"); !slices.Equal(got, tc.want) {
			t.Errorf("values of %q = %q; want %q", tc.in, got, tc.want)
		}
	}
	if got := values(&uci.Section{}, "allowed_ips"); got != nil {
		t.Errorf("values of an absent option = %q; want nil", got)
	}
}

// TestParseKeyAsWgtypes checks that parseKey accepts and refuses exactly
// what wgtypes.ParseKey does, with the same key.
func TestParseKeyAsWgtypes(t *testing.T) {
	k := testKey(7).PublicKey().String()
	inputs := []string{
		k, "", "x", k[:43], k + "=", k[:43] + "\n", k[:42] + "==", strings.Repeat("A", 44),
		strings.Repeat("A", 43) + "=", strings.Repeat("/", 43) + "=", k[:20] + "\n" + k[21:],
		k[:10] + "\r\n" + k[10:42], "YWJj" + strings.Repeat("=", 40), k[:43] + "A",
	}
	for i := range 200 {
		var b [32]byte
		b[i%32], b[(i*7)%32] = byte(i), byte(i*31)
		inputs = append(inputs, base64.StdEncoding.EncodeToString(b[:]), base64.StdEncoding.EncodeToString(b[:31]))
	}
	for _, in := range inputs {
		got, gotErr := parseKey(in)
		want, wantErr := wgtypes.ParseKey(in)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseKey(%q) = %v, %v; wgtypes.ParseKey gives %v, %v", in, got, gotErr, want, wantErr)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseKey(k) }); n != 0 {
		t.Errorf("parseKey of a valid key allocates %v times; want 0", n)
	}
}
