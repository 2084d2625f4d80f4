package ipkcheck

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/packaging/apkv3"
)

// apkTool returns the apk-tools 3 binary named by WGPANEL_APK, or skips:
// apk-tools is not a Debian 12 package, and the project builds none. The
// cross-check it enables was run with apk-tools 3.0.2 built from source.
func apkTool(t *testing.T) string {
	t.Helper()
	p := os.Getenv("WGPANEL_APK")
	if p == "" {
		t.Skip("set WGPANEL_APK to an apk-tools 3 binary to check the package with the real apk")
	}
	return p
}

func runAPK(t *testing.T, apk string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, apk, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("apk %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// TestApkToolsVersions asks the real apk about the version table.
func TestApkToolsVersions(t *testing.T) {
	apk := apkTool(t)
	for i := 1; i < len(versionsInOrder); i++ {
		a, b := versionsInOrder[i-1], versionsInOrder[i]
		out, err := runAPK(t, apk, "version", "-t", a, b)
		if err != nil || strings.TrimSpace(out) != "<" {
			t.Errorf("apk version -t %s %s: %q, %v; want <", a, b, out, err)
		}
	}
	for _, v := range []string{"0.1.0~gf682155-r1", "1.2.3+3.gabc1234", "0.1.0.dirty"} {
		if out, err := runAPK(t, apk, "version", "-c", v); err == nil {
			t.Errorf("apk version -c %s accepts it (%q); want it refused", v, out)
		}
	}
}

// TestApkToolsInstallUpgradeRemove installs the package with the real apk
// into a busybox root that looks like a running router (procd's ubus
// socket, the stand-in rc.common), lets "wgpanel" write its config, then
// upgrades to a package with a higher release and removes it.
func TestApkToolsInstallUpgradeRemove(t *testing.T) {
	apk := apkTool(t)
	b := buildPackages(t, wrtArch)
	r := newBusyboxRoot(t)
	liveUbus(t, r)
	dir := t.TempDir()

	deps := stubDeps(t, dir)
	// The upgrade: the same binary with the package release raised.
	v2 := strings.TrimSuffix(b.ipkVersion, "-r1") + "-r2"
	pkg2 := packAPK(t, b, v2, dir)

	rcLog := func() string { b, _ := os.ReadFile(r.path("/rc.log")); return string(b) }
	base := []string{"--root", string(r), "--allow-untrusted", "--no-network", "--arch", wrtArch}

	if out, err := runAPK(t, apk, "verify", "--allow-untrusted", b.apkPath); err != nil {
		t.Fatalf("apk verify: %v\n%s", err, out)
	}

	// Install on a live router: enabled and started once, defaults written.
	args := append(append([]string{"add", "--initdb"}, base...), deps...)
	if out, err := runAPK(t, apk, append(args, b.apkPath)...); err != nil {
		t.Fatalf("apk add: %v\n%s", err, out)
	}
	if got := rcLog(); got != "wgpanel enable\nwgpanel start\n" {
		t.Errorf("after install, rc.common calls:\n%s\nwant enable, start", got)
	}
	for _, f := range packageFiles {
		st, err := os.Stat(r.path(f.path))
		if f.path == "/etc/uci-defaults/90-wgpanel" {
			if err == nil {
				t.Errorf("%s was not run and removed by post-install", f.path)
			}
			continue
		}
		if err != nil || int64(st.Mode().Perm()) != f.mode {
			t.Errorf("%s: %v, %v; want mode %04o", f.path, st, err, f.mode)
		}
	}
	if _, err := os.Lstat(r.path("/etc/rc.d/S95wgpanel")); err != nil {
		t.Errorf("not enabled: %v", err)
	}
	cfg, err := os.ReadFile(r.path("/etc/config/wgpanel"))
	if err != nil {
		t.Fatalf("no default config: %v", err)
	}
	checkDefaultConfig(t, r, cfg)

	// wgpanel writes its config itself (a password hash), and runs.
	mine := string(cfg) + "\toption auth 'password'\n\toption password_hash '$6$salt$hash'\n"
	writeRootFile(t, r, "/etc/config/wgpanel", mine, 0o600)
	writeRootFile(t, r, "/var/run/fake-running", "", 0o644)
	os.Remove(r.path("/rc.log"))

	if out, err := runAPK(t, apk, append(append([]string{"add"}, base...), pkg2)...); err != nil {
		t.Fatalf("apk add (upgrade): %v\n%s", err, out)
	}
	if got := rcLog(); got != "wgpanel running\nwgpanel restart\n" {
		t.Errorf("after upgrade, rc.common calls:\n%s\nwant running, restart", got)
	}
	if got, _ := os.ReadFile(r.path("/etc/config/wgpanel")); string(got) != mine {
		t.Errorf("the upgrade changed the owner's config to:\n%s", got)
	}
	checkNoLeftovers(t, r)
	os.Remove(r.path("/rc.log"))

	if out, err := runAPK(t, apk, append(append([]string{"del"}, base...), "wgpanel")...); err != nil {
		t.Fatalf("apk del: %v\n%s", err, out)
	}
	if got := rcLog(); got != "wgpanel stop\nwgpanel disable\n" {
		t.Errorf("after removal, rc.common calls:\n%s\nwant stop, disable", got)
	}
	for _, p := range []string{"/usr/bin/wgpanel", "/etc/init.d/wgpanel", "/etc/rc.d/S95wgpanel", "/lib/apk/packages/wgpanel.list"} {
		if _, err := os.Lstat(r.path(p)); err == nil {
			t.Errorf("%s is left after removal", p)
		}
	}
	if got, _ := os.ReadFile(r.path("/etc/config/wgpanel")); string(got) != mine {
		t.Error("removal did not keep the owner's /etc/config/wgpanel")
	}
	checkNoLeftovers(t, r)
}

// checkNoLeftovers fails on any .apk-new or -opkg file in the root.
func checkNoLeftovers(t *testing.T, r scriptRoot) {
	t.Helper()
	filepath.WalkDir(string(r), func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".apk-new") || strings.HasSuffix(p, "-opkg")) {
			t.Errorf("%s was left behind", strings.TrimPrefix(p, string(r)))
		}
		return nil
	})
}

