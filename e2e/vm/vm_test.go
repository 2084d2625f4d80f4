package vm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/e2e/vm/internal/debs"
	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/packaging/ipkcheck"
)

// vmArch is one architecture the router's path is booted on.
type vmArch struct {
	name    string
	deb     debs.Arch
	goenv   []string // GOARCH and friends for the test's own programs
	triplet string   // Debian's multiarch library directory
	qemu    string
	machine []string // qemu's machine and CPU
	console string
	// scale stretches the guest's timeouts: TCG runs an ARM guest about
	// ten times slower than native.
	scale int
	// timeout bounds the whole VM run, boot to power-off. The guest's own
	// bounds fit in it: the steps, then wgdev's tests (12 s × scale).
	timeout time.Duration
	// ipkArch, when set, takes wgpanel from `make ipk ARCH=ipkArch`;
	// otherwise it is built here with the router's tags.
	ipkArch string
}

var arches = []vmArch{
	{
		name: "amd64", deb: debs.AMD64, goenv: []string{"GOARCH=amd64"},
		triplet: "x86_64-linux-gnu", qemu: "qemu-system-x86_64",
		machine: []string{"-accel", "tcg", "-cpu", "max"}, console: "ttyS0",
		scale: 3, timeout: 90 * time.Second,
	},
	{
		name: "armv7", deb: debs.ARMHF, goenv: []string{"GOARCH=arm", "GOARM=7"},
		triplet: "arm-linux-gnueabihf", qemu: "qemu-system-arm",
		// highmem=off: the non-LPAE armmp kernel cannot reach the high PCIe window.
		machine: []string{"-M", "virt,highmem=off", "-cpu", "cortex-a15"}, console: "ttyAMA0",
		scale: 10, timeout: 180 * time.Second,
		ipkArch: "arm_cortex-a9_vfpv3-d16",
	},
}

// wgdevNotInVM are internal/wgdev's tests the VM does not run (as a
// -test.skip pattern): the phone of TestHandshakeWithWgQuick is Debian's
// wg-quick (bash) with wireguard-go, which the VM does not have; the
// guest's own steps make the kernel-to-kernel handshake instead. Every
// other test runs, with CI=true when the host has it, so that a missing
// prerequisite in the VM fails rather than skips.
const wgdevNotInVM = "^TestHandshakeWithWgQuick$"

// TestRouterVM boots each architecture's Debian kernel with the WireGuard
// module and runs the router's path in it (see the guest program,
// internal/guest): wg0 created the way netifd does, `wgpanel serve` in
// router mode, a phone with its own kernel WireGuard interface in another
// namespace, and internal/wgdev's tests against the module. Each step the
// VM reports is a subtest here.
func TestRouterVM(t *testing.T) {
	for _, va := range arches {
		t.Run(va.name, func(t *testing.T) {
			t.Parallel()
			runVM(t, va)
		})
	}
}

func runVM(t *testing.T, va vmArch) {
	testutil.RequireCommand(t, va.qemu, "apt-get", "apt-cache", "dpkg-deb")
	if va.ipkArch != "" {
		testutil.RequireCommand(t, "make", "git")
	}
	start := time.Now()
	sets, cache, err := fetchPackages(t)
	if err != nil {
		testutil.SkipOrFail(t, "the Debian packages for the VMs (apt-get update; dpkg --add-architecture armhf; or set %s to a filled cache): %v",
			debs.EnvCache, err)
	}
	set := sets[va.deb]
	t.Logf("packages: %s and %d others in %s (%v)", set.Kernel, len(set.Roots)-1, cache, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	tmp := t.TempDir()
	guest := goBuild(t, va, tmp, "guest", "build", "./e2e/vm/internal/guest")
	wgdevTest := goBuild(t, va, tmp, "wgdev.test", "test", "-c", "-tags", "nouserspace", "./internal/wgdev")
	wgpanel, what := routerWgpanel(t, va, tmp)
	t.Logf("built the guest, wgdev's tests and %s in %v", what, time.Since(start).Round(time.Millisecond))

	in := &initramfs{
		set:     set,
		triplet: va.triplet,
		programs: map[string][]byte{
			"guest":           guest,
			"usr/bin/wgpanel": wgpanel,
			"root/wgdev.test": wgdevTest,
		},
		guestArg: fmt.Sprintf("-scale %d -gotest /root/wgdev.test -gotest-skip '%s' -ci=%v", va.scale, wgdevNotInVM, testutil.InCI()),
	}
	initrd, err := in.build()
	if err != nil {
		t.Fatalf("build the initramfs: %v", err)
	}
	initrdPath := filepath.Join(tmp, "initrd")
	if err := os.WriteFile(initrdPath, initrd, 0o644); err != nil {
		t.Fatal(err)
	}
	kernels, _ := filepath.Glob(filepath.Join(set.KernelRoot(), "boot", "vmlinuz-*"))
	if len(kernels) != 1 {
		t.Fatalf("%s: want one boot/vmlinuz-*, found %q", set.Kernel, kernels)
	}
	t.Logf("initramfs: %.1f MB", float64(len(initrd))/1e6)

	res := boot(t, va, kernels[0], initrdPath)
	report(t, va, res)
}

var (
	fetchOnce  sync.Once
	fetchSets  map[debs.Arch]*debs.Set
	fetchCache string
	fetchErr   error
)

// fetchPackages fetches the packages of every architecture once for the
// test process: the VMs run in parallel, and apt is asked only twice.
func fetchPackages(t *testing.T) (map[debs.Arch]*debs.Set, string, error) {
	fetchOnce.Do(func() {
		if fetchCache, fetchErr = debs.CacheDir(); fetchErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var log bytes.Buffer
		fetchSets, fetchErr = debs.Fetch(ctx, fetchCache, debs.All, &log)
		if log.Len() > 0 {
			t.Log(strings.TrimSpace(log.String()))
		}
	})
	return fetchSets, fetchCache, fetchErr
}

// goBuild builds a static program for the VM's architecture and returns it.
func goBuild(t *testing.T, va vmArch, dir, name string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(dir, name)
	// The flags of make ipk and of e2e's router build, so that CI's build
	// cache serves all of them.
	args = append(args[:1], append([]string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out}, args[1:]...)...)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.GoTool(), args...)
	cmd.Dir = testutil.RepoRoot(t)
	cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOOS=linux"}, va.goenv...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// routerWgpanel returns the wgpanel the router runs: for ARMv7 the binary
