package fwpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

var testNet = Net{Interface: "wg0", LAN: pfx("192.168.1.0/24", "fd00:1::/64")}

func TestRulesetGolden(t *testing.T) {
	p := Policy{Devices: []Device{tablet, phone, laptop, desktop}, Subnets: subnet}
	rs, err := Ruleset(p, testNet)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, "mixed.nft", []byte(rs))

	p.ClientToClient = true
	rs, err = Ruleset(p, testNet)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rs, `oifname "wg0" accept comment "wgpanel: devices may reach each other"`) {
		t.Errorf("client-to-client on: no accept rule in\n%s", rs)
	}
}

func TestRulesetRejects(t *testing.T) {
	if _, err := Ruleset(Policy{}, Net{Interface: `wg0" accept`}); err == nil {
		t.Error("an interface name with a quote was accepted")
	}
	odd := Device{Name: `evil" ; flush ruleset` + strings.Repeat("x", 200), Addresses: pfx("10.66.66.9/32"), Mode: LAN}
	rs, err := Ruleset(Policy{Devices: []Device{odd}}, testNet)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(rs, "\n") {
		if i := strings.Index(line, "comment "); i >= 0 {
			c := line[i+len("comment "):]
			if strings.Count(c, `"`) != 2 || len(c) > 129 {
				t.Errorf("comment not safely quoted and bounded: %s", c)
			}
		}
	}
}

func TestNFTApplyOnlyOnChange(t *testing.T) {
	var calls []string
	n := &NFT{run: func(_ context.Context, stdin string, args ...string) ([]byte, error) {
		calls = append(calls, stdin)
		return nil, nil
	}}
	ctx := context.Background()
	p := Policy{Devices: []Device{tablet}, Subnets: subnet}
	for i, want := range []bool{true, false} {
		if changed, err := n.Apply(ctx, p, testNet); err != nil || changed != want {
			t.Fatalf("Apply #%d = %v, %v; want %v", i+1, changed, err, want)
		}
	}
	p.Devices[0].Mode = LAN
	if changed, _ := n.Apply(ctx, p, testNet); !changed || len(calls) != 2 {
		t.Errorf("Apply after a mode change: changed %v, %d nft runs; want true, 2", changed, len(calls))
	}
}

