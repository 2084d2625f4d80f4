package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// patchPeer sends PATCH /api/peers/{id} with body and checks the status.
func (c *nsClient) patch(path, body string, want int) []byte {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPatch, webURL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, want)
}

// reaches pings target from the phone until the answer is want (a reply
// or none), for at most 5 s: the daemon applies a change after its
// configuration watch settles.
func (tp *topo) reaches(target string, want bool) bool {
	for i := 0; i < 10; i++ {
		r := tp.ping(target, "-c", "1", "-W", "1")
		if (r.err == nil) == want {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// wanHost stands for a host on the internet, beyond the router's WAN.
const wanHost = "198.51.100.2"

const metricsToken = "e2e-metrics-token-0123456789"

// metricValue returns the value of metric name for the device with public
// key key in a Prometheus text exposition, "" when absent.
func metricValue(text, name, key string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, `public_key="`+key+`"`) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// accessStatus returns the status of the doctor's access check.
func accessStatus(t *testing.T, c *nsClient) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, webURL+"/api/doctor", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Checks []struct{ ID, Status, Finding string }
	}
	if err := json.Unmarshal(c.do(req, http.StatusOK), &rep); err != nil {
		t.Fatal(err)
	}
	for _, ch := range rep.Checks {
		if ch.ID == "access" {
			return ch.Status + " " + ch.Finding
		}
	}
	return "missing"
}

// TestAccessSwitchesLive changes a connected "all traffic" phone's access
// through the API and checks, with the phone's own pings through the
// unchanged tunnel, that each mode takes effect without a reconnect: what
// it reaches of a LAN host and of a host on the WAN side (the internet);
// after serve exits no nftables table of wgpanel's is left in the router.
func TestAccessSwitchesLive(t *testing.T) {
	t.Parallel()
	tp := newTopo(t, topoOptions{phone: true, lan: true})
	// A host on the router's WAN side, in TEST-NET-2: the internet.
	wan := "wgpe2e-" + tp.id + "-wan"
	tp.addNS(wan)
	tp.link(tp.router, "vx"+tp.id, "198.51.100.1/24", wan, "vy"+tp.id, wanHost+"/24")
	mustRun(t, quickTimeout, "ip", "-n", wan, "route", "add", "default", "via", "198.51.100.1")
	waitWebUI(t, tp)
	tp.phoneUp(tp.mustWgpanel("peer", "add", "phone", "--full-tunnel"))
	key := tp.peerKey("phone")
	id := keyID(t, key)

	// The phone's name for dnsmasq, in the state directory standalone.
	hosts := ""
	for i := 0; i < 25 && !strings.Contains(hosts, " phone.vpn.lan"); i++ { // 5 s
		time.Sleep(200 * time.Millisecond)
		b, _ := os.ReadFile(filepath.Join(tp.stateDir, "hosts"))
		hosts = string(b)
	}
	if addr := tp.peers()["phone"].Addresses; len(addr) == 0 || !strings.Contains(hosts, strings.Split(addr[0], "/")[0]+" phone.vpn.lan\n") {
		t.Errorf("STATE/hosts:\n%s\nwant the phone's address %v as phone.vpn.lan", hosts, addr)
	}

	c := newNSClient(t, tp.router)
	c.post("/api/login", fmt.Sprintf(`{"password": %q}`, webPassword(t, tp)), http.StatusOK)
	if !tp.reaches(lanHost, true) || !tp.reaches(wanHost, true) {
		t.Fatalf("access all: the phone cannot reach the LAN host %s or the WAN host %s", lanHost, wanHost)
	}
	hs := tp.wgShow("latest-handshakes")[key]
	steps := []struct {
		body     string
		lan, wan bool
	}{
		{`{"access":"internet"}`, false, true},
		{`{"access":"lan"}`, true, false},
		{`{"access":"hosts","hosts":["` + lanHost + `"]}`, true, false},
		{`{"access":"hosts","hosts":["192.168.1.99"]}`, false, false},
		{`{"access":"all"}`, true, true},
	}
	for _, s := range steps {
		c.patch("/api/peers/"+id, s.body, http.StatusOK)
		if !tp.reaches(lanHost, s.lan) || !tp.reaches(wanHost, s.wan) {
			t.Errorf("after PATCH %s: want LAN host reached %v, WAN host reached %v; got otherwise\n%s", s.body, s.lan, s.wan,
				run(quickTimeout, nil, inNS(tp.router, "nft", "list", "table", "inet", "wgpanel")...))
		}
	}
	if got := tp.wgShow("latest-handshakes")[key]; hs == "" || hs == "0" || got == "" {
		t.Errorf("handshake before %q, after %q: the phone should have stayed connected", hs, got)
	}

	tables := mustRun(t, quickTimeout, inNS(tp.router, "nft", "list", "tables")...)
	if !strings.Contains(tables, "table inet wgpanel") {
		t.Errorf("while serve runs: nft list tables = %q; want table inet wgpanel", tables)
	}
	// Metrics: off (404) until metrics_token is set, then the numbers
	// are those of wg show.
	scrape := func(want int) string {
		req, err := http.NewRequest(http.MethodGet, webURL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+metricsToken)
		return string(c.do(req, want))
	}
	scrape(http.StatusNotFound)
	tp.mustWgpanel("settings", "--metrics-token", metricsToken)
	matched := false
	var last string
	for i := 0; i < 5 && !matched; i++ { // a keepalive may land between the two reads
		text := scrape(http.StatusOK)
		rx, tx := metricValue(text, "wgpanel_device_received_bytes_total", key), metricValue(text, "wgpanel_device_sent_bytes_total", key)
		last = fmt.Sprintf("metrics rx %s tx %s; wg show transfer %s", rx, tx, tp.wgShow("transfer")[key])
		matched = rx != "" && rx != "0" && rx+" "+tx == tp.wgShow("transfer")[key]
		if !strings.Contains(text, `wgpanel_interface_up{interface="`+tp.wgIf+`"} 1`) || metricValue(text, "wgpanel_device_connected", key) != "1" {
			t.Errorf("metrics: interface not up or phone not connected:\n%s", text)
		}
	}
	if !matched {
		t.Errorf("metrics do not match wg show: %s", last)
	}

	// An end date two seconds ahead: the daemon disables the phone then.
	end := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	c.patch("/api/peers/"+id, `{"expires":"`+end+`"}`, http.StatusOK)
	// UCI is written first, then the device: wait for both.
	disabled := false
	for i := 0; i < 40 && !disabled; i++ { // 8 s
		time.Sleep(200 * time.Millisecond)
		disabled = !tp.peers()["phone"].Enabled && !tp.onDevice(key)
	}
	if !disabled {
		t.Errorf("the phone is still enabled (or on the device) after its end date %s", end)
	}
	if !tp.waitLogLine(2*time.Second, "device disabled: its access ended") {
		t.Errorf("serve did not log the end of the phone's access")
	}
	c.patch("/api/peers/"+id, `{"enabled":true}`, http.StatusConflict)

	// The doctor notices when another program flushes the table.
	if st := accessStatus(t, c); !strings.HasPrefix(st, "ok ") {
		t.Errorf("doctor's access check with the table in place: %s; want ok", st)
	}
	mustRun(t, quickTimeout, inNS(tp.router, "nft", "flush", "table", "inet", "wgpanel")...)
	if st := accessStatus(t, c); !strings.HasPrefix(st, "warn ") {
		t.Errorf("doctor's access check after nft flush: %s; want warn", st)
	}
	tp.stopServe()
	tables = mustRun(t, quickTimeout, inNS(tp.router, "nft", "list", "tables")...)
	if strings.Contains(tables, "wgpanel") {
		t.Errorf("after serve exited: nft list tables = %q; want no wgpanel table", tables)
	}
}