// inside the .ipk that `make ipk` builds, else the router build (static,
// nouserspace) for the architecture.
func routerWgpanel(t *testing.T, va vmArch, dir string) ([]byte, string) {
	t.Helper()
	if va.ipkArch == "" {
		return goBuild(t, va, dir, "wgpanel", "build", "-tags", "nouserspace", "./cmd/wgpanel"), "wgpanel (nouserspace)"
	}
	dist := filepath.Join(dir, "dist")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "ipk", "GO="+testutil.GoTool(),
		"ARCH="+va.ipkArch, "DIST="+dist, "BUILD="+filepath.Join(dir, "build"))
	cmd.Dir = testutil.RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make ipk ARCH=%s: %v\n%s", va.ipkArch, err, b)
	}
	ipks, _ := filepath.Glob(filepath.Join(dist, "*.ipk"))
	if len(ipks) != 1 {
		t.Fatalf("make ipk: want one .ipk in %s, found %q", dist, ipks)
	}
	raw, err := os.ReadFile(ipks[0])
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ipkcheck.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", ipks[0], err)
	}
	bin := pkg.DataFile("/usr/bin/wgpanel")
	if bin == nil {
		t.Fatalf("%s has no /usr/bin/wgpanel", ipks[0])
	}
	return bin.Body, filepath.Base(ipks[0]) + "'s /usr/bin/wgpanel"
}

// vmResult is what the VM printed.
type vmResult struct {
	lines    []string // the WGVM lines, without the prefix
	console  []string // every line, for a failure's log
	bootedIn time.Duration
	ranFor   time.Duration
	err      error // qemu's exit, or the timeout
}

// boot runs the VM until it powers off or va.timeout passes, with no
// network device, and collects its console.
func boot(t *testing.T, va vmArch, kernel, initrd string) vmResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), va.timeout)
	defer cancel()
	args := append(append([]string{}, va.machine...),
		"-smp", "2", "-m", "512", "-nodefaults", "-nic", "none",
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console="+va.console+" quiet panic=-1")
	cmd := exec.CommandContext(ctx, va.qemu, args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", va.qemu, err)
	}
	// Whatever happens to the test, qemu does not outlive it.
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	var res vmResult
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		res.console = append(res.console, line)
		i := strings.Index(line, "WGVM ")
		if i < 0 {
			continue
		}
		l := line[i+len("WGVM "):]
		if strings.HasPrefix(l, "BOOT ") && res.bootedIn == 0 {
			res.bootedIn = time.Since(start)
		}
		res.lines = append(res.lines, l)
	}
	res.err = cmd.Wait()
	res.ranFor = time.Since(start)
	if ctx.Err() != nil {
		res.err = fmt.Errorf("the VM did not power off within %v", va.timeout)
	} else if res.err != nil {
		res.err = fmt.Errorf("%s: %v\n%s", va.qemu, res.err, stderr.String())
	}
	return res
}

var (
	stepRe   = regexp.MustCompile(`^STEP (\S+) (PASS|FAIL) ?(.*)$`)
	goTestRe = regexp.MustCompile(`^GOTEST --- (PASS|FAIL|SKIP): (\S+) \(([^)]*)\)`)
)

