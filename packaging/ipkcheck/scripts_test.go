package ipkcheck

import (
	"bytes"
	"context"
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// shellScripts are the scripts that run on the router under busybox ash.
var shellScripts = []string{"init.d/wgpanel", "packaging/scripts/postinst", "packaging/scripts/prerm",
	"openwrt/files/wgpanel.uci-defaults"}

// TestShellcheck runs Debian's shellcheck as POSIX sh, at every severity,
// ignoring any personal shellcheckrc, on the init script and the
// maintainer scripts. The init script carries its own directives for what
// /etc/rc.common provides.
func TestShellcheck(t *testing.T) {
	testutil.RequireCommand(t, "shellcheck")
	root := testutil.RepoRoot(t)
	for _, rel := range shellScripts {
		t.Run(rel, func(t *testing.T) {
			out, err := exec.Command("shellcheck", "--norc", "-s", "sh", "-S", "style", filepath.Join(root, rel)).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck -s sh %s: %v\n%s", rel, err, out)
			}
		})
	}
}

// TestScriptsExecutable checks the scripts are executable in the
// repository: opkg runs postinst and prerm directly, and the package takes
// its modes from the Makefile, but a checkout should match.
func TestScriptsExecutable(t *testing.T) {
	root := testutil.RepoRoot(t)
	for _, rel := range shellScripts[:3] {
		st, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o111 != 0o111 {
			t.Errorf("%s has mode %v; want it executable (0755)", rel, st.Mode().Perm())
		}
	}
}

// fakeRCCommon stands in for what /etc/rc.common and /lib/functions/procd.sh
// provide to an init script: every call is printed; config_get_bool yields
// $FAKE_ENABLED when set, else the default, and config_get $FAKE_LISTEN.
const fakeRCCommon = `
config_load() { echo "config_load $*"; }
config_get_bool() {
	if [ -n "${FAKE_ENABLED+set}" ]; then eval "$1=\$FAKE_ENABLED"; else eval "$1=\$4"; fi
	echo "config_get_bool $2 $3 $4"
}
config_get() { eval "$1=\$FAKE_LISTEN"; echo "config_get $2 $3"; }
procd_open_instance() { echo "procd_open_instance"; }
procd_set_param() { echo "procd_set_param $*"; }
procd_close_instance() { echo "procd_close_instance"; }
procd_add_reload_trigger() { echo "procd_add_reload_trigger $*"; }
procd_add_interface_trigger() { echo "procd_add_interface_trigger $*"; }
`

// fakeNetworkSh stands in for OpenWrt's /lib/functions/network.sh: the
// LAN's address is $FAKE_LAN.
const fakeNetworkSh = `network_get_ipaddr() { eval "$1=\$FAKE_LAN"; echo "network_get_ipaddr $2" >&2; }
`

