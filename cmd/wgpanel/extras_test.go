package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/uci"
)

// TestExtrasHostsFile checks the hosts file serve keeps for dnsmasq: every
// enabled device by name in dns_domain, a disabled or removed one gone.
func TestExtrasHostsFile(t *testing.T) {
	dir, _ := testDir(t)
	cli := func(args ...string) {
		t.Helper()
		if _, _, err := runCLI(t, "", append([]string{"--config-dir", dir}, args...)...); err != nil {
			t.Fatalf("wgpanel %s: %v", strings.Join(args, " "), err)
		}
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	x := &extras{store: openwrt.NewStore(uci.Dir(dir), nil), log: slog.New(slog.DiscardHandler), hostsPath: hosts}
	read := func() string {
		t.Helper()
		x.sync(context.Background())
		b, err := os.ReadFile(hosts)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cli("peer", "add", "Carol's Phone")
	cli("peer", "add", "dave")
	got := read()
	for _, want := range []string{"\n10.66.66.4 carol-s-phone.vpn.lan\n", "\nfd66:66:66::4 carol-s-phone.vpn.lan\n", "\n10.66.66.2 alice-phone.vpn.lan\n", " dave.vpn.lan\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "bob-laptop") {
		t.Errorf("hosts file names the disabled bob-laptop:\n%s", got)
	}
	cli("peer", "disable", "Carol's Phone")
	cli("peer", "remove", "alice-phone")
	cli("settings", "--dns-domain", "home.arpa")
	got = read()
	if strings.Contains(got, "carol") || strings.Contains(got, "alice") || !strings.Contains(got, " dave.home.arpa\n") {
		t.Errorf("hosts file after disable, remove and a new domain:\n%s", got)
	}
}
