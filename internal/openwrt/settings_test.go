package openwrt

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

func TestDefaultSettings(t *testing.T) {
	want := vpn.Settings{Interface: "wg0", KeepPrivateKeys: true, Auth: "shadow", DNSDomain: "vpn.lan", HistoryFlashInterval: time.Hour}
	if got := DefaultSettings(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v; want %+v", got, want)
	}
}

func TestSettingsParse(t *testing.T) {
	def := DefaultSettings()
	tests := []struct {
		name string
		text string // "" means no wgpanel file
		want vpn.Settings
	}{
		{name: "missing file", want: def},
		{name: "empty file", text: "\n", want: def},
		{name: "other section only", text: "config other 'main'\n\toption interface 'wg7'\n", want: def},
		{
			name: "every option",
			text: "\nconfig wgpanel 'main'\n\toption interface 'wg1'\n\toption endpoint 'vpn.example.org'\n" +
				"\tlist dns '192.168.1.1'\n\tlist dns 'fd12::1'\n\toption mtu '1280'\n\toption keep_private_keys '0'\n" +
				"\toption listen '192.168.1.1:8080'\n\toption auth 'password'\n\toption password_hash '$5$salt$hash'\n" +
				"\toption stun_server ''\n",
			want: vpn.Settings{DNSDomain: "vpn.lan", HistoryFlashInterval: time.Hour,
				Interface: "wg1", Endpoint: "vpn.example.org",
				DNS: []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fd12::1")},
				MTU: 1280, KeepPrivateKeys: false, Listen: "192.168.1.1:8080", Auth: "password",
				PasswordHash: "$5$salt$hash",
			},
		},
		{
			name: "dns as space-separated option, bracketed endpoint",
			text: "config wgpanel 'main'\n\toption dns '1.1.1.1 9.9.9.9'\n\toption endpoint '[2001:db8::1]'\n\toption keep_private_keys 'yes'\n",
			want: vpn.Settings{DNSDomain: "vpn.lan", HistoryFlashInterval: time.Hour,
				Interface: "wg0", Endpoint: "2001:db8::1",
				DNS:             []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("9.9.9.9")},
				KeepPrivateKeys: true, Auth: "shadow",
			},
		},
		{
			name: "anonymous section, empty values mean defaults",
			text: "config wgpanel\n\toption interface ''\n\toption auth ''\n\toption endpoint '203.0.113.5'\n\toption listen ':8443'\n",
			want: vpn.Settings{DNSDomain: "vpn.lan", HistoryFlashInterval: time.Hour, Interface: "wg0", Endpoint: "203.0.113.5", KeepPrivateKeys: true, Auth: "shadow", Listen: ":8443"},
		},
		{
			name: "own STUN server",
			text: "config wgpanel 'main'\n\toption stun_server '192.0.2.10:3478'\n",
			want: vpn.Settings{DNSDomain: "vpn.lan", HistoryFlashInterval: time.Hour, Interface: "wg0", KeepPrivateKeys: true, Auth: "shadow", STUNServer: "192.0.2.10:3478"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{"network": fixture(t, "network.default")}
			if tt.text != "" {
				files["wgpanel"] = []byte(tt.text)
			}
			got := mustLoad(t, newDir(t, files)).Settings
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestSettingsBadValues(t *testing.T) {
	tests := []struct {
		option, value, want string
	}{
		{"interface", "wg-0", "letters, digits and _ only"},
		{"interface", "averyveryverylongname", "1 to 15 characters"},
		{"endpoint", "vpn.example.org:51820", "includes a port"},
		{"endpoint", "bad host", "not a host name"},
		{"dns", "192.168.1.1 dns.example", `"dns.example" is not an IP address`},
		{"mtu", "100", `"100" is not a number from 576 to 65535`},
		{"keep_private_keys", "sometimes", "not a yes/no value"},
		{"listen", "8080", "not an address and port"},
		{"auth", "ldap", "neither 'shadow'"},
		{"endpoint", "http://x", "not a URL: give a host name or address"},
		{"stun_server", "stun.example.org:99999", "port number from 1 to 65535"},
		{"stun_server", "not a host", "not a host name or address with an optional port"},
		{"client_to_client", "maybe", "not a yes/no value"},
		{"dns_domain", "vpn_lan", "not a domain such as vpn.lan"},
		{"dns_domain", "-vpn.lan", "not a domain such as vpn.lan"},
		{"history_flash_interval", "often", "not a time such as 1h"},
		{"history_flash_interval", "60", "not between 10m and 168h"},
		{"metrics_token", "short", "at least 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.option+"="+tt.value, func(t *testing.T) {
			dir := newDir(t, map[string][]byte{
				"network": fixture(t, "network.default"),
				"wgpanel": []byte("config wgpanel 'main'\n\toption " + tt.option + " '" + tt.value + "'\n"),
			})
			_, err := NewStore(dir, nil).Load(context.Background())
			configError(t, err, dir.Path("wgpanel")+": wgpanel section 'main', option "+tt.option+": ", tt.want)

			err = NewStore(dir, nil).SetSetting(context.Background(), tt.option, tt.value)
			var ve *vpn.Error
			if !errors.As(err, &ve) || ve.Code != vpn.EINVALID || !strings.Contains(ve.Message, tt.want) {
				t.Errorf("SetSetting: got %v; want EINVALID containing %q", err, tt.want)
			}
		})
	}
}

func TestMalformedSettings(t *testing.T) {
	dir := newDir(t, map[string][]byte{
		"network": fixture(t, "network.default"),
		"wgpanel": []byte("config wgpanel 'main'\n\toption endpoint 'x\n"),
	})
	_, err := NewStore(dir, nil).Load(context.Background())
	configError(t, err, dir.Path("wgpanel")+" line ", "wgpanel did not change it")
	err = NewStore(dir, nil).SetSetting(context.Background(), "endpoint", "vpn.example.org")
	configError(t, err, dir.Path("wgpanel")+" line ")
}

func TestSetSetting(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t, map[string][]byte{"network": fixture(t, "network.default")})
	s := NewStore(dir, nil)

	// The file does not exist yet: SetPasswordHash creates it.
	if err := s.SetPasswordHash(ctx, "$5$abc$def"); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{
		{"endpoint", "vpn.example.org"}, {"dns", "192.168.1.1  fd12::1"}, {"auth", "password"},
		{"mtu", "1400"}, {"mtu", ""}, {"keep_private_keys", "0"},
	} {
		if err := s.SetSetting(ctx, kv[0], kv[1]); err != nil {
			t.Fatalf("SetSetting(%q, %q): %v", kv[0], kv[1], err)
		}
	}
	want := "\nconfig wgpanel 'main'\n\toption password_hash '$5$abc$def'\n\toption endpoint 'vpn.example.org'\n" +
		"\tlist dns '192.168.1.1'\n\tlist dns 'fd12::1'\n\toption auth 'password'\n\toption keep_private_keys '0'\n\n"
	if got := string(readFile(t, dir, "wgpanel")); got != want {
		t.Errorf("got wgpanel file\n%s\nwant\n%s", got, want)
	}
	got := mustLoad(t, dir).Settings
	wantSettings := vpn.Settings{DNSDomain: "vpn.lan", HistoryFlashInterval: time.Hour,
		Interface: "wg0", Endpoint: "vpn.example.org",
		DNS:  []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fd12::1")},
		Auth: "password", PasswordHash: "$5$abc$def",
	}
	if !reflect.DeepEqual(got, wantSettings) {
		t.Errorf("got %+v; want %+v", got, wantSettings)
	}

	if err := s.SetSetting(ctx, "private_key", "x"); vpn.ErrorCode(err) != vpn.EINVALID {
		t.Errorf("unknown setting: got %v; want EINVALID", err)
	}
	if err := s.SetPasswordHash(ctx, "has space"); vpn.ErrorCode(err) != vpn.EINVALID {
		t.Errorf("bad hash: got %v; want EINVALID", err)
	}
}

// TestSetSettingKeepsOtherSections checks that a conffile edited by hand
// keeps what wgpanel does not own, and that dns keeps its form.
func TestSetSettingKeepsOtherSections(t *testing.T) {
	text := "\nconfig wgpanel 'main'\n\toption dns '1.1.1.1'\n\toption interface 'wg0'\n\nconfig extra 'x'\n\toption a 'b'\n\n"
	dir := newDir(t, map[string][]byte{"wgpanel": []byte(text)})
	if err := NewStore(dir, nil).SetSetting(context.Background(), "dns", "9.9.9.9 1.1.1.1"); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(text, "option dns '1.1.1.1'", "option dns '9.9.9.9 1.1.1.1'", 1)
	if got := string(readFile(t, dir, "wgpanel")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(dir.Path("network")); err == nil {
		t.Errorf("SetSetting created a network file")
	}
}

// TestSetSettings checks that several options are written in one commit
// and that one bad value among them changes nothing; an empty stun_server
// removes the option, which turns the feature off.
func TestSetSettings(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t, map[string][]byte{"wgpanel": []byte("config wgpanel 'main'\n\toption endpoint 'old.example.org'\n\toption stun_server '" + DefaultSTUNServer + "'\n")})
	s := NewStore(dir, nil)
	before := string(readFile(t, dir, "wgpanel"))
	err := s.SetSettings(ctx, SettingChange{"endpoint", "new.example.org"}, SettingChange{"mtu", "12"})
	var ve *vpn.Error
	if !errors.As(err, &ve) || ve.Field != "mtu" {
		t.Fatalf("got %v; want an EINVALID error for mtu", err)
	}
	if got := string(readFile(t, dir, "wgpanel")); got != before {
		t.Errorf("a refused change wrote the file:\n%s", got)
	}
	if err := s.SetSettings(ctx, SettingChange{"endpoint", "new.example.org"}, SettingChange{"mtu", "1380"},
		SettingChange{"stun_server", ""}); err != nil {
		t.Fatal(err)
	}
	want := "\nconfig wgpanel 'main'\n\toption endpoint 'new.example.org'\n\toption mtu '1380'\n\n"
	if got := string(readFile(t, dir, "wgpanel")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	st, err := s.Settings(ctx)
	if err != nil || st.STUNServer != "" || st.MTU != 1380 {
		t.Errorf("got %+v, %v; want stun_server off and mtu 1380", st, err)
	}
}
