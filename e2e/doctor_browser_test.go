package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/testutil/fixtures"
)

// TestBrowserDoctorPanel runs the doctor from the page against the real
// binary, on a router whose firewall is OpenWrt's default one: it lacks the
// WAN rule for WireGuard and the interface is in no zone. The page shows
// both as failing with a Fix button; pressing Fix writes exactly that fix
// and the check turns ok.
func TestBrowserDoctorPanel(t *testing.T) {
	t.Parallel()
	testutil.RequireCommand(t, "chromium")
	tp := newTopo(t, topoOptions{beforeServe: func(tp *topo) {
		if err := os.MkdirAll(tp.configDir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tp.configDir, "firewall"), string(fixtures.OpenWrt(t, "firewall.default")), 0o600)
	}})
	password := webPassword(t, tp)
	waitWebUI(t, tp)

	p := openBrowser(t, tp.router)
	p.login(password)
	p.Step("run the doctor", chromedp.Click(chromedp.ID("doctor-run")))
	p.WaitFor("the doctor's checks", `document.querySelectorAll('#doctor-checks li[data-check]').length > 0`, 15*time.Second)

	row := func(id string) string {
		return `document.querySelector('#doctor li[data-check="` + id + `"]')`
	}
	for _, id := range []string{"interface.exists", "interface.up", "interface.key", "interface.port", "endpoint"} {
		if cls := p.Eval(`(` + row(id) + ` || {className: 'missing'}).className`); !strings.Contains(cls, "check-ok") {
			t.Errorf("check %s: row class %q; want check-ok", id, cls)
		}
	}
	for _, id := range []string{"firewall.rule", "firewall.zone"} {
		if cls := p.Eval(`(` + row(id) + ` || {className: 'missing'}).className`); !strings.Contains(cls, "check-fail") {
			t.Errorf("check %s: row class %q; want check-fail", id, cls)
		}
	}
	if fix := p.Eval(row("firewall.rule") + `.querySelector('.check-fix').textContent`); !strings.Contains(fix, "51820") {
		t.Errorf("firewall.rule fix text %q does not name the port 51820", fix)
	}

	p.Step("fix the WAN rule", chromedp.Click(chromedp.CSS(`button[data-fix="firewall.rule"]`)))
	p.WaitFor("the rule check to pass", `(`+row("firewall.rule")+` || {className: ''}).className.includes('check-ok')`, 15*time.Second)
	if cls := p.Eval(row("firewall.zone") + `.className`); !strings.Contains(cls, "check-fail") {
		t.Errorf("fixing the rule changed the zone check too: %q; want it still failing", cls)
	}

	// Exactly the rule was written, in LuCI's form; the zone is untouched.
	var rules int
	for _, s := range readUCI(t, filepath.Join(tp.configDir, "firewall")) {
		if s.typ == "rule" && slices.Equal(s.options["name"], []string{"Allow-WireGuard"}) {
			rules++
			if !slices.Equal(s.options["proto"], []string{"udp"}) || !slices.Equal(s.options["src"], []string{"wan"}) ||
				!slices.Equal(s.options["dest_port"], []string{"51820"}) || !slices.Equal(s.options["target"], []string{"ACCEPT"}) {
				t.Errorf("Allow-WireGuard rule = %v; want udp from wan to 51820, ACCEPT", s.options)
			}
		}
		if s.typ == "zone" && slices.Contains(s.options["network"], tp.wgIf) {
			t.Errorf("the zone fix was applied although only the rule fix was pressed")
		}
	}
	if rules != 1 {
		t.Errorf("firewall has %d Allow-WireGuard rules; want 1", rules)
	}
}