// stubDeps writes stand-ins for wgpanel's two dependencies, empty packages
// of the same names, and returns their paths.
func stubDeps(t *testing.T, dir string) []string {
	t.Helper()
	var deps []string
	for _, name := range []string{"kmod-wireguard", "wireguard-tools"} {
		p := &apkv3.Package{Info: apkv3.Info{Name: name, Version: "1.0-r1", Arch: wrtArch, Description: "stand-in"}}
		var buf bytes.Buffer
		if err := p.Write(&buf); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".apk")
		if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		deps = append(deps, f)
	}
	return deps
}

// TestApkToolsImageBuild installs and removes the package with the real apk
// into a root without procd's ubus socket, as when a firmware image is
// built: only enabled, defaults left for the first boot, and on removal
// disabled with no /etc/rc.d link left.
func TestApkToolsImageBuild(t *testing.T) {
	apk := apkTool(t)
	b := buildPackages(t, wrtArch)
	r := newBusyboxRoot(t)
	base := []string{"--root", string(r), "--allow-untrusted", "--no-network", "--arch", wrtArch}
	args := append(append([]string{"add", "--initdb"}, base...), stubDeps(t, t.TempDir())...)
	if out, err := runAPK(t, apk, append(args, b.apkPath)...); err != nil {
		t.Fatalf("apk add: %v\n%s", err, out)
	}
	rcLog := func() string { b, _ := os.ReadFile(r.path("/rc.log")); return string(b) }
	if got := rcLog(); got != "wgpanel enable\n" {
		t.Errorf("rc.common calls:\n%s\nwant only enable", got)
	}
	if _, err := os.Stat(r.path("/etc/uci-defaults/90-wgpanel")); err != nil {
		t.Errorf("the uci-defaults script is not left for the first boot: %v", err)
	}
	if _, err := os.Lstat(r.path("/etc/rc.d/S95wgpanel")); err != nil {
		t.Errorf("not enabled: %v", err)
	}
	os.Remove(r.path("/rc.log"))
	if out, err := runAPK(t, apk, append(append([]string{"del"}, base...), "wgpanel")...); err != nil {
		t.Fatalf("apk del: %v\n%s", err, out)
	}
	if got := rcLog(); got != "wgpanel disable\n" {
		t.Errorf("rc.common calls on removal:\n%s\nwant only disable", got)
	}
	if _, err := os.Lstat(r.path("/etc/rc.d/S95wgpanel")); err == nil {
		t.Error("/etc/rc.d/S95wgpanel is left dangling")
	}
}
