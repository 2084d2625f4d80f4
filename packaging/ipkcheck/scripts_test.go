package ipkcheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// shellScripts are the scripts that run on the router under busybox ash.
var shellScripts = []string{"init.d/wgpanel", "packaging/scripts/postinst", "packaging/scripts/prerm"}

// TestShellcheck runs Debian's shellcheck as POSIX sh, at every severity,
// ignoring any personal shellcheckrc, on the init script and the
// maintainer scripts. The init script carries its own directives for what
// /etc/rc.common provides.
func TestShellcheck(t *testing.T) {
	testutil.RequireCommand(t, "shellcheck")
	root := repoRoot(t)
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
	root := repoRoot(t)
	for _, rel := range shellScripts {
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
// provide to an init script: every procd call is printed, and
// config_get_bool yields $FAKE_ENABLED when set, else the default.
const fakeRCCommon = `
config_load() { echo "config_load $*"; }
config_get_bool() {
	if [ -n "${FAKE_ENABLED+set}" ]; then eval "$1=\$FAKE_ENABLED"; else eval "$1=\$4"; fi
	echo "config_get_bool $2 $3 $4"
}
procd_open_instance() { echo "procd_open_instance"; }
procd_set_param() { echo "procd_set_param $*"; }
procd_close_instance() { echo "procd_close_instance"; }
procd_add_reload_trigger() { echo "procd_add_reload_trigger $*"; }
procd_add_interface_trigger() { echo "procd_add_interface_trigger $*"; }
`

// TestInitScript sources init.d/wgpanel with stand-ins for rc.common's
// functions and checks what start_service and service_triggers ask procd
// for, with the service enabled and with option enabled '0'.
func TestInitScript(t *testing.T) {
	testutil.RequireCommand(t, "sh")
	script := filepath.Join(repoRoot(t), "init.d", "wgpanel")
	run := func(t *testing.T, env []string, body string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", fakeRCCommon+". \"$1\"\n"+body, "sh", script)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sh: %v\n%s", err, out)
		}
		return string(out)
	}
	startInstance := `config_load wgpanel
config_get_bool main enabled 1
procd_open_instance
procd_set_param command /usr/bin/wgpanel serve
procd_set_param respawn 3600 5 5
procd_set_param stdout 1
procd_set_param stderr 1
procd_set_param file /etc/config/wgpanel
procd_close_instance
`
	tests := []struct {
		name string
		env  []string
		body string
		want string
	}{
		{"rc.common settings", nil, `echo "START=$START STOP=$STOP USE_PROCD=$USE_PROCD"`,
			"START=95 STOP=10 USE_PROCD=1\n"},
		{"enabled by default", nil, "start_service", startInstance},
		{"enabled '1'", []string{"FAKE_ENABLED=1"}, "start_service", startInstance},
		{"enabled '0'", []string{"FAKE_ENABLED=0"}, "start_service 2>&1",
			"config_load wgpanel\nconfig_get_bool main enabled 1\n" +
				"wgpanel is disabled in /etc/config/wgpanel (option enabled '0')\n"},
		{"triggers", nil, "service_triggers",
			"procd_add_reload_trigger wgpanel\n" +
				"procd_add_interface_trigger interface.*.up lan /etc/init.d/wgpanel restart\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, tt.env, tt.body); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// fakeInit stands in for /etc/init.d/wgpanel while the maintainer scripts
// run: it logs each call, `enabled` answers $FAKE_ENABLED_STATUS, and a
// command named in $FAKE_FAIL fails.
const fakeInit = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
[ "$1" = "$FAKE_FAIL" ] && exit 1
[ "$1" = enabled ] && exit "${FAKE_ENABLED_STATUS:-0}"
exit 0
`

// TestMaintainerScripts runs postinst and prerm as opkg does (directly,
// with IPKG_INSTROOT and PKG_UPGRADE in the environment) in a private mount
// namespace where /etc/init.d holds only a fake wgpanel init script, and
// checks what they ask of the service.
func TestMaintainerScripts(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "unshare", "mount", "sh")
	if st, err := os.Stat("/etc/init.d"); err != nil || !st.IsDir() {
		testutil.SkipOrFail(t, "needs an /etc/init.d directory to mount over: %v", err)
	}
	root := repoRoot(t)
	dir := t.TempDir()
	fake := filepath.Join(dir, "wgpanel.init")
	if err := os.WriteFile(fake, []byte(fakeInit), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		script string
		name   string
		env    []string
		want   string // the init script calls, one a line
	}{
		{"postinst", "install on the router", []string{"PKG_UPGRADE=0"}, "enable\nstart\n"},
		{"postinst", "install into an image", []string{"IPKG_INSTROOT=/tmp/image", "PKG_UPGRADE=0"}, ""},
		{"postinst", "upgrade while enabled", []string{"PKG_UPGRADE=1"}, "enabled\nrestart\n"},
		{"postinst", "upgrade while disabled", []string{"PKG_UPGRADE=1", "FAKE_ENABLED_STATUS=1"}, "enabled\n"},
		{"postinst", "start fails", []string{"PKG_UPGRADE=0", "FAKE_FAIL=start"}, "enable\nstart\n"},
		{"prerm", "remove on the router", []string{"PKG_UPGRADE=0"}, "stop\ndisable\n"},
		{"prerm", "remove from an image", []string{"IPKG_INSTROOT=/tmp/image", "PKG_UPGRADE=0"}, ""},
		{"prerm", "upgrade", []string{"PKG_UPGRADE=1"}, ""},
		{"prerm", "stop fails", []string{"PKG_UPGRADE=0", "FAKE_FAIL=stop"}, "stop\ndisable\n"},
	}
	for i, tt := range tests {
		t.Run(tt.script+"/"+tt.name, func(t *testing.T) {
			log := filepath.Join(dir, "log"+string(rune('a'+i)))
			if err := os.WriteFile(log, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			arg := "configure"
			if tt.script == "prerm" {
				arg = "remove"
			}
			// The tmpfs exists only in the new mount namespace, which ends
			// with the command; the host's /etc/init.d is never touched.
			inner := `mount -t tmpfs -o size=1m wgpanel-test /etc/init.d && ` +
				`cp "$FAKE_INIT" /etc/init.d/wgpanel && "$SCRIPT" "$ARG"`
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c", inner)
			cmd.Env = append([]string{
				"PATH=" + os.Getenv("PATH"),
				"FAKE_LOG=" + log,
				"FAKE_INIT=" + fake,
				"SCRIPT=" + filepath.Join(root, "packaging", "scripts", tt.script),
				"ARG=" + arg,
			}, tt.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v (a failing maintainer script makes opkg report the package as failed)\n%s", tt.script, arg, err, out)
			}
			got, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("/etc/init.d/wgpanel was called with:\n%q\nwant:\n%q", strings.TrimSpace(string(got)), strings.TrimSpace(tt.want))
			}
		})
	}
}
