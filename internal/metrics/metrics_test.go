package metrics

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/vpn"
	"github.com/wgpanel/wgpanel/internal/wgdev"
)

// sample is one parsed sample line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// parse reads a text exposition strictly enough to catch what a Prometheus
// server would reject: every sample's family has one TYPE line before it,
// names are valid, label values are properly quoted and escaped, values
// are numbers, and samples of one family are together.
func parse(t *testing.T, text string) []sample {
	t.Helper()
	types := map[string]string{}
	var out []sample
	done := map[string]bool{} // families whose samples have ended
	last := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 4 || (f[1] != "HELP" && f[1] != "TYPE") || !metricName.MatchString(f[2]) {
				t.Fatalf("line %d: bad comment %q", n, line)
			}
			if f[1] == "TYPE" {
				if types[f[2]] != "" {
					t.Fatalf("line %d: second TYPE for %s", n, f[2])
				}
				types[f[2]] = f[3]
			}
			continue
		}
		s := sample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			t.Fatalf("line %d: no value: %q", n, line)
		}
		s.name, line = line[:i], line[i:]
		if !metricName.MatchString(s.name) || types[s.name] == "" {
			t.Fatalf("line %d: sample %q without a TYPE", n, s.name)
		}
		if s.name != last && done[s.name] {
			t.Fatalf("line %d: samples of %s are not together", n, s.name)
		}
		if last != "" && s.name != last {
			done[last] = true
		}
		last = s.name
		if strings.HasPrefix(line, "{") {
			line = line[1:]
			for !strings.HasPrefix(line, "}") {
				k, rest, ok := strings.Cut(line, `="`)
				if !ok || !metricName.MatchString(k) {
					t.Fatalf("line %d: bad label in %q", n, line)
				}
				var v strings.Builder
				j := 0
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' {
						j++
						switch {
						case j >= len(rest):
							t.Fatalf("line %d: dangling backslash", n)
						case rest[j] == 'n':
							v.WriteByte('\n')
						case rest[j] == '\\' || rest[j] == '"':
							v.WriteByte(rest[j])
						default:
							t.Fatalf("line %d: bad escape \\%c", n, rest[j])
						}
						continue
					}
					v.WriteByte(rest[j])
				}
				if j >= len(rest) {
					t.Fatalf("line %d: unterminated label value", n)
				}
				s.labels[k] = v.String()
				line = strings.TrimPrefix(rest[j+1:], ",")
			}
			line = line[1:]
		}
		val, ok := strings.CutPrefix(line, " ")
		if !ok {
			t.Fatalf("line %d: no space before the value", n)
		}
		var err error
		if s.value, err = strconv.ParseFloat(val, 64); err != nil {
			t.Fatalf("line %d: value %q: %v", n, val, err)
		}
		out = append(out, s)
	}
	return out
}

func find(t *testing.T, ss []sample, name, device string) float64 {
	t.Helper()
	for _, s := range ss {
		if s.name == name && (device == "" || s.labels["name"] == device) {
			return s.value
		}
	}
	t.Fatalf("no sample %s for %q", name, device)
	return 0
}

func TestWrite(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	odd := "Anna's \"phone\"\\ \nline two"
	s := Snapshot{Interface: "wg0", InterfaceUp: true, Version: "1.2.3", Now: now, Devices: []Device{
		{Name: odd, PublicKey: "AAAA+/=", Enabled: true, RxBytes: 1<<60 + 1, TxBytes: 7, LastHandshake: now.Add(-90 * time.Second)},
		{Name: "old", PublicKey: "BBBB", LastHandshake: now.Add(-10 * time.Minute)},
		{Name: "never", PublicKey: "CCCC", Enabled: true},
	}}
	var b bytes.Buffer
	if err := Write(&b, s); err != nil {
		t.Fatal(err)
	}
	ss := parse(t, b.String())
	checks := []struct {
		name, device string
		want         float64
	}{
		{"wgpanel_build_info", "", 1},
		{"wgpanel_interface_up", "", 1},
		{"wgpanel_device_sent_bytes_total", odd, 7},
		{"wgpanel_device_last_handshake_age_seconds", odd, 90},
		{"wgpanel_device_last_handshake_age_seconds", "never", math.Inf(1)},
		{"wgpanel_device_connected", odd, 1},
		{"wgpanel_device_connected", "old", 0},
		{"wgpanel_device_connected", "never", 0},
		{"wgpanel_device_enabled", "old", 0},
		{"wgpanel_device_enabled", "never", 1},
	}
	for _, c := range checks {
		if got := find(t, ss, c.name, c.device); got != c.want {
			t.Errorf("%s{name=%q} = %v; want %v", c.name, c.device, got, c.want)
		}
	}
	// A counter beyond 2^53 is written exactly.
	if !strings.Contains(b.String(), " 1152921504606846977\n") {
		t.Errorf("the large counter is not exact:\n%s", b.String())
	}
	for _, s := range ss {
		if s.name == "wgpanel_device_received_bytes_total" && s.labels["name"] == odd && s.labels["public_key"] != "AAAA+/=" {
			t.Errorf("public_key label = %q", s.labels["public_key"])
		}
	}
}

