package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A running `serve --dev` records its state directory, so that commands in
// a second terminal (of the same user, or root) find it without repeating
// --state-dir. The record names serve's pid; a record whose process is gone
// is ignored. It lives in the user's runtime directory ($XDG_RUNTIME_DIR),
// else in /run/wgpanel for root, and serve removes it when it exits.

// serveRecord returns the path of the record for this user.
func serveRecord() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "wgpanel-serve-dev")
	}
	if os.Geteuid() == 0 {
		return "/run/wgpanel/serve-dev"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("wgpanel-%d", os.Geteuid()), "serve-dev")
}

// recordServe writes the record of this serve and returns the function that
// removes it again, unless another serve has replaced it meanwhile.
func (g *globals) recordServe() (func(), error) {
	dir, err := g.resolvedStateDir()
	if err != nil {
		return nil, err
	}
	path := serveRecord()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	pid := os.Getpid()
	tmp := fmt.Sprintf("%s.%d", path, pid)
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d\n%s\n", pid, dir), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return func() {
		if p, _, err := readServeRecord(path); err == nil && p == pid {
			os.Remove(path)
		}
	}, nil
}

// runningStateDir returns the state directory of a running serve --dev of
// this user, or "" when none runs.
func runningStateDir() string {
	pid, dir, err := readServeRecord(serveRecord())
	if err != nil {
		return ""
	}
	// Signal 0 checks that the process exists; EPERM means it does,
	// under another user.
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return ""
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

func readServeRecord(path string) (pid int, dir string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
	if len(lines) != 2 {
		return 0, "", errors.New("malformed record")
	}
	pid, err = strconv.Atoi(lines[0])
	if err != nil || pid <= 0 || !filepath.IsAbs(lines[1]) {
		return 0, "", errors.New("malformed record")
	}
	return pid, lines[1], nil
}
