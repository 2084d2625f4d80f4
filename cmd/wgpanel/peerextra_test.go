package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIPeerAccessAndExpires(t *testing.T) {
	dir, _ := testDir(t)
	cli := func(args ...string) (string, error) {
		out, _, err := runCLI(t, "", append([]string{"--config-dir", dir}, args...)...)
		return out, err
	}
	network := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "network"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if _, err := cli("peer", "add", "guest", "--access", "internet", "--expires", "2099-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	if n := network(); !strings.Contains(n, "option wgpanel_access 'internet'") || !strings.Contains(n, "option wgpanel_expires '2099-01-01T00:00:00Z'") {
		t.Errorf("network after add:\n%s", n)
	}
	out, err := cli("peer", "access", "guest", "hosts", "--hosts", "192.168.1.10,192.168.1.11")
	if err != nil || !strings.Contains(out, "only 192.168.1.10/32, 192.168.1.11/32") {
		t.Errorf("peer access = %q, %v", out, err)
	}
	if n := network(); !strings.Contains(n, "list wgpanel_hosts '192.168.1.11'") {
		t.Errorf("network after access:\n%s", n)
	}
	if out, err := cli("peer", "list"); err != nil || !strings.Contains(out, "reaches only 192.168.1.10/32, 192.168.1.11/32") ||
		!strings.Contains(out, " · expires in ") {
		t.Errorf("peer list = %q, %v; want the guest's access and end date", out, err)
	}
	if out, err := cli("peer", "expires", "guest", "never"); err != nil || !strings.Contains(out, "no end date") {
		t.Errorf("peer expires never = %q, %v", out, err)
	}
	before := network()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"peer", "access", "guest", "guests"}, `The access "guests" is unknown`},
		{[]string{"peer", "add", "y", "--access", "hosts"}, "needs the addresses"},
		{[]string{"peer", "add", "x", "--hosts", "192.168.1.10"}, "only for access 'hosts'"},
		{[]string{"peer", "expires", "guest", "soon"}, `"soon" is not a date and time`},
		{[]string{"peer", "expires", "guest", "2001-01-01T00:00:00Z"}, "has already passed"},
		{[]string{"peer", "rename", "guest", "x", "--access", "lan"}, "peer rename does not take --access"},
		{[]string{"peer", "access", "guest"}, "peer access takes 2 argument(s), got 1"},
		{[]string{"peer", "expires"}, "peer expires takes 2 argument(s), got 0"},
	} {
		if _, err := cli(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("wgpanel %s: got %v; want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if network() != before {
		t.Error("a refused command changed the network file")
	}
}
