package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testDir writes a config dir holding the LuCI-written example network
// (with its interface renamed to one that exists on no machine, so that no
// test can touch a real device) and returns it.
func testDir(t *testing.T) (dir, ifname string) {
	t.Helper()
	ifname = fmt.Sprintf("wgt%d", os.Getpid()%1000000)
	src, err := os.ReadFile("../../../shared/fixtures/openwrt/network.wireguard-example")
	if err != nil {
		t.Fatal(err)
	}
	network := strings.ReplaceAll(string(src), "wg0", ifname)
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "network"), []byte(network), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := fmt.Sprintf("config wgpanel 'main'\n\toption interface '%s'\n\toption endpoint 'vpn.example.org'\n", ifname)
	if err := os.WriteFile(filepath.Join(dir, "wgpanel"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, ifname
}

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCLIErrorsChangeNothing(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string) // prepares the config dir
		args []string
		want string // substring of the error message
	}{
		{"empty name", nil, []string{"peer", "add", ""}, "Give the device a name"},
		{"long name", nil, []string{"peer", "add", strings.Repeat("n", 65)}, "use at most 64"},
		{"duplicate name", nil, []string{"peer", "add", "Alice-Phone"}, `"Alice-Phone" already exists`},
		{"unknown peer", nil, []string{"peer", "remove", "carol"}, `There is no peer "carol"`},
		{"unknown key", nil, []string{"peer", "show", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "There is no peer"},
		{"missing argument", nil, []string{"peer", "remove"}, "peer remove takes 1 argument"},
		{"unknown subcommand", nil, []string{"peer", "frobnicate", "x"}, `unknown peer subcommand "frobnicate"`},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"full subnet", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "network"), "10.66.66.1/24", "10.66.66.1/30")
		}, []string{"peer", "add", "carol"}, "10.66.66.0/30 has no free address left"},
		{"malformed network", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "network"), "option proto 'wireguard'", "option proto 'wireguard")
		}, []string{"peer", "add", "carol"}, "wgpanel did not change it"},
		{"bad server key in UCI", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "network"), "CcvwADVH2zpAeUlNula5lHaIIh398W30CV1SG1gFsLI=", "not-a-key")
		}, []string{"peer", "add", "carol"}, "option private_key: the value is not a valid WireGuard key"},
		{"no interface", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "network"), "option proto 'wireguard'", "option proto 'static'")
		}, []string{"peer", "add", "carol"}, "wgpanel setup"},
		{"short password", nil, []string{"passwd"}, "too short"},
		{"bad listen flag", nil, []string{"serve", "--listen", "nonsense"}, "not HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := testDir(t)
			if tt.edit != nil {
				tt.edit(t, dir)
			}
			before := snapshot(t, dir)
			_, _, err := runCLI(t, "short\n", append([]string{"--config-dir", dir}, tt.args...)...)
			if err == nil {
				t.Fatalf("wgpanel %s succeeded; want an error containing %q", strings.Join(tt.args, " "), tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q; want one line containing %q", msg, tt.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("a failed command changed the config dir:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every file in dir with its contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s:%x ", e.Name(), data)
	}
	return b.String()
}

func TestCLIPeerLifecycleWithoutDevice(t *testing.T) {
	dir, _ := testDir(t)
	conf, stderr, err := runCLI(t, "", "--config-dir", dir, "peer", "add", "carol", "--full-tunnel")
	if err != nil {
		t.Fatalf("peer add: %v", err)
	}
	// The interface does not exist here: the peer is saved and the owner
	// is told it takes effect when the interface comes up.
	if !strings.Contains(stderr, "is not up") {
		t.Errorf("stderr = %q; want a warning that the interface is not up", stderr)
	}
	for _, want := range []string{"Address = 10.66.66.4/32, fd66:66:66::4/128", "AllowedIPs = 0.0.0.0/0, ::/0", "Endpoint = vpn.example.org:51820"} {
		if !strings.Contains(conf, want+"\n") {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	shown, _, err := runCLI(t, "", "--config-dir", dir, "peer", "show", "carol")
	if err != nil || shown != conf {
		t.Errorf("peer show = %q, %v; want the config add printed", shown, err)
	}
	qr, _, err := runCLI(t, "", "--config-dir", dir, "peer", "show", "carol", "--qr")
	if err != nil || !strings.HasPrefix(qr, conf) || !strings.Contains(qr, "█") {
		t.Errorf("peer show --qr: %v; want the config followed by a terminal QR code", err)
	}
	list, _, err := runCLI(t, "", "--config-dir", dir, "peer", "list", "--json")
	if err != nil || !strings.Contains(list, `"name": "carol"`) || !strings.Contains(list, `"tunnel": "full"`) {
		t.Errorf("peer list --json = %s, %v", list, err)
	}
	for _, args := range [][]string{{"peer", "disable", "carol"}, {"peer", "enable", "carol"},
		{"peer", "rename", "carol", "carol-tablet"}, {"peer", "remove", "carol-tablet"}} {
		if _, _, err := runCLI(t, "", append([]string{"--config-dir", dir}, args...)...); err != nil {
			t.Errorf("wgpanel %s: %v", strings.Join(args, " "), err)
		}
	}
	if _, _, err := runCLI(t, "", "--config-dir", dir, "peer", "show", "carol-tablet"); err == nil {
		t.Errorf("removed peer is still shown")
	}
}

func TestCLIVersion(t *testing.T) {
	out, _, err := runCLI(t, "", "version")
	if err != nil || out != "wgpanel "+version+"\n" {
		t.Errorf("version = %q, %v", out, err)
	}
}
