package main

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestListenAddr checks where serve listens by default: only on a unicast
// LAN address assigned on this host, never on every interface (0.0.0.0
// would include the WAN).
func TestListenAddr(t *testing.T) {
	local := func(a netip.Addr) bool { return a == netip.MustParseAddr("192.168.1.1") }
	tests := []struct {
		name     string
		flag     string
		listen   string
		lan      string
		dev      bool
		want     string
		wantErr  string
		localErr bool
	}{
		{name: "LAN address", lan: "192.168.1.1", want: "192.168.1.1:8080"},
		{name: "no LAN", want: "127.0.0.1:8080"},
		{name: "dev ignores the LAN", lan: "192.168.1.1", dev: true, want: "127.0.0.1:8080"},
		{name: "LAN 0.0.0.0", lan: "0.0.0.0", want: "127.0.0.1:8080"},
		{name: "LAN multicast", lan: "224.0.0.1", want: "127.0.0.1:8080"},
		{name: "LAN loopback", lan: "127.0.0.2", want: "127.0.0.1:8080"},
		{name: "LAN link-local", lan: "169.254.1.1", want: "127.0.0.1:8080"},
		{name: "LAN broadcast", lan: "255.255.255.255", want: "127.0.0.1:8080"},
		{name: "LAN not on this host", lan: "192.0.2.7", wantErr: "not assigned"},
		{name: "listen option wins", listen: "10.0.0.1:9000", lan: "192.168.1.1", want: "10.0.0.1:9000"},
		{name: "flag wins", flag: "0.0.0.0:8080", listen: "10.0.0.1:9000", want: "0.0.0.0:8080"},
		{name: "bad flag", flag: "nonsense", wantErr: "not HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &vpn.Config{Settings: vpn.Settings{Listen: tt.listen}}
			if tt.lan != "" {
				cfg.Network.LANAddr = netip.MustParseAddr(tt.lan)
			}
			got, err := listenAddrOn(tt.flag, cfg, tt.dev, local)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("listenAddr = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("listenAddr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestLoginIgnoresNetworkFile breaks the network file with a private key
// on a hand-edited line: the web login must still work, and no answer to
// it may carry any part of the key.
func TestLoginIgnoresNetworkFile(t *testing.T) {
	const key = "mDTq5BP/Xbwgq74qAO0OJO40Q/MTAtxGwCsBxo3sw0Q="
	dir := t.TempDir()
	hash, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"network": "config interface 'wg0'\n\toption proto 'wireguard'\n\toption private_key = '" + key + "'\n",
		"wgpanel": "config wgpanel 'main'\n\toption auth 'password'\n\toption password_hash '" + hash + "'\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, err := webAuth(openwrt.NewStore(uci.Dir(dir), nil), uci.Dir(dir), auth.ModePassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckPassword("correct horse"); err != nil {
		t.Errorf("login with a broken network file: %v; want success", err)
		if strings.Contains(err.Error(), key[:8]) {
			t.Error("and the error carries the private key")
		}
	}
	if err := a.CheckPassword("wrong"); !errors.Is(err, auth.ErrWrongPassword) {
		t.Errorf("wrong password: %v; want ErrWrongPassword", err)
	}
}
