package api

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestPageAccessInBrowser adds a guest with "internet only" on the page,
// changes it to two home addresses through the device's menu, and enables
// it again after its end date passed, which asks for a new date.
func TestPageAccessInBrowser(t *testing.T) {
	b := startBrowser(t)
	step, waitFor := b.Step, b.waitFor
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	b.open(srv.URL)
	b.login("add-open")

	step("add a guest",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "guest"),
		chromedp.SetValue(chromedp.ID("add-access"), "internet"),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("config-close")),
		chromedp.Click(chromedp.ID("config-close")),
	)
	peers := e.storedPeers()
	if len(peers) != 1 || peers[0].Access != vpn.AccessInternet {
		t.Fatalf("stored %+v; want one guest with access internet", peers)
	}
	id := vpn.KeyID(peers[0].PublicKey)
	row := fmt.Sprintf(`document.querySelector('li[data-id=%q]')`, id)
	waitFor("the row to say internet only", row+` && `+row+`.querySelector('.peer-access').textContent === ' · reaches internet only'`)

	step("only two home addresses",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] details.menu summary`, id))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=access]`, id))),
		chromedp.WaitVisible(chromedp.ID("access-access")),
		chromedp.SetValue(chromedp.ID("access-access"), "hosts"),
	)
	b.Eval(`String(document.getElementById('access-access').dispatchEvent(new Event('change')))`)
	step("the addresses",
		chromedp.WaitVisible(chromedp.ID("access-hosts")),
		chromedp.SetValue(chromedp.ID("access-hosts"), "192.168.1.10, 192.168.1.11"),
		chromedp.Click(chromedp.ID("access-submit")),
	)
	waitFor("the row to list the addresses", row+`.querySelector('.peer-reach').textContent === 'only 192.168.1.10, 192.168.1.11'`)
	if p := e.storedPeers()[0]; p.Access != vpn.AccessHosts || len(p.Hosts) != 2 {
		t.Errorf("stored %+v; want hosts with two addresses", p)
	}

	// The daemon disabled it at its end date.
	if err := e.store.UpdateServer(t.Context(), func(cfg *vpn.Config) error {
		cfg.Server.Peers[0].Enabled = false
		cfg.Server.Peers[0].Expires = time.Now().Add(-time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor("the row to say expired", row+`.querySelector('.peer-expires').textContent === ' · expired'`)
	step("enable it", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] input[data-action=toggle]`, id))))
	waitFor("the dialog asking for a new date", `!document.getElementById('access-expired').hidden && document.getElementById('access-dialog').open`)
	step("no end date", chromedp.Click(chromedp.ID("access-submit")))
	waitFor("the row to show enabled", `!`+row+`.classList.contains('peer-disabled')`)
	if p := e.storedPeers()[0]; !p.Enabled || !p.Expires.IsZero() {
		t.Errorf("stored %+v; want enabled with no end date", p)
	}
}

// TestPageUsageInBrowser checks that the page draws a device's sparkline
// and, in its details, the chart of its traffic, from the usage API.
func TestPageUsageInBrowser(t *testing.T) {
	b := startBrowser(t)
	e := newEnv(t)
	e.h = New(Config{Service: e.svc, Auth: e.auth, Usage: fakeUsage{time.Now().Add(-48 * time.Hour)}})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	id := e.add("phone", "split").Peer.ID
	b.open(srv.URL)
	b.login("add-open")
	row := fmt.Sprintf(`document.querySelector('li[data-id=%q]')`, id)
	b.waitFor("the sparkline", row+` && `+`(`+row+`.querySelector('.spark-line').getAttribute('d') || '').startsWith('M0.0 ')`)
	b.Step("open the details", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] .peer-details summary`, id))))
	b.waitFor("the chart", `(`+row+`.querySelector('.chart-bars').getAttribute('d') || '').split('M').length === 3 && `+
		row+`.querySelector('.usage-sum').textContent.startsWith('the last 48 hours: ↓ 22 B ↑ 11 B')`)
	b.Step("90 days", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-range="90d"]`, id))))
	b.waitFor("the 90-day chart", row+`.querySelector('.usage-sum').textContent.startsWith('the last 90 days')`)
	b.noOverflow("details with the chart")
}

// TestPageClientToClientInBrowser turns the switch for devices reaching each
// other on in the page and checks that it lands in /etc/config/wgpanel.
func TestPageClientToClientInBrowser(t *testing.T) {
	b := startBrowser(t)
	e, dir := newUCIEnv(t, baseRouter(t))
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	b.open(srv.URL)
	b.login("add-open")
	b.waitFor("the switch, off", `document.getElementById('c2c').checked === false && !document.getElementById('c2c').disabled`)
	b.Step("turn it on", chromedp.Click(chromedp.ID("c2c")))
	b.waitFor("the switch saved", `document.getElementById('c2c').checked && !document.getElementById('c2c').disabled`)
	if file, _ := os.ReadFile(dir.Path("wgpanel")); !strings.Contains(string(file), "option client_to_client '1'") {
		t.Errorf("wgpanel file after turning the switch on:\n%s\nwant option client_to_client '1'", file)
	}
	if msg := b.Eval(`document.getElementById('c2c-error').textContent`); msg != "" {
		t.Errorf("error next to the switch: %q", msg)
	}
}
