package openwrt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/uci"
)

func TestAllowedHosts(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) {
		if err := os.WriteFile(filepath.Join(dir, "wgpanel"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := NewStore(uci.Dir(dir), nil)
	if got, err := st.AllowedHosts(); err != nil || got != nil {
		t.Errorf("without a file: %q, %v; want none", got, err)
	}
	write("config wgpanel 'main'\n\tlist allowed_host 'vpn.example.org'\n\tlist allowed_host 'panel.home.arpa'\n")
	if got, err := st.AllowedHosts(); err != nil || strings.Join(got, ",") != "vpn.example.org,panel.home.arpa" {
		t.Errorf("AllowedHosts = %q, %v; want both names", got, err)
	}
	write("config wgpanel 'main'\n\tlist allowed_host 'a b/c'\n\tlist allowed_host 'ok.example'\n")
	got, err := st.AllowedHosts()
	if err == nil || !strings.Contains(err.Error(), "allowed_host") || strings.Join(got, ",") != "a,ok.example" {
		t.Errorf("AllowedHosts with a bad value = %q, %v; want the good names and an error naming allowed_host", got, err)
	}
}

// TestKeepPrivateKeysDefault checks the default on OpenWrt, where
// /etc/config/network is readable by every user: client private keys are
// shown once and not stored unless keep_private_keys says '1'.
func TestKeepPrivateKeysDefault(t *testing.T) {
	dir := t.TempDir()
	st := NewStore(uci.Dir(dir), nil)
	st.ShowKeysOnce = true
	got, err := st.Settings(t.Context())
	if err != nil || got.KeepPrivateKeys {
		t.Errorf("OpenWrt default: KeepPrivateKeys = %v, %v; want false", got.KeepPrivateKeys, err)
	}
	for value, want := range map[string]bool{"1": true, "0": false, "": false} {
		text := "config wgpanel 'main'\n"
		if value != "" {
			text += "\toption keep_private_keys '" + value + "'\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "wgpanel"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Settings(t.Context()); err != nil || got.KeepPrivateKeys != want {
			t.Errorf("keep_private_keys %q: KeepPrivateKeys = %v, %v; want %v", value, got.KeepPrivateKeys, err, want)
		}
	}
	// Standalone, the config lives in a private state directory.
	if got, err := NewStore(uci.Dir(t.TempDir()), nil).Settings(t.Context()); err != nil || !got.KeepPrivateKeys {
		t.Errorf("standalone default: KeepPrivateKeys = %v, %v; want true", got.KeepPrivateKeys, err)
	}
}
