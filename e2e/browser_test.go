package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/testutil"
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
	p.step("add phone",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "phone"),
		chromedp.Click(chromedp.ID("add-tunnel-split")),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("qr-img")),
	)
	p.waitFor("the QR image to load",
		`(() => { const i = document.getElementById('qr-img'); return i.complete && i.naturalWidth > 0; })()`, 10*time.Second)

	key := tp.peerKey("phone")
	id := keyID(t, key)
	href := p.eval(`document.getElementById('config-download').getAttribute('href')`)
	if want := "/api/peers/" + id + "/config"; href != want {
		t.Fatalf("download link href = %q; want %q (the phone's public key %s)", href, want, key)
	}
	if got := p.eval(`document.getElementById('config-download').download`); got != "phone.conf" {
		t.Errorf("download file name = %q; want phone.conf", got)
	}

	// What the download link serves, fetched by the page with its session.
	dl, err := chromedp.Run(p.ctx, chromedp.Evaluate[download](`(async () => {
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
	if got := p.eval(`document.getElementById('config-text').textContent`); got != conf {
		t.Errorf("config text on the page = %q; want the downloaded config %q", got, conf)
	}

	// The QR code as the browser draws it, read by a real decoder.
	shot, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.ID("qr-img")))
	if err != nil {
		t.Fatalf("screenshot of the QR code: %v", err)
	}
	if got := zbarDecode(t, shot); got != conf {
		t.Errorf("the QR code on screen decodes to %q; want exactly the downloaded config %q", got, conf)
	}
	p.step("close the config dialog", chromedp.Click(chromedp.ID("config-close")))
	p.waitFor("the config dialog to close", `!document.getElementById('config-dialog').open`, 5*time.Second)

	row := fmt.Sprintf(`document.querySelector('#peers li[data-id=%q]')`, id)
	p.waitFor("the phone's row", row+` !== null && `+row+`.querySelector('.peer-name').textContent === 'phone'`, 10*time.Second)
	if p.eval(`String(`+row+`.querySelector('.peer-online') !== null)`) != "false" {
		t.Errorf("the phone shows online before it ever connected")
	}

	// The phone scans the code: the same text goes into wg-quick.
	tp.phoneUp(conf)
	if r := tp.ping(routerTunnel, "-c", "1", "-W", "3"); r.err != nil {
		t.Fatalf("the phone cannot reach %s through the tunnel from the web page's config: %v", routerTunnel, r)
	}
	start := time.Now()
	p.waitFor("the online dot (the page refreshes every 5 s)", row+`.querySelector('.peer-online') !== null`, 15*time.Second)
	t.Logf("the page showed the phone online %v after its first ping", time.Since(start).Round(time.Millisecond))

	// Disable: the row says so, the device drops the peer, the phone's
	// packets go nowhere.
	p.step("disable", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] button[data-action=disable]`, id))))
	p.waitFor("the row to show disabled", row+`.classList.contains('peer-disabled')`, 10*time.Second)
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
	p.step("enable", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] button[data-action=enable]`, id))))
	p.waitFor("the row to show enabled", `!`+row+`.classList.contains('peer-disabled')`, 10*time.Second)
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
	p.step("add phone again",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "phone"),
		chromedp.Click(chromedp.ID("add-submit")),
	)
	p.waitFor("the duplicate name error", `document.getElementById('add-name-error').textContent !== ''`, 10*time.Second)
	if got := p.eval(`document.getElementById('add-name-error').textContent`); !strings.Contains(got, `"phone"`) || !strings.Contains(got, "already exists") {
		t.Errorf("#add-name-error = %q; want it to say that \"phone\" already exists", got)
	}
	if got := p.eval(`document.getElementById('add-error').textContent`); got != "" {
		t.Errorf("#add-error = %q; want the error under the name field only", got)
	}
	if got := len(tp.peers()); got != 1 {
		t.Errorf("after a refused duplicate: peer list --json has %d peers; want 1", got)
	}
	p.step("cancel the add dialog", chromedp.Click(chromedp.ID("add-cancel")))
	p.waitFor("the add dialog to close", `!document.getElementById('add-dialog').open`, 5*time.Second)

	// Delete, confirmed in its dialog.
	p.step("delete",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#peers li[data-id=%q] button[data-action=delete]`, id))),
		chromedp.WaitVisible(chromedp.ID("delete-confirm")),
		chromedp.Click(chromedp.ID("delete-confirm")),
	)
	p.waitFor("the row to go", row+` === null`, 10*time.Second)
	if got := p.eval(`document.getElementById('delete-error').textContent`); got != "" {
		t.Errorf("#delete-error = %q; want none", got)
	}
	if tp.onDevice(key) {
		t.Errorf("after Delete in the page: the phone %s is still on the device", key)
	}
	if _, ok := tp.peers()["phone"]; ok {
		t.Errorf("after Delete in the page: peer list --json still shows phone")
	}

	p.checkProblems()
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

