package api

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

type settingsAnswer struct {
	Endpoint        string            `json:"endpoint"`
	DNS             []string          `json:"dns"`
	MTU             int               `json:"mtu"`
	KeepPrivateKeys bool              `json:"keep_private_keys"`
	ClientToClient  bool              `json:"client_to_client"`
	Warnings        map[string]string `json:"warnings"`
}

func TestSettingsGetPatch(t *testing.T) {
	e, dir := newUCIEnv(t, baseRouter(t))
	got := decodeJSON[settingsAnswer](t, e.do("GET", "/api/settings", ""))
	if got.Endpoint != "myhome.example.org" || len(got.DNS) != 0 || got.MTU != 0 || !got.KeepPrivateKeys || len(got.Warnings) != 0 {
		t.Errorf("GET: %+v; want the fixture's endpoint and defaults", got)
	}

	// Every field at once.
	w := e.do("PATCH", "/api/settings", `{"endpoint":"vpn.example.net","dns":["192.168.1.1","fd12::1"],"mtu":1380,"keep_private_keys":false}`)
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	got = decodeJSON[settingsAnswer](t, w)
	if got.Endpoint != "vpn.example.net" || strings.Join(got.DNS, " ") != "192.168.1.1 fd12::1" || got.MTU != 1380 || got.KeepPrivateKeys {
		t.Errorf("PATCH answered %+v", got)
	}
	file, _ := os.ReadFile(dir.Path("wgpanel"))
	for _, want := range []string{"option endpoint 'vpn.example.net'", "list dns '192.168.1.1'", "list dns 'fd12::1'", "option mtu '1380'", "option keep_private_keys '0'"} {
		if !strings.Contains(string(file), want) {
			t.Errorf("wgpanel file lacks %q:\n%s", want, file)
		}
	}
	// The switch for devices reaching each other, on and off again.
	if got = decodeJSON[settingsAnswer](t, e.do("PATCH", "/api/settings", `{"client_to_client":true}`)); !got.ClientToClient {
		t.Errorf("PATCH client_to_client true: %+v", got)
	}
	if file, _ := os.ReadFile(dir.Path("wgpanel")); !strings.Contains(string(file), "option client_to_client '1'") {
		t.Errorf("wgpanel file lacks client_to_client '1':\n%s", file)
	}
	if got = decodeJSON[settingsAnswer](t, e.do("PATCH", "/api/settings", `{"client_to_client":false}`)); got.ClientToClient {
		t.Errorf("PATCH client_to_client false: %+v", got)
	}
	// One field alone leaves the others; empty values remove the options.
	got = decodeJSON[settingsAnswer](t, e.do("PATCH", "/api/settings", `{"mtu":0,"dns":[]}`))
	if got.MTU != 0 || len(got.DNS) != 0 || got.Endpoint != "vpn.example.net" {
		t.Errorf("PATCH mtu 0, dns []: %+v", got)
	}
}

func TestSettingsBadValues(t *testing.T) {
	tests := []struct {
		body, field, msg string
		status           int
	}{
		{`{"endpoint":"http://x"}`, "endpoint", "not a URL: give a host name or address", 400},
		{`{"endpoint":"vpn.example.net:51820"}`, "endpoint", "includes a port", 400},
		{`{"endpoint":"my home"}`, "endpoint", "not a host name or IP address", 400},
		{`{"endpoint":"fe80::1%eth0"}`, "endpoint", "link-local", 400},
		{`{"dns":["192.168.1.1","dns.example"]}`, "dns", `is not an IP address such as 192.168.1.1`, 400},
		{`{"dns":["192.168.1.1 9.9.9.9"]}`, "dns", "one IP address", 400},
		{`{"dns":"192.168.1.1"}`, "dns", "", 400},
		{`{"mtu":100}`, "mtu", "from 576 to 65535", 400},
		{`{"mtu":"1400"}`, "mtu", "must be a JSON number", 400},
		{`{"keep_private_keys":"yes"}`, "keep_private_keys", "boolean", 400},
		{`{"listen":":1"}`, "listen", "not known here", 400},
		{`{}`, "", "Nothing to change", 400},
		// A bad value next to a good one: neither is saved.
		{`{"endpoint":"new.example.net","mtu":1}`, "mtu", "from 576", 400},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			e, dir := newUCIEnv(t, baseRouter(t))
			before, _ := os.ReadFile(dir.Path("wgpanel"))
			w := e.do("PATCH", "/api/settings", tt.body)
			wantError(t, w, tt.status, tt.field)
			if !strings.Contains(w.Body.String(), tt.msg) {
				t.Errorf("error %s; want it to contain %q", w.Body, tt.msg)
			}
			if after, _ := os.ReadFile(dir.Path("wgpanel")); string(after) != string(before) {
				t.Errorf("a refused change wrote the file:\n%s", after)
			}
		})
	}
}

