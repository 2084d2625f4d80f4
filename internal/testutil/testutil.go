// Package testutil holds the helpers wgpanel's tests share to decide whether
// they can run on this machine.
//
// A test that needs root, a tool or /dev/net/tun skips with the reason on a
// developer's laptop. When the environment variable CI is "true" the same
// missing prerequisite fails the test instead, so that a missing install
// step in CI cannot hide behind a skip.
//
// InNetNS and BenchInNetNS run one test or benchmark in a child process that
// lives in a fresh network namespace, so that tests creating interfaces never
// touch the host's.
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI (environment CI=true), where a
// missing prerequisite is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test with the given reason, or fails it when InCI.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true, so this prerequisite must be present: %s", msg)
	}
	t.Skip(msg)
}

// RequireRoot skips (or fails under CI) unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root to create network namespaces and interfaces (run them in a root shell, or with sudo env PATH=\"$PATH\" go test; plain sudo has no Go)")
	}
}

// RequireCommand skips (or fails under CI) unless every named program is
// found in PATH.
func RequireCommand(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		SkipOrFail(t, "needs %s in PATH (Debian: apt-get install wireguard-tools wireguard-go iproute2 iputils-ping)",
			strings.Join(missing, ", "))
	}
}

// RequireTUN skips (or fails under CI) unless /dev/net/tun exists and can be
// opened, which creating a userspace WireGuard device needs.
func RequireTUN(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		SkipOrFail(t, "needs /dev/net/tun (load the tun module: modprobe tun): %v", err)
		return
	}
	f.Close()
}

// envNetNS names the test a child process was started to run. Its presence
// tells InNetNS that it runs inside the child.
const envNetNS = "WGPANEL_TEST_NETNS"

// InNetNS runs the calling top-level test in a fresh network namespace. It
// returns true in the child process, which must then run the test body, and
// false in the parent, which has already reported the child's result and
// must return at once:
//
//	func TestUp(t *testing.T) {
//		if !testutil.InNetNS(t) {
//			return
//		}
//		// ... body runs in its own network namespace ...
//	}
//
// Why a child process: a network namespace belongs to an OS thread, and Go
// cannot move a running process with many threads into one. Unsharing only
// the test goroutine's locked thread is not enough, because code such as
// wireguard-go opens its UDP and netlink sockets from other goroutines,
// which run on threads still in the host's namespace. A child started with
// CLONE_NEWNET has every thread in the new namespace, and the namespace
// disappears with the child, whatever the test leaves behind.
//
// The parent needs root; without it the test skips (or fails under CI).
// Only top-level tests are supported, since the child is selected by -test.run.
func InNetNS(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envNetNS) == t.Name() {
		requirePrivateNetNS(t)
		return true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("InNetNS works only in top-level tests; got %s", t.Name())
	}
	RequireRoot(t)
	out, err := runChild(t, t.Name(),
		"-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	switch {
	case err != nil:
		t.Fatalf("test in a fresh network namespace failed: %v\n%s", err, out)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name()+" ")):
		t.Skipf("skipped in the network namespace:\n%s", out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")):
		t.Fatalf("the child process did not run %s:\n%s", t.Name(), out)
	default:
		t.Logf("ran in a fresh network namespace:\n%s", out)
	}
	return false
}

// benchResults caches a child's benchmark figures, because the testing
// package calls a benchmark function several times with growing b.N.
var benchResults sync.Map // name-GOMAXPROCS -> *benchResult

type benchResult struct {
	once    sync.Once
	line    string
	metrics []benchMetric
	err     error
	out     []byte
}

type benchMetric struct {
	value float64
	unit  string
}

// BenchInNetNS is InNetNS for benchmarks. In the child it returns true and
// the benchmark runs as usual. In the parent it runs the benchmark in a
// child process in a fresh network namespace, once per -count round, with
// the same -benchtime, and reports the child's figures (ns/op, B/op, allocs/op and any custom metric)
// as its own through b.ReportMetric; the child's own line, with its
// iteration count, is logged. It then returns false.
func BenchInNetNS(b *testing.B) bool {
	b.Helper()
	if os.Getenv(envNetNS) == b.Name() {
		requirePrivateNetNS(b)
		return true
	}
	RequireRoot(b)
	// The testing package sets GOMAXPROCS to each -cpu value before it calls
	// the benchmark; the child runs with the same value.
	procs := runtime.GOMAXPROCS(0)
	key := b.Name() + "-" + strconv.Itoa(procs)
	if b.N == 1 {
		// The first call of each -count round: measure again, so that
		// the rounds show the spread rather than one figure repeated.
		benchResults.Delete(key)
	}
	v, _ := benchResults.LoadOrStore(key, new(benchResult))
	r := v.(*benchResult)
	r.once.Do(func() {
		args := []string{"-test.run=^$", "-test.bench=^" + regexp.QuoteMeta(b.Name()) + "$",
			"-test.benchmem", "-test.count=1", "-test.cpu=" + strconv.Itoa(procs)}
		if f := flag.Lookup("test.benchtime"); f != nil {
			args = append(args, "-test.benchtime="+f.Value.String())
		}
		r.out, r.err = runChild(b, b.Name(), args...)
		if r.err == nil {
			r.line, r.metrics, r.err = parseBench(r.out, b.Name())
		}
	})
	if r.err != nil {
		b.Fatalf("benchmark in a fresh network namespace failed: %v\n%s", r.err, r.out)
	}
	b.Logf("ran in a fresh network namespace: %s", r.line)
	for _, m := range r.metrics {
		b.ReportMetric(m.value, m.unit)
	}
	return false
}

// parseBench finds the result line of benchmark name in out and returns its
// value/unit pairs.
func parseBench(out []byte, name string) (string, []benchMetric, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || (fields[0] != name && !strings.HasPrefix(fields[0], name+"-")) {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		var ms []benchMetric
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return "", nil, fmt.Errorf("parse %q in %q: %w", fields[i], sc.Text(), err)
			}
			ms = append(ms, benchMetric{value: v, unit: fields[i+1]})
		}
		return sc.Text(), ms, nil
	}
	return "", nil, fmt.Errorf("no result line for %s in the child's output", name)
}

// runChild runs this test binary again with args in a new network
// namespace and returns its combined output.
func runChild(t testing.TB, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Second))
			defer cancel()
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the test binary: %w", err)
	}
	parentNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("read this process's network namespace: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), envNetNS+"="+name, envParentNetNS+"="+parentNS)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		// The child never started: most likely namespaces are not allowed here.
		SkipOrFail(t, "cannot start a process in a new network namespace: %v", err)
	}
	return out, err
}

// envParentNetNS carries the parent's network namespace to the child.
const envParentNetNS = "WGPANEL_TEST_PARENT_NETNS"

// requirePrivateNetNS fails the test unless the process runs in a network
// namespace other than its parent's, so that a broken setup can never
// create test interfaces on the host.
func requirePrivateNetNS(t testing.TB) {
	t.Helper()
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("cannot read this process's network namespace: %v", err)
	}
	parent := os.Getenv(envParentNetNS)
	if parent == "" || self == parent {
		t.Fatalf("the child process runs in its parent's network namespace %s; refusing to touch its interfaces", self)
	}
}

// RepoRoot returns the repository's root: the nearest directory above the
// test's working directory (its package) that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// GoTool finds the go command: in PATH, else where the official
// installation puts it (sudo often drops /usr/local/go/bin from PATH).
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
