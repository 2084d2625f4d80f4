package openwrt

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// reloads records the calls of a SetupOptions.Reload hook.
type reloads struct {
	calls [][]string
	err   error
}

func (r *reloads) reload(_ context.Context, pkgs ...string) error {
	r.calls = append(r.calls, slices.Clone(pkgs))
	return r.err
}

// fixedKey returns a key generator that hands out testKey(b) and counts calls.
func fixedKey(b byte, calls *int) func() (wgtypes.Key, error) {
	return func() (wgtypes.Key, error) {
		*calls++
		return testKey(b), nil
	}
}

// snapshot returns the bytes of every file in dir, by name.
func snapshot(t *testing.T, dir uci.Dir) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(string(dir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(string(dir), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func mustSetup(t *testing.T, st *Store, opts SetupOptions) *SetupResult {
	t.Helper()
	res, err := st.Setup(context.Background(), opts)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return res
}

// checkRerun runs Setup again and checks that it reports and writes nothing.
func checkRerun(t *testing.T, st *Store, opts SetupOptions) *SetupResult {
	t.Helper()
	before := snapshot(t, st.Dir())
	var r reloads
	opts.Reload = r.reload
	keys := 0
	opts.GenerateKey = fixedKey(99, &keys)
	res := mustSetup(t, st, opts)
	if len(res.Changes) != 0 || len(res.Packages) != 0 {
		t.Errorf("second run: got changes %q in %v; want none", res.Changes, res.Packages)
	}
	if res.Created {
		t.Errorf("second run: got Created; want the interface adopted")
	}
	if len(r.calls) != 0 || keys != 0 {
		t.Errorf("second run: got %d reloads and %d keys generated; want none", len(r.calls), keys)
	}
	if after := snapshot(t, st.Dir()); !reflect.DeepEqual(after, before) {
		t.Errorf("second run changed files:\nbefore %q\nafter %q", before, after)
	}
	return res
}

func TestSetupDefaultRouter(t *testing.T) {
	dir := newDir(t, map[string][]byte{
		"network":  fixture(t, "network.default"),
		"firewall": fixture(t, "firewall.default"),
	})
	st := NewStore(dir, nil)
	var r reloads
	keys := 0
	res := mustSetup(t, st, SetupOptions{GenerateKey: fixedKey(1, &keys), Reload: r.reload})

	wantChanges := []string{
		"created interface wg0 (10.66.66.1/24, fd12:3456:789a:66::1/64, port 51820)",
		"added wg0 to firewall zone lan",
		"added firewall rule Allow-WireGuard for UDP 51820 from wan",
	}
	if !reflect.DeepEqual(res.Changes, wantChanges) {
		t.Errorf("got changes %q; want %q", res.Changes, wantChanges)
	}
	if !res.Created || res.Interface != "wg0" || res.ListenPort != 51820 || res.PublicKey != testKey(1).PublicKey() {
		t.Errorf("got result %+v; want wg0 created on port 51820 with the generated key", res)
	}
	if want := []string{"network", "firewall"}; !reflect.DeepEqual(res.Packages, want) {
		t.Errorf("got packages %v; want %v", res.Packages, want)
	}
	if want := [][]string{{"network", "firewall"}}; !reflect.DeepEqual(r.calls, want) {
		t.Errorf("got reloads %v; want %v", r.calls, want)
	}
	if keys != 1 {
		t.Errorf("got %d keys generated; want 1", keys)
	}
	if len(res.Notes) != 0 {
		t.Errorf("got notes %q; want none", res.Notes)
	}

	network := readFile(t, dir, "network")
	firewall := readFile(t, dir, "firewall")
	testutil.Golden(t, "setup-default.network", network)
	testutil.Golden(t, "setup-default.firewall", firewall)
	// The network file is the original with one section appended.
	if orig := strings.TrimSuffix(string(fixture(t, "network.default")), "\n"); !strings.HasPrefix(string(network), orig) {
		t.Errorf("network file does not start with the original:\n%s", network)
	}
	// The firewall is exactly what LuCI writes for the same setup.
	if want := fixture(t, "firewall.wireguard-example"); string(firewall) != string(want) {
		t.Errorf("got firewall\n%s\nwant the LuCI-written fixture\n%s", firewall, want)
	}
	if _, err := os.Stat(dir.Path("wgpanel")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got a wgpanel file (err %v); want none, the interface is the default", err)
	}

	// The store reads what setup wrote.
	cfg := mustLoad(t, dir)
	if cfg.Server == nil || cfg.Server.PrivateKey != testKey(1) {
		t.Fatalf("got server %+v; want wg0 with the generated key", cfg.Server)
	}

	checkRerun(t, st, SetupOptions{})
}

func TestSetupAdoptsLuCIInterface(t *testing.T) {
	dir := newDir(t, map[string][]byte{
		"network":  fixture(t, "network.wireguard-example"),
		"firewall": fixture(t, "firewall.wireguard-example"),
	})
	st := NewStore(dir, nil)
	res := checkRerun(t, st, SetupOptions{})
	wantAddrs := []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24"), netip.MustParsePrefix("fd66:66:66::1/64")}
	if res.Interface != "wg0" || res.ListenPort != 51820 || !reflect.DeepEqual(res.Addresses, wantAddrs) ||
		res.PublicKey != mustKey(t, exampleServerPriv).PublicKey() {
		t.Errorf("got %+v; want the fixture's wg0 with its key, port and addresses", res)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "exists already") {
		t.Errorf("got notes %q; want one saying the interface was kept", res.Notes)
	}
}

// TestSetupFirewallParts starts from the LuCI-made interface and firewalls
// missing one part or both: setup adds exactly the missing part.
func TestSetupFirewallParts(t *testing.T) {
	example := string(fixture(t, "firewall.wireguard-example"))
	noRule := removeBlock(t, example, "config rule\n\toption name 'Allow-WireGuard'")
	noZone := strings.Replace(example, "\tlist network 'wg0'\n", "", 1)
	tests := []struct {
		name     string
		firewall string
		changes  []string
	}{
		{"hand-written default", string(fixture(t, "firewall.default")), []string{
			"added wg0 to firewall zone lan", "added firewall rule Allow-WireGuard for UDP 51820 from wan"}},
		{"without the rule", noRule, []string{"added firewall rule Allow-WireGuard for UDP 51820 from wan"}},
		{"zone without wg0", noZone, []string{"added wg0 to firewall zone lan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			network := fixture(t, "network.wireguard-example")
			dir := newDir(t, map[string][]byte{"network": network, "firewall": []byte(tt.firewall)})
			st := NewStore(dir, nil)
			var r reloads
			res := mustSetup(t, st, SetupOptions{Reload: r.reload})
			if !reflect.DeepEqual(res.Changes, tt.changes) {
				t.Errorf("got changes %q; want %q", res.Changes, tt.changes)
			}
			if want := [][]string{{"firewall"}}; !reflect.DeepEqual(r.calls, want) {
				t.Errorf("got reloads %v; want %v", r.calls, want)
			}
			if got := readFile(t, dir, "firewall"); string(got) != example {
				t.Errorf("got firewall\n%s\nwant the LuCI-written fixture", got)
			}
			if got := readFile(t, dir, "network"); string(got) != string(network) {
				t.Errorf("network changed:\n%s", got)
			}
			checkRerun(t, st, SetupOptions{})
		})
	}
}

// TestSetupExistingRuleByMeaning checks that rules written differently but
// accepting the port count, and rules that do not accept it do not.
func TestSetupExistingRuleByMeaning(t *testing.T) {
	base := removeBlock(t, string(fixture(t, "firewall.wireguard-example")), "config rule\n\toption name 'Allow-WireGuard'")
	tests := []struct {
		name    string
		rule    string
		accepts bool
	}{
		{"option proto", "config rule\n\toption name 'wg'\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", true},
		{"default proto tcp udp", "config rule\n\toption src 'wan'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", true},
		{"tcpudp and range", "config rule\n\toption src 'wan'\n\toption proto 'tcpudp'\n\toption dest_port '51000-52000'\n\toption target 'accept'\n", true},
		{"all protocols, port list", "config rule\n\toption src 'wan'\n\tlist proto 'all'\n\toption dest_port '1194 51820'\n\toption target 'ACCEPT'\n", true},
		{"any source zone", "config rule\n\toption src '*'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", true},
		{"no port means every port", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption target 'ACCEPT'\n", true},
		{"explicitly enabled", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n\toption enabled '1'\n", true},
		{"disabled", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n\toption enabled '0'\n", false},
		{"tcp only", "config rule\n\toption src 'wan'\n\toption proto 'tcp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", false},
		{"other port", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '51821'\n\toption target 'ACCEPT'\n", false},
		{"from lan", "config rule\n\toption src 'lan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", false},
		{"forward rule", "config rule\n\toption src 'wan'\n\toption dest 'lan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", false},
		{"reject", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'REJECT'\n", false},
		{"IPv6 only", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption family 'ipv6'\n\toption target 'ACCEPT'\n", false},
		{"one sender only", "config rule\n\toption src 'wan'\n\toption src_ip '198.51.100.7'\n\toption proto 'udp'\n\toption dest_port '51820'\n\toption target 'ACCEPT'\n", false},
		{"negated port", "config rule\n\toption src 'wan'\n\toption proto 'udp'\n\toption dest_port '!51820'\n\toption target 'ACCEPT'\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := base + "\n" + tt.rule + "\n"
			dir := newDir(t, map[string][]byte{
				"network":  fixture(t, "network.wireguard-example"),
				"firewall": []byte(fw),
			})
			res := mustSetup(t, NewStore(dir, nil), SetupOptions{})
			added := slices.Contains(res.Changes, "added firewall rule Allow-WireGuard for UDP 51820 from wan")
			if added == tt.accepts {
				t.Errorf("got changes %q; want a rule added: %v", res.Changes, !tt.accepts)
			}
		})
	}
}

func TestSetupRuleNameTaken(t *testing.T) {
	// A disabled Allow-WireGuard rule stays as the owner left it; the new
	// rule gets a name of its own.
	fw := strings.Replace(string(fixture(t, "firewall.wireguard-example")),
		"\toption dest_port '51820'\n\toption target 'ACCEPT'\n",
		"\toption dest_port '51820'\n\toption target 'ACCEPT'\n\toption enabled '0'\n", 1)
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.wireguard-example"), "firewall": []byte(fw)})
	res := mustSetup(t, NewStore(dir, nil), SetupOptions{})
	if want := []string{"added firewall rule Allow-WireGuard-51820 for UDP 51820 from wan"}; !reflect.DeepEqual(res.Changes, want) {
		t.Errorf("got changes %q; want %q", res.Changes, want)
	}
	if got := string(readFile(t, dir, "firewall")); !strings.Contains(got, "\toption enabled '0'\n") {
		t.Errorf("the disabled rule was changed:\n%s", got)
	}
}

// withWAN returns network.default with the wan interface replaced by text.
func withWAN(t *testing.T, wan string) []byte {
	t.Helper()
	old := "config interface 'wan'\n\toption device 'wan'\n\toption proto 'dhcp'\n"
	s := string(fixture(t, "network.default"))
	if !strings.Contains(s, old) {
		t.Fatal("network.default has no dhcp wan section")
	}
	return []byte(strings.Replace(s, old, wan, 1))
}

func TestSetupTunnelSubnet(t *testing.T) {
	def := string(fixture(t, "network.default"))
	tests := []struct {
		name    string
		network string
		opts    SetupOptions
		want    []string
	}{
		{"default", def, SetupOptions{}, []string{"10.66.66.1/24", "fd12:3456:789a:66::1/64"}},
		{"LAN in 10.66.66.0/24", strings.Replace(def, "option ipaddr '192.168.1.1'", "option ipaddr '10.66.66.1'", 1),
			SetupOptions{}, []string{"10.66.67.1/24", "fd12:3456:789a:66::1/64"}},
		{"LAN with CIDR ipaddr", strings.Replace(def, "\toption ipaddr '192.168.1.1'\n\toption netmask '255.255.255.0'\n", "\tlist ipaddr '10.66.64.1/22'\n", 1),
			SetupOptions{}, []string{"10.66.68.1/24", "fd12:3456:789a:66::1/64"}},
		{"static route", def + "config route\n\toption interface 'lan'\n\toption target '10.66.0.0'\n\toption netmask '255.255.0.0'\n\toption gateway '192.168.1.2'\n\n",
			SetupOptions{}, []string{"10.67.66.1/24", "fd12:3456:789a:66::1/64"}},
		{"route in CIDR form", def + "config route\n\toption interface 'lan'\n\toption target '10.66.66.0/23'\n\n",
			SetupOptions{}, []string{"10.66.68.1/24", "fd12:3456:789a:66::1/64"}},
		{"live WAN address", def, SetupOptions{WAN: netip.MustParsePrefix("10.66.66.20/24")},
			[]string{"10.66.67.1/24", "fd12:3456:789a:66::1/64"}},
		{"avoid list", def, SetupOptions{Avoid: []netip.Prefix{netip.MustParsePrefix("10.66.66.0/25")}},
			[]string{"10.66.67.1/24", "fd12:3456:789a:66::1/64"}},
		{"static WAN", string(withWAN(t, "config interface 'wan'\n\toption device 'wan'\n\toption proto 'static'\n\toption ipaddr '10.66.66.2'\n\toption netmask '255.255.254.0'\n")),
			SetupOptions{}, []string{"10.66.68.1/24", "fd12:3456:789a:66::1/64"}},
		{"route6 on the ULA subnet", def + "config route6\n\toption interface 'lan'\n\toption target 'fd12:3456:789a:66::/64'\n\n",
			SetupOptions{}, []string{"10.66.66.1/24", "fd12:3456:789a:67::1/64"}},
		{"LAN assignment with hint", strings.Replace(def, "\toption ip6assign '60'\n", "\toption ip6assign '56'\n\toption ip6hint '66'\n", 1),
			SetupOptions{}, []string{"10.66.66.1/24", "fd12:3456:789a:100::1/64"}},
		{"no ULA prefix", strings.Replace(def, "\toption ula_prefix 'fd12:3456:789a::/48'\n", "\toption packet_steering '1'\n", 1),
			SetupOptions{}, []string{"10.66.66.1/24"}},
		{"routed peers of another tunnel", def + "config interface 'site'\n\toption proto 'wireguard'\n\toption private_key '" + exampleServerPriv +
			"'\n\tlist addresses '10.99.0.1/24'\n\nconfig wireguard_site\n\toption public_key '" + aliceKey +
			"'\n\tlist allowed_ips '10.66.66.0/24'\n\tlist allowed_ips '0.0.0.0/0'\n\toption route_allowed_ips '1'\n\n",
			SetupOptions{}, []string{"10.66.67.1/24", "fd12:3456:789a:66::1/64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t, map[string][]byte{"network": []byte(tt.network), "firewall": fixture(t, "firewall.default")})
			keys := 0
			tt.opts.GenerateKey = fixedKey(2, &keys)
			res := mustSetup(t, NewStore(dir, nil), tt.opts)
			var got []string
			for _, p := range res.Addresses {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got addresses %v; want %v", got, tt.want)
			}
		})
	}
}

func TestSetupNoFreeSubnet(t *testing.T) {
	def := string(fixture(t, "network.default"))
	network := def + "config route\n\toption interface 'lan'\n\toption target '10.0.0.0/8'\n\n"
	dir := newDir(t, map[string][]byte{"network": []byte(network)})
	_, err := NewStore(dir, nil).Setup(context.Background(), SetupOptions{})
	if vpn.ErrorCode(err) != vpn.ECONFLICT {
		t.Fatalf("got error %v; want code %s", err, vpn.ECONFLICT)
	}
	if got := string(readFile(t, dir, "network")); got != network {
		t.Errorf("network changed on error:\n%s", got)
	}
}

func TestSetupInterfaceChoice(t *testing.T) {
	def := string(fixture(t, "network.default"))
	example := string(fixture(t, "network.wireguard-example"))
	server := func(name, port string) string {
		return "config interface '" + name + "'\n\toption proto 'wireguard'\n\toption private_key '" + exampleServerPriv +
			"'\n\toption listen_port '" + port + "'\n\tlist addresses '10.77.0.1/24'\n\n"
	}
	tests := []struct {
		name      string
		network   string
		settings  string // /etc/config/wgpanel; "" for none
		flag      string // Store.Interface
		wantIf    string
		wantPort  int
		created   bool
		wantSaved string // interface option in the wgpanel file afterwards; "" for no file
		wantErr   string
	}{
		{name: "wg0 taken by a non-WireGuard interface", network: def + "config interface 'wg0'\n\toption proto 'static'\n\toption device 'eth9'\n\n",
			wantIf: "wg1", wantPort: 51820, created: true, wantSaved: "wg1"},
		{name: "wg0 is a device name", network: def + "config device\n\toption name 'wg0'\n\toption type 'bridge'\n\n",
			wantIf: "wg1", wantPort: 51820, created: true, wantSaved: "wg1"},
		{name: "one other WireGuard server is adopted", network: def + server("vpn", "51999"),
			wantIf: "vpn", wantPort: 51999, wantSaved: "vpn"},
		{name: "two other servers", network: def + server("vpn", "51999") + server("home", "51998"),
			wantErr: "several WireGuard interfaces (vpn, home)"},
		{name: "a client tunnel (no listen port) is not adopted", network: def + strings.Replace(server("mullvad", "51820"), "\toption listen_port '51820'\n", "", 1),
			wantIf: "wg0", wantPort: 51820, created: true},
		{name: "port of another tunnel is skipped", network: def + server("site", "51820") + server("site2", "51821"), flag: "wg0",
			wantIf: "wg0", wantPort: 51822, created: true},
		{name: "the default is adopted before others", network: example + server("vpn", "51821"),
			wantIf: "wg0", wantPort: 51820},
		{name: "chosen name taken by another interface", network: def, flag: "lan",
			wantErr: "section 'lan' exists but is not a WireGuard interface"},
		{name: "chosen name in the settings file", network: example, settings: "config wgpanel 'main'\n\toption interface 'wg7'\n",
			wantIf: "wg7", wantPort: 51821, created: true, wantSaved: "wg7"},
		{name: "flag with new name is saved", network: def, flag: "wgphone",
			wantIf: "wgphone", wantPort: 51820, created: true, wantSaved: "wgphone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{"network": []byte(tt.network), "firewall": fixture(t, "firewall.default")}
			if tt.settings != "" {
				files["wgpanel"] = []byte(tt.settings)
			}
			dir := newDir(t, files)
			st := NewStore(dir, nil)
			st.Interface = tt.flag
			keys := 0
			res, err := st.Setup(context.Background(), SetupOptions{GenerateKey: fixedKey(3, &keys)})
			if tt.wantErr != "" {
				configError(t, err, tt.wantErr)
				if got := string(readFile(t, dir, "network")); got != tt.network {
					t.Errorf("network changed on error:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Interface != tt.wantIf || res.ListenPort != tt.wantPort || res.Created != tt.created {
				t.Errorf("got interface %s port %d created %v; want %s port %d created %v",
					res.Interface, res.ListenPort, res.Created, tt.wantIf, tt.wantPort, tt.created)
			}
			saved := ""
			if f, err := dir.Load("wgpanel"); err == nil {
				if sec := settingsSection(f); sec != nil {
					saved, _ = sec.Get("interface")
				}
			}
			if saved != tt.wantSaved {
				t.Errorf("got interface %q in the wgpanel file; want %q", saved, tt.wantSaved)
			}
			// Every later run, without the flag, finds the same interface.
			st2 := NewStore(dir, nil)
			if res2 := checkRerun(t, st2, SetupOptions{}); res2.Interface != tt.wantIf {
				t.Errorf("second run: got interface %s; want %s", res2.Interface, tt.wantIf)
			}
		})
	}
}

func TestSetupFillsMissingPortAndAddresses(t *testing.T) {
	network := string(fixture(t, "network.wireguard-example"))
	network = strings.Replace(network, "\toption listen_port '51820'\n\tlist addresses '10.66.66.1/24'\n\tlist addresses 'fd66:66:66::1/64'\n", "", 1)
	dir := newDir(t, map[string][]byte{"network": []byte(network), "firewall": fixture(t, "firewall.wireguard-example")})
	keys := 0
	res := mustSetup(t, NewStore(dir, nil), SetupOptions{GenerateKey: fixedKey(4, &keys)})
	want := []string{
		"set listen_port 51820 on interface wg0, which had none",
		"gave interface wg0 the addresses 10.66.66.1/24, fd12:3456:789a:66::1/64, as it had none",
	}
	if !reflect.DeepEqual(res.Changes, want) {
		t.Errorf("got changes %q; want %q", res.Changes, want)
	}
	if keys != 0 || res.Created || res.PublicKey != mustKey(t, exampleServerPriv).PublicKey() {
		t.Errorf("the interface's key was replaced (created %v, %d keys generated)", res.Created, keys)
	}
	checkRerun(t, NewStore(dir, nil), SetupOptions{})
}

func TestSetupStandaloneEmptyDir(t *testing.T) {
	dir := uci.Dir(filepath.Join(t.TempDir(), "config"))
	st := NewStore(dir, nil)
	keys := 0
	res := mustSetup(t, st, SetupOptions{Standalone: true, GenerateKey: fixedKey(5, &keys)})
	want := []string{
		"created " + dir.Path("network") + " with a LAN of 192.168.1.1/24 (standalone mode)",
		"created interface wg0 (10.66.66.1/24, port 51820)",
		"created " + dir.Path("firewall") + " with zones lan and wan (standalone mode: no firewall reads it)",
		"added wg0 to firewall zone lan",
		"added firewall rule Allow-WireGuard for UDP 51820 from wan",
	}
	if !reflect.DeepEqual(res.Changes, want) {
		t.Errorf("got changes %q; want %q", res.Changes, want)
	}
	testutil.Golden(t, "setup-standalone.network", readFile(t, dir, "network"))
	testutil.Golden(t, "setup-standalone.firewall", readFile(t, dir, "firewall"))
	// The same network as the --dev starter file with this key.
	starter := uci.Dir(filepath.Join(t.TempDir(), "starter"))
	if err := WriteStarter(starter, "wg0", testKey(5)); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, dir, "network"), readFile(t, starter, "network"); string(got) != string(want) {
		t.Errorf("got network\n%s\nwant the starter file\n%s", got, want)
	}
	checkRerun(t, st, SetupOptions{Standalone: true})
}

func TestSetupWithoutFirewallFile(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default")})
	var r reloads
	keys := 0
	res := mustSetup(t, NewStore(dir, nil), SetupOptions{GenerateKey: fixedKey(6, &keys), Reload: r.reload})
	if len(res.Changes) != 1 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "firewall does not exist") {
		t.Errorf("got changes %q notes %q; want the interface created and a note about the firewall", res.Changes, res.Notes)
	}
	if _, err := os.Stat(dir.Path("firewall")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a firewall file was created on a router without one (err %v)", err)
	}
	if want := [][]string{{"network"}}; !reflect.DeepEqual(r.calls, want) {
		t.Errorf("got reloads %v; want %v", r.calls, want)
	}
}

func TestSetupNoLANZone(t *testing.T) {
	fw := strings.Replace(string(fixture(t, "firewall.wireguard-example")), "\tlist network 'lan'\n\tlist network 'wg0'\n", "", 1)
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.wireguard-example"), "firewall": []byte(fw)})
	res := mustSetup(t, NewStore(dir, nil), SetupOptions{})
	// The zone still named lan holds no network now, and takes wg0.
	if want := []string{"added wg0 to firewall zone lan"}; !reflect.DeepEqual(res.Changes, want) {
		t.Errorf("got changes %q; want %q", res.Changes, want)
	}

	fw = strings.Replace(fw, "\toption name 'lan'\n", "\toption name 'inside'\n", 1)
	dir = newDir(t, map[string][]byte{"network": fixture(t, "network.wireguard-example"), "firewall": []byte(fw)})
	res = mustSetup(t, NewStore(dir, nil), SetupOptions{})
	if len(res.Changes) != 0 || len(res.Notes) != 2 || !strings.Contains(res.Notes[1], "no firewall zone for the LAN") {
		t.Errorf("got changes %q notes %q; want no change and a note", res.Changes, res.Notes)
	}
}

func TestSetupMissingNetwork(t *testing.T) {
	dir := newDir(t, nil)
	_, err := NewStore(dir, nil).Setup(context.Background(), SetupOptions{})
	configError(t, err, "does not exist")
	if _, err := os.Stat(dir.Path("network")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a network file was created outside standalone mode (err %v)", err)
	}
}

func TestSetupMalformedFiles(t *testing.T) {
	for _, pkg := range []string{"network", "firewall"} {
		t.Run(pkg, func(t *testing.T) {
			files := map[string][]byte{"network": fixture(t, "network.default"), "firewall": fixture(t, "firewall.default")}
			files[pkg] = []byte("config interface 'x'\n\toption proto 'static\n")
			dir := newDir(t, files)
			_, err := NewStore(dir, nil).Setup(context.Background(), SetupOptions{})
			configError(t, err, "line 2")
			if got := readFile(t, dir, pkg); string(got) != string(files[pkg]) {
				t.Errorf("malformed %s was overwritten", pkg)
			}
		})
	}
}

func TestSetupReloadFails(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default"), "firewall": fixture(t, "firewall.default")})
	r := reloads{err: errors.New("exit status 1")}
	keys := 0
	res, err := NewStore(dir, nil).Setup(context.Background(), SetupOptions{GenerateKey: fixedKey(7, &keys), Reload: r.reload})
	if res == nil || len(res.Changes) != 3 {
		t.Fatalf("got result %+v; want the changes written", res)
	}
	if vpn.ErrorCode(err) != vpn.EUNAVAILABLE || !strings.Contains(vpn.ErrorMessage(err), "was written") {
		t.Errorf("got error %v; want an unavailable error saying the config was written", err)
	}
}

func TestSetupEndpoint(t *testing.T) {
	ddns := "config ddns 'global'\n\toption ddns_dateformat '%F %R'\n\n" +
		"config service 'myddns_ipv6'\n\toption enabled '0'\n\toption lookup_host 'old.example.net'\n\n" +
		"config service 'myddns_ipv4'\n\toption enabled '1'\n\toption service_name 'duckdns.org'\n\toption lookup_host 'myhome.duckdns.org'\n\toption domain 'myhome.duckdns.org'\n"
	t.Run("suggested from ddns", func(t *testing.T) {
		dir := newDir(t, map[string][]byte{"network": fixture(t, "network.wireguard-example"),
			"firewall": fixture(t, "firewall.wireguard-example"), "ddns": []byte(ddns)})
		res := mustSetup(t, NewStore(dir, nil), SetupOptions{})
		if res.Endpoint != "" || res.SuggestedEndpoint != "myhome.duckdns.org" || !strings.Contains(res.SuggestionReason, "myddns_ipv4") {
			t.Errorf("got endpoint %q suggestion %q (%s); want myhome.duckdns.org suggested", res.Endpoint, res.SuggestedEndpoint, res.SuggestionReason)
		}
	})
	t.Run("written when given", func(t *testing.T) {
		dir := newDir(t, map[string][]byte{"network": fixture(t, "network.wireguard-example"),
			"firewall": fixture(t, "firewall.wireguard-example")})
		st := NewStore(dir, nil)
		res := mustSetup(t, st, SetupOptions{Endpoint: "vpn.example.org"})
		if want := []string{"set wgpanel's endpoint to vpn.example.org"}; !reflect.DeepEqual(res.Changes, want) {
			t.Errorf("got changes %q; want %q", res.Changes, want)
		}
		if res.Endpoint != "vpn.example.org" || res.SuggestedEndpoint != "" || !reflect.DeepEqual(res.Packages, []string{"wgpanel"}) {
			t.Errorf("got %+v; want the endpoint set and only wgpanel written", res)
		}
		// A configured endpoint is never replaced.
		res = checkRerun(t, st, SetupOptions{Endpoint: "other.example.org"})
		if res.Endpoint != "vpn.example.org" {
			t.Errorf("got endpoint %q; want vpn.example.org kept", res.Endpoint)
		}
	})
	t.Run("bad endpoint", func(t *testing.T) {
		dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default"),
			"firewall": fixture(t, "firewall.default")})
		_, err := NewStore(dir, nil).Setup(context.Background(), SetupOptions{Endpoint: "vpn.example.org:51820"})
		if vpn.ErrorCode(err) != vpn.EINVALID || !strings.Contains(vpn.ErrorMessage(err), "includes a port") {
			t.Errorf("got error %v; want code %s about the port", err, vpn.EINVALID)
		}
		if got := readFile(t, dir, "network"); string(got) != string(fixture(t, "network.default")) {
			t.Errorf("network was written although the endpoint was refused")
		}
	})
}

func TestSuggestEndpoint(t *testing.T) {
	tests := []struct {
		name, ddns, wan, want, why string
	}{
		{"enabled service", "config service 'a'\n\toption enabled '1'\n\toption lookup_host 'home.example.org'\n", "192.168.2.253", "home.example.org", "'a'"},
		{"disabled service, public WAN", "config service 'a'\n\toption enabled '0'\n\toption lookup_host 'home.example.org'\n", "203.0.113.7", "203.0.113.7", "is public"},
		{"no enabled flag means off", "config service 'a'\n\toption lookup_host 'home.example.org'\n", "", "", "not known"},
		{"old config with domain only", "config service\n\toption enabled '1'\n\toption domain 'old.example.org'\n", "", "old.example.org", "@service[0]"},
		{"private WAN", "", "192.168.2.253", "", "192.168.2.253 is private"},
		{"CGNAT WAN", "", "100.71.2.3", "", "carrier-grade NAT"},
		{"public IPv6 WAN", "", "2001:db8::1", "2001:db8::1", "is public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			if tt.ddns != "" {
				files["ddns"] = []byte(tt.ddns)
			}
			dir := newDir(t, files)
			var wan netip.Addr
			if tt.wan != "" {
				wan = netip.MustParseAddr(tt.wan)
			}
			host, why := SuggestEndpoint(dir, wan)
			if host != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("got %q (%s); want %q with a reason containing %q", host, why, tt.want, tt.why)
			}
		})
	}
}
