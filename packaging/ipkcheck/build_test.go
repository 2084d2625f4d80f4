package ipkcheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/packaging/apkcheck"
)

// wrtArch is the WRT3200ACM's package architecture, the default of make ipk.
const wrtArch = "arm_cortex-a9_vfpv3-d16"

// built is one `make ipk apk` result, shared by the tests of this package.
type built struct {
	path       string // the .ipk
	ipkVersion string // e.g. 0.0.0_p120-r1: the package version (both formats)
	version    string // e.g. 0.0.0_p120: what -X main.version was given
	binSize    int64  // size of build/ARCH/wgpanel, the stripped binary
	pkg        *Package
	raw        []byte
	apkPath    string // the .apk
	apk        *apkcheck.Package
	apkRaw     []byte
}

var (
	buildMu  sync.Mutex
	builds   = map[string]*built{}
	buildErr = map[string]string{}
	workDir  string // holds every build; removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// buildPackages runs `make ipk apk ARCH=arch` into a temporary directory,
// once per architecture and test binary, and returns both opened packages,
// built from the same binary.
func buildPackages(t *testing.T, arch string) *built {
	t.Helper()
	testutil.RequireCommand(t, "make", "go", "git")
	root := testutil.RepoRoot(t)

	buildMu.Lock()
	defer buildMu.Unlock()
	if b := builds[arch]; b != nil {
		return b
	}
	if msg := buildErr[arch]; msg != "" {
		t.Fatal(msg)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		buildErr[arch] = "make ipk apk ARCH=" + arch + ": " + strings.TrimSpace(fmt.Sprintf(format, args...))
		t.Fatal(buildErr[arch])
	}

	if workDir == "" {
		d, err := os.MkdirTemp("", "wgpanel-ipk-")
		if err != nil {
			t.Fatal(err)
		}
		workDir = d
	}
	dist := filepath.Join(workDir, arch, "dist")
	build := filepath.Join(workDir, arch, "build")

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := runIn(ctx, root, "make", "--no-print-directory", "ipk", "apk",
		"ARCH="+arch, "DIST="+dist, "BUILD="+build)
	if err != nil {
		fail("%v\n%s", err, out)
	}
	t.Logf("make ipk apk ARCH=%s took %v", arch, time.Since(start).Round(100*time.Millisecond))

	v, err := runIn(ctx, root, "make", "--no-print-directory", "-s", "print-version")
	if err != nil {
		fail("print-version: %v\n%s", err, v)
	}
	ipkVersion := strings.TrimSpace(string(v))
	i := strings.LastIndex(ipkVersion, "-r")
	if i < 0 {
		fail("print-version %q has no -rRELEASE", ipkVersion)
	}

	matches, _ := filepath.Glob(filepath.Join(dist, "*.ipk"))
	if len(matches) != 1 {
		fail("want exactly one .ipk in %s, found %q", dist, matches)
	}
	raw, err := os.ReadFile(matches[0])
	if err != nil {
		fail("%v", err)
	}
	pkg, err := Read(bytes.NewReader(raw))
	if err != nil {
		fail("%v", err)
	}
	apkPath := filepath.Join(dist, arch, "wgpanel-"+ipkVersion+".apk")
	apkRaw, err := os.ReadFile(apkPath)
	if err != nil {
		fail("make apk wrote no %s: %v", apkPath, err)
	}
	apk, err := apkcheck.Read(bytes.NewReader(apkRaw))
	if err != nil {
		fail("%s: %v", apkPath, err)
	}
	st, err := os.Stat(filepath.Join(build, arch, "wgpanel"))
	if err != nil {
		fail("%v", err)
	}
	b := &built{
		path:       matches[0],
		ipkVersion: ipkVersion,
		version:    ipkVersion[:i],
		binSize:    st.Size(),
		pkg:        pkg,
		raw:        raw,
		apkPath:    apkPath,
		apk:        apk,
		apkRaw:     apkRaw,
	}
	builds[arch] = b
	return b
}

// runIn runs a command in dir and returns its combined output.
func runIn(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// readRepoFile returns a file of the repository, by slash-separated path.
func readRepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
