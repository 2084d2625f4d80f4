package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestPageInBrowser drives the page in Debian's chromium against the API
// over fakes, on a 360 px wide phone screen: login, add "phone" with its QR
// code decoded by zbarimg, the online dot, a duplicate name, disable, enable,
// rename, delete, logout. It checks that the browser reports no script error
// and no CSP violation. The end-to-end test with the real binary, a real
// WireGuard device and a phone namespace lives with cmd/wgpanel.
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; CI must install it")
		}
		t.Skip("chromium is not installed; the page test needs a real browser")
	}
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	var (
		mu       sync.Mutex
		problems []string
	)
	listen := func(ev any) {
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
			// 4xx answers the test provokes on purpose are logged as
			// network errors; anything else (a CSP violation above all) is
			// a problem.
			if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
				msg = fmt.Sprintf("log %s: %s", ev.Entry.Source, ev.Entry.Text)
			}
		}
		if msg != "" {
			mu.Lock()
			problems = append(problems, msg)
			mu.Unlock()
		}
	}

	ctx, cancel := chromedp.NewContext(context.Background(),
		chromedp.WithAllocatorOptions(
			chromedp.ExecPath(chromium),
			chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.UserDataDir(t.TempDir()),
		),
		chromedp.WithListener(listen),
	)
	defer cancel()
	// The first Run starts the browser and must have no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	// waitFor polls a JavaScript condition for up to 10 s.
	waitFor := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("waiting for %s (%s): %v", what, cond, err)
		}
	}
	noOverflow := func(when string) {
		t.Helper()
		if w := eval(`String(document.documentElement.scrollWidth)`); w != "360" {
			t.Errorf("%s: page is %s px wide on a 360 px screen; want no horizontal scrolling", when, w)
		}
	}

	step("open page",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
			return err
		}),
		chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)),
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.ID("login-password")),
	)
	if got := eval(`document.getElementById('login-label').textContent`); got != "wgpanel password" {
		t.Errorf("login label = %q; want wgpanel password", got)
	}
	noOverflow("login")

	step("wrong password",
		chromedp.SetValue(chromedp.ID("login-password"), "wrong"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	waitFor("the login error", `document.getElementById('login-error').textContent === 'Wrong password.'`)

	step("log in",
		chromedp.SetValue(chromedp.ID("login-password"), testPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("add-open")),
	)
	waitFor("the status bar", `document.getElementById('status-interface').textContent === 'wg0'`)
	if got := eval(`document.getElementById('status-endpoint').textContent`); got != "vpn.example.com" {
		t.Errorf("endpoint shown = %q; want vpn.example.com", got)
	}
	if eval(`String(document.getElementById('peers-empty').hidden)`) != "false" {
		t.Error("the empty-list hint is hidden with no devices")
	}

	step("add phone",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "phone"),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("qr-img")),
	)
	waitFor("the QR image", `(() => { const i = document.getElementById('qr-img'); return i.complete && i.naturalWidth > 0; })()`)
	peers := e.storedPeers()
	if len(peers) != 1 {
		t.Fatalf("store has %d peers; want 1", len(peers))
	}
	id := vpn.KeyID(peers[0].PublicKey)
	_, config, err := e.svc.PeerConfig(context.Background(), peers[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := eval(`document.getElementById('config-text').textContent`); got != config {
		t.Errorf("config text = %q; want %q", got, config)
	}
	if got := eval(`document.getElementById('qr-img').getAttribute('src')`); got != "/api/peers/"+id+"/qr.png" {
		t.Errorf("QR src = %q; want /api/peers/%s/qr.png", got, id)
	}
	if got := eval(`document.getElementById('config-download').getAttribute('href') + ' ' + document.getElementById('config-download').download`); got != "/api/peers/"+id+"/config phone.conf" {
		t.Errorf("download link = %q; want the config route and phone.conf", got)
	}
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("qr-img")))
	if err != nil {
		t.Fatalf("screenshot of the QR code: %v", err)
	}
	if got := zbar(t, shot); got != config {
		t.Errorf("the QR code on screen decodes to %q; want the config %q", got, config)
	}
	noOverflow("config dialog")
	step("close config", chromedp.Click(chromedp.ID("config-close")))
	waitFor("the config dialog to close and forget the key",
		`!document.getElementById('config-dialog').open && document.getElementById('config-text').textContent === ''`)

	row := fmt.Sprintf(`document.querySelector('li[data-id=%q]')`, id)
	waitFor("the phone's row", row+` !== null && `+row+`.querySelector('.peer-name').textContent === 'phone'`)
	if got := eval(row + `.querySelector('.peer-handshake').textContent`); got != "handshake never" {
		t.Errorf("handshake = %q; want handshake never", got)
	}

	e.dev.SetHandshake(peers[0].PublicKey, time.Now().Add(-2*time.Minute-10*time.Second), 1234567, 89000,
		netip.MustParseAddrPort("198.51.100.7:40000"))
	waitFor("the online dot", row+`.querySelector('.peer-online') !== null`) // within one 5 s refresh
	for sel, want := range map[string]string{
		".peer-handshake": "handshake 2 min ago",
		".peer-traffic":   "rx 1.2 MB, tx 89 kB",
		".peer-endpoint":  "from 198.51.100.7:40000",
		".peer-tunnel":    "home network only",
	} {
		if got := eval(row + `.querySelector('` + sel + `').textContent`); got != want {
			t.Errorf("%s = %q; want %q", sel, got, want)
		}
	}
	noOverflow("peer list")

	step("add a duplicate",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "Phone"),
		chromedp.Click(chromedp.ID("add-submit")),
	)
	waitFor("the duplicate name error under the name field",
		`document.getElementById('add-name-error').textContent.includes('already exists')`)
	if got := eval(`document.getElementById('add-error').textContent`); got != "" {
		t.Errorf("#add-error = %q; want the error under the name field only", got)
	}
	step("cancel", chromedp.Click(chromedp.ID("add-cancel")))

	step("disable", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=disable]`, id))))
	waitFor("the row to show disabled", row+`.classList.contains('peer-disabled') && !`+row+`.querySelector('[data-action=enable]').hidden`)
	if e.storedPeers()[0].Enabled {
		t.Error("the stored peer is still enabled after Disable")
	}
	step("enable", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=enable]`, id))))
	waitFor("the row to show enabled", `!`+row+`.classList.contains('peer-disabled')`)

	step("rename",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=rename]`, id))),
		chromedp.WaitVisible(chromedp.ID("rename-name")),
		chromedp.SetValue(chromedp.ID("rename-name"), "work phone"),
		chromedp.Click(chromedp.ID("rename-submit")),
	)
	waitFor("the new name", row+`.querySelector('.peer-name').textContent === 'work phone'`)

	step("show QR again", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=qr]`, id))))
	waitFor("the config text again", `document.getElementById('config-text').textContent.startsWith('[Interface]')`)
	step("close config", chromedp.Click(chromedp.ID("config-close")))

	step("delete",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=delete]`, id))),
		chromedp.WaitVisible(chromedp.ID("delete-confirm")),
		chromedp.Click(chromedp.ID("delete-confirm")),
	)
	waitFor("the row to go", row+` === null && !document.getElementById('peers-empty').hidden`)
	if n := len(e.storedPeers()); n != 0 {
		t.Errorf("store has %d peers after delete; want 0", n)
	}

	step("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-password")))
	if got := eval(`document.getElementById('login-error').textContent`); !strings.Contains(got, "logged out") {
		t.Errorf("after logout the login says %q; want that the owner is logged out", got)
	}

	// When the router does not keep private keys, the QR code comes once, in
	// the create answer, as an SVG data: URL, and the download is a blob.
	e2 := newEnv(t, func(c *vpn.Config, _ *auth.Config) { c.Settings.KeepPrivateKeys = false })
	srv2 := httptest.NewServer(e2.h)
	defer srv2.Close()
	var cancelTab context.CancelFunc
	ctx, cancelTab = chromedp.NewContext(ctx, chromedp.WithListener(listen))
	defer cancelTab()
	step("log in to a router that keeps no keys",
		chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)),
		chromedp.Navigate(srv2.URL),
		chromedp.WaitVisible(chromedp.ID("login-password")),
		chromedp.SetValue(chromedp.ID("login-password"), testPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("add-open")),
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "tablet"),
		chromedp.Click(chromedp.ID("add-tunnel-full")),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("qr-img")),
	)
	waitFor("the SVG QR image", `(() => { const i = document.getElementById('qr-img'); return i.complete && i.naturalWidth > 0; })()`)
	if got := eval(`document.getElementById('qr-img').src.slice(0, 19) + ' ' + document.getElementById('config-download').href.slice(0, 5) + ' ' + document.getElementById('config-download').download`); got != "data:image/svg+xml, blob: tablet.conf" {
		t.Errorf("QR src, download href and name = %q; want a data: SVG, a blob: and tablet.conf", got)
	}
	if eval(`String(document.getElementById('config-once').hidden)`) != "false" {
		t.Error("the page does not say that the code is shown only once")
	}
	config2 := eval(`document.getElementById('config-text').textContent`)
	if !strings.Contains(config2, "AllowedIPs = 0.0.0.0/0, ::/0") {
		t.Errorf("config text %q; want a full tunnel", config2)
	}
	shot, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("qr-img")))
	if err != nil {
		t.Fatalf("screenshot of the SVG QR code: %v", err)
	}
	if got := zbar(t, shot); got != config2 {
		t.Errorf("the SVG QR code on screen decodes to %q; want the config %q", got, config2)
	}
	step("close config", chromedp.Click(chromedp.ID("config-close")))
	id2 := vpn.KeyID(e2.storedPeers()[0].PublicKey)
	waitFor("the tablet's row without a Show QR button", fmt.Sprintf(
		`(() => { const r = document.querySelector('li[data-id=%q]'); return r !== null && r.querySelector('[data-action=qr]').hidden; })()`, id2))

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser reported: %s", p)
	}
}
