package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOddPeerSectionsCLI adds sections netifd reads or skips but wgpanel
// cannot understand: peer list shows them with the reason (text and JSON),
// and peer add, disable and remove still work and leave them as they are.
func TestOddPeerSectionsCLI(t *testing.T) {
	dir, ifname := testDir(t)
	path := filepath.Join(dir, "network")
	odd := "\nconfig wireguard_" + ifname + "\n\toption description 'ghost'\n\tlist allowed_ips '10.66.66.60/32'\n" +
		"\nconfig wireguard_" + ifname + "\n\toption description 'two'\n\toption public_key 'hSzTSJfmVEbs7ScVJCLBOYWDp5FX6ahCk9NfnoA9lmM='\n" +
		"\tlist allowed_ips '10.66.66.61/32'\n\toption disabled '2'\n\toption persistent_keepalive 'off'\n\toption colour 'blue'\n"
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(odd)
	f.Close()

	out, _, err := runCLI(t, "", "--config-dir", dir, "peer", "list")
	if err != nil {
		t.Fatalf("peer list: %v", err)
	}
	for _, want := range []string{"ghost", "unreadable", "ghost: wgpanel cannot read this peer and leaves it as it is: option public_key: the section has no public key"} {
		if !strings.Contains(out, want) {
			t.Errorf("peer list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "two: wgpanel cannot read") {
		t.Errorf("peer list calls 'two' (disabled '2', keepalive 'off') unreadable; netifd reads it:\n%s", out)
	}

	out, _, err = runCLI(t, "", "--config-dir", dir, "peer", "list", "--json")
	if err != nil {
		t.Fatalf("peer list --json: %v", err)
	}
	var list struct {
		Peers []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
			Problem string `json:"problem"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range list.Peers {
		switch p.Name {
		case "ghost":
			found++
			if !strings.Contains(p.Problem, "no public key") {
				t.Errorf("ghost's problem %q; want it to say there is no public key", p.Problem)
			}
		case "two":
			found++
			if p.Problem != "" || !p.Enabled {
				t.Errorf("two: enabled %v, problem %q; want enabled, no problem (netifd reads disabled '2' as enabled)", p.Enabled, p.Problem)
			}
		}
	}
	if found != 2 {
		t.Errorf("peer list --json lists %d of ghost and two:\n%s", found, out)
	}

	for _, args := range [][]string{{"peer", "add", "carol"}, {"peer", "disable", "two"}, {"peer", "remove", "carol"}} {
		if _, stderr, err := runCLI(t, "", append([]string{"--config-dir", dir}, args...)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{"\tlist allowed_ips '10.66.66.60/32'\n", "option colour 'blue'", "option persistent_keepalive 'off'"} {
		if !strings.Contains(string(after), keep) {
			t.Errorf("%q is gone from the network file after the changes", keep)
		}
	}
}
