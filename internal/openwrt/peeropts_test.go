package openwrt

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

func TestSettingsNewOptions(t *testing.T) {
	dir := newDir(t, map[string][]byte{
		"network": fixture(t, "network.default"),
		"wgpanel": []byte("config wgpanel 'main'\n\toption client_to_client '1'\n\toption dns_domain 'Home.ARPA'\n" +
			"\toption history_flash_interval '2h'\n\toption metrics_token 'abcdefghijklmnopqrstuvwx'\n"),
	})
	st, err := NewStore(dir, nil).Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.ClientToClient || st.DNSDomain != "home.arpa" || st.HistoryFlashInterval != 2*time.Hour || st.MetricsToken != "abcdefghijklmnopqrstuvwx" {
		t.Errorf("got %+v", st)
	}
	for v, want := range map[string]time.Duration{"0": 0, "3600": time.Hour, "": time.Hour, "30m": 30 * time.Minute} {
		if err := NewStore(dir, nil).SetSetting(context.Background(), "history_flash_interval", v); err != nil {
			t.Fatal(err)
		}
		st, err := NewStore(dir, nil).Settings(context.Background())
		if err != nil || st.HistoryFlashInterval != want {
			t.Errorf("history_flash_interval %q: got %v, %v; want %v", v, st.HistoryFlashInterval, err, want)
		}
	}
}

// TestPeerAccessRoundTrip writes access, hosts and an end date, reads them
// back, and checks the options as they stand in the file: absent for the
// defaults.
func TestPeerAccessRoundTrip(t *testing.T) {
	dir, _ := exampleDir(t)
	c := carol()
	c.Access = vpn.AccessHosts
	c.Hosts = []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("192.168.1.64/28")}
	c.Expires = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		cfg.Server.Peers = append(cfg.Server.Peers, c)
		return nil
	})
	text := string(readFile(t, dir, "network"))
	for _, want := range []string{"option wgpanel_access 'hosts'", "list wgpanel_hosts '192.168.1.10'",
		"list wgpanel_hosts '192.168.1.64/28'", "option wgpanel_expires '2027-01-02T03:04:05Z'"} {
		if !strings.Contains(text, want) {
			t.Errorf("network file lacks %q:\n%s", want, text)
		}
	}
	got := findPeer(t, mustLoad(t, dir).Server, c.PublicKey)
	if got.Access != vpn.AccessHosts || len(got.Hosts) != 2 || got.Hosts[1] != c.Hosts[1] || !got.Expires.Equal(c.Expires) {
		t.Errorf("read back %+v", got)
	}

	mustUpdate(t, dir, func(cfg *vpn.Config) error {
		p := findPeer(t, cfg.Server, c.PublicKey)
		p.Access, p.Hosts, p.Expires = vpn.AccessAll, nil, time.Time{}
		return nil
	})
	text = string(readFile(t, dir, "network"))
	for _, gone := range []string{"wgpanel_access", "wgpanel_hosts", "wgpanel_expires"} {
		if strings.Contains(text, gone) {
			t.Errorf("network file still has %s after reset:\n%s", gone, text)
		}
	}

	err := NewStore(dir, nil).UpdateServer(context.Background(), func(cfg *vpn.Config) error {
		findPeer(t, cfg.Server, c.PublicKey).Access = vpn.AccessHosts // without hosts
		return nil
	})
	if err == nil {
		t.Error("hosts access without addresses was written")
	}
}

func TestPeerAccessBadValues(t *testing.T) {
	tests := []struct{ option, want string }{
		{"option wgpanel_access 'guest'", "option wgpanel_access: \"guest\" is not one of all, internet, lan, hosts"},
		{"list wgpanel_hosts 'printer'", "option wgpanel_hosts: \"printer\" is not an address"},
		{"option wgpanel_expires 'tomorrow'", "option wgpanel_expires: \"tomorrow\" is not a date and time"},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			text := "config interface 'wg0'\n\toption proto 'wireguard'\n\toption private_key '" + testKey(1).String() + "'\n\n" +
				"config wireguard_wg0\n\toption description 'x'\n\toption public_key '" + testKey(2).PublicKey().String() +
				"'\n\tlist allowed_ips '10.66.66.2/32'\n\t" + tt.option + "\n"
			dir := newDir(t, map[string][]byte{"network": []byte(text)})
			srv := mustLoad(t, dir).Server
			if len(srv.Odd) != 1 || !strings.Contains(srv.Odd[0].Problem, tt.want) {
				t.Errorf("got odd peers %+v; want one with problem %q", srv.Odd, tt.want)
			}
		})
	}
}
