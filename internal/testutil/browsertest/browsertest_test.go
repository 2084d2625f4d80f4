package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"
)

// TestRecord feeds record the events chromium sends and checks which of
// them count as problems.
func TestRecord(t *testing.T) {
	tests := []struct {
		name string
		ev   any
		want string // "" when the event is no problem
	}{
		{"exception", &runtime.EventExceptionThrown{ExceptionDetails: &runtime.ExceptionDetails{
			Text: "Uncaught", Exception: &runtime.RemoteObject{Description: "Error: boom"}}},
			"exception: Uncaught Error: boom"},
		{"exception without object", &runtime.EventExceptionThrown{ExceptionDetails: &runtime.ExceptionDetails{Text: "Uncaught"}},
			"exception: Uncaught"},
		{"console.error", &runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeError,
			Args: []*runtime.RemoteObject{{Value: []byte(`"broken"`)}, {Value: []byte(`42`)}}},
			`console.error "broken" 42`},
		{"console.warn", &runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeWarning,
			Args: []*runtime.RemoteObject{{Value: []byte(`"careful"`)}}},
			`console.warning "careful"`},
		{"console.log", &runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeLog,
			Args: []*runtime.RemoteObject{{Value: []byte(`"fine"`)}}},
			""},
		{"CSP violation", &cdplog.EventEntryAdded{Entry: &cdplog.Entry{Level: cdplog.EntryLevelError,
			Source: cdplog.EntrySourceSecurity, Text: "Refused to execute inline script"}},
			"log security: Refused to execute inline script"},
		{"network error", &cdplog.EventEntryAdded{Entry: &cdplog.Entry{Level: cdplog.EntryLevelError,
			Source: cdplog.EntrySourceNetwork, Text: "409 (Conflict)"}},
			""},
		{"log warning", &cdplog.EventEntryAdded{Entry: &cdplog.Entry{Level: cdplog.EntryLevelWarning,
			Source: cdplog.EntrySourceDeprecation, Text: "old API"}},
			""},
		{"other event", &runtime.EventExecutionContextsCleared{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Browser{t: t}
			b.record(tt.ev)
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if !slices.Equal(b.problems, want) {
				t.Errorf("problems = %q; want %q", b.problems, want)
			}
		})
	}
}

// errorRecorder is a testing.TB that keeps what Errorf reports.
type errorRecorder struct {
	testing.TB
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestReportProblems(t *testing.T) {
	r := &errorRecorder{TB: t}
	b := &Browser{t: r, problems: []string{"exception: Uncaught", "log security: Refused"}}
	b.reportProblems()
	if want := []string{"browser reported: exception: Uncaught", "browser reported: log security: Refused"}; !slices.Equal(r.errs, want) {
		t.Errorf("errors = %q; want %q", r.errs, want)
	}
}

// The test page's Content Security Policy allows scripts from the server
// only, so the inline script is a CSP violation.
const (
	testCSP  = "default-src 'self'"
	testPage = `<!doctype html><title>test</title>
<img id="qr" src="/qr.png" width="256" height="256">
<script>document.title = 'inline ran';</script>
<script src="/app.js"></script>`
	testScript = `console.log('fine');
console.warn('careful');
console.error('broken');
fetch('/missing').then(() => { document.title = 'fetched'; });
setTimeout(() => { throw new Error('boom'); }, 0);`
	testQR = "[Interface]\nAddress = 10.66.66.2/32\n"
)

// TestBrowser starts chromium through a wrapper script given as ExecPath,
// checks the flags it gets, and loads a page that makes every kind of
// problem, in the first tab and in a new one. It reads the page's QR code.
func TestBrowser(t *testing.T) {
	chromium := RequireChromium(t)
	png, err := qrcode.Encode(testQR, qrcode.Medium, 256)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", testCSP)
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, testPage)
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, testScript)
		case "/qr.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	wrapper := filepath.Join(dir, "chromium-wrapper")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\nexec '%s' \"$@\"\n", argsFile, chromium)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	b := Start(t, Options{ExecPath: wrapper, Flags: []chromedp.ExecAllocatorOption{chromedp.WindowSize(800, 600)}, Timeout: 60 * time.Second})
	raw, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatalf("Start did not run the ExecPath wrapper: %v", err)
	}
	args := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for _, flag := range []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=800,600"} {
		if !slices.Contains(args, flag) {
			t.Errorf("chromium's command line lacks %s: %q", flag, args)
		}
	}
	if i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "--user-data-dir=") }); i < 0 {
		t.Errorf("chromium's command line has no --user-data-dir: %q", args)
	} else if dir := strings.TrimPrefix(args[i], "--user-data-dir="); !strings.HasPrefix(dir, os.TempDir()) {
		t.Errorf("user data dir %s; want a fresh one from t.TempDir()", dir)
	}

	b.Step("open the test page", chromedp.Navigate(srv.URL+"/"))
	b.WaitFor("the script to run", `document.title === 'fetched'`, 10*time.Second)
	if got := b.Eval(`document.title`); got != "fetched" {
		t.Errorf("title = %q; want fetched (the inline script must not run)", got)
	}
	if got := b.ReadQR("the test QR code", "qr"); got != testQR {
		t.Errorf("ReadQR = %q; want %q", got, testQR)
	}
	want := []string{"console.warning", "careful", "console.error", "broken", "exception:", "boom", "log security:", "Content Security Policy"}
	problems := b.waitProblems(t, want)
	for _, p := range problems {
		// Not a bare "404": the server's random port may contain it.
		if strings.Contains(p, `"fine"`) || strings.Contains(p, "/missing") || strings.Contains(p, "status of 404") {
			t.Errorf("recorded %q; want console.log and network errors left out", p)
		}
	}

	// A new tab records its problems too, and its log is on.
	b.NewTab()
	b.Step("open the test page in a new tab", chromedp.Navigate(srv.URL+"/"))
	b.WaitFor("the script to run in the new tab", `document.title === 'fetched'`, 10*time.Second)
	b.waitProblems(t, []string{"log security:"})
}

// waitProblems waits up to 5 s until the recorded problems mention every
// string in want (chromium reports them asynchronously), fails the test if
// they do not, and returns them. It clears them, so that the cleanup Start
// registered does not fail the test with problems made on purpose.
func (b *Browser) waitProblems(t *testing.T, want []string) []string {
	t.Helper()
	var all string
	var problems []string
	for range 100 {
		b.mu.Lock()
		problems = slices.Clone(b.problems)
		b.mu.Unlock()
		all = strings.Join(problems, "\n")
		if !slices.ContainsFunc(want, func(s string) bool { return !strings.Contains(all, s) }) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range want {
		if !strings.Contains(all, s) {
			t.Errorf("recorded problems do not mention %q:\n%s", s, all)
		}
	}
	t.Logf("recorded, on purpose:\n%s", all)
	b.mu.Lock()
	b.problems = nil
	b.mu.Unlock()
	return problems
}