// TestNFTInNamespaces enforces each mode with the real nft on a router
// namespace (this test's own) carrying a userspace WireGuard interface,
// with a phone, a LAN host and a WAN host in namespaces of their own, and
// checks with ping what the phone reaches. The mode changes while the
// tunnel stays up.
func TestNFTInNamespaces(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTUN(t)
	testutil.RequireCommand(t, "ip", "wg", "wireguard-go", "ping", "nft")
	if !testutil.InNetNS(t) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := os.Getpid() % 100000
	lanNS, wanNS, phoneNS := fmt.Sprintf("wgpl%d", id), fmt.Sprintf("wgpw%d", id), fmt.Sprintf("wgpp%d", id)
	wgR, wgP := fmt.Sprintf("wgr%d", id), fmt.Sprintf("wgc%d", id)
	for _, ns := range []string{lanNS, wanNS, phoneNS} {
		mustRun(t, ctx, "ip", "netns", "add", ns)
		t.Cleanup(func() { killNS(ns) })
	}
	inNS := func(ns string, argv ...string) []string { return append([]string{"ip", "netns", "exec", ns}, argv...) }
	// Links: router <-> LAN host (two addresses), router <-> WAN host,
	// router <-> phone (the phone's way in to the WireGuard port).
	for _, l := range []struct{ ns, link, routerAddr, hostAddr string }{
		{lanNS, "rlan", "192.168.1.1/24", "192.168.1.2/24"},
		{wanNS, "rwan", "198.51.100.1/24", "198.51.100.2/24"},
		{phoneNS, "rph", "192.0.2.1/24", "192.0.2.2/24"},
	} {
		mustRun(t, ctx, "ip", "link", "add", l.link, "type", "veth", "peer", "name", "eth0", "netns", l.ns)
		mustRun(t, ctx, "ip", "addr", "add", l.routerAddr, "dev", l.link)
		mustRun(t, ctx, "ip", "link", "set", l.link, "up")
		mustRun(t, ctx, inNS(l.ns, "ip", "addr", "add", l.hostAddr, "dev", "eth0")...)
		mustRun(t, ctx, inNS(l.ns, "ip", "link", "set", "eth0", "up")...)
		mustRun(t, ctx, inNS(l.ns, "ip", "link", "set", "lo", "up")...)
		mustRun(t, ctx, inNS(l.ns, "ip", "route", "add", "default", "via", strings.Split(l.routerAddr, "/")[0])...)
	}
	mustRun(t, ctx, inNS(lanNS, "ip", "addr", "add", "192.168.1.3/24", "dev", "eth0")...)
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	keys := func(name string) (privFile, pub string) {
		priv := strings.TrimSpace(mustRun(t, ctx, "wg", "genkey"))
		privFile = filepath.Join(dir, name)
		if err := os.WriteFile(privFile, []byte(priv+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := exec.CommandContext(ctx, "wg", "pubkey")
		c.Stdin = strings.NewReader(priv)
		out, err := c.Output()
		if err != nil {
			t.Fatal(err)
		}
		return privFile, strings.TrimSpace(string(out))
	}
	rPriv, rPub := keys("router")
	pPriv, pPub := keys("phone")
	startWG(t, ctx, nil, wgR)
	startWG(t, ctx, inNS(phoneNS), wgP)
	mustRun(t, ctx, "wg", "set", wgR, "private-key", rPriv, "listen-port", "51820", "peer", pPub, "allowed-ips", "10.66.66.2/32")
	mustRun(t, ctx, "ip", "addr", "add", "10.66.66.1/24", "dev", wgR)
	mustRun(t, ctx, "ip", "link", "set", wgR, "up")
	mustRun(t, ctx, inNS(phoneNS, "wg", "set", wgP, "private-key", pPriv, "peer", rPub,
		"endpoint", "192.0.2.1:51820", "allowed-ips", "0.0.0.0/0", "persistent-keepalive", "5")...)
	mustRun(t, ctx, inNS(phoneNS, "ip", "addr", "add", "10.66.66.2/32", "dev", wgP)...)
	mustRun(t, ctx, inNS(phoneNS, "ip", "link", "set", wgP, "up")...)
	for _, dst := range []string{"10.66.66.0/24", "192.168.1.0/24", "198.51.100.0/24"} {
		mustRun(t, ctx, inNS(phoneNS, "ip", "route", "add", dst, "dev", wgP)...)
	}

	reaches := func(dst string) bool {
		// A rejected ping fails at once; an allowed one gets three tries.
		for range 3 {
			if exec.CommandContext(ctx, "ip", "netns", "exec", phoneNS, "ping", "-c1", "-W1", dst).Run() == nil {
				return true
			}
			if ctx.Err() != nil {
				return false
			}
		}
		return false
	}
	n := Net{Interface: wgR, LAN: pfx("192.168.1.0/24")}
	enforcer := NewNFT()
	t.Cleanup(func() { enforcer.Remove(context.Background()) })
	const lanHost, otherLANHost, wanHost, router = "192.168.1.2", "192.168.1.3", "198.51.100.2", "192.168.1.1"
	steps := []struct {
		mode  Mode
		hosts []netip.Prefix
		want  map[string]bool
	}{
		{All, nil, map[string]bool{lanHost: true, otherLANHost: true, wanHost: true, router: true}},
		{Internet, nil, map[string]bool{lanHost: false, otherLANHost: false, wanHost: true, router: false}},
		{Hosts, pfx(lanHost + "/32"), map[string]bool{lanHost: true, otherLANHost: false, wanHost: false, router: false}},
		{LAN, nil, map[string]bool{lanHost: true, otherLANHost: true, wanHost: false, router: true}},
	}
	// The golden ruleset, with IPv6 and every mode, is one nft accepts.
	mixed := Policy{Devices: []Device{tablet, phone, laptop, desktop}, Subnets: subnet}
	if _, err := enforcer.Apply(ctx, mixed, Net{Interface: wgR, LAN: testNet.LAN}); err != nil {
		t.Fatal(err)
	}
	handshake := ""
	for _, st := range steps {
		p := Policy{Devices: []Device{{Name: "phone", Addresses: pfx("10.66.66.2/32"), Mode: st.mode, Hosts: st.hosts}},
			Subnets: pfx("10.66.66.1/24")}
		if _, err := enforcer.Apply(ctx, p, n); err != nil {
			t.Fatal(err)
		}
		for _, dst := range []string{lanHost, otherLANHost, wanHost, router} {
			if got := reaches(dst); got != st.want[dst] {
				t.Errorf("mode %s: phone reaches %s = %v; want %v", st.mode, dst, got, st.want[dst])
			}
		}
		// The tunnel is not re-established: the first handshake's session
		// serves every mode.
		hs := mustRun(t, ctx, "wg", "show", wgR, "latest-handshakes")
		if handshake == "" {
			handshake = hs
		} else if hs != handshake {
			t.Errorf("mode %s: the handshake changed from %q to %q", st.mode, handshake, hs)
		}
	}
	// Another program flushes the ruleset: the doctor's check notices, and
	// the next Apply of the same policy restores the table.
	if problem, err := enforcer.Check(ctx); problem != "" || err != nil {
		t.Errorf("Check with the table in place = %q, %v", problem, err)
	}
	mustRun(t, ctx, "nft", "flush", "ruleset")
	if problem, err := enforcer.Check(ctx); problem == "" || err != nil {
		t.Errorf("Check after a flush = %q, %v; want a problem", problem, err)
	}
	lanOnly := Policy{Devices: []Device{{Name: "phone", Addresses: pfx("10.66.66.2/32"), Mode: LAN}}, Subnets: pfx("10.66.66.1/24")}
	if changed, err := enforcer.Apply(ctx, lanOnly, n); !changed || err != nil {
		t.Fatalf("Apply after a flush = %v, %v; want it loaded again", changed, err)
	}
	if reaches(wanHost) {
		t.Error("after the restore the lan-only phone reaches the WAN host")
	}
	if err := enforcer.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, ctx, "nft", "list", "tables"); strings.Contains(out, "wgpanel") {
		t.Errorf("table left after Remove:\n%s", out)
	}
	if !reaches(wanHost) {
		t.Error("after Remove the phone no longer reaches the WAN host")
	}
}

func mustRun(t *testing.T, ctx context.Context, argv ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// startWG runs wireguard-go in the foreground for interface name (in a
// namespace when prefix is an `ip netns exec` command) until the test ends.
func startWG(t *testing.T, ctx context.Context, prefix []string, name string) {
	t.Helper()
	argv := append(append([]string(nil), prefix...), "wireguard-go", "-f", name)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		show := append(append([]string(nil), prefix...), "ip", "link", "show", name)
		if exec.CommandContext(ctx, show[0], show[1:]...).Run() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("wireguard-go did not create %s", name)
}

// killNS stops every process left in namespace ns and deletes it.
func killNS(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, pid := range strings.Fields(string(out)) {
		exec.Command("kill", "-KILL", pid).Run()
	}
	exec.Command("ip", "netns", "del", ns).Run()
}
