package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil/browsertest"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestHelp checks that every way of asking for help prints the usage, as
// the README writes it, and exits 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"peer", "--help"}, {"peer", "add", "--help"},
		{"peer", "add", "-h"}, {"settings", "--help"}, {"help", "peer"}} {
		stdout, stderr, err := runCLI(t, "", args...)
		if code := exitCode(err); code != 0 {
			t.Errorf("%q: exit %d (%v); want 0", args, code, err)
		}
		if stderr != "" || !strings.Contains(stdout, "usage") {
			t.Errorf("%q: stdout %q, stderr %q; want the usage on stdout", args, stdout, stderr)
		}
		if strings.Contains(stdout, " -full-tunnel") || strings.Contains(stdout, "Usage of") {
			t.Errorf("%q: the usage has the flag package's single-dash form:\n%s", args, stdout)
		}
	}
	stdout, _, _ := runCLI(t, "", "peer", "add", "--help")
	if !strings.Contains(stdout, "wgpanel peer add NAME [--full-tunnel] [--qr]") {
		t.Errorf("peer add --help:\n%s\nwant the README's form", stdout)
	}
	_, _, err := runCLI(t, "")
	if code := exitCode(err); code != 2 {
		t.Errorf("no command: exit %d; want 2", code)
	}
	_, _, err = runCLI(t, "", "peer", "add", "--bogus", "x")
	if code := exitCode(err); code != 1 || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "peer add --help") {
		t.Errorf("unknown flag: exit %d, %q; want one line naming peer add --help", code, err)
	}
}

func TestSetupEndpointURL(t *testing.T) {
	dir, _ := testDir(t)
	_, _, err := runCLI(t, "", "--config-dir", dir, "setup", "--endpoint", "http://x")
	if err == nil || !strings.Contains(err.Error(), "not a URL: give a host name or address") {
		t.Errorf("setup --endpoint http://x: %v; want 'not a URL: give a host name or address'", err)
	}
}

func TestSettingsCommand(t *testing.T) {
	dir, _ := testDir(t)
	before := snapshot(t, dir)
	if _, _, err := runCLI(t, "", "--config-dir", dir, "settings", "--endpoint", "new.example.org", "--mtu", "12"); err == nil ||
		!strings.Contains(err.Error(), "mtu") {
		t.Fatalf("bad mtu: %v; want an error naming mtu", err)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("a refused settings change wrote files")
	}
	out, _, err := runCLI(t, "", "--config-dir", dir, "settings", "--endpoint", "192.168.2.253", "--dns", "192.168.1.1 9.9.9.9", "--mtu", "1380")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"endpoint:          192.168.2.253", "dns:               192.168.1.1 9.9.9.9", "mtu:               1380",
		"warning: 192.168.2.253 is a private address", "scan it again"} {
		if !strings.Contains(out, want) {
			t.Errorf("settings printed\n%s\nwant %q", out, want)
		}
	}
	out, _, err = runCLI(t, "", "--config-dir", dir, "settings")
	if err != nil || strings.Contains(out, "saved") || !strings.Contains(out, "stun_server:       off") {
		t.Errorf("settings without flags: %v\n%s\nwant the settings only, stun_server off", err, out)
	}
}

func TestReachabilityCommand(t *testing.T) {
	dir, _ := testDir(t)
	out, _, err := runCLI(t, "", "--config-dir", dir, "reachability", "--json")
	if err != nil || !strings.Contains(out, `"verdict"`) || !strings.Contains(out, `"can_discover": false`) {
		t.Fatalf("reachability --json: %v\n%s", err, out)
	}
	_, _, err = runCLI(t, "", "--config-dir", dir, "reachability", "--discover")
	if err == nil || !strings.Contains(err.Error(), "switched off") {
		t.Errorf("reachability --discover without stun_server: %v; want that the feature is switched off", err)
	}
}

