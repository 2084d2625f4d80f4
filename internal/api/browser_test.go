package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/auth"
	"github.com/wgpanel/wgpanel/internal/testutil/browsertest"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// TestPageInBrowser drives the page in Debian's chromium against the API
// over fakes, on a 360 px wide phone screen: login, add "phone" with its QR
// code decoded by zbarimg, the online dot, a duplicate name, disable, enable,
// rename, delete, logout. It checks that the browser reports no script error
// and no CSP violation. The end-to-end test with the real binary, a real
// WireGuard device and a phone namespace lives with cmd/wgpanel.
func TestPageInBrowser(t *testing.T) {
	b := startBrowser(t)
	step, eval, waitFor, noOverflow := b.Step, b.Eval, b.waitFor, b.noOverflow
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	b.open(srv.URL)
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
	if got := eval(`document.getElementById('qr-img').getAttribute('src')`); got != "/api/peers/"+id+"/qr.svg" {
		t.Errorf("QR src = %q; want /api/peers/%s/qr.svg", got, id)
	}
	// The QR code is as large as the dialog allows: at least 280 CSS px.
	if got := eval(`String(document.getElementById('qr-img').getBoundingClientRect().width >= 280)`); got != "true" {
		t.Errorf("the QR code is %s px wide; want at least 280", eval(`String(document.getElementById('qr-img').getBoundingClientRect().width)`))
	}
	if got := eval(`document.getElementById('config-download').getAttribute('href') + ' ' + document.getElementById('config-download').download`); got != "/api/peers/"+id+"/config phone.conf" {
		t.Errorf("download link = %q; want the config route and phone.conf", got)
	}
	if got := b.ReadQR("the QR code", "qr-img"); got != config {
		t.Errorf("the QR code on screen decodes to %q; want the config %q", got, config)
	}
	noOverflow("config dialog")
	step("close config", chromedp.Click(chromedp.ID("config-close")))
	waitFor("the config dialog to close and forget the key",
		`!document.getElementById('config-dialog').open && document.getElementById('config-text').textContent === ''`)

	row := fmt.Sprintf(`document.querySelector('li[data-id=%q]')`, id)
	waitFor("the phone's row", row+` !== null && `+row+`.querySelector('.peer-name').textContent === 'phone'`)
	if got := eval(row + `.querySelector('.peer-state').textContent`); got != "Not connected yet" {
		t.Errorf("state = %q; want Not connected yet", got)
	}

	e.dev.SetHandshake(peers[0].PublicKey, time.Now().Add(-2*time.Minute-10*time.Second), 1234567, 89000,
		netip.MustParseAddrPort("198.51.100.7:40000"))
	waitFor("the online dot", row+`.querySelector('.peer-online') !== null`) // within one 5 s refresh
	for sel, want := range map[string]string{
		".peer-state":    "Connected · 2 min ago",
		".peer-traffic":  "↓ 89 kB ↑ 1.2 MB",
		".peer-endpoint": "198.51.100.7:40000",
		".peer-tunnel":   " · home network only",
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

	toggle := chromedp.CSS(fmt.Sprintf(`li[data-id=%q] input[data-action=toggle]`, id))
	// menu opens the row's ⋯ menu and picks action, then does more.
	menu := func(action string, more ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
		return append([]chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] details.menu summary`, id))),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-id=%q] button[data-action=%s]`, id, action))),
		}, more...)
	}
	step("disable", chromedp.Click(toggle))
	waitFor("the row to show disabled", row+`.classList.contains('peer-disabled') && `+row+`.querySelector('.peer-state').textContent === 'Disabled' && !`+row+`.querySelector('[data-action=toggle]').checked`)
	if e.storedPeers()[0].Enabled {
		t.Error("the stored peer is still enabled after Disable")
	}
	step("enable", chromedp.Click(toggle))
	waitFor("the row to show enabled", `!`+row+`.classList.contains('peer-disabled')`)

	step("rename", menu("rename",
		chromedp.WaitVisible(chromedp.ID("rename-name")),
		chromedp.SetValue(chromedp.ID("rename-name"), "work phone"),
		chromedp.Click(chromedp.ID("rename-submit")),
	)...)
	waitFor("the new name", row+`.querySelector('.peer-name').textContent === 'work phone'`)

	step("show QR again", menu("qr")...)
	waitFor("the config text again", `document.getElementById('config-text').textContent.startsWith('[Interface]')`)
	step("close config", chromedp.Click(chromedp.ID("config-close")))

	step("delete", menu("delete",
		chromedp.WaitVisible(chromedp.ID("delete-confirm")),
		chromedp.Click(chromedp.ID("delete-confirm")),
	)...)
	waitFor("the row to go", row+` === null && !document.getElementById('peers-empty').hidden`)
	if n := len(e.storedPeers()); n != 0 {
		t.Errorf("store has %d peers after delete; want 0", n)
	}

	// A device that does not connect: after the wait (shortened here from
	// two minutes) the dialog shows the doctor's findings that explain it.
	step("shorten the wait", chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.waitMs = '1500'`))
	step("add a tablet that never connects",
		chromedp.Click(chromedp.ID("add-open")),
		chromedp.WaitVisible(chromedp.ID("add-name")),
		chromedp.SetValue(chromedp.ID("add-name"), "tablet"),
		chromedp.Click(chromedp.ID("add-submit")),
		chromedp.WaitVisible(chromedp.ID("wait")),
	)
	if got := eval(`document.getElementById('wait-text').textContent`); got != "Waiting for tablet to connect…" {
		t.Errorf("wait text = %q; want Waiting for tablet to connect…", got)
	}
	waitFor("the doctor's findings in the dialog", `!document.getElementById('wait-findings').hidden`)
	if got := eval(`document.getElementById('wait-findings').textContent`); !strings.Contains(got, fakeRuleFinding) || !strings.Contains(got, fakeNATFix) {
		t.Errorf("findings = %q; want the failing rule first and the NAT advice", got)
	}
	step("close the tablet's dialog", chromedp.Click(chromedp.ID("config-close")))

	// A 64-character name without spaces wraps inside its row, and every
	// control of the row stays a 44 px tap target.
	long := strings.Repeat("a", 30) + "-" + strings.Repeat("b", 33)
	longID := e.add(long, "split").Peer.ID
	longRow := fmt.Sprintf(`document.querySelector('li[data-id=%q]')`, longID)
	waitFor("the long name's row", longRow+` !== null`)
	noOverflow("a 64-character name")
	if got := eval(`String(` + longRow + `.querySelector('.peer-name').getBoundingClientRect().right <= ` + longRow + `.getBoundingClientRect().right)`); got != "true" {
		t.Errorf("the 64-character name sticks out of its row")
	}
	for _, sel := range []string{".switch", "details.menu summary", ".peer-details summary"} {
		if got := eval(`(() => { const r = ` + longRow + `.querySelector('` + sel + `').getBoundingClientRect(); return String(r.width >= 44 && r.height >= 44); })()`); got != "true" {
			t.Errorf("%s is smaller than 44 px", sel)
		}
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
	b.NewTab()
	b.open(srv2.URL)
	b.login("add-open")
	step("add a tablet to a router that keeps no keys",
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
	if got := b.ReadQR("the SVG QR code", "qr-img"); got != config2 {
		t.Errorf("the SVG QR code on screen decodes to %q; want the config %q", got, config2)
	}
	step("close config", chromedp.Click(chromedp.ID("config-close")))
	id2 := vpn.KeyID(e2.storedPeers()[0].PublicKey)
	waitFor("the tablet's row without a Show QR button", fmt.Sprintf(
		`(() => { const r = document.querySelector('li[data-id=%q]'); return r !== null && r.querySelector('[data-action=qr]').hidden; })()`, id2))

}

// TestSetupAndDoctorInBrowser drives the first-run screen and the doctor
// panel against a fake Diagnostics on a 360 px screen: a router without a
// WireGuard interface shows the setup screen, a bad endpoint is refused
// under its field, Set up shows the changes and notes and then the device
// list, the suggested endpoint is saved; the doctor runs only when asked,
// shows a failing firewall rule with a Fix button, a failed fix says why in
// its row, and a fix re-renders the check as ok.
func TestSetupAndDoctorInBrowser(t *testing.T) {
	b := startBrowser(t)
	step, eval, waitFor, noOverflow := b.Step, b.Eval, b.waitFor, b.noOverflow
	e := newEnv(t, unconfigured)
	var (
		reqMu sync.Mutex
		reqs  = make(map[string]int) // "GET /api/peers" -> requests seen
	)
	requests := func(key string) int {
		reqMu.Lock()
		defer reqMu.Unlock()
		return reqs[key]
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqMu.Lock()
		reqs[r.Method+" "+r.URL.Path]++
		reqMu.Unlock()
		e.h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	b.open(srv.URL)
	b.login("setup-submit")
	if got := eval(`String(document.getElementById('main-view').hidden) + ' ' + String(document.getElementById('add-open').offsetParent === null)`); got != "true true" {
		t.Errorf("main view hidden, Add device hidden = %s; want true true before setup", got)
	}
	intro := eval(`document.getElementById('setup').textContent`)
	for _, s := range []string{"no WireGuard interface", "wg0", "new private key", "UDP 51820", "tunnel subnet", "lan firewall zone", "from wan"} {
		if !strings.Contains(intro, s) {
			t.Errorf("the first-run screen does not say %q: %q", s, intro)
		}
	}
	noOverflow("first-run screen")

	step("set up with an endpoint that has a port",
		chromedp.SetValue(chromedp.ID("setup-endpoint"), "vpn.example.net:51820"),
		chromedp.Click(chromedp.ID("setup-submit")),
	)
	waitFor("the endpoint error under its field", `document.getElementById('setup-endpoint-error').textContent.includes('includes a port')`)
	if got := eval(`document.getElementById('setup-error').textContent`); got != "" {
		t.Errorf("#setup-error = %q; want the error under the endpoint field only", got)
	}
	if e.diag.configured() {
		t.Fatal("a refused setup configured the interface")
	}

	// chromedp cannot set an empty value.
	eval(`document.getElementById('setup-endpoint').value = ''`)
	step("set up", chromedp.Click(chromedp.ID("setup-submit")))
	waitFor("the device list after setup", `!document.getElementById('main-view').hidden && !document.getElementById('peers-empty').hidden && `+
		`document.getElementById('add-open').offsetParent !== null && document.getElementById('status-interface').textContent === 'wg0' && `+
		`document.getElementById('status-port').textContent === '51820'`)
	for expr, want := range map[string]string{
		`document.getElementById('setup-title').textContent`:                         "The VPN server wg0 is set up",
		`String(document.querySelectorAll('#setup-changes li').length)`:              "3",
		`document.querySelector('#setup-changes li').textContent`:                    "network: created interface wg0 (proto wireguard, listen_port 51820, addresses 10.66.66.1/24)",
		`document.getElementById('setup-notes').textContent`:                         "The router's WAN address 192.168.2.253 is private: forward UDP 51820 on your ISP router.",
		`document.getElementById('setup-endpoint').value`:                            "203.0.113.7",
		`document.getElementById('setup-submit').textContent`:                        "Save endpoint",
		`String(document.getElementById('setup-intro').hidden)`:                      "true",
		`String(document.getElementById('setup-endpoint-error').textContent === '')`: "true",
	} {
		if got := eval(expr); got != want {
			t.Errorf("%s = %q; want %q", expr, got, want)
		}
	}
	if got := eval(`document.getElementById('setup-endpoint-hint').textContent`); !strings.Contains(got, "203.0.113.7 is public") {
		t.Errorf("endpoint hint = %q; want the reason for the suggestion", got)
	}
	noOverflow("setup result")

	step("save the suggested endpoint", chromedp.Click(chromedp.ID("setup-submit")))
	waitFor("the endpoint saved", `document.getElementById('setup-endpoint-box').hidden && `+
		`document.getElementById('setup-changes').textContent === 'wgpanel: set endpoint 203.0.113.7'`)
	e.diag.mu.Lock()
	calls := slices.Clone(e.diag.setupCalls)
	e.diag.mu.Unlock()
	if want := []string{"vpn.example.net:51820", "", "203.0.113.7"}; !slices.Equal(calls, want) {
		t.Errorf("Setup got endpoints %q; want %q", calls, want)
	}
	step("close the setup report", chromedp.Click(chromedp.ID("setup-close")))
	waitFor("the setup report to close", `document.getElementById('setup').hidden`)

	// The doctor runs when asked, not with a refresh: make the page refresh
	// (as when it becomes visible again) and give it time to finish.
	listed := requests("GET /api/peers")
	eval(`document.dispatchEvent(new Event('visibilitychange')), document.visibilityState`)
	for i := 0; i < 100 && requests("GET /api/peers") == listed; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if requests("GET /api/peers") == listed {
		t.Fatal("the page did not refresh the device list when it became visible")
	}
	time.Sleep(300 * time.Millisecond)
	if n, _, _ := e.diag.calls(); n != 0 {
		t.Errorf("the page ran the doctor %d times unasked; want 0", n)
	}
	// Someone removed the WAN rule in LuCI.
	e.diag.mu.Lock()
	e.diag.ruleOK = false
	e.diag.mu.Unlock()

	const rule = `document.querySelector('#doctor li[data-check="firewall.rule"]')`
	const nat = `document.querySelector('#doctor li[data-check="wan.nat"]')`
	const fix = `document.querySelector('#doctor button[data-fix="firewall.rule"]')`
	step("run the doctor", chromedp.Click(chromedp.ID("doctor-run")))
	waitFor("the checks", rule+` !== null && `+rule+`.classList.contains('check-fail')`)
	for expr, want := range map[string]string{
		`String(document.querySelectorAll('#doctor li.check').length)`:                                                         "3",
		`String(document.querySelector('#doctor-ok-checks li[data-check="interface.exists"]').classList.contains('check-ok'))`: "true",
		`document.querySelector('#doctor-checks li').dataset.check`:                                                            "firewall.rule",
		`document.getElementById('doctor-summary').textContent`:                                                                "1 problem and 1 warning found; what to do is below each.",
		rule + `.querySelector('.check-status').textContent`:                                                                   "Problem",
		rule + `.querySelector('.check-finding').textContent`:                                                                  fakeRuleFinding,
		fix + `.textContent + ' ' + String(` + fix + `.offsetParent !== null)`:                                                 "Fix true",
		nat + `.className`: "check check-warn",
		nat + `.querySelector('.check-fix').textContent`:      fakeNATFix,
		`String(` + nat + `.querySelector('button').hidden)`:  "true",
		`document.getElementById('doctor-error').textContent`: "",
	} {
		if got := eval(expr); got != want {
			t.Errorf("%s = %q; want %q", expr, got, want)
		}
	}
	noOverflow("doctor")

	e.diag.mu.Lock()
	e.diag.fixErr = &vpn.Error{Code: vpn.EUNAVAILABLE, Message: "The firewall could not be reloaded; run '/etc/init.d/firewall reload'."}
	e.diag.mu.Unlock()
	step("fix while the firewall cannot reload", chromedp.Click(chromedp.CSS(`button[data-fix="firewall.rule"]`)))
	waitFor("the fix error in the rule's row", rule+`.querySelector('.check-error').textContent.includes('could not be reloaded')`)

	step("fix", chromedp.Click(chromedp.CSS(`button[data-fix="firewall.rule"]`)))
	waitFor("the rule ok", rule+` !== null && `+rule+`.classList.contains('check-ok') && `+fix+`.hidden`)
	if got := eval(`document.getElementById('doctor-changes').textContent`); got != fakeRuleChange {
		t.Errorf("changes shown = %q; want %q", got, fakeRuleChange)
	}
	if got := eval(rule + `.querySelector('.check-error').textContent`); got != "" {
		t.Errorf("the rule's row still says %q after the fix", got)
	}
	e.diag.mu.Lock()
	fixes := slices.Clone(e.diag.fixCalls)
	e.diag.doctorErr = &vpn.Error{Code: vpn.EUNAVAILABLE, Message: "The router's configuration cannot be read."}
	e.diag.mu.Unlock()
	if want := [][]string{{"firewall.rule"}, {"firewall.rule"}}; !slices.EqualFunc(fixes, want, slices.Equal) {
		t.Errorf("Fix got %q; want %q", fixes, want)
	}

	step("run the doctor when it fails", chromedp.Click(chromedp.ID("doctor-run")))
	waitFor("the doctor's error", `document.getElementById('doctor-error').textContent === "The router's configuration cannot be read."`)
}

// browser is the test browser on the page's 360 px phone screen. The
// shared browsertest.Browser starts chromium and fails the test with any
// script error, console error or CSP violation from any tab.
type browser struct {
	*browsertest.Browser
	t *testing.T
}

// startBrowser starts Debian's chromium, or skips the test without it
// (fails with CI=true).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	return &browser{Browser: browsertest.Start(t, browsertest.Options{}), t: t}
}

// open loads the page at url on a phone screen and waits for the login
// form.
func (b *browser) open(url string) {
	b.t.Helper()
	b.Step("open "+url,
		chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("login-password")),
	)
}

// login logs in with testPassword and waits for the element with the id
// wantVisible.
func (b *browser) login(wantVisible string) {
	b.t.Helper()
	b.Step("log in",
		chromedp.SetValue(chromedp.ID("login-password"), testPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID(wantVisible)),
	)
}

// waitFor polls a JavaScript condition for up to 10 s.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	b.WaitFor(what, cond, 10*time.Second)
}

// noOverflow checks that the page needs no horizontal scrolling.
func (b *browser) noOverflow(when string) {
	b.t.Helper()
	if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "360" {
		b.t.Errorf("%s: page is %s px wide on a 360 px screen; want no horizontal scrolling", when, w)
	}
}