// TestSettingsWarnings checks that an endpoint phones cannot reach from
// the internet is saved, with a warning the page shows by the field.
func TestSettingsWarnings(t *testing.T) {
	tests := []struct{ endpoint, want string }{
		{"192.168.2.253", "private address"},
		{"100.64.1.2", "carrier-grade NAT"},
		{"169.254.0.9", "link-local"},
		{"fe80::1", "link-local"},
		{"203.0.113.7", ""},
		{"myhome.example.org", ""},
	}
	e, _ := newUCIEnv(t, baseRouter(t))
	for _, tt := range tests {
		w := e.do("PATCH", "/api/settings", `{"endpoint":"`+tt.endpoint+`"}`)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.endpoint, w.Code, w.Body)
		}
		got := decodeJSON[settingsAnswer](t, w)
		if got.Endpoint != tt.endpoint {
			t.Errorf("%s: saved %q", tt.endpoint, got.Endpoint)
		}
		if msg := got.Warnings["endpoint"]; tt.want == "" && msg != "" || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: warning %q; want %q", tt.endpoint, msg, tt.want)
		}
		if again := decodeJSON[settingsAnswer](t, e.do("GET", "/api/settings", "")); again.Warnings["endpoint"] != got.Warnings["endpoint"] {
			t.Errorf("%s: GET warns %q, PATCH warned %q", tt.endpoint, again.Warnings["endpoint"], got.Warnings["endpoint"])
		}
	}
}

// TestConfigStale adds a device, then changes each setting its config
// carries: the device is marked until its config is shown again.
func TestConfigStale(t *testing.T) {
	e, _ := newUCIEnv(t, baseRouter(t))
	c := e.add("phone", "split")
	stale := func() bool {
		t.Helper()
		for _, p := range decodeJSON[PeerList](t, e.do("GET", "/api/peers", "")).Peers {
			if p.ID == c.Peer.ID {
				return p.ConfigStale
			}
		}
		t.Fatal("phone is not listed")
		return false
	}
	// The fixture's LuCI-made peers have no record: never marked.
	for _, p := range decodeJSON[PeerList](t, e.do("GET", "/api/peers", "")).Peers {
		if p.ConfigStale {
			t.Errorf("%s is marked stale right after being added or without a record", p.Name)
		}
	}
	for _, body := range []string{`{"endpoint":"new.example.net"}`, `{"dns":["9.9.9.9"]}`, `{"mtu":1380}`} {
		if w := e.do("PATCH", "/api/settings", body); w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", body, w.Code, w.Body)
		}
		if !stale() {
			t.Errorf("after %s the phone is not marked re-scan needed", body)
		}
		w := e.do("GET", "/api/peers/"+c.Peer.ID+"/config", "")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Endpoint = new.example.net:51820") {
			t.Fatalf("config after %s: %d %s", body, w.Code, w.Body)
		}
		if stale() {
			t.Errorf("after showing the new config the phone is still marked")
		}
	}
	// Changing a setting back to what the phone has clears the mark.
	e.do("PATCH", "/api/settings", `{"mtu":1400}`)
	if !stale() {
		t.Fatal("mtu change not marked")
	}
	e.do("PATCH", "/api/settings", `{"mtu":1380}`)
	if stale() {
		t.Error("setting the mtu back still marks the phone")
	}
}
