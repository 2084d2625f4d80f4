package dnshosts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

func TestLabel(t *testing.T) {
	tests := []struct{ name, want string }{
		{"phone", "phone"},
		{"Phone", "phone"},
		{"Anna's iPhone", "anna-s-iphone"},
		{"  Büro PC  ", "buro-pc"},
		{"Straße", "strasse"},
		{"ÆRØ", "aero"},
		{"ÉCOLE", "ecole"},
		{"İstanbul", "istanbul"},
		{"Zoë’s Laptop (work)", "zoe-s-laptop-work"},
		{"Tablet 📱", "tablet"},
		{"小明的手机", "device"},
		{"小明 phone", "phone"},
		{"a--b__c", "a-b-c"},
		{"-x-", "x"},
		{"", "device"},
		{strings.Repeat("ab", 40), strings.Repeat("ab", 31) + "a"},
		{strings.Repeat("a", 62) + " b", strings.Repeat("a", 62)},
	}
	for _, tt := range tests {
		if got := Label(tt.name); got != tt.want {
			t.Errorf("Label(%q) = %q; want %q", tt.name, got, tt.want)
		}
		if err := CheckDomain(Label(tt.name)); err != nil {
			t.Errorf("Label(%q) is not a valid label: %v", tt.name, err)
		}
	}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestHostsFile(t *testing.T) {
	devices := []Device{
		{"phone", addrs("10.66.66.2", "fd00:66::2")},
		{"Phone", addrs("10.66.66.3")},
		{"phone-2", addrs("10.66.66.4")},
		{"Anna's iPhone", addrs("10.66.66.5")},
		{"Büro PC", addrs("10.66.66.6")},
		{"小明的手机", addrs("10.66.66.7")},
		{"📱", addrs("10.66.66.8")},
		{"no address", nil},
		{strings.Repeat("long", 20), addrs("10.66.66.9")},
		{strings.Repeat("long", 20), addrs("10.66.66.10")},
	}
	entries, err := Hosts(devices, "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "hosts.golden", Format(entries))
	seen := make(map[string]bool)
	for _, e := range entries {
		if seen[e.Host] {
			t.Errorf("%s given twice", e.Host)
		}
		seen[e.Host] = true
		label, _, _ := strings.Cut(e.Host, ".")
		if len(label) > maxLabel {
			t.Errorf("%s: label longer than 63 bytes", e.Host)
		}
	}
	if _, err := Hosts(devices, "Vpn Lan"); err == nil {
		t.Error(`domain "Vpn Lan" accepted`)
	}
	entries, err = Hosts(devices[:1], "home.arpa")
	if err != nil || entries[0].Host != "phone.home.arpa" {
		t.Errorf("domain home.arpa: %v, %v", entries, err)
	}
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts", "wgpanel")
	for i, want := range []bool{true, false} {
		changed, err := Write(path, []byte("10.66.66.2 phone.vpn.lan\n"))
		if err != nil || changed != want {
			t.Fatalf("Write #%d = %v, %v; want %v", i+1, changed, err, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files; want only wgpanel (no temporary file left)", len(entries))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v; want 0644 (dnsmasq runs as another user on OpenWrt)", fi.Mode())
	}
}

// TestReloadIgnoresOtherProcesses: a stale pid file naming a process that
// is not dnsmasq (here the test itself) gets no signal.
func TestReloadIgnoresOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Reloader{PIDFiles: []string{filepath.Join(dir, "*.pid")}}.Reload(context.Background())
	if n != 0 || err != nil {
		t.Errorf("Reload = %d, %v; want 0, nil", n, err)
	}
}

// TestDnsmasq runs Debian's dnsmasq in a fresh network namespace, twice:
// reading the hosts directory with --hostsdir, and with --addn-hosts as
// OpenWrt's init script configures it (which needs the SIGHUP). Each
// answers phone.vpn.lan with the phone's address, and no longer after the
// phone is removed.
func TestDnsmasq(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "dnsmasq", "ip")
	if !testutil.InNetNS(t) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	dir := t.TempDir()
	hostsDir := filepath.Join(dir, "hosts")
	path := filepath.Join(hostsDir, "wgpanel")
	write := func(devices []Device) {
		t.Helper()
		entries, err := Hosts(devices, DefaultDomain)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Write(path, Format(entries)); err != nil {
			t.Fatal(err)
		}
	}
	write([]Device{{"Phone", addrs("10.66.66.2")}, {"tablet", addrs("10.66.66.3")}})
	r := Reloader{PIDFiles: []string{filepath.Join(dir, "*.pid")}}
	var servers []string
	for i, opt := range []string{"--hostsdir=" + hostsDir, "--addn-hosts=" + hostsDir} {
		port := 5300 + i
		servers = append(servers, "127.0.0.1:"+strconv.Itoa(port))
		startDnsmasq(t, ctx, filepath.Join(dir, fmt.Sprintf("dnsmasq%d.pid", i)), port, opt)
	}
	for _, srv := range servers {
		if got := lookup(t, ctx, srv, "phone.vpn.lan."); got != "10.66.66.2" {
			t.Errorf("%s: phone.vpn.lan = %q; want 10.66.66.2", srv, got)
		}
	}
	write([]Device{{"tablet", addrs("10.66.66.3")}})
	if n, err := r.Reload(ctx); n != 2 || err != nil {
		t.Fatalf("Reload = %d, %v; want 2 dnsmasq signalled", n, err)
	}
	for _, srv := range servers {
		// dnsmasq re-reads on the signal (or inotify) soon after.
		var got string
		for range 50 {
			if got = lookup(t, ctx, srv, "phone.vpn.lan."); got == "" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got != "" {
			t.Errorf("%s: phone.vpn.lan still answers %q after removal", srv, got)
		}
		if got := lookup(t, ctx, srv, "tablet.vpn.lan."); got != "10.66.66.3" {
			t.Errorf("%s: tablet.vpn.lan = %q; want 10.66.66.3", srv, got)
		}
	}
}

func startDnsmasq(t *testing.T, ctx context.Context, pidFile string, port int, hostsOpt string) {
	t.Helper()
	var stderr testutil.SyncBuffer
	cmd := exec.Command("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--listen-address=127.0.0.1", "--bind-interfaces", "--port="+strconv.Itoa(port), "--local=/vpn.lan/",
		"--pid-file="+pidFile, "--user=root", "--group=root", "--log-facility=-", hostsOpt)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("dnsmasq %s:\n%s", hostsOpt, stderr.String())
		}
	})
	for range 100 {
		if _, ok := dnsmasqPID(pidFile); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("dnsmasq did not start:\n%s", stderr.String())
}

// lookup asks the DNS server at server for name's IPv4 address with Go's
// own resolver over UDP; "" means no such name.
func lookup(t *testing.T, ctx context.Context, server, name string) string {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip4", name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return ""
	}
	if err != nil {
		t.Fatalf("look up %s at %s: %v", name, server, err)
	}
	return ips[0].String()
}
