// Package hotplug holds the OpenWrt hotplug script that tells a running
// wgpanel its interface came up; this file only tests it.
package hotplug

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

const script = "90-wgpanel"

// The libraries the script sources on OpenWrt; the test puts stand-ins in
// their place.
const (
	functionsSh = "/lib/functions.sh"
	procdSh     = "/lib/functions/procd.sh"
)

// fakeFunctions stands in for /lib/functions.sh: config_get yields
// $FAKE_IFACE for wgpanel's interface option when set, else the default.
const fakeFunctions = `
config_load() { echo "config_load $*"; }
config_get() {
	[ "$2.$3" = main.interface ] || { echo "unexpected config_get $*"; return 1; }
	eval "$1=\${FAKE_IFACE:-\$4}"
}
`

// fakeProcd stands in for /lib/functions/procd.sh: it prints the call.
// The real procd_send_signal takes the service, the instance ('*' for all)
// and a signal name, which it turns into a number with kill -l.
const fakeProcd = `
procd_send_signal() { echo "procd_send_signal $#:$*"; }
`

// runScript runs the hotplug script as hotplug-call does (sourced in a
// subshell, ACTION and INTERFACE set) with the stand-ins, and returns what
// it printed.
func runScript(t *testing.T, env ...string) string {
	t.Helper()
	testutil.RequireCommand(t, "sh")
	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := string(data)
	for path, fake := range map[string]string{functionsSh: fakeFunctions, procdSh: fakeProcd} {
		if !strings.Contains(text, ". "+path+"\n") {
			t.Fatalf("%s does not source %s; the test's stand-ins no longer fit", script, path)
		}
		stand := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(stand, []byte(fake), 0o644); err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(text, ". "+path+"\n", ". "+stand+"\n")
	}
	copy := filepath.Join(dir, script)
	if err := os.WriteFile(copy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// The router's shell is busybox ash; dash stands in where there is no
	// busybox.
	shell := []string{"sh"}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shell = []string{bb, "sh"}
	}
	cmd := exec.Command(shell[0], append(shell[1:], "-c", `( . "$1" )`, "sh", copy)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hotplug script with %v: %v\n%s", env, err, out)
	}
	return string(out)
}

func TestSignalsOnIfupOfManagedInterface(t *testing.T) {
	const want = "procd_send_signal 3:wgpanel * USR1"
	for _, tc := range []struct {
		name   string
		env    []string
		signal bool
	}{
		{"ifup of wg0, the default", []string{"ACTION=ifup", "INTERFACE=wg0"}, true},
		{"ifup of the configured interface", []string{"ACTION=ifup", "INTERFACE=vpn", "FAKE_IFACE=vpn"}, true},
		{"ifup of wg0 when another is managed", []string{"ACTION=ifup", "INTERFACE=wg0", "FAKE_IFACE=vpn"}, false},
		{"ifup of lan", []string{"ACTION=ifup", "INTERFACE=lan"}, false},
		{"ifdown of wg0", []string{"ACTION=ifdown", "INTERFACE=wg0"}, false},
		{"ifupdate of wg0", []string{"ACTION=ifupdate", "INTERFACE=wg0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runScript(t, tc.env...)
			if got := strings.Contains(out, want); got != tc.signal {
				t.Errorf("signalled: %v; want %v. Output:\n%s", got, tc.signal, out)
			}
			if strings.Count(out, "procd_send_signal") > 1 {
				t.Errorf("more than one signal:\n%s", out)
			}
			if tc.signal && !strings.Contains(out, "config_load wgpanel") {
				t.Errorf("the script did not read wgpanel's config:\n%s", out)
			}
		})
	}
}

// TestShellcheck checks the script as POSIX sh at every severity.
func TestShellcheck(t *testing.T) {
	testutil.RequireCommand(t, "shellcheck")
	out, err := exec.Command("shellcheck", "--norc", "-s", "sh", "-S", "style", script).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck %s: %v\n%s", script, err, out)
	}
}
