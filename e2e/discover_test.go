package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// The story's network for the STUN test: the router's WAN 192.168.2.253
// behind an ISP router at 192.168.2.254, which masquerades everything to
// "the internet" (198.51.100.0/24, TEST-NET-2) as 198.51.100.2, where a
// real STUN server (coturn) listens at 198.51.100.1.
const (
	storyWAN     = "192.168.2.253"
	storyISP     = "192.168.2.254"
	ispPublic    = "198.51.100.2"
	stunServerIP = "198.51.100.1"
)

type reachJSON struct {
	Verdict     string  `json:"verdict"`
	Summary     string  `json:"summary"`
	WANIPv4     *string `json:"wan_ipv4"`
	PublicIPv4  *string `json:"public_ipv4"`
	Discovered  bool    `json:"discovered"`
	Suggestions []struct {
		Value string `json:"value"`
	} `json:"suggestions"`
}

// storyNAT adds the ISP router and the internet with a STUN server to tp
// and routes the router through them.
func storyNAT(tp *topo) {
	t := tp.t
	t.Helper()
	testutil.RequireCommand(t, "turnserver", "nft")
	isp, inet := "wgpe2e-"+tp.id+"-isp", "wgpe2e-"+tp.id+"-inet"
	tp.addNS(isp)
	tp.addNS(inet)
	tp.link(tp.router, "vr"+tp.id, storyWAN+"/24", isp, "vi"+tp.id, storyISP+"/24")
	tp.link(isp, "vo"+tp.id, ispPublic+"/24", inet, "vs"+tp.id, stunServerIP+"/24")
	mustRun(t, quickTimeout, "ip", "-n", tp.router, "route", "add", "default", "via", storyISP)
	mustRun(t, quickTimeout, inNS(isp, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")...)
	rules := fmt.Sprintf("table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname \"vo%s\" masquerade\n }\n}\n", tp.id)
	if r := runInput(quickTimeout, nil, strings.NewReader(rules), inNS(isp, "nft", "-f", "-")...); r.err != nil {
		t.Fatalf("nft masquerade: %v", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	turn := command(ctx, nil, inNS(inet, "turnserver", "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls",
		"--listening-ip", stunServerIP, "--listening-port", "3478", "--log-file", "stdout", "--simple-log",
		"--pidfile", tp.dir+"/turnserver.pid")...)
	var log testutil.SyncBuffer
	turn.Stdout, turn.Stderr = &log, &log
	if err := turn.Start(); err != nil {
		cancel()
		t.Fatalf("start turnserver: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		turn.Wait()
		if t.Failed() {
			t.Logf("turnserver log:\n%s", log.String())
		}
	})
	// Wait until it listens (at most 5 s).
	for i := 0; ; i++ {
		if r := run(quickTimeout, nil, inNS(inet, "ss", "-Huln", "sport", "= :3478")...); strings.Contains(r.stdout, stunServerIP) {
			return
		}
		if i == 100 {
			t.Fatalf("turnserver does not listen on %s:3478 after 5 s; log:\n%s", stunServerIP, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDiscoverBehindNAT asks a real STUN server through a masquerading ISP
// router: the address it reports is the ISP router's, not the router's
// WAN address, so wgpanel knows for certain that a port forward is needed
// and offers the public address as the endpoint. First from the command
// line, then through the API the page's button calls.
func TestDiscoverBehindNAT(t *testing.T) {
	tp := newTopo(t, topoOptions{})
	storyNAT(tp)
	tp.mustWgpanel("settings", "--stun-server", stunServerIP+":3478", "--endpoint", "")

	before := decodeReach(t, tp.mustWgpanel("reachability", "--json"))
	if before.Discovered || before.PublicIPv4 != nil {
		t.Errorf("reachability without --discover reports a discovered address: %+v", before)
	}
	got := decodeReach(t, tp.mustWgpanel("reachability", "--discover", "--json"))
	checkStory(t, "wgpanel reachability --discover", got)

	text := tp.mustWgpanel("reachability", "--discover")
	for _, want := range []string{"Your router is behind another router (" + storyISP + "): on it, forward UDP 51820 to " + storyWAN + ".",
		"public IPv4: " + ispPublic + " (seen by the STUN server)", "wgpanel settings --endpoint " + ispPublic} {
		if !strings.Contains(text, want) {
			t.Errorf("wgpanel reachability --discover printed\n%s\nwant a line with %q", text, want)
		}
	}

	waitWebUI(t, tp)
	c := newNSClient(t, tp.router)
	c.post("/api/login", fmt.Sprintf(`{"password": %q}`, webPassword(t, tp)), http.StatusOK)
	checkStory(t, "POST /api/reachability/discover", decodeReach(t, string(c.post("/api/reachability/discover", "", http.StatusOK))))
}

func decodeReach(t *testing.T, s string) reachJSON {
	t.Helper()
	var r reachJSON
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("not the verdict's JSON: %v\n%s", err, s)
	}
	return r
}

func checkStory(t *testing.T, what string, got reachJSON) {
	t.Helper()
	if got.Verdict != "port_forward_needed" || !got.Discovered || got.PublicIPv4 == nil || *got.PublicIPv4 != ispPublic ||
		got.WANIPv4 == nil || *got.WANIPv4 != storyWAN {
		t.Errorf("%s: %+v (public %v, wan %v); want port_forward_needed, public_ipv4 %s seen by STUN, wan_ipv4 %s",
			what, got, deref(got.PublicIPv4), deref(got.WANIPv4), ispPublic, storyWAN)
	}
	if len(got.Suggestions) == 0 || got.Suggestions[0].Value != ispPublic {
		t.Errorf("%s: suggestions %+v; want %s first", what, got.Suggestions, ispPublic)
	}
}

func deref(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}
