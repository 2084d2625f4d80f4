package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/reach"
	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/vpn/vpntest"
)

// uciRouter is a router made of UCI files: the fixtures in testdata,
// changed by the test, read by the real openwrt store, doctor and reach.
type uciRouter struct {
	network, firewall, wgpanel string
	runtime                    *openwrt.Runtime // nil: the WAN's live state is unknown
}

func testdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustReplace(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the fixture", old)
	}
	return strings.Replace(s, old, new, 1)
}

const dhcpWAN = "config interface 'wan'\n\toption device 'wan'\n\toption proto 'dhcp'\n"

// storyWAN is the router: WAN 192.168.2.253 behind an ISP router
// at 192.168.2.254 (its LAN is the fixture's 192.168.1.1/24).
const storyWAN = "config interface 'wan'\n\toption device 'wan'\n\toption proto 'static'\n" +
	"\toption ipaddr '192.168.2.253'\n\toption netmask '255.255.255.0'\n\toption gateway '192.168.2.254'\n"

func baseRouter(t testing.TB) uciRouter {
	return uciRouter{
		network:  testdata(t, "network.wireguard-example"),
		firewall: testdata(t, "firewall.wireguard-example"),
		wgpanel:  "config wgpanel 'main'\n\toption endpoint 'myhome.example.org'\n",
	}
}

func runtimeWAN(prefix, gw string) *openwrt.Runtime {
	return &openwrt.Runtime{WANProto: "dhcp", WANUp: true, WANDevice: "wan",
		WANAddr: netip.MustParsePrefix(prefix), Gateway: netip.MustParseAddr(gw), WANMTU: 1500}
}

// newUCIEnv serves the API over the real store on r's files, a fake
// device and the real reachability checker.
func newUCIEnv(t testing.TB, r uciRouter) (*env, uci.Dir) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"network": r.network, "firewall": r.firewall, "dhcp": testdata(t, "dhcp.default"), "wgpanel": r.wgpanel}
	for name, data := range files {
		if data == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hash := passwordHash(t)
	a, err := auth.New(auth.Config{Mode: auth.ModePassword, Hash: func() (string, error) { return hash, nil }})
	if err != nil {
		t.Fatal(err)
	}
	store := openwrt.NewStore(uci.Dir(dir), nil)
	dev := vpntest.NewDevice("wg0")
	svc := vpn.NewService(store, dev, nil)
	checker := &reach.Checker{
		Store: store, Device: dev, HostAddrs: func() []netip.Addr { return nil },
		Runtime: func(context.Context) (openwrt.Runtime, error) {
			if r.runtime == nil {
				return openwrt.Runtime{}, errors.New("ubus: not found")
			}
			return *r.runtime, nil
		},
	}
	e := &env{t: t, dev: dev, svc: svc, auth: a}
	e.h = New(Config{Service: svc, Auth: a, Settings: store, Reach: checker})
	e.cookie = &http.Cookie{Name: cookieName, Value: a.NewSession()}
	return e, uci.Dir(dir)
}

type reachAnswer struct {
	Verdict     string   `json:"verdict"`
	Summary     string   `json:"summary"`
	Fix         string   `json:"fix"`
	FixIDs      []string `json:"fix_ids"`
	WANIPv4     *string  `json:"wan_ipv4"`
	PublicIPv4  *string  `json:"public_ipv4"`
	PublicIPv6  *string  `json:"public_ipv6"`
	Discovered  bool     `json:"discovered"`
	Suggestions []struct {
		Value string `json:"value"`
		Why   string `json:"why"`
	} `json:"suggestions"`
	CanDiscover bool `json:"can_discover"`
}