var passwordLine = regexp.MustCompile(`(?m)^Web UI password: (\S+)$`)

// webPassword returns the password serve printed on its first start.
func webPassword(t testing.TB, tp *topo) string {
	t.Helper()
	m := passwordLine.FindStringSubmatch(tp.serveLog.String())
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
// namespace. It records every script error and CSP violation the browser
// reports; checkProblems turns them into test errors.
type browserPage struct {
	t   *testing.T
	ctx context.Context // bounded by browserTimeout

	mu       sync.Mutex
	problems []string
}

// openBrowser starts Debian's chromium, headless, inside network namespace
// ns (through a wrapper script around `ip netns exec`; chromedp talks to it
// over the --remote-debugging-pipe file descriptors, which survive the
// exec), and opens webURL. t.Cleanup stops the browser.
func openBrowser(t *testing.T, ns string) *browserPage {
	t.Helper()
	testutil.RequireCommand(t, "chromium")
	chromium, _ := exec.LookPath("chromium")
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(t.TempDir(), "chromium-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec '%s' netns exec '%s' '%s' \"$@\"\n", ipPath, ns, chromium)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	p := &browserPage{t: t}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(wrapper),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1024, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(p.listen))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first action starts the browser and must have no timeout: a
	// timeout on this context would kill the browser when it fires.
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium in namespace %s: %v", ns, err)
	}
	t.Logf("chromium up in %v", time.Since(start).Round(time.Millisecond))
	var cancelSteps context.CancelFunc
	p.ctx, cancelSteps = context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(cancelSteps)

	p.step("open the page",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
			return err
		}),
		chromedp.Navigate(webURL+"/"),
	)
	return p
}

// login logs in on the page's login form with password and waits for the
// peer list. Tests of other panels (the doctor panel) start with it.
func (p *browserPage) login(password string) {
	p.t.Helper()
	p.step("log in",
		chromedp.WaitVisible(chromedp.ID("login-password")),
		chromedp.SetValue(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	p.waitFor("the page after login",
		`document.getElementById('login-error').textContent !== '' || !document.getElementById('app-view').hidden`,
		10*time.Second)
	if msg := p.eval(`document.getElementById('login-error').textContent`); msg != "" {
		p.t.Fatalf("login with the password serve printed: the page says %q", msg)
	}
}

// listen records the browser's reports of script errors, console errors
// and warnings, and log entries such as CSP violations.
func (p *browserPage) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			msg = fmt.Sprintf("console.%s", ev.Type)
			for _, a := range ev.Args {
				msg += fmt.Sprintf(" %s", a.Value)
			}
		}
	case *cdplog.EventEntryAdded:
		// The 409 the duplicate name provokes is logged as a network
		// error; anything else at error level (a CSP violation above all)
		// is a problem.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			msg = fmt.Sprintf("log %s: %s", ev.Entry.Source, ev.Entry.Text)
		}
	}
	if msg != "" {
		p.mu.Lock()
		p.problems = append(p.problems, msg)
		p.mu.Unlock()
	}
}

// checkProblems reports, as test errors, what listen recorded.
func (p *browserPage) checkProblems() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, msg := range p.problems {
		p.t.Errorf("browser reported: %s", msg)
	}
}

// step runs actions and fails the test when one fails.
func (p *browserPage) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", name, err)
	}
}

// eval returns the string a JavaScript expression evaluates to.
func (p *browserPage) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition every 50 ms for up to timeout.
func (p *browserPage) waitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		p.t.Fatalf("waiting %v for %s (%s): %v", timeout, what, cond, err)
	}
}

// zbarDecode returns what `zbarimg --raw -q -1 --nodbus` reads from a PNG.
func zbarDecode(t testing.TB, png []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(quickTimeout, nil, "zbarimg", "--raw", "-q", "-1", "--nodbus", path)
	if r.err != nil {
		t.Fatalf("zbarimg found no QR code in the screenshot: %v", r)
	}
	return r.stdout
}
