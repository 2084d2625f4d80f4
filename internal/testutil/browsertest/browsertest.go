package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// DefaultTimeout bounds all the steps of one browser session when Options
// names no Timeout.
const DefaultTimeout = 90 * time.Second

// zbarTimeout bounds one zbarimg run.
const zbarTimeout = 10 * time.Second

// Options say how Start launches chromium. The zero value starts chromium
// from PATH with the default timeout.
type Options struct {
	// ExecPath is the program Start runs instead of chromium, such as a
	// wrapper script that runs chromium in a network namespace with
	// `ip netns exec`. It receives chromium's command line.
	ExecPath string
	// Flags are further allocator options, such as chromedp.WindowSize.
	// They come after Start's own flags and may override them.
	Flags []chromedp.ExecAllocatorOption
	// Timeout bounds all the steps of the session; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Browser is one chromium started by Start, with the tab the steps run in.
// It records the problems every tab reports; a cleanup registered by Start
// turns them into test errors.
type Browser struct {
	t   testing.TB
	ctx context.Context // the current tab, bounded by the session's timeout

	mu       sync.Mutex
	problems []string
}

// RequireChromium returns the path of Debian's chromium, or skips the test
// without it (fails it with CI=true).
func RequireChromium(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testutil.SkipOrFail(t, "needs a real browser: chromium is not installed (Debian: apt-get install chromium)")
	}
	return path
}

// Start launches a headless chromium with a fresh profile in t.TempDir(),
// the flags it needs to run as root (no sandbox, no GPU) and none of its
// own traffic (QUIC, background networking, component updates, sync), and
// switches on the browser log of its first tab, where CSP violations go.
// The browser stops when the test ends; just before, every problem it
// reported fails the test.
func Start(t testing.TB, opts Options) *Browser {
	t.Helper()
	execPath := RequireChromium(t)
	if opts.ExecPath != "" {
		execPath = opts.ExecPath
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	b := &Browser{t: t}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocOpts = append(allocOpts, opts.Flags...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first action starts the browser and must have no timeout: a
	// timeout on this context would kill the browser when it fires.
	start := time.Now()
	if err := chromedp.Do(ctx, enableLog()); err != nil {
		t.Fatalf("start chromium (%s): %v", execPath, err)
	}
	t.Logf("chromium up in %v", time.Since(start).Round(time.Millisecond))
	var cancelSteps context.CancelFunc
	b.ctx, cancelSteps = context.WithTimeout(ctx, opts.Timeout)
	t.Cleanup(cancelSteps)
	// Cleanups run last first: this one before the browser stops.
	t.Cleanup(b.reportProblems)
	return b
}

// enableLog switches on the browser log of a tab, where chromium reports
// CSP violations.
func enableLog() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		if err != nil {
			return fmt.Errorf("enable the browser log: %w", err)
		}
		return nil
	})
}

// record keeps the browser's reports of script exceptions, console errors
// and warnings, and log entries at error level such as CSP violations. It
// leaves out the log's network errors: the 4xx answers tests provoke on
// purpose (a wrong password, a duplicate name) are logged as such.
func (b *Browser) record(ev any) {
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
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			msg = fmt.Sprintf("log %s: %s", ev.Entry.Source, ev.Entry.Text)
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.problems = append(b.problems, msg)
		b.mu.Unlock()
	}
}

// reportProblems fails the test with every problem recorded so far.
func (b *Browser) reportProblems() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser reported: %s", p)
	}
}

// Context returns the context of the current tab, for chromedp actions the
// helpers do not cover.
func (b *Browser) Context() context.Context { return b.ctx }

// NewTab opens a new tab in the same browser, with its browser log on and
// its problems recorded too; later steps run in it. The tab closes when the
// test ends.
func (b *Browser) NewTab() {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(b.record))
	b.t.Cleanup(cancel)
	b.ctx = ctx
	b.Step("open a new tab", enableLog())
}

// Step runs actions in the current tab and fails the test, naming the step,
// when one fails.
func (b *Browser) Step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
}

// Eval returns the string a JavaScript expression evaluates to in the
// current tab.
func (b *Browser) Eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls a JavaScript condition every 50 ms for up to timeout, and
// fails the test with what it waited for when the condition stays false.
func (b *Browser) WaitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		b.t.Fatalf("waiting %v for %s (%s): %v", timeout, what, cond, err)
	}
}

// ReadQR takes a screenshot of the element with the given id, as the
// browser draws it, and returns what zbarimg decodes from it. what names
// the element in a failure.
func (b *Browser) ReadQR(what, id string) string {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("screenshot of %s (#%s): %v", what, id, err)
	}
	return ZbarDecode(b.t, shot)
}

// ZbarDecode returns the exact bytes `zbarimg --raw -q -1 --nodbus` reads
// from a PNG image, the decoder TESTING.md names. Without zbarimg the test
// skips (fails with CI=true).
func ZbarDecode(t testing.TB, png []byte) string {
	t.Helper()
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		testutil.SkipOrFail(t, "needs zbarimg to read QR codes (Debian: apt-get install zbar-tools)")
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), zbarTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, zbarimg, "--raw", "-q", "-1", "--nodbus", path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("zbarimg found no QR code in the image: %v %s", err, stderr)
	}
	return string(out)
}