func str(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

// TestReachability builds each verdict from UCI files and checks the
// sentence, the one thing to do and the addresses.
func TestReachability(t *testing.T) {
	tests := []struct {
		name     string
		change   func(t testing.TB, r *uciRouter)
		verdict  string
		summary  []string
		fix      []string
		fixIDs   string
		wan, pub string
		pub6     string
		suggest  string // the first suggestion; "" when none
	}{
		{
			name:    "public WAN",
			change:  func(t testing.TB, r *uciRouter) { r.runtime = runtimeWAN("203.0.113.7/24", "203.0.113.1") },
			verdict: reach.Reachable, summary: []string{"phones connect to myhome.example.org:51820"},
			wan: "203.0.113.7", pub: "203.0.113.7", pub6: "null", suggest: "203.0.113.7",
		},
		{
			name:    "double NAT (the story's router)",
			change:  func(t testing.TB, r *uciRouter) { r.network = mustReplace(t, r.network, dhcpWAN, storyWAN) },
			verdict: reach.PortForwardNeeded,
			summary: []string{"Your router is behind another router (192.168.2.254): on it, forward UDP 51820 to 192.168.2.253."},
			fix:     []string{"http://192.168.2.254", "UDP 51820 to 192.168.2.253"},
			wan:     "192.168.2.253", pub: "null", pub6: "null",
		},
		{
			name:    "CGNAT",
			change:  func(t testing.TB, r *uciRouter) { r.runtime = runtimeWAN("100.64.12.34/10", "100.64.0.1") },
			verdict: reach.CGNAT,
			summary: []string{"carrier-grade NAT", "a port forward cannot work"},
			fix:     []string{"Ask your internet provider for a public IPv4 address, or use IPv6."},
			wan:     "100.64.12.34", pub: "null", pub6: "null",
		},
		{
			name: "CGNAT with a public IPv6 address",
			change: func(t testing.TB, r *uciRouter) {
				r.runtime = runtimeWAN("100.64.12.34/10", "100.64.0.1")
				r.network = mustReplace(t, r.network, "config interface 'wan6'\n\toption device 'wan'\n\toption proto 'dhcpv6'\n",
					"config interface 'wan6'\n\toption device 'wan'\n\toption proto 'static'\n\tlist ip6addr '2001:db8:5::2/64'\n")
			},
			verdict: reach.CGNAT,
			summary: []string{"carrier-grade NAT"},
			fix:     []string{"Phones with IPv6 can reach your router at 2001:db8:5::2", "as the Endpoint"},
			wan:     "100.64.12.34", pub: "null", pub6: "2001:db8:5::2", suggest: "2001:db8:5::2",
		},
		{
			name: "missing firewall rule",
			change: func(t testing.TB, r *uciRouter) {
				r.runtime = runtimeWAN("203.0.113.7/24", "203.0.113.1")
				r.firewall = mustReplace(t, r.firewall, "option name 'Allow-WireGuard'", "option name 'Allow-WireGuard'\n\toption enabled '0'")
			},
			verdict: reach.Blocked, summary: []string{"firewall drops the phones' connections: UDP 51820 is not open"},
			fix: []string{"Press Fix"}, fixIDs: "firewall.rule",
			wan: "203.0.113.7", pub: "203.0.113.7", pub6: "null", suggest: "203.0.113.7",
		},
		{
			name: "no endpoint",
			change: func(t testing.TB, r *uciRouter) {
				r.runtime = runtimeWAN("203.0.113.7/24", "203.0.113.1")
				r.wgpanel = ""
			},
			verdict: reach.NoEndpoint, summary: []string{"Phones do not know where to reach your router yet."},
			fix: []string{"Set the Endpoint below, for example to 203.0.113.7."},
			wan: "203.0.113.7", pub: "203.0.113.7", pub6: "null", suggest: "203.0.113.7",
		},
		{
			name: "no endpoint, with a DDNS name to suggest",
			change: func(t testing.TB, r *uciRouter) {
				r.runtime = runtimeWAN("203.0.113.7/24", "203.0.113.1")
				r.wgpanel = ""
			},
			verdict: reach.NoEndpoint, fix: []string{"for example to home.example.net"},
			wan: "203.0.113.7", pub: "203.0.113.7", pub6: "null", suggest: "home.example.net",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseRouter(t)
			tt.change(t, &r)
			e, dir := newUCIEnv(t, r)
			if strings.Contains(tt.name, "DDNS") {
				ddns := "config service 'home'\n\toption enabled '1'\n\toption lookup_host 'home.example.net'\n\toption domain 'home.example.net'\n"
				if err := os.WriteFile(dir.Path("ddns"), []byte(ddns), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w := e.do("GET", "/api/reachability", "")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			got := decodeJSON[reachAnswer](t, w)
			if got.Verdict != tt.verdict {
				t.Errorf("verdict %q (%s / %s); want %q", got.Verdict, got.Summary, got.Fix, tt.verdict)
			}
			for _, s := range tt.summary {
				if !strings.Contains(got.Summary, s) {
					t.Errorf("summary %q; want it to contain %q", got.Summary, s)
				}
			}
			for _, s := range tt.fix {
				if !strings.Contains(got.Fix, s) {
					t.Errorf("fix %q; want it to contain %q", got.Fix, s)
				}
			}
			if ids := strings.Join(got.FixIDs, ","); ids != tt.fixIDs {
				t.Errorf("fix_ids %q; want %q", ids, tt.fixIDs)
			}
			if str(got.WANIPv4) != tt.wan || str(got.PublicIPv4) != tt.pub || str(got.PublicIPv6) != tt.pub6 {
				t.Errorf("wan_ipv4 %s, public_ipv4 %s, public_ipv6 %s; want %s, %s, %s",
					str(got.WANIPv4), str(got.PublicIPv4), str(got.PublicIPv6), tt.wan, tt.pub, tt.pub6)
			}
			first := ""
			if len(got.Suggestions) > 0 {
				first = got.Suggestions[0].Value
			}
			if first != tt.suggest {
				t.Errorf("first suggestion %q; want %q (%+v)", first, tt.suggest, got.Suggestions)
			}
			for _, bad := range []string{"openwrt:", "ubus", "wgpanel setup --endpoint"} {
				if strings.Contains(got.Summary+got.Fix, bad) {
					t.Errorf("verdict %q / %q contains %q", got.Summary, got.Fix, bad)
				}
			}
		})
	}
}

// TestReachabilityDiscoverOff checks that without option stun_server the
// button is hidden and discover sends nothing and says why.
func TestReachabilityDiscoverOff(t *testing.T) {
	e, _ := newUCIEnv(t, baseRouter(t))
	if got := decodeJSON[reachAnswer](t, e.do("GET", "/api/reachability", "")); got.CanDiscover {
		t.Errorf("can_discover true without stun_server")
	}
	w := e.do("POST", "/api/reachability/discover", "")
	wantError(t, w, http.StatusConflict, "")
	if !strings.Contains(w.Body.String(), "switched off") {
		t.Errorf("got %s; want it to say the feature is switched off", w.Body)
	}
}

// TestReachabilityDiscoverNoAnswer points stun_server at a loopback port
// that never answers: discover gives up after 3 s with a clear message.
func TestReachabilityDiscoverNoAnswer(t *testing.T) {
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	r := baseRouter(t)
	r.wgpanel += fmt.Sprintf("\toption stun_server '%s'\n", silent.LocalAddr())
	e, _ := newUCIEnv(t, r)
	if got := decodeJSON[reachAnswer](t, e.do("GET", "/api/reachability", "")); !got.CanDiscover {
		t.Errorf("can_discover false with stun_server set")
	}
	start := time.Now()
	w := e.do("POST", "/api/reachability/discover", "")
	took := time.Since(start)
	wantError(t, w, http.StatusServiceUnavailable, "")
	if !strings.Contains(w.Body.String(), "did not answer within 3 s") {
		t.Errorf("got %s; want it to say no answer came within 3 s", w.Body)
	}
	if took < 2900*time.Millisecond || took > 6*time.Second {
		t.Errorf("discover gave up after %v; want about 3 s", took)
	}
	// The request reached the silent server: the request was sent, and
	// only to the configured server.
	silent.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64)
	if n, _, err := silent.ReadFromUDP(buf); err != nil || n != 20 || buf[0] != 0 || buf[1] != 1 {
		t.Errorf("the server got %d bytes %x (%v); want a 20-byte Binding request", n, buf[:n], err)
	}
}

// TestReachabilityDiscoverUnreachable runs in a network namespace of its
// own, with no route anywhere: the STUN request fails at once with a socket
// error, and the page gets a sentence naming the server, never that error.
func TestReachabilityDiscoverUnreachable(t *testing.T) {
	if !testutil.InNetNS(t) {
		return
	}
	const addr = "192.0.2.1:3478"
	r := baseRouter(t)
	r.wgpanel += "\toption stun_server '" + addr + "'\n"
	e, _ := newUCIEnv(t, r)
	w := e.do("POST", "/api/reachability/discover", "")
	wantError(t, w, http.StatusServiceUnavailable, "")
	body := w.Body.String()
	if !strings.Contains(body, "could not reach the STUN server "+addr) {
		t.Errorf("got %s; want the sentence for a server that cannot be reached", body)
	}
	for _, internal := range []string{"udp", "dial", "unreachable"} {
		if strings.Contains(body, internal) {
			t.Errorf("got %s; want no socket error text (%q)", body, internal)
		}
	}
}
