package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

func TestHealthyRouter(t *testing.T) {
	checks := Run(context.Background(), input(t, healthy(t), device(t), publicWAN))
	var ids []string
	for _, c := range checks {
		ids = append(ids, c.ID)
		if c.Status != StatusOK {
			t.Errorf("got %s %s: %s (fix: %s); want ok", c.ID, c.Status, c.Finding, c.Fix)
		}
	}
	want := []string{IDInterfaceExists, IDInterfaceUp, IDInterfaceKey, IDInterfacePort, IDFirewallRule, IDFirewallZone,
		IDWANNAT, IDEndpoint, IDPeerHandshake, IDPeerEndpoints, IDPeerSections, IDDNS, IDMTU}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("got checks %v; want %v", ids, want)
	}
	if got := FixableIDs(checks); len(got) != 0 {
		t.Errorf("got fixable %v; want none", got)
	}
	b, err := json.MarshalIndent(Report{Checks: checks}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "healthy.json", append(b, '\n'))
}

func TestReportJSON(t *testing.T) {
	b, err := json.Marshal(Report{Checks: []Check{
		{ID: IDFirewallRule, Status: StatusFail, Finding: "f.", Fix: "x.", Fixable: true},
		{ID: IDMTU, Status: StatusOK, Finding: "g."},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"checks":[{"id":"firewall.rule","status":"fail","finding":"f.","fix":"x.","fixable":true},` +
		`{"id":"mtu","status":"ok","finding":"g.","fix":""}]}`
	if string(b) != want {
		t.Errorf("got %s; want %s", b, want)
	}
}

// TestDoubleNAT is the router: WAN 192.168.2.253/24 behind an ISP
// router at 192.168.2.254.
func TestDoubleNAT(t *testing.T) {
	r := healthy(t)
	r.network = withWAN(t, r.network, doubleNATWAN)
	wantFix := "On your ISP router (gateway 192.168.2.254), forward UDP 51820 to 192.168.2.253."

	t.Run("static WAN from UCI", func(t *testing.T) {
		checks := Run(context.Background(), input(t, r, device(t), nil))
		c := expect(t, checks, IDWANNAT, StatusWarn, []string{"192.168.2.253", "192.168.2.254", "UDP 51820"}, nil)
		if c.Fix != wantFix {
			t.Errorf("got fix %q; want %q", c.Fix, wantFix)
		}
	})
	t.Run("DHCP WAN from ubus", func(t *testing.T) {
		ubus := readFile(t, "../openwrt/testdata/ubus-wan-dhcp.json")
		sys := openwrt.System{Exec: func(_ context.Context, name string, args ...string) ([]byte, error) {
			if strings.Join(append([]string{name}, args...), " ") == "ubus call network.interface.wan status" {
				return ubus, nil
			}
			return nil, errors.New("Command failed: Not found")
		}}
		rt, err := sys.GatherRuntime(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r := healthy(t) // WAN proto dhcp in UCI: only ubus knows the address
		checks := Run(context.Background(), input(t, r, device(t), &rt))
		c := expect(t, checks, IDWANNAT, StatusWarn, []string{"192.168.2.253", "192.168.2.254", "UDP 51820"}, nil)
		if c.Fix != wantFix {
			t.Errorf("got fix %q; want %q", c.Fix, wantFix)
		}
	})
	t.Run("endpoint set to the WAN address", func(t *testing.T) {
		r := r
		r.wgpanel = "config wgpanel 'main'\n\toption endpoint '192.168.2.253'\n"
		checks := Run(context.Background(), input(t, r, device(t), nil))
		expect(t, checks, IDEndpoint, StatusFail, []string{"192.168.2.253", "private"},
			[]string{"192.168.2.253 is private", "dynamic DNS"})
	})
}

func TestCGNAT(t *testing.T) {
	rt := *publicWAN
	rt.WANAddr = netip.MustParsePrefix("100.64.12.34/10")
	rt.Gateway = netip.MustParseAddr("100.64.0.1")
	checks := Run(context.Background(), input(t, healthy(t), device(t), &rt))
	expect(t, checks, IDWANNAT, StatusFail, []string{"100.64.12.34", "100.64.0.0/10", "no port forward", "UDP 51820"},
		[]string{"public IPv4", "IPv6", "relay"})
}

func TestWANStates(t *testing.T) {
	tests := []struct {
		name    string
		rt      *openwrt.Runtime
		status  string
		finding string
	}{
		{"public", publicWAN, StatusOK, "203.0.113.7 is public"},
		{"private without gateway", &openwrt.Runtime{WANAddr: netip.MustParsePrefix("10.1.2.3/8")}, StatusWarn, "sits behind another router that"},
		{"unknown", nil, StatusWarn, "could not learn the router's WAN address (ubus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := Run(context.Background(), input(t, healthy(t), device(t), tt.rt))
			expect(t, checks, IDWANNAT, tt.status, []string{tt.finding}, nil)
		})
	}
}

func TestFirewallWithoutRule(t *testing.T) {
	r := healthy(t)
	before := removeBlock(t, r.firewall, "config rule\n\toption name 'Allow-WireGuard'")
	r.firewall = before
	dir := r.dir(t)
	st := openwrt.NewStore(dir, nil)
	in := Collect(context.Background(), st, nil, nil, false)
	in.Device, in.DeviceErr, in.Runtime = device(t), nil, publicWAN
	checks := Run(context.Background(), in)
	c := expect(t, checks, IDFirewallRule, StatusFail, []string{"UDP 51820", "wan zone"}, []string{"wgpanel doctor --fix", "Allow-WireGuard"})
	if !c.Fixable {
		t.Error("got a rule check that is not fixable")
	}
	expect(t, checks, IDFirewallZone, StatusOK, nil, nil)
	if got := FixableIDs(checks); !reflect.DeepEqual(got, []string{IDFirewallRule}) {
		t.Fatalf("got fixable %v; want [%s]", got, IDFirewallRule)
	}

	var reloads []string
	reload := func(_ context.Context, pkgs ...string) error { reloads = append(reloads, pkgs...); return nil }
	changes, err := Fix(context.Background(), st, FixableIDs(checks), reload)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"added firewall rule Allow-WireGuard for UDP 51820 from wan"}; !reflect.DeepEqual(changes, want) {
		t.Errorf("got changes %q; want %q", changes, want)
	}
	if !reflect.DeepEqual(reloads, []string{"firewall"}) {
		t.Errorf("got reloads %v; want [firewall]", reloads)
	}
	after := readFile(t, dir.Path("firewall"))
	testutil.Golden(t, "fix-rule.diff", []byte(lineDiff(before, string(after))))
	if string(after) != fixture(t, "firewall.wireguard-example") {
		t.Errorf("got firewall\n%s\nwant the LuCI-written fixture", after)
	}

	// The doctor now passes, and a second fix does nothing.
	in.Facts, _ = st.Facts(context.Background())
	expect(t, Run(context.Background(), in), IDFirewallRule, StatusOK, []string{"Allow-WireGuard"}, nil)
	reloads = nil
	changes, err = Fix(context.Background(), st, []string{IDFirewallRule}, reload)
	if err != nil || len(changes) != 0 || len(reloads) != 0 {
		t.Errorf("second fix: got changes %q, reloads %v, error %v; want nothing", changes, reloads, err)
	}
}

func TestZoneWithoutInterface(t *testing.T) {
	r := healthy(t)
	before := replace(t, r.firewall, "\tlist network 'wg0'\n", "")
	r.firewall = before
	dir := r.dir(t)
	st := openwrt.NewStore(dir, nil)
	checks := Run(context.Background(), input(t, r, device(t), publicWAN))
	c := expect(t, checks, IDFirewallZone, StatusFail, []string{"wg0", "no firewall zone"}, []string{"lan zone", "--fix"})
	if !c.Fixable {
		t.Error("got a zone check that is not fixable")
	}
	expect(t, checks, IDFirewallRule, StatusOK, nil, nil)

	changes, err := Fix(context.Background(), st, []string{IDFirewallZone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"added wg0 to firewall zone lan"}; !reflect.DeepEqual(changes, want) {
		t.Errorf("got changes %q; want %q", changes, want)
	}
	after := readFile(t, dir.Path("firewall"))
	testutil.Golden(t, "fix-zone.diff", []byte(lineDiff(before, string(after))))
	if string(after) != fixture(t, "firewall.wireguard-example") {
		t.Errorf("got firewall\n%s\nwant the LuCI-written fixture", after)
	}
}

func TestZoneStates(t *testing.T) {
	ownZone := "config zone\n\toption name 'vpn'\n\tlist network 'wg0'\n\toption input 'ACCEPT'\n\toption output 'ACCEPT'\n\toption forward 'REJECT'\n\n"
	noWG := func(t *testing.T) string {
		return replace(t, fixture(t, "firewall.wireguard-example"), "\tlist network 'wg0'\n", "")
	}
	tests := []struct {
		name     string
		firewall func(t *testing.T) string
		status   string
		finding  string
		fix      string
	}{
		{"own zone forwarding to lan", func(t *testing.T) string {
			return noWG(t) + "\n" + ownZone + "config forwarding\n\toption src 'vpn'\n\toption dest 'lan'\n\n"
		}, StatusOK, "vpn zone, which may forward to the lan zone", ""},
		{"own zone without forwarding", func(t *testing.T) string { return noWG(t) + "\n" + ownZone }, StatusFail,
			"vpn zone, which may not forward to the lan zone", "Zones, vpn"},
		{"disabled forwarding", func(t *testing.T) string {
			return noWG(t) + "\n" + ownZone + "config forwarding\n\toption src 'vpn'\n\toption dest 'lan'\n\toption enabled '0'\n\n"
		}, StatusFail, "may not forward", ""},
		{"lan zone forward REJECT", func(t *testing.T) string {
			return replace(t, fixture(t, "firewall.wireguard-example"), "\tlist network 'wg0'\n\toption input 'ACCEPT'\n\toption output 'ACCEPT'\n\toption forward 'ACCEPT'\n",
				"\tlist network 'wg0'\n\toption input 'ACCEPT'\n\toption output 'ACCEPT'\n\toption forward 'REJECT'\n")
		}, StatusFail, "forward policy is REJECT", "Forward to accept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := healthy(t)
			r.firewall = tt.firewall(t)
			checks := Run(context.Background(), input(t, r, device(t), publicWAN))
			c := expect(t, checks, IDFirewallZone, tt.status, []string{tt.finding}, []string{tt.fix})
			if c.Fixable {
				t.Errorf("got a fixable zone check for %q; only a missing zone is fixed", tt.name)
			}
		})
	}
}

func TestFixRefusesOtherChecks(t *testing.T) {
	r := healthy(t)
	r.firewall = removeBlock(t, r.firewall, "config rule\n\toption name 'Allow-WireGuard'")
	dir := r.dir(t)
	before := readFile(t, dir.Path("firewall"))
	for _, ids := range [][]string{{IDInterfacePort}, {IDFirewallRule, "wan.nat"}, {"nonsense"}} {
		changes, err := Fix(context.Background(), openwrt.NewStore(dir, nil), ids, nil)
		if vpn.ErrorCode(err) != vpn.EINVALID || len(changes) != 0 {
			t.Errorf("Fix(%v): got changes %q error %v; want code %s and no change", ids, changes, err, vpn.EINVALID)
		}
	}
	if after := readFile(t, dir.Path("firewall")); string(after) != string(before) {
		t.Errorf("a refused fix changed the firewall:\n%s", lineDiff(string(before), string(after)))
	}
}

func TestFixWithoutLANZone(t *testing.T) {
	r := healthy(t)
	r.firewall = replace(t, replace(t, r.firewall, "\tlist network 'wg0'\n", ""), "\tlist network 'lan'\n", "")
	r.firewall = replace(t, r.firewall, "\toption name 'lan'\n", "\toption name 'inside'\n")
	dir := r.dir(t)
	checks := Run(context.Background(), input(t, r, device(t), publicWAN))
	c := expect(t, checks, IDFirewallZone, StatusFail, []string{"no zone for the LAN"}, nil)
	if c.Fixable {
		t.Error("got a fixable zone check without a LAN zone")
	}
	_, err := Fix(context.Background(), openwrt.NewStore(dir, nil), []string{IDFirewallZone}, nil)
	if vpn.ErrorCode(err) != vpn.ECONFIG || !strings.Contains(vpn.ErrorMessage(err), "no firewall zone for the LAN") {
		t.Errorf("got error %v; want a config error about the missing LAN zone", err)
	}
}

func TestPPPoEMTU(t *testing.T) {
	pppoe := "config interface 'wan'\n\toption device 'wan'\n\toption proto 'pppoe'\n\toption username 'user@isp'\n\toption password 'secret'\n\toption ipv6 'auto'\n"
	tests := []struct {
		name    string
		wgMTU   string
		rt      *openwrt.Runtime
		status  string
		finding []string
		fix     []string
	}{
		{"default MTU", "", nil, StatusWarn, []string{"PPPoE", "1492", "wg0", "1420", "1412"}, []string{"1412", "mtu option"}},
		{"lowered MTU", "1412", nil, StatusOK, []string{"PPPoE", "1412"}, nil},
		{"runtime MTU from ubus", "1412", &openwrt.Runtime{WANProto: "pppoe", WANMTU: 1480,
			WANAddr: netip.MustParsePrefix("198.51.100.23/32")}, StatusWarn, []string{"1480", "1400"}, []string{"1400"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := healthy(t)
			r.network = withWAN(t, r.network, pppoe)
			if tt.wgMTU != "" {
				r.network = replace(t, r.network, "\toption listen_port '51820'\n", "\toption listen_port '51820'\n\toption mtu '"+tt.wgMTU+"'\n")
			}
			checks := Run(context.Background(), input(t, r, device(t), tt.rt))
			expect(t, checks, IDMTU, tt.status, tt.finding, tt.fix)
		})
	}

	// A plain Ethernet WAN with the default MTU is fine.
	expect(t, Run(context.Background(), input(t, healthy(t), device(t), publicWAN)), IDMTU, StatusOK, []string{"1500", "1420"}, nil)
}

func TestDNS(t *testing.T) {
	vpnZone := func(input string) func(t *testing.T, r *router) {
		return func(t *testing.T, r *router) {
			r.firewall = replace(t, r.firewall, "\tlist network 'wg0'\n", "") + "\nconfig zone\n\toption name 'vpn'\n\tlist network 'wg0'\n\toption input '" + input +
				"'\n\toption output 'ACCEPT'\n\toption forward 'REJECT'\n\nconfig forwarding\n\toption src 'vpn'\n\toption dest 'lan'\n\n"
		}
	}
	dhcp := func(extra string) func(t *testing.T, r *router) {
		return func(t *testing.T, r *router) {
			r.dhcp = replace(t, r.dhcp, "\toption localservice '1'\n", "\toption localservice '1'\n"+extra)
		}
	}
	settings := func(dns string) func(t *testing.T, r *router) {
		return func(t *testing.T, r *router) { r.wgpanel += "\toption dns '" + dns + "'\n" }
	}
	tests := []struct {
		name    string
		change  func(t *testing.T, r *router)
		status  string
		finding []string
		fix     []string
	}{
		{"default: the LAN address", func(*testing.T, *router) {}, StatusOK, []string{"192.168.1.1", "dnsmasq answers"}, nil},
		{"the tunnel address", settings("10.66.66.1"), StatusOK, []string{"10.66.66.1"}, nil},
		{"a LAN host", settings("192.168.1.5"), StatusOK, []string{"192.168.1.5", "tunnel reaches"}, nil},
		{"a public resolver", settings("9.9.9.9"), StatusOK, []string{"9.9.9.9", "public"}, nil},
		{"unreachable private resolver", settings("10.9.9.9"), StatusWarn, []string{"10.9.9.9", "neither the router"}, []string{"dns option"}},
		{"dnsmasq only on another interface", dhcp("\tlist interface 'wan'\n"), StatusFail,
			[]string{"192.168.1.1", "does not answer", "interface wan"}, []string{"Listen interfaces"}},
		{"dnsmasq not on lan", dhcp("\tlist notinterface 'lan'\n"), StatusFail, []string{"192.168.1.1", "notinterface lan"}, []string{"10.66.66.1"}},
		{"dnsmasq listen address", dhcp("\tlist listen_address '10.66.66.1'\n"), StatusFail, []string{"192.168.1.1", "listen_address 10.66.66.1"}, nil},
		{"DNS off", dhcp("\toption port '0'\n"), StatusFail, []string{"192.168.1.1", "DNS off"}, nil},
		{"no dhcp file", func(_ *testing.T, r *router) { r.dhcp = "" }, StatusWarn, []string{"192.168.1.1", "no dnsmasq section"}, []string{"10.66.66.0/24"}},
		{"zone rejects input", vpnZone("REJECT"), StatusFail, []string{"192.168.1.1", "vpn zone", "dropped"}, []string{"UDP 53"}},
		{"zone accepts input", vpnZone("ACCEPT"), StatusOK, []string{"192.168.1.1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := healthy(t)
			tt.change(t, &r)
			checks := Run(context.Background(), input(t, r, device(t), publicWAN))
			expect(t, checks, IDDNS, tt.status, tt.finding, tt.fix)
		})
	}

	in := input(t, healthy(t), device(t), publicWAN)
	in.Standalone = true
	absent(t, Run(context.Background(), in), IDDNS)
}

func TestEndpoint(t *testing.T) {
	ddns := "config service 'myddns_ipv4'\n\toption enabled '1'\n\toption lookup_host 'myhome.duckdns.org'\n"
	tests := []struct {
		name     string
		endpoint string
		ddns     string
		rt       *openwrt.Runtime
		status   string
		finding  []string
		fix      []string
	}{
		{"name", "myhome.example.org", "", publicWAN, StatusOK, []string{"myhome.example.org:51820"}, nil},
		{"WAN address", "203.0.113.7", "", publicWAN, StatusOK, []string{"203.0.113.7:51820"}, nil},
		{"IPv6", "2001:db8::7", "", publicWAN, StatusOK, []string{"[2001:db8::7]:51820"}, nil},
		{"stale address", "203.0.113.9", "", publicWAN, StatusWarn, []string{"203.0.113.9", "203.0.113.7"}, []string{"dynamic DNS"}},
		{"unset, DDNS suggested", "", ddns, publicWAN, StatusFail, []string{"No endpoint"}, []string{"to myhome.duckdns.org", "myddns_ipv4"}},
		{"unset, WAN suggested", "", "", publicWAN, StatusFail, []string{"No endpoint"}, []string{"to 203.0.113.7"}},
		{"unset, nothing to suggest", "", "", nil, StatusFail, []string{"No endpoint"}, []string{"public address or a dynamic DNS name"}},
		{"private", "192.168.1.1", "", publicWAN, StatusFail, []string{"192.168.1.1", "private"}, []string{"203.0.113.7"}},
		{"CGNAT", "100.100.1.1", "", publicWAN, StatusFail, []string{"100.100.1.1", "carrier-grade"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := healthy(t)
			r.wgpanel = ""
			if tt.endpoint != "" {
				r.wgpanel = "config wgpanel 'main'\n\toption endpoint '" + tt.endpoint + "'\n"
			}
			r.dhcp = ""
			if tt.ddns != "" {
				r.dhcp = readTestdata(t, "dhcp.default")
			}
			in := input(t, r, device(t), tt.rt)
			if tt.ddns != "" {
				dir := r.dir(t)
				if err := os.WriteFile(dir.Path("ddns"), []byte(tt.ddns), 0o600); err != nil {
					t.Fatal(err)
				}
				var wan netip.Addr
				if tt.rt != nil {
					wan = tt.rt.WANAddr.Addr()
				}
				in.SuggestedEndpoint, in.SuggestionReason = openwrt.SuggestEndpoint(dir, wan)
			}
			expect(t, Run(context.Background(), in), IDEndpoint, tt.status, tt.finding, tt.fix)
		})
	}
}

func TestInterfaceChecks(t *testing.T) {
	t.Run("no interface", func(t *testing.T) {
		r := healthy(t)
		r.network = fixture(t, "network.default")
		checks := Run(context.Background(), input(t, r, nil, publicWAN))
		expect(t, checks, IDInterfaceExists, StatusFail, []string{"no WireGuard interface wg0"}, []string{"wgpanel setup"})
		if len(checks) != 1 {
			t.Errorf("got %d checks; want only the missing interface:\n%s", len(checks), dump(checks))
		}
	})
	t.Run("not WireGuard", func(t *testing.T) {
		r := healthy(t)
		r.wgpanel = "config wgpanel 'main'\n\toption interface 'lan'\n"
		checks := Run(context.Background(), input(t, r, nil, publicWAN))
		expect(t, checks, IDInterfaceExists, StatusFail, []string{"lan", "proto 'static'"}, []string{"--interface"})
	})
	t.Run("not running", func(t *testing.T) {
		checks := Run(context.Background(), input(t, healthy(t), nil, publicWAN))
		expect(t, checks, IDInterfaceUp, StatusFail, []string{"wg0", "not running"}, []string{"ifup wg0"})
		absent(t, checks, IDPeerHandshake)
		absent(t, checks, IDPeerEndpoints)
		in := input(t, healthy(t), nil, publicWAN)
		in.Standalone = true
		expect(t, Run(context.Background(), in), IDInterfaceUp, StatusFail, nil, []string{"serve --dev"})
	})
	t.Run("WireGuard unreachable", func(t *testing.T) {
		in := input(t, healthy(t), nil, publicWAN)
		in.DeviceErr = fmt.Errorf("wgdev: %w", vpn.ErrDeviceUnreachable)
		expect(t, Run(context.Background(), in), IDInterfaceUp, StatusFail, []string{"cannot reach WireGuard"}, []string{"kmod-wireguard"})
	})
	t.Run("no listen port", func(t *testing.T) {
		r := healthy(t)
		r.network = replace(t, r.network, "\toption listen_port '51820'\n", "")
		dev := device(t)
		dev.ListenPort = 43210
		checks := Run(context.Background(), input(t, r, dev, publicWAN))
		expect(t, checks, IDInterfacePort, StatusFail, []string{"wg0", "no fixed listen port"}, []string{"wgpanel setup", "51820"})
		absent(t, checks, IDFirewallRule)
		expect(t, checks, IDWANNAT, StatusOK, []string{"the WireGuard port"}, nil)
	})
	t.Run("running port differs", func(t *testing.T) {
		dev := device(t)
		dev.ListenPort = 43210
		checks := Run(context.Background(), input(t, healthy(t), dev, publicWAN))
		expect(t, checks, IDInterfacePort, StatusWarn, []string{"43210", "51820"}, []string{"ifup wg0"})
	})
	t.Run("no private key", func(t *testing.T) {
		r := healthy(t)
		r.network = replace(t, r.network, "\toption private_key '"+serverPriv+"'\n", "")
		checks := Run(context.Background(), input(t, r, device(t), publicWAN))
		expect(t, checks, IDConfig, StatusFail, []string{"private_key"}, nil)
		expect(t, checks, IDInterfaceKey, StatusFail, []string{"no valid private key"}, []string{"Generate"})
		absent(t, checks, IDPeerHandshake) // peers need the configuration
	})
	t.Run("running key differs", func(t *testing.T) {
		dev := device(t)
		dev.PublicKey = mustKey(t, bobKey)
		checks := Run(context.Background(), input(t, healthy(t), dev, publicWAN))
		expect(t, checks, IDInterfaceKey, StatusWarn, []string{bobKey, mustKey(t, serverPriv).PublicKey().String()}, []string{"ifup wg0"})
	})
	t.Run("malformed network file", func(t *testing.T) {
		r := healthy(t)
		r.network = "config interface 'wg0'\n\toption proto 'wireguard\n"
		checks := Run(context.Background(), input(t, r, nil, nil))
		expect(t, checks, IDConfig, StatusFail, []string{"line 2"}, []string{"restore it"})
		if len(checks) != 1 {
			t.Errorf("got %d checks; want only the config error:\n%s", len(checks), dump(checks))
		}
	})
}

func TestPeerHandshakes(t *testing.T) {
	enableBob := func(t *testing.T, r *router) {
		r.network = replace(t, r.network, "\toption disabled '1'\n", "")
	}
	tests := []struct {
		name    string
		change  func(t *testing.T, r *router)
		dev     func(d *vpn.DeviceState)
		status  string
		finding []string
		fix     []string
	}{
		{"alice connected, bob disabled", nil, nil, StatusOK, []string{"(1)"}, nil},
		{"bob never connected", enableBob, func(d *vpn.DeviceState) {
			d.Peers = append(d.Peers, vpn.PeerStats{PublicKey: mustKey(t, bobKey)})
		}, StatusWarn, []string{"Peer 'bob-laptop' has never completed a handshake with wg0."}, []string{"port forward"}},
		{"nobody connected", enableBob, func(d *vpn.DeviceState) {
			d.Peers[0].LatestHandshake = time.Time{}
			d.Peers = append(d.Peers, vpn.PeerStats{PublicKey: mustKey(t, bobKey)})
		}, StatusWarn, []string{"Peers 'alice-phone' and 'bob-laptop' have never"}, nil},
		{"bob not on the device", enableBob, nil, StatusWarn, []string{"'bob-laptop'"}, []string{"wgpanel reconcile", "'bob-laptop' is not on the running interface"}},
		{"no enabled peer", func(t *testing.T, r *router) {
			r.network = replace(t, r.network, "\toption description 'alice-phone'\n", "\toption description 'alice-phone'\n\toption disabled '1'\n")
		}, nil, StatusOK, []string{"No peer"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := healthy(t)
			if tt.change != nil {
				tt.change(t, &r)
			}
			dev := device(t)
			if tt.dev != nil {
				tt.dev(dev)
			}
			expect(t, Run(context.Background(), input(t, r, dev, publicWAN)), IDPeerHandshake, tt.status, tt.finding, tt.fix)
		})
	}
}

func TestStandaloneFirewall(t *testing.T) {
	r := healthy(t)
	r.firewall = ""
	in := input(t, r, device(t), publicWAN)
	in.Standalone = true
	checks := Run(context.Background(), in)
	absent(t, checks, IDFirewallRule)
	absent(t, checks, IDFirewallZone)

	// On a router, no firewall package means nothing blocks the port.
	checks = Run(context.Background(), input(t, r, device(t), publicWAN))
	expect(t, checks, IDFirewallRule, StatusOK, []string{"no firewall"}, nil)
}

func TestCollect(t *testing.T) {
	r := healthy(t)
	r.network = withWAN(t, r.network, doubleNATWAN)
	dir := r.dir(t)
	dev := vpntest.NewDevice("wg0")
	if err := dev.SetPeer("wg0", vpn.DevicePeer{PublicKey: mustKey(t, aliceKey)}); err != nil {
		t.Fatal(err)
	}
	dev.SetHandshake(mustKey(t, aliceKey), epoch, 1, 2, netip.MustParseAddrPort("198.51.100.20:40000"))
	rtErr := errors.New("ubus: not found")
	in := Collect(context.Background(), openwrt.NewStore(dir, nil), dev,
		func(context.Context) (openwrt.Runtime, error) { return openwrt.Runtime{}, rtErr }, false)
	if in.Config == nil || in.Facts == nil || in.Device == nil || in.ConfigErr != nil || in.FactsErr != nil || in.DeviceErr != nil {
		t.Fatalf("got input %+v; want config, facts and device", in)
	}
	if in.Runtime != nil || !errors.Is(in.RuntimeErr, rtErr) {
		t.Errorf("got runtime %v (%v); want the gatherer's error", in.Runtime, in.RuntimeErr)
	}
	if in.SuggestedEndpoint != "" || !strings.Contains(in.SuggestionReason, "192.168.2.253 is private") {
		t.Errorf("got suggestion %q (%s); want none, with the static WAN named", in.SuggestedEndpoint, in.SuggestionReason)
	}
	checks := Run(context.Background(), in)
	expect(t, checks, IDWANNAT, StatusWarn, []string{"192.168.2.253", "192.168.2.254", "UDP 51820"}, nil)
	expect(t, checks, IDPeerHandshake, StatusOK, nil, nil)

	dev.SetAbsent(true)
	in = Collect(context.Background(), openwrt.NewStore(dir, nil), dev, nil, false)
	if !errors.Is(in.DeviceErr, vpn.ErrNoDevice) {
		t.Errorf("got device error %v; want ErrNoDevice", in.DeviceErr)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