// TestAgainstWgShow scrapes a real userspace WireGuard interface with a
// handshaken peer and compares the numbers with `wg show dump`.
func TestAgainstWgShow(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTUN(t)
	testutil.RequireCommand(t, "wg", "ip")
	if !testutil.InNetNS(t) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rKey, _ := wgtypes.GeneratePrivateKey()
	pKey, _ := wgtypes.GeneratePrivateKey()
	router, phone := "wgmr"+strconv.Itoa(time.Now().Nanosecond()%10000), "wgmp"+strconv.Itoa(time.Now().Nanosecond()%10000)
	for _, l := range []wgdev.LinkConfig{
		{Name: router, PrivateKey: rKey, ListenPort: 51820, Addresses: []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")}},
		{Name: phone, PrivateKey: pKey, Addresses: []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32")}},
	} {
		link, err := wgdev.Up(ctx, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { link.Close() })
	}
	c := wgdev.New(nil)
	defer c.Close()
	if err := c.SetPeer(router, vpn.DevicePeer{PublicKey: pKey.PublicKey(), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32")}}); err != nil {
		t.Fatal(err)
	}
	disabled, _ := wgtypes.GeneratePrivateKey()
	wgSet := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, "wg", append([]string{"set", phone, "peer", rKey.PublicKey().String()}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("wg set: %v: %s", err, out)
		}
	}
	wgSet("endpoint", "127.0.0.1:51820", "allowed-ips", "10.77.0.1/32", "persistent-keepalive", "1")
	// Wait for the handshake and a few keepalives, then stop them so that
	// the counters hold still.
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := c.State(router)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Peers) == 1 && !st.Peers[0].LatestHandshake.IsZero() && st.Peers[0].RxBytes > 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake within 15 s: %+v", st.Peers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wgSet("persistent-keepalive", "0")

	for attempt := 0; ; attempt++ {
		time.Sleep(1500 * time.Millisecond)
		st, err := c.State(router)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		snap := Snapshot{Interface: router, InterfaceUp: true, Version: "test", Now: now, Devices: []Device{
			{Name: "phone", PublicKey: pKey.PublicKey().String(), Enabled: true,
				RxBytes: uint64(st.Peers[0].RxBytes), TxBytes: uint64(st.Peers[0].TxBytes), LastHandshake: st.Peers[0].LatestHandshake},
			{Name: "guest", PublicKey: disabled.PublicKey().String()},
		}}
		var b bytes.Buffer
		if err := Write(&b, snap); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, "wg", "show", router, "dump").Output()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		f := strings.Split(lines[1], "\t") // public key, psk, endpoint, allowed ips, handshake, rx, tx, keepalive
		if len(lines) != 2 || len(f) != 8 {
			t.Fatalf("unexpected wg show dump:\n%s", out)
		}
		ss := parse(t, b.String())
		rx, tx := find(t, ss, "wgpanel_device_received_bytes_total", "phone"), find(t, ss, "wgpanel_device_sent_bytes_total", "phone")
		if fmt.Sprint(rx) != f[5] || fmt.Sprint(tx) != f[6] {
			if attempt < 5 {
				continue // a packet arrived between the two reads
			}
			t.Errorf("bytes received/sent = %v/%v; wg show: %s/%s", rx, tx, f[5], f[6])
		}
		hs, _ := strconv.ParseInt(f[4], 10, 64)
		wantAge := now.Sub(time.Unix(hs, 0)).Seconds()
		if age := find(t, ss, "wgpanel_device_last_handshake_age_seconds", "phone"); math.Abs(age-wantAge) > 1 {
			t.Errorf("handshake age %v s; wg show says %v s", age, wantAge)
		}
		if f[0] != pKey.PublicKey().String() {
			t.Errorf("wg show lists %s", f[0])
		}
		for name, want := range map[string]float64{"wgpanel_device_connected": 1, "wgpanel_device_enabled": 1} {
			if got := find(t, ss, name, "phone"); got != want {
				t.Errorf("%s = %v; want %v", name, got, want)
			}
		}
		if got := find(t, ss, "wgpanel_device_last_handshake_age_seconds", "guest"); !math.IsInf(got, 1) {
			t.Errorf("guest handshake age = %v; want +Inf", got)
		}
		t.Logf("rx %v tx %v handshake age %.1f s", rx, tx, wantAge)
		return
	}
}
