package access_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/access"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

func update(t *testing.T, st *openwrt.Store, fn func(cfg *vpn.Config) error) {
	t.Helper()
	if err := st.UpdateServer(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir uci.Dir) []byte {
	t.Helper()
	b, err := os.ReadFile(dir.Path("firewall"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestApplyAccess writes a guest's rules into the example firewall,
// reloads it once, leaves an unchanged firewall alone (no reload), and
// lets the doctor see a rule the owner deleted.
func TestApplyAccess(t *testing.T) {
	dir := uci.Dir(t.TempDir())
	for _, pkg := range []string{"network", "firewall"} {
		b, err := os.ReadFile(filepath.Join("testdata", pkg+".wireguard-example"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir.Path(pkg), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := openwrt.NewStore(dir, nil)
	ctx := context.Background()
	var reloads []string
	reload := func(_ context.Context, pkgs ...string) error {
		reloads = append(reloads, pkgs...)
		return nil
	}
	// client_to_client is off by default: that is a rule of its own.
	if ch, err := access.Apply(ctx, st, reload, nil); err != nil || len(ch) != 1 || len(reloads) != 1 {
		t.Fatalf("all devices 'all': got changes %q, err %v, reloads %q; want the client-to-client rule", ch, err, reloads)
	}
	reloads = nil
	before := string(read(t, dir))
	update(t, st, func(cfg *vpn.Config) error {
		cfg.Server.Peers[0].Access = vpn.AccessInternet
		return nil
	})
	ch, err := access.Apply(ctx, st, reload, nil)
	if err != nil || len(ch) == 0 || len(reloads) != 1 || reloads[0] != "firewall" {
		t.Fatalf("got changes %q, err %v, reloads %q; want changes and one firewall reload", ch, err, reloads)
	}
	text := string(read(t, dir))
	if !strings.Contains(text, "wgpanel: alice-phone") || !strings.HasPrefix(text, before[:len(before)-1]) {
		t.Errorf("firewall after apply:\n%s", text)
	}
	if ch, err := access.Apply(ctx, st, reload, nil); err != nil || len(ch) != 0 || len(reloads) != 1 {
		t.Errorf("second apply: got changes %q, err %v, reloads %q; want nothing", ch, err, reloads)
	}
	if problems, err := access.Check(ctx, st); err != nil || len(problems) != 0 {
		t.Errorf("CheckAccess: got %q, %v; want none", problems, err)
	}
	if err := dir.Update("firewall", func(f *uci.File) error {
		for _, s := range f.SectionsByType("rule") {
			if n, _ := s.Get("name"); strings.HasPrefix(n, "wgpanel: ") {
				f.RemoveSection(s)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if problems, err := access.Check(ctx, st); err != nil || len(problems) == 0 {
		t.Errorf("CheckAccess after the rules were removed: got %q, %v; want problems", problems, err)
	}
	update(t, st, func(cfg *vpn.Config) error {
		cfg.Server.Peers[0].Access = vpn.AccessAll
		return nil
	})
	if _, err := access.Apply(ctx, st, reload, nil); err != nil {
		t.Fatal(err)
	}
	if got := string(read(t, dir)); got != before {
		t.Errorf("back to 'all': firewall is\n%s\nwant it as before:\n%s", got, before)
	}
}
