package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// TestBrowserJourney is the owner's journey in Debian's chromium against
// the real binary, on a phone-sized screen: log in to a server without an
// endpoint and read the verdict, pick the suggested endpoint in the page,
// add "phone" and see "Waiting…", bring the phone up with wg-quick from the
// downloaded config and see "Connected ✓" in the dialog and in the list,
// change the endpoint and see the phone marked "re-scan needed", run the
// doctor and read its summary. Screenshots at 360 and 1280 px go to the
// directory $WGPANEL_SCREENSHOTS names (a temporary one otherwise), so a
// person can look at them.
func TestBrowserJourney(t *testing.T) {
	t.Parallel()
	testutil.RequireCommand(t, "chromium")
	tp := newTopo(t, topoOptions{phone: true})
	// The router's default route leaves through its WAN, so wgpanel
	// learns its WAN address 192.0.2.1 and offers it as the endpoint.
	mustRun(t, quickTimeout, "ip", "-n", tp.router, "route", "add", "default", "via", phoneWAN)
	tp.mustWgpanel("settings", "--endpoint", "")
	password := webPassword(t, tp)
	waitWebUI(t, tp)

	p := openBrowser(t, tp.router)
	p.Step("a phone-sized screen", chromedp.EmulateViewport(360, 800))
	p.login(password)

	verdict := `document.getElementById('verdict').dataset.verdict`
	p.WaitFor("the verdict", verdict+` === 'no_endpoint'`, 10*time.Second)
	if got := p.Eval(`document.getElementById('verdict-summary').textContent`); got != "Phones do not know where to reach your router yet." {
		t.Errorf("verdict = %q; want that phones do not know where to reach the router", got)
	}
	chip := fmt.Sprintf(`#endpoint-suggestions button[data-value=%q]`, routerWAN)
	p.WaitFor("the suggested endpoint", `document.querySelector('`+chip+`') !== null`, 5*time.Second)
	p.screenshots("1-verdict")

	p.Step("use the suggested endpoint", chromedp.Click(chromedp.CSS(chip)))
	p.WaitFor("the verdict to turn reachable", verdict+` === 'reachable'`, 10*time.Second)
	if got := p.Eval(`document.getElementById('verdict-summary').textContent`); !strings.Contains(got, routerWAN+":51820") {
		t.Errorf("verdict = %q; want it to name %s:51820", got, routerWAN)
	}
	if out := tp.mustWgpanel("settings"); !strings.Contains(out, "endpoint:          "+routerWAN) {
		t.Errorf("wgpanel settings after saving in the page:\n%s\nwant endpoint %s", out, routerWAN)
	}

	p.Step("add phone",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "phone"),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("qr-img")),
	)
	p.WaitFor("Waiting…", `!document.getElementById('wait').hidden && document.getElementById('wait-text').textContent === 'Waiting for phone to connect…'`, 5*time.Second)
	p.WaitFor("the QR image to load",
		`(() => { const i = document.getElementById('qr-img'); return i.complete && i.naturalWidth > 0; })()`, 10*time.Second)
	if ok := p.Eval(`String(document.getElementById('qr-img').getBoundingClientRect().width >= 280)`); ok != "true" {
		t.Errorf("the QR code is %s px wide on a 360 px screen; want at least 280",
			p.Eval(`String(document.getElementById('qr-img').getBoundingClientRect().width)`))
	}
	p.screenshots("2-waiting")

	conf := p.download()
	if got := confValues(conf, "Endpoint"); len(got) != 1 || got[0] != routerWAN+":51820" {
		t.Fatalf("the downloaded config's Endpoint = %q; want %s:51820", got, routerWAN)
	}
	tp.phoneUp(conf)
	if r := tp.ping(routerTunnel, "-c", "1", "-W", "3"); r.err != nil {
		t.Fatalf("the phone cannot reach %s with the page's config: %v", routerTunnel, r)
	}
	start := time.Now()
	p.WaitFor("Connected ✓ in the dialog", `document.getElementById('wait-text').textContent.startsWith('Connected ✓')`, 15*time.Second)
	t.Logf("the dialog said Connected %v after the phone's first ping", time.Since(start).Round(time.Millisecond))
	id := keyID(t, tp.peerKey("phone"))
	row := fmt.Sprintf(`document.querySelector('#peers li[data-id=%q]')`, id)
	p.WaitFor("Connected in the list", row+` !== null && `+row+`.querySelector('.peer-state').textContent.startsWith('Connected · ')`, 5*time.Second)
	p.screenshots("3-connected")
	p.Step("close the dialog", chromedp.Click(chromedp.ID("config-close")))

	p.Step("change the endpoint",
		chromedp.SetValue(chromedp.ID("endpoint"), "vpn.example.net"),
		chromedp.Click(chromedp.ID("endpoint-save")),
	)
	p.WaitFor("re-scan needed", `!`+row+`.querySelector('.peer-stale').hidden`, 10*time.Second)
	if got := p.Eval(row + `.querySelector('.peer-stale').textContent`); !strings.Contains(got, "Re-scan needed") {
		t.Errorf("the phone's row says %q; want re-scan needed", got)
	}
	p.screenshots("4-rescan")

	p.Step("run the doctor", chromedp.Click(chromedp.ID("doctor-run")))
	p.WaitFor("the doctor's summary", `!document.getElementById('doctor-summary').hidden`, 15*time.Second)
	summary := p.Eval(`document.getElementById('doctor-summary').textContent`)
	if !strings.HasPrefix(summary, "No problems found: ") || !strings.Contains(summary, "do not apply here") {
		t.Errorf("doctor summary = %q; want no problems, with the standalone checks that do not apply", summary)
	}
	if open := p.Eval(`String(document.getElementById('doctor-ok').open)`); open != "false" {
		t.Errorf("the passed checks are unfolded; want them folded")
	}
	p.screenshots("5-doctor")
}

// download fetches what the config dialog's download link serves, with
// the page's session.
func (p *browserPage) download() string {
	p.t.Helper()
	dl, err := chromedp.Run(p.Context(), chromedp.Evaluate[download](`(async () => {
		const r = await fetch(document.getElementById('config-download').getAttribute('href'), { credentials: 'same-origin' });
		return { status: r.status, disposition: r.headers.get('Content-Disposition') || '', body: await r.text() };
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || dl.Status != 200 {
		p.t.Fatalf("fetch the download link: %v (status %d)", err, dl.Status)
	}
	return dl.Body
}

// screenshots saves the whole page at 360 and 1280 px wide as NAME-360.png
// and NAME-1280.png in $WGPANEL_SCREENSHOTS, and goes back to 360 px.
func (p *browserPage) screenshots(name string) {
	p.t.Helper()
	dir := os.Getenv("WGPANEL_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	for _, w := range []int64{1280, 360} {
		p.Step(fmt.Sprintf("a %d px screen", w), chromedp.EmulateViewport(w, 800))
		// Let the layout settle before the picture.
		p.WaitFor("the layout", fmt.Sprintf(`document.documentElement.clientWidth === %d`, w), 5*time.Second)
		png, err := chromedp.Run(p.Context(), chromedp.FullScreenshot(100))
		if err != nil {
			p.t.Fatalf("screenshot %s at %d px: %v", name, w, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			p.t.Fatal(err)
		}
		if w == 360 {
			if over := p.Eval(`String(document.documentElement.scrollWidth > 360)`); over != "false" {
				p.t.Errorf("%s: the page is wider than a 360 px screen", name)
			}
		}
	}
}
