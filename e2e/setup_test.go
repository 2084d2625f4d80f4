package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSetupFromEmptyStateDir is the first-time path: `setup` on an empty
// state dir writes the interface and the firewall rules, serve brings the
// interface up from them, and a phone added with `peer add` connects.
func TestSetupFromEmptyStateDir(t *testing.T) {
	t.Parallel()
	var first, second string
	var network []byte
	tp := newTopo(t, topoOptions{phone: true, lan: true, beforeServe: func(tp *topo) {
		if _, err := os.Stat(tp.stateDir); !os.IsNotExist(err) {
			t.Fatalf("state dir %s exists before setup: %v", tp.stateDir, err)
		}
		setup := func() string {
			argv := []string{tp.bin, "--dev", "--state-dir", tp.stateDir, "--interface", tp.wgIf,
				"setup", "--endpoint", routerWAN}
			return mustRun(t, quickTimeout, inNS(tp.router, argv...)...)
		}
		first = setup()
		network = []byte(readFile(t, filepath.Join(tp.configDir, "network")))
		second = setup()
	}})

	for _, want := range []string{
		"created interface " + tp.wgIf + " (10.66.66.1/24, port 51820)",
		"added " + tp.wgIf + " to firewall zone lan",
		"added firewall rule Allow-WireGuard for UDP 51820 from wan",
		"set wgpanel's endpoint to " + routerWAN,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first setup output lacks %q:\n%s", want, first)
		}
	}
	if !strings.Contains(second, "nothing to do") {
		t.Errorf("second setup changed something:\n%s", second)
	}
	if got := readFile(t, filepath.Join(tp.configDir, "network")); got != string(network) {
		t.Errorf("second setup rewrote the network file")
	}
	fw := readUCI(t, filepath.Join(tp.configDir, "firewall"))
	var inLAN, rule bool
	for _, s := range fw {
		if s.typ == "zone" && slices.Equal(s.options["name"], []string{"lan"}) && slices.Contains(s.options["network"], tp.wgIf) {
			inLAN = true
		}
		if s.typ == "rule" && slices.Equal(s.options["name"], []string{"Allow-WireGuard"}) && slices.Equal(s.options["dest_port"], []string{"51820"}) {
			rule = true
		}
	}
	if !inLAN || !rule {
		t.Errorf("firewall after setup: %s in lan zone = %v, Allow-WireGuard rule = %v; want both", tp.wgIf, inLAN, rule)
	}

	connectPhone(t, tp)
	if r := tp.ping(lanHost, "-c", "2", "-W", "3"); r.err != nil {
		t.Errorf("phone cannot reach the LAN host after setup: %v", r)
	}
}
