package e2e

import (
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/testutil/browsertest"
)

// webURL is where `serve` answers inside the router namespace: startServe
// sets option listen '127.0.0.1:8080' in S/config/wgpanel. The browser runs
// in the same namespace, so it talks to the router's own loopback.
const webURL = "http://127.0.0.1:8080"

// browserTimeout bounds all the steps of one browser session.
const browserTimeout = 90 * time.Second

// TestBrowserAddPhone does in Debian's chromium what the router's owner
// does, against the real binary: log in, add "phone", check that the QR code
// on screen decodes (zbarimg) to exactly the config the download link
// serves, bring that config up with wg-quick in the phone namespace, and
// watch the page show the phone online. Then disable (the phone loses the
// tunnel), enable (it gets it back), add "phone" again (the duplicate name
// error shows under the name field) and delete with confirmation.
func TestBrowserAddPhone(t *testing.T) {
	t.Parallel()
	testutil.RequireCommand(t, "chromium", "zbarimg")
	tp := newTopo(t, topoOptions{phone: true})
	password := webPassword(t, tp)
	waitWebUI(t, tp)

	p := openBrowser(t, tp.router)
	p.login(password)

	// Add "phone" with the default "home network only" tunnel.
	p.Step("add phone",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "phone"),
		chromedp.Click(chromedp.ID("add-tunnel-split")),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("qr-img")),
	)
	p.WaitFor("the QR image to load",
		`(() => { const i = document.getElementById('qr-img'); return i.complete && i.naturalWidth > 0; })()`, 10*time.Second)

	key := tp.peerKey("phone")
	id := keyID(t, key)
	href := p.Eval(`document.getElementById('config-download').getAttribute('href')`)
	if want := "/api/peers/" + id + "/config"; href != want {
		t.Fatalf("download link href = %q; want %q (the phone's public key %s)", href, want, key)
	}
	if got := p.Eval(`document.getElementById('config-download').download`); got != "phone.conf" {
		t.Errorf("download file name = %q; want phone.conf", got)
	}

	// What the download link serves, fetched by the page with its session.
	dl, err := chromedp.Run(p.Context(), chromedp.Evaluate[download](`(async () => {
		const r = await fetch(document.getElementById('config-download').getAttribute('href'), { credentials: 'same-origin' });
		return { status: r.status, disposition: r.headers.get('Content-Disposition') || '', body: await r.text() };
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch the download link: %v", err)
	}
	if dl.Status != 200 {
		t.Fatalf("GET %s: status %d; want 200\n%s", href, dl.Status, dl.Body)
	}
	if !strings.HasPrefix(dl.Disposition, "attachment") || !strings.Contains(dl.Disposition, "phone.conf") {
		t.Errorf("GET %s: Content-Disposition %q; want an attachment named phone.conf", href, dl.Disposition)
	}
	conf := dl.Body
	if len(confValues(conf, "PrivateKey")) != 1 || len(confValues(conf, "Endpoint")) != 1 {
		t.Fatalf("downloaded config has no PrivateKey or Endpoint:\n%s", conf)
	}
	if got := p.Eval(`document.getElementById('config-text').textContent`); got != conf {
		t.Errorf("config text on the page = %q; want the downloaded config %q", got, conf)
	}

	// The QR code as the browser draws it, read by a real decoder.
	if got := p.ReadQR("the QR code", "qr-img"); got != conf {
		t.Errorf("the QR code on screen decodes to %q; want exactly the downloaded config %q", got, conf)
	}
	p.Step("close the config dialog", chromedp.Click(chromedp.ID("config-close")))
	p.WaitFor("the config dialog to close", `!document.getElementById('config-dialog').open`, 5*time.Second)

	row := fmt.Sprintf(`document.querySelector('#peers li[data-id=%q]')`, id)
	p.WaitFor("the phone's row", row+` !== null && `+row+`.querySelector('.peer-name').textContent === 'phone'`, 10*time.Second)
	if p.Eval(`String(`+row+`.querySelector('.peer-online') !== null)`) != "false" {
		t.Errorf("the phone shows online before it ever connected")
	}

	// The phone scans the code: the same text goes into wg-quick.
	tp.phoneUp(conf)
	if r := tp.ping(routerTunnel, "-c", "1", "-W", "3"); r.err != nil {
		t.Fatalf("the phone cannot reach %s through the tunnel from the web page's config: %v", routerTunnel, r)
	}
	start := time.Now()
	p.WaitFor("the online dot (the page refreshes every 5 s)", row+`.querySelector('.peer-online') !== null`, 15*time.Second)
	t.Logf("the page showed the phone online %v after its first ping", time.Since(start).Round(time.Millisecond))

	// Disable: the row says so, the device drops the peer, the phone's
	// packets go nowhere.
	p.Step("disable", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] input[data-action=toggle]`, id))))
	p.WaitFor("the row to show disabled", row+`.classList.contains('peer-disabled')`, 10*time.Second)
	if tp.onDevice(key) {
		t.Errorf("after Disable in the page: the phone %s is still on the device", key)
	}
	if r := tp.ping(routerTunnel, "-c", "2", "-i", "0.2", "-W", "1"); r.exitCode() != 1 {
		t.Errorf("ping from the disabled phone: exit %d; want exit 1 (no reply)\n%v", r.exitCode(), r)
	}

	// Enable: the peer is back on the device, and the phone gets through
	// again. Its old session died with the peer, so wait for the phone's
	// next handshake: WireGuard starts one when a sent packet has had no
	// answer for 15 s (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT).
	p.Step("enable", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] input[data-action=toggle]`, id))))
	p.WaitFor("the row to show enabled", `!`+row+`.classList.contains('peer-disabled')`, 10*time.Second)
	if !tp.onDevice(key) {
		t.Fatalf("after Enable in the page: the phone %s is not on the device", key)
	}
	start = time.Now()
	var r cmdResult
	for i := 0; i < 25; i++ {
		if r = tp.ping(routerTunnel, "-c", "1", "-W", "1"); r.err == nil {
			break
		}
	}
	if r.err != nil {
		t.Errorf("the phone cannot reach the router %v after Enable: %v", time.Since(start).Round(time.Millisecond), r)
	} else {
		t.Logf("the phone reached the router again %v after Enable", time.Since(start).Round(time.Millisecond))
	}

	// The same name again: the error shows under the name field.
	p.Step("add phone again",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "phone"),
		chromedp.Click(chromedp.ID("add-submit")),
	)
	p.WaitFor("the duplicate name error", `document.getElementById('add-name-error').textContent !== ''`, 10*time.Second)
	if got := p.Eval(`document.getElementById('add-name-error').textContent`); !strings.Contains(got, `"phone"`) || !strings.Contains(got, "already exists") {
		t.Errorf("#add-name-error = %q; want it to say that \"phone\" already exists", got)
	}
	if got := p.Eval(`document.getElementById('add-error').textContent`); got != "" {
		t.Errorf("#add-error = %q; want the error under the name field only", got)
	}
	if got := len(tp.peers()); got != 1 {
		t.Errorf("after a refused duplicate: peer list --json has %d peers; want 1", got)
	}
	p.Step("cancel the add dialog", chromedp.Click(chromedp.ID("add-cancel")))
	p.WaitFor("the add dialog to close", `!document.getElementById('add-dialog').open`, 5*time.Second)

	// Delete, confirmed in its dialog.
	p.Step("delete",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] details.menu summary`, id))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] button[data-action=delete]`, id))),
		chromedp.WaitVisible(chromedp.ID("delete-confirm")),
		chromedp.Click(chromedp.ID("delete-confirm")),
	)
	p.WaitFor("the row to go", row+` === null`, 10*time.Second)
	if got := p.Eval(`document.getElementById('delete-error').textContent`); got != "" {
		t.Errorf("#delete-error = %q; want none", got)
	}
	if tp.onDevice(key) {
		t.Errorf("after Delete in the page: the phone %s is still on the device", key)
	}
	if _, ok := tp.peers()["phone"]; ok {
		t.Errorf("after Delete in the page: peer list --json still shows phone")
	}
}

// download is what the page's fetch of the download link returned.
type download struct {
	Status      int    `json:"status"`
	Disposition string `json:"disposition"`
	Body        string `json:"body"`
}

// keyID returns the API's {id} for a public key in standard base64: the
// same 32 bytes in unpadded URL-safe base64.
func keyID(t testing.TB, key string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(b) != 32 {
		t.Fatalf("public key %q is not 32 bytes of base64: %v", key, err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// passwordLine finds the password in the box serve prints once started.
var passwordLine = regexp.MustCompile(`(?m)^│ Web UI password: (\S+) +│$`)

// webPassword returns the password serve printed on its first start.
func webPassword(t testing.TB, tp *topo) string {
	t.Helper()
	// serve prints it once it listens, a moment after the interface is up.
	m := passwordLine.FindStringSubmatch(tp.serveLog.String())
	for i := 0; i < 200 && m == nil && tp.serveRunning(); i++ { // 10 s
		time.Sleep(50 * time.Millisecond)
		m = passwordLine.FindStringSubmatch(tp.serveLog.String())
	}
	if m == nil {
		t.Fatalf("serve did not print \"Web UI password: ...\" on its first start; log:\n%s", tp.serveLog.String())
	}
	return m[1]
}

// waitWebUI waits until serve logs that the web UI listens on webURL.
func waitWebUI(t testing.TB, tp *topo) {
	t.Helper()
	for i := 0; i < 200; i++ { // 10 s
		log := tp.serveLog.String()
		if strings.Contains(log, "web UI listening") {
			if !strings.Contains(log, "url="+webURL) {
				t.Fatalf("serve listens elsewhere than %s; log:\n%s", webURL, log)
			}
			return
		}
		if !tp.serveRunning() {
			t.Fatalf("serve exited: %v; log:\n%s", tp.serveErr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not log \"web UI listening\" within 10 s; log:\n%s", tp.serveLog.String())
}

// browserPage is one chromium tab on the web UI, running in a network
// namespace. The shared browsertest.Browser fails the test with every
// script error and CSP violation the browser reports.
type browserPage struct {
	*browsertest.Browser
	t *testing.T
}

// openBrowser starts Debian's chromium, headless, inside network namespace
// ns (through a wrapper script around `ip netns exec`; chromedp talks to it
// over the --remote-debugging-pipe file descriptors, which survive the
// exec), and opens webURL. t.Cleanup stops the browser.
func openBrowser(t *testing.T, ns string) *browserPage {
	t.Helper()
	chromium := browsertest.RequireChromium(t)
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(t.TempDir(), "chromium-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec '%s' netns exec '%s' '%s' \"$@\"\n", ipPath, ns, chromium)
	// A child process writes the script: a write descriptor of this
	// process, inherited by a parallel test's fork, would make exec fail
	// with "text file busy".
	if r := runInput(quickTimeout, nil, strings.NewReader(script), "sh", "-c", `cat > "$0" && chmod 755 "$0"`, wrapper); r.err != nil {
		t.Fatalf("write the chromium wrapper: %v", r)
	}

	p := &browserPage{t: t, Browser: browsertest.Start(t, browsertest.Options{
		ExecPath: wrapper,
		Flags:    []chromedp.ExecAllocatorOption{chromedp.WindowSize(1024, 900)},
		Timeout:  browserTimeout,
	})}
	p.Step("open the page", chromedp.Navigate(webURL+"/"))
	return p
}

// login logs in on the page's login form with password and waits for the
// peer list. Tests of other panels (the doctor panel) start with it.
func (p *browserPage) login(password string) {
	p.t.Helper()
	p.Step("log in",
		chromedp.WaitVisible(chromedp.ID("login-password")),
		chromedp.SetValue(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	p.WaitFor("the page after login",
		`document.getElementById('login-error').textContent !== '' || !document.getElementById('app-view').hidden`,
		10*time.Second)
	if msg := p.Eval(`document.getElementById('login-error').textContent`); msg != "" {
		p.t.Fatalf("login with the password serve printed: the page says %q", msg)
	}
}