func TestPeerListWords(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	key := func() wgtypes.Key { k, _ := wgtypes.GeneratePrivateKey(); return k.PublicKey() }
	peers := []vpn.PeerView{
		{Name: "phone", PublicKey: key(), Tunnel: vpn.TunnelSplit, Enabled: true, Online: true, LatestHandshake: now.Add(-20 * time.Second),
			RxBytes: 1_200_000, TxBytes: 380_000, Addresses: []netip.Prefix{netip.MustParsePrefix("10.66.66.2/32")}},
		{Name: "laptop", PublicKey: key(), Tunnel: vpn.TunnelFull, Enabled: true, LatestHandshake: now.Add(-72 * time.Hour), ConfigStale: true},
		{Name: "tablet", PublicKey: key(), Tunnel: vpn.TunnelSplit, Enabled: true},
		{Name: "old", PublicKey: key(), Tunnel: vpn.TunnelSplit},
	}
	var b strings.Builder
	printPeers(&b, peers, now)
	for _, want := range []string{"connected · 20 s ago", "↓ 380 kB ↑ 1.2 MB", "home network only", "all traffic",
		"last seen 3 days ago (re-scan needed)", "not connected yet", "disabled"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("peer list:\n%s\nwant %q", b.String(), want)
		}
	}
}

// TestTerminalQR checks that bigConfig fits 80 columns, with explicit
// colours on every line.
func TestTerminalQR(t *testing.T) {
	cc := bigConfig()
	qr, width, err := terminalQR(cc.String())
	if err != nil {
		t.Fatal(err)
	}
	if width > 80 {
		t.Errorf("the QR code is %d columns wide; want at most 80", width)
	}
	for i, line := range strings.Split(strings.TrimSuffix(qr, "\n"), "\n") {
		if !strings.HasPrefix(line, qrColours) || !strings.HasSuffix(line, qrReset) {
			t.Fatalf("line %d lacks the explicit colours: %q", i, line)
		}
	}
}

// TestTerminalQRScans draws the terminal QR code back into an image, as a
// dark-themed terminal shows it (black beyond the code's own white), and
// decodes it with zbarimg.
func TestTerminalQRScans(t *testing.T) {
	cc := bigConfig()
	for _, text := range []string{"short text", cc.String()} {
		qr, _, err := terminalQR(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := browsertest.ZbarDecode(t, renderTerminal(t, qr)); got != text {
			t.Errorf("the terminal QR code decodes to %q; want %q", got, text)
		}
	}
}

// renderTerminal paints half-block text as a PNG, 6 pixels per module,
// with a black margin of 6 modules.
func renderTerminal(t *testing.T, qr string) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(qr, "\n"), "\n")
	var rows [][]bool // true = dark
	for _, l := range lines {
		l = strings.TrimSuffix(strings.TrimPrefix(l, qrColours), qrReset)
		top, bottom := []bool{}, []bool{}
		for _, r := range l {
			top = append(top, r == '█' || r == '▀')
			bottom = append(bottom, r == '█' || r == '▄')
		}
		rows = append(rows, top, bottom)
	}
	const px, margin = 6, 6
	n := len(rows[0])
	img := image.NewGray(image.Rect(0, 0, (n+2*margin)*px, (len(rows)+2*margin)*px))
	for y := range rows {
		for x := range rows[y] {
			c := color.Gray{Y: 255}
			if rows[y][x] {
				c = color.Gray{Y: 0}
			}
			for dy := 0; dy < px; dy++ {
				for dx := 0; dx < px; dx++ {
					img.SetGray((x+margin)*px+dx, (y+margin)*px+dy, c)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bigConfig is a config as large as wgpanel makes with a long dynamic DNS
// name (63 characters), two DNS servers, IPv4 and IPv6 addresses, a full
// tunnel, a preshared key and an MTU.
func bigConfig() vpn.ClientConfig {
	k, _ := wgtypes.GeneratePrivateKey()
	psk, _ := wgtypes.GeneratePrivateKey()
	return vpn.ClientConfig{
		PrivateKey: k, ServerKey: k.PublicKey(), PresharedKey: &psk, MTU: 1280, Keepalive: 25,
		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.255.255.254/32"), netip.MustParsePrefix("fd12:3456:789a:ffff:ffff:ffff:ffff:fffe/128")},
		DNS:        []netip.Addr{netip.MustParseAddr("192.168.100.100"), netip.MustParseAddr("fd12:3456:789a:1::1")},
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
		Endpoint:   strings.Repeat("a", 51) + ".duckdns.org:51820",
	}
}