// report turns the VM's lines into subtests: one per step of the router's
// path, one per test of internal/wgdev.
func report(t *testing.T, va vmArch, res vmResult) {
	t.Logf("%s VM: init reached %v after qemu started, whole run %v",
		va.name, res.bootedIn.Round(10*time.Millisecond), res.ranFor.Round(10*time.Millisecond))
	failed := false
	defer func() {
		if failed || t.Failed() {
			t.Logf("console of the %s VM:\n%s", va.name, strings.Join(res.console, "\n"))
		}
	}()
	if res.err != nil {
		t.Errorf("%v", res.err)
		failed = true
	}

	var plan []string
	steps := map[string][]string{} // name -> PASS|FAIL, detail
	var goTests [][]string
	var goEnd, end string
	var goOut []string
	for _, l := range res.lines {
		switch {
		case strings.HasPrefix(l, "PLAN "):
			plan = strings.Fields(strings.TrimPrefix(l, "PLAN "))
		case strings.HasPrefix(l, "STEP "):
			if m := stepRe.FindStringSubmatch(l); m != nil {
				steps[m[1]] = m[2:]
			}
		case strings.HasPrefix(l, "BOOT "):
			t.Logf("%s VM: kernel uptime at /init %s s", va.name, strings.TrimPrefix(l, "BOOT "))
		case strings.HasPrefix(l, "INFO "):
			t.Logf("%s VM: %s", va.name, strings.TrimPrefix(l, "INFO "))
		case strings.HasPrefix(l, "GOTEST-END "):
			goEnd = strings.TrimPrefix(l, "GOTEST-END ")
		case strings.HasPrefix(l, "GOTEST "):
			goOut = append(goOut, strings.TrimPrefix(l, "GOTEST "))
			if m := goTestRe.FindStringSubmatch(l); m != nil && !strings.Contains(m[2], "/") {
				goTests = append(goTests, m[1:])
			}
		case strings.HasPrefix(l, "END "):
			end = strings.TrimPrefix(l, "END ")
		}
	}
	if _, ok := steps["modules"]; ok { // /init could not load a module
		plan = append([]string{"modules"}, plan...)
	}
	if len(plan) == 0 {
		t.Errorf("the %s VM's guest never started (no PLAN line)", va.name)
		failed = true
		return
	}
	for _, name := range plan {
		r, ran := steps[name]
		t.Run("step/"+name, func(t *testing.T) {
			switch {
			case !ran:
				t.Errorf("did not run: an earlier step failed or the VM stopped")
			case r[0] == "FAIL":
				t.Errorf("%s", r[1])
			default:
				t.Logf("%s", r[1])
			}
		})
	}
	t.Run("wgdev", func(t *testing.T) {
		if goEnd == "" {
			t.Fatalf("internal/wgdev's test binary did not finish in the VM:\n%s", strings.Join(goOut, "\n"))
		}
		if len(goTests) == 0 {
			t.Fatalf("internal/wgdev's test binary reported no test:\n%s", strings.Join(goOut, "\n"))
		}
		pass, skip := 0, 0
		for _, g := range goTests {
			t.Run(g[1], func(t *testing.T) {
				switch g[0] {
				case "FAIL":
					t.Errorf("failed in the %s VM (%s); its output:\n%s", va.name, g[2], strings.Join(goOut, "\n"))
				case "SKIP":
					skip++
					t.Skipf("skipped in the %s VM: %s", va.name, skipReason(goOut, g[1]))
				default:
					pass++
				}
			})
		}
		t.Logf("internal/wgdev in the %s VM: %d passed, %d skipped, %d tests (not run there: %s); binary %s",
			va.name, pass, skip, len(goTests), wgdevNotInVM, goEnd)
		if goEnd != "pass" && !t.Failed() {
			t.Errorf("the test binary ended %s:\n%s", goEnd, strings.Join(goOut, "\n"))
		}
	})
	if end == "" {
		t.Errorf("the %s VM's guest did not finish (no END line)", va.name)
		failed = true
	}
}

// skipReason returns the last message the skipped test logged: what
// t.Skip said, in the network namespace's child when it ran in one.
func skipReason(out []string, name string) string {
	msg := regexp.MustCompile(`\S+_test\.go:\d+: (.*)$`)
	reason := "(no reason printed)"
	in := false
	for _, l := range out {
		switch {
		case l == "=== RUN   "+name:
			in = true
		case strings.HasPrefix(l, "--- SKIP: "+name+" "):
			return reason
		case in:
			if m := msg.FindStringSubmatch(l); m != nil && !strings.HasPrefix(m[1], "skipped in the network namespace") {
				reason = m[1]
			}
		}
	}
	return reason
}
