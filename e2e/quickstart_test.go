package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// quickStartTimeout bounds the build and start of the quick start.
const quickStartTimeout = 4 * time.Minute

// quickStartCommands returns the commands of the README's quick start: the
// first indented code block under "## Quick start". Reading them from the
// README keeps the test and the README from drifting apart.
func quickStartCommands(t testing.TB) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	in, started := false, false
	sc := bufio.NewScanner(strings.NewReader(string(readme)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			if in {
				return cmds
			}
			in = line == "## Quick start"
		case !in:
		case strings.HasPrefix(line, "    ") && strings.TrimSpace(line) != "":
			started = true
			cmds = append(cmds, strings.TrimSpace(line))
		case started:
			return cmds
		}
	}
	if len(cmds) == 0 {
		t.Fatal("README.md has no code block under ## Quick start")
	}
	return cmds
}

// TestQuickStartReadme pastes the README's quick start into a clean shell
// (bash -c, an empty HOME, a minimal PATH with Go on it), as root in a
// network namespace of its own, in a copy of the module's sources: it must
// build, start, log "web UI listening" and print the password box. The Go
// build and module caches of this machine are passed on, so nothing is
// downloaded.
func TestQuickStartReadme(t *testing.T) {
	requireEnv(t)
	testutil.RequireCommand(t, "bash", "unshare")
	cmds := quickStartCommands(t)
	if want := []string{"go build -o wgpanel ./cmd/wgpanel", "./wgpanel serve --dev"}; strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("the quick start's commands are %q; want %q", cmds, want)
	}
	for _, c := range cmds {
		if strings.Contains(c, "sudo go") || strings.HasPrefix(c, "go run") {
			t.Errorf("the quick start runs %q; build once and run the binary as root instead", c)
		}
	}

	src := filepath.Join(t.TempDir(), "wgpanel")
	copySources(t, "..", src)
	home := t.TempDir()
	ns := fmt.Sprintf("wgpqs-%d%02d", os.Getpid()%10000000, seq.Add(1)%100)
	mustRun(t, quickTimeout, "ip", "netns", "add", ns)
	t.Cleanup(func() { deleteNS(t, ns) })
	mustRun(t, quickTimeout, "ip", "-n", ns, "link", "set", "lo", "up")

	goDir := filepath.Dir(testutil.GoTool())
	cache := strings.TrimSpace(mustRun(t, quickTimeout, testutil.GoTool(), "env", "GOCACHE"))
	modcache := strings.TrimSpace(mustRun(t, quickTimeout, testutil.GoTool(), "env", "GOMODCACHE"))
	// The namespace's own /run/wireguard keeps the userspace wg0's socket
	// apart from any other wg0 on this machine.
	wrapper := `mkdir -p /run/wireguard && mount -t tmpfs tmpfs /run/wireguard && cd "$0" && exec env -i "$@"`
	argv := []string{"ip", "netns", "exec", ns, "sh", "-c", wrapper, src,
		"HOME=" + home, "PATH=" + goDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"GOCACHE=" + cache, "GOMODCACHE=" + modcache, "GOPROXY=off", "GOTOOLCHAIN=local",
		"bash", "-c", strings.Join(cmds, "\n")}
	ctx, cancel := context.WithTimeout(context.Background(), quickStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()

	box := regexp.MustCompile(`(?m)^┌─+┐\n│ wgpanel is running\. Open http://127\.0\.0\.1:8080 +│\n│ Web UI password: \S+ +│\n│ .*wgpanel passwd +│\n└─+┘$`)
	deadline := time.Now().Add(quickStartTimeout)
	for !(strings.Contains(out.String(), "web UI listening") && box.MatchString(out.String())) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the quick start ended (%v) before the web UI listened; its output:\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"web UI listening\" and password box within %v; output:\n%s", quickStartTimeout, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "state", "wgpanel", "config", "network")); err != nil {
		t.Errorf("the state directory is not in the empty HOME: %v", err)
	}
}

// copySources copies what `go build ./cmd/wgpanel` needs (go.mod, go.sum
// and the Go packages under cmd, internal and web) from the repository at
// root to dst, so that the build writes nothing into the repository.
func copySources(t testing.TB, root, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, f), string(b), 0o644)
	}
	for _, dir := range []string{"cmd", "internal", "web"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