// TestInitScript sources init.d/wgpanel in a busybox root with stand-ins
// for rc.common's functions and network.sh, and checks what start_service
// and service_triggers ask procd for.
func TestInitScript(t *testing.T) {
	r := newScriptRoot(t)
	writeRootFile(t, r, "/lib/functions/network.sh", fakeNetworkSh, 0o644)
	writeRootFile(t, r, "/fake-rc.sh", fakeRCCommon, 0o644)
	run := func(t *testing.T, env []string, body string) string {
		t.Helper()
		out, err := chrootRun(r, env, "/bin/sh", "-c", ". /fake-rc.sh; . /etc/init.d/wgpanel\n"+body)
		if err != nil {
			t.Fatalf("sh: %v\n%s", err, out)
		}
		return string(out)
	}
	instance := func(data string) string {
		return `config_load wgpanel
config_get_bool main enabled 1
procd_open_instance
procd_set_param command /usr/bin/wgpanel serve
procd_set_param respawn 3600 5 5
procd_set_param stdout 1
procd_set_param stderr 1
procd_set_param file /etc/config/wgpanel
config_get main listen
` + data + "procd_close_instance\n"
	}
	tests := []struct {
		name string
		env  []string
		body string
		want string
	}{
		{"rc.common settings", nil, `echo "START=$START STOP=$STOP USE_PROCD=$USE_PROCD"`,
			"START=95 STOP=10 USE_PROCD=1\n"},
		// The LAN address is part of the instance, so that a reload after
		// a lan event restarts wgpanel only when the address changed.
		{"enabled by default", []string{"FAKE_LAN=192.168.1.1"}, "start_service 2>&1",
			instance("network_get_ipaddr lan\nprocd_set_param env WGPANEL_LAN_ADDR=192.168.1.1\n")},
		{"enabled '1', new LAN address", []string{"FAKE_ENABLED=1", "FAKE_LAN=192.168.7.1"}, "start_service 2>&1",
			instance("network_get_ipaddr lan\nprocd_set_param env WGPANEL_LAN_ADDR=192.168.7.1\n")},
		{"option listen set: the LAN address does not matter", []string{"FAKE_LISTEN=10.0.0.1:8080", "FAKE_LAN=192.168.1.1"},
			"start_service 2>&1", instance("")},
		{"enabled '0'", []string{"FAKE_ENABLED=0"}, "start_service 2>&1",
			"config_load wgpanel\nconfig_get_bool main enabled 1\n" +
				"wgpanel is disabled in /etc/config/wgpanel (option enabled '0')\n"},
		{"triggers", nil, "service_triggers",
			"procd_add_reload_trigger wgpanel\n" +
				"procd_add_interface_trigger interface.* lan /etc/init.d/wgpanel reload\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, tt.env, tt.body); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// fakeRCCommonFile stands in for /etc/rc.common as an init script's
// interpreter (#!/bin/sh /etc/rc.common): it logs "<script> <action>" to
// /rc.log of the root it belongs to, makes and removes the /etc/rc.d link
// as enable and disable do, and answers `running` from /var/run/fake-running.
const fakeRCCommonFile = `#!/bin/sh
r="${IPKG_INSTROOT}"
echo "${1##*/} $2" >> "$r/rc.log"
case "$2" in
running) [ -e "$r/var/run/fake-running" ] ;;
enable) mkdir -p "$r/etc/rc.d" && ln -sf ../init.d/wgpanel "$r/etc/rc.d/S95wgpanel" ;;
disable) rm -f "$r/etc/rc.d/S95wgpanel" ;;
esac
`

// scriptRoot is a directory made into a tiny OpenWrt root: busybox (static,
// Debian's busybox-static) as every command, the package's init script,
// uci-defaults script and maintainer scripts, and stand-ins for rc.common.
type scriptRoot string

func newScriptRoot(t *testing.T) scriptRoot {
	t.Helper()
	r := newBusyboxRoot(t)
	root := testutil.RepoRoot(t)
	for _, f := range []struct {
		rel, dest string
		mode      os.FileMode
	}{
		{"init.d/wgpanel", "/etc/init.d/wgpanel", 0o755},
		{"openwrt/files/wgpanel.uci-defaults", "/etc/uci-defaults/90-wgpanel", 0o644},
		{"packaging/scripts/postinst", "/pkg/postinst", 0o755},
		{"packaging/scripts/prerm", "/pkg/prerm", 0o755},
	} {
		b, err := os.ReadFile(filepath.Join(root, f.rel))
		if err != nil {
			t.Fatal(err)
		}
		writeRootFile(t, r, f.dest, string(b), f.mode)
	}
	return r
}

// newBusyboxRoot is a root with busybox, the stand-in rc.common and the
// directories of an OpenWrt root, and nothing of wgpanel's.
func newBusyboxRoot(t *testing.T) scriptRoot {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "chroot")
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		testutil.SkipOrFail(t, "needs Debian's busybox-static at %s: %v", bb, err)
	}
	if raw, err := os.ReadFile(bb); err == nil {
		if f, err := elf.NewFile(bytes.NewReader(raw)); err != nil || slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
			testutil.SkipOrFail(t, "%s is not a static busybox (install busybox-static)", bb)
		}
	}
	r := scriptRoot(t.TempDir())
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc/config", "lib/functions", "var/run", "tmp"} {
		if err := os.MkdirAll(r.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, r.path("bin/busybox"))
	if err := os.Chmod(r.path("bin/busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := chrootRun(r, nil, "/bin/busybox", "--install", "-s", "/bin"); err != nil {
		t.Fatalf("busybox --install: %v\n%s", err, out)
	}
	writeRootFile(t, r, "/etc/rc.common", fakeRCCommonFile, 0o755)
	return r
}

func (r scriptRoot) path(rel string) string {
	return filepath.Join(string(r), filepath.FromSlash(strings.TrimPrefix(rel, "/")))
}

func writeRootFile(t *testing.T, r scriptRoot, rel, body string, mode os.FileMode) {
	t.Helper()
	p := r.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// chrootRun runs a command chrooted into r with exactly env and apk's PATH.
func chrootRun(r scriptRoot, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{string(r)}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// liveUbus makes the root look like a running router: procd's ubus socket.
func liveUbus(t *testing.T, r scriptRoot) {
	t.Helper()
	p := r.path("/var/run/ubus/ubus.sock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

// TestMaintainerScripts runs the package scripts in a busybox root the way
// each package manager runs them, against the stand-in rc.common, and
// checks the service calls and the files left behind:
//   - apk: chrooted into the root with nothing but PATH, APK_SCRIPT and
//     APK_PACKAGE in the environment, argv the versions; a firmware image
//     being built is a root without procd's ubus socket;
//   - opkg on the router: the same root, PKG_UPGRADE set;
//   - opkg building an image: run from outside with IPKG_INSTROOT;
//   - apk with --preserve-env: chrooted, IPKG_INSTROOT naming the image
//     from outside.
func TestMaintainerScripts(t *testing.T) {
	const oldCfg = "\nconfig wgpanel 'main'\n\toption auth 'password'\n\toption password_hash '$6$salt$hash'\n"
	type tc struct {
		name    string
		manager string // apk, opkg, opkg-image
		script  string // post-install, post-upgrade, pre-deinstall
		live    bool
		running bool
		config  bool // /etc/config/wgpanel exists already (owner's settings)
		enabled bool // /etc/rc.d link exists
		calls   string
		// after the script: whether /etc/config/wgpanel exists, the
		// uci-defaults script is left for the first boot, the rc.d link
		wantConfig, wantUCIDefaults, wantLink bool
	}
	tests := []tc{
		{name: "install on the router", manager: "apk", script: "post-install", live: true,
			calls: "wgpanel enable\nwgpanel start\n", wantConfig: true, wantLink: true},
		{name: "install into an image", manager: "apk", script: "post-install",
			calls: "wgpanel enable\n", wantUCIDefaults: true, wantLink: true},
		{name: "upgrade while running", manager: "apk", script: "post-upgrade", live: true, running: true, config: true, enabled: true,
			calls: "wgpanel running\nwgpanel restart\n", wantConfig: true, wantLink: true},
		{name: "upgrade while stopped and disabled", manager: "apk", script: "post-upgrade", live: true, config: true,
			calls: "wgpanel running\n", wantConfig: true},
		{name: "upgrade in an image", manager: "apk", script: "post-upgrade", enabled: true,
			calls: "", wantUCIDefaults: true, wantLink: true},
		{name: "remove on the router", manager: "apk", script: "pre-deinstall", live: true, running: true, config: true, enabled: true,
			calls: "wgpanel stop\nwgpanel disable\n", wantConfig: true, wantUCIDefaults: true},
		{name: "remove from an image", manager: "apk", script: "pre-deinstall", enabled: true,
			calls: "wgpanel disable\n", wantUCIDefaults: true},
		{name: "install into an image, IPKG_INSTROOT kept", manager: "apk-preserve-env", script: "post-install",
			calls: "wgpanel enable\n", wantUCIDefaults: true, wantLink: true},
		{name: "remove from an image, IPKG_INSTROOT kept", manager: "apk-preserve-env", script: "pre-deinstall", enabled: true,
			calls: "wgpanel disable\n", wantUCIDefaults: true},

		{name: "install on the router", manager: "opkg", script: "post-install", live: true,
			calls: "wgpanel enable\nwgpanel start\n", wantConfig: true, wantLink: true},
		{name: "upgrade while running", manager: "opkg", script: "post-upgrade", live: true, running: true, config: true, enabled: true,
			calls: "wgpanel running\nwgpanel restart\n", wantConfig: true, wantLink: true},
		{name: "upgrade while stopped", manager: "opkg", script: "post-upgrade", live: true, config: true, enabled: true,
			calls: "wgpanel running\n", wantConfig: true, wantLink: true},
		{name: "remove on the router", manager: "opkg", script: "pre-deinstall", live: true, running: true, config: true, enabled: true,
			calls: "wgpanel stop\nwgpanel disable\n", wantConfig: true, wantUCIDefaults: true},
		{name: "install into an image", manager: "opkg-image", script: "post-install",
			calls: "wgpanel enable\n", wantUCIDefaults: true, wantLink: true},
		{name: "remove from an image", manager: "opkg-image", script: "pre-deinstall", enabled: true,
			calls: "wgpanel disable\n", wantUCIDefaults: true},
	}
	for _, tt := range tests {
		t.Run(tt.manager+"/"+tt.name, func(t *testing.T) {
			r := newScriptRoot(t)
			if tt.live {
				liveUbus(t, r)
			}
			if tt.running {
				writeRootFile(t, r, "/var/run/fake-running", "", 0o644)
			}
			if tt.config {
				writeRootFile(t, r, "/etc/config/wgpanel", oldCfg, 0o600)
			}
			if tt.enabled {
				if err := os.MkdirAll(r.path("/etc/rc.d"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../init.d/wgpanel", r.path("/etc/rc.d/S95wgpanel")); err != nil {
					t.Fatal(err)
				}
			}
			file := map[string]string{"post-install": "postinst", "post-upgrade": "postinst", "pre-deinstall": "prerm"}[tt.script]
			var out []byte
			var err error
			switch tt.manager {
			case "apk", "apk-preserve-env":
				args := []string{"/pkg/" + file, "0.0.0_p2-r1"}
				if tt.script == "post-upgrade" {
					args = append(args, "0.0.0_p1-r1")
				}
				env := []string{"APK_SCRIPT=" + tt.script, "APK_PACKAGE=wgpanel"}
				if tt.manager == "apk-preserve-env" {
					env = append(env, "IPKG_INSTROOT=/build/root-of-the-image")
				}
				out, err = chrootRun(r, env, args...)
			case "opkg":
				upgrade := "PKG_UPGRADE=0"
				if tt.script == "post-upgrade" {
					upgrade = "PKG_UPGRADE=1"
				}
				arg := map[string]string{"postinst": "configure", "prerm": "remove"}[file]
				out, err = chrootRun(r, []string{upgrade}, "/pkg/"+file, arg)
			case "opkg-image":
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				arg := map[string]string{"postinst": "configure", "prerm": "remove"}[file]
				cmd := exec.CommandContext(ctx, r.path("/pkg/"+file), arg)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "IPKG_INSTROOT=" + string(r), "PKG_UPGRADE=0"}
				out, err = cmd.CombinedOutput()
			}
			if err != nil {
				t.Fatalf("%s: %v (a failing script makes the package manager report the package as broken)\n%s", file, err, out)
			}
			calls, _ := os.ReadFile(r.path("/rc.log"))
			if string(calls) != tt.calls {
				t.Errorf("rc.common was called with:\n%s\nwant:\n%s\nscript output:\n%s", calls, tt.calls, out)
			}
			cfg, cfgErr := os.ReadFile(r.path("/etc/config/wgpanel"))
			if (cfgErr == nil) != tt.wantConfig {
				t.Errorf("/etc/config/wgpanel exists: %v; want %v", cfgErr == nil, tt.wantConfig)
			}
			if tt.config && string(cfg) != oldCfg {
				t.Errorf("the owner's /etc/config/wgpanel was changed to:\n%s", cfg)
			}
			if !tt.config && cfgErr == nil {
				checkDefaultConfig(t, r, cfg)
			}
			if _, err := os.Stat(r.path("/etc/uci-defaults/90-wgpanel")); (err == nil) != tt.wantUCIDefaults {
				t.Errorf("/etc/uci-defaults/90-wgpanel left: %v; want %v", err == nil, tt.wantUCIDefaults)
			}
			if _, err := os.Lstat(r.path("/etc/rc.d/S95wgpanel")); (err == nil) != tt.wantLink {
				t.Errorf("/etc/rc.d/S95wgpanel exists: %v; want %v", err == nil, tt.wantLink)
			}
			for _, leftover := range []string{"/etc/config/wgpanel-opkg", "/etc/config/wgpanel.apk-new"} {
				if _, err := os.Stat(r.path(leftover)); err == nil {
					t.Errorf("%s was left behind", leftover)
				}
			}
		})
	}
}

// checkDefaultConfig checks the file the uci-defaults script wrote: the
// defaults, readable by root only (it may later hold a password hash).
func checkDefaultConfig(t *testing.T, r scriptRoot, cfg []byte) {
	t.Helper()
	st, err := os.Stat(r.path("/etc/config/wgpanel"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("/etc/config/wgpanel has mode %v; want 0600", st.Mode().Perm())
	}
	if !strings.HasPrefix(string(cfg), "\nconfig wgpanel 'main'\n\t# '0' keeps the service from starting") ||
		!strings.Contains(string(cfg), "\toption enabled '1'\n") {
		t.Errorf("/etc/config/wgpanel is not the default config:\n%s", cfg)
	}
}

// TestUCIDefaultsKeepsSettings runs the uci-defaults script as OpenWrt's
// boot does (sourced in a subshell from /etc/uci-defaults) on a root with
// and without the owner's config.
func TestUCIDefaultsKeepsSettings(t *testing.T) {
	r := newScriptRoot(t)
	run := func() {
		t.Helper()
		out, err := chrootRun(r, nil, "/bin/sh", "-c", "cd /etc/uci-defaults && ( . ./90-wgpanel ) && echo ok")
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("uci-defaults: %v\n%s", err, out)
		}
	}
	run()
	cfg, err := os.ReadFile(r.path("/etc/config/wgpanel"))
	if err != nil {
		t.Fatal(err)
	}
	checkDefaultConfig(t, r, cfg)
	mine := "\nconfig wgpanel 'main'\n\toption enabled '0'\n"
	writeRootFile(t, r, "/etc/config/wgpanel", mine, 0o600)
	run()
	if got, _ := os.ReadFile(r.path("/etc/config/wgpanel")); string(got) != mine {
		t.Errorf("a second run changed the owner's config to:\n%s", got)
	}
}
