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
