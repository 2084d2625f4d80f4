package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/testutil/fixtures"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Keys in network.wireguard-example.
const (
	serverPriv = "CcvwADVH2zpAeUlNula5lHaIIh398W30CV1SG1gFsLI="
	aliceKey   = "M1d0jWvad5v3w/OOZI7BAEn9pppVkm3XDuw8NM9Bb+s="
	bobKey     = "3VKh4AHfAWf54ektXez/ng+5brBqzc3hx/UCkgsXfPM="
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	return string(fixtures.OpenWrt(t, name))
}

func mustKey(t testing.TB, s string) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// replace returns s with old replaced once by new, failing when old is absent.
func replace(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(s, old, new, 1)
}

// removeBlock returns text without the section that starts with from.
func removeBlock(t testing.TB, text, from string) string {
	t.Helper()
	i := strings.Index(text, from)
	if i < 0 {
		t.Fatalf("no %q in text", from)
	}
	j := strings.Index(text[i:], "\n\n")
	return text[:i] + text[i+j+2:]
}

const dhcpWAN = "config interface 'wan'\n\toption device 'wan'\n\toption proto 'dhcp'\n"

// withWAN replaces the DHCP wan interface of a network fixture.
func withWAN(t testing.TB, network, wan string) string {
	t.Helper()
	return replace(t, network, dhcpWAN, wan)
}

// doubleNATWAN is the router: a static WAN behind an ISP router.
const doubleNATWAN = "config interface 'wan'\n\toption device 'wan'\n\toption proto 'static'\n" +
	"\toption ipaddr '192.168.2.253'\n\toption netmask '255.255.255.0'\n\toption gateway '192.168.2.254'\n\tlist dns '192.168.2.254'\n"

// router is a set of UCI files; the zero value of a field leaves the file out.
type router struct {
	network, firewall, dhcp, wgpanel string
}

// healthy is the LuCI-made server on a router with a public WAN address
// and an endpoint: every check passes.
func healthy(t testing.TB) router {
	return router{
		network:  fixture(t, "network.wireguard-example"),
		firewall: fixture(t, "firewall.wireguard-example"),
		dhcp:     readTestdata(t, "dhcp.default"),
		wgpanel:  "config wgpanel 'main'\n\toption endpoint 'myhome.example.org'\n",
	}
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (r router) dir(t testing.TB) uci.Dir {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{"network": r.network, "firewall": r.firewall, "dhcp": r.dhcp, "wgpanel": r.wgpanel} {
		if data == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return uci.Dir(dir)
}

var (
	publicWAN = &openwrt.Runtime{WANProto: "dhcp", WANUp: true, WANDevice: "wan",
		WANAddr: netip.MustParsePrefix("203.0.113.7/24"), Gateway: netip.MustParseAddr("203.0.113.1"), WANMTU: 1500}
	epoch = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

// device returns the running wg0 of the example: alice connected from
// 198.51.100.20:40000, bob (disabled) absent.
func device(t testing.TB) *vpn.DeviceState {
	return &vpn.DeviceState{
		Name:       "wg0",
		PublicKey:  mustKey(t, serverPriv).PublicKey(),
		ListenPort: 51820,
		Peers: []vpn.PeerStats{{
			PublicKey:       mustKey(t, aliceKey),
			Endpoint:        netip.MustParseAddrPort("198.51.100.20:40000"),
			LatestHandshake: epoch.Add(-time.Minute),
		}},
	}
}

// input reads r's files through the openwrt store, as Collect does, with
// the given device and runtime.
func input(t testing.TB, r router, dev *vpn.DeviceState, rt *openwrt.Runtime) Input {
	t.Helper()
	st := openwrt.NewStore(r.dir(t), nil)
	in := Input{Device: dev, Runtime: rt}
	if dev == nil {
		in.DeviceErr = fmt.Errorf("interface wg0: %w", vpn.ErrNoDevice)
	}
	if rt == nil {
		in.RuntimeErr = fmt.Errorf("ubus: executable file not found in $PATH")
	}
	in.Config, in.ConfigErr = st.Load(context.Background())
	in.Facts, in.FactsErr = st.Facts(context.Background())
	wan, _ := in.wanAddr()
	in.SuggestedEndpoint, in.SuggestionReason = openwrt.SuggestEndpoint(st.Dir(), wan.Addr())
	return in
}

// find returns the check with id, failing when it is missing.
func find(t testing.TB, checks []Check, id string) Check {
	t.Helper()
	for _, c := range checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s in %s", id, dump(checks))
	return Check{}
}

func absent(t testing.TB, checks []Check, id string) {
	t.Helper()
	for _, c := range checks {
		if c.ID == id {
			t.Errorf("got check %+v; want none with id %s", c, id)
		}
	}
}

// expect checks one check's status and that its finding and fix contain
// the given parts.
func expect(t testing.TB, checks []Check, id, status string, finding, fix []string) Check {
	t.Helper()
	c := find(t, checks, id)
	if c.Status != status {
		t.Errorf("%s: got status %s (%q); want %s", id, c.Status, c.Finding, status)
	}
	for _, p := range finding {
		if !strings.Contains(c.Finding, p) {
			t.Errorf("%s: got finding %q; want it to contain %q", id, c.Finding, p)
		}
	}
	for _, p := range fix {
		if !strings.Contains(c.Fix, p) {
			t.Errorf("%s: got fix %q; want it to contain %q", id, c.Fix, p)
		}
	}
	if status == StatusOK && c.Fix != "" {
		t.Errorf("%s: got fix %q on an ok check; want none", id, c.Fix)
	}
	if strings.Count(strings.TrimSuffix(c.Finding, "."), ". ") > 0 || !strings.HasSuffix(c.Finding, ".") {
		t.Errorf("%s: got finding %q; want one sentence", id, c.Finding)
	}
	return c
}

func dump(checks []Check) string {
	b, _ := json.MarshalIndent(Report{Checks: checks}, "", "  ")
	return string(b)
}

// lineDiff shows how after differs from before: the common lines at the
// start and end are left out, the rest is shown as removed (-) and added
// (+) lines, with the line number where the difference starts.
func lineDiff(before, after string) string {
	a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	j := 0
	for j < len(a)-i && j < len(b)-i && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "@@ line %d @@\n", i+1)
	for _, l := range a[i : len(a)-j] {
		fmt.Fprintf(&sb, "-%s\n", l)
	}
	for _, l := range b[i : len(b)-j] {
		fmt.Fprintf(&sb, "+%s\n", l)
	}
	return sb.String()
}
