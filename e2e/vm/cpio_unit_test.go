package vm

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// TestArchiveListsWithCpio checks the newc writer against busybox's cpio
// reader (busybox-static, which the VM tests need too): the names, in order, and a file's
// contents. (The VM tests check it against the kernel.)
func TestArchiveListsWithCpio(t *testing.T) {
	testutil.RequireCommand(t, "busybox")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	a := newArchive()
	a.file("bin/hello", 0o755, []byte("hello, odd length"))
	a.symlink("bin/sh", "busybox")
	a.charDev("dev/console", 5, 1)
	a.file("init", 0o755, []byte("#!/bin/sh\n"))
	var buf bytes.Buffer
	if err := a.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", buf.Len())
	}
	cmd := exec.Command(bb, "cpio", "-t")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("busybox cpio -t: %v", err)
	}
	got := strings.Fields(string(out))
	want := []string{"bin", "bin/hello", "bin/sh", "dev", "dev/console", "init"}
	if !slices.Equal(got, want) {
		t.Errorf("busybox cpio -t: got %q; want %q", got, want)
	}
	cmd = exec.Command(bb, "cpio", "-i", "--to-stdout", "bin/hello")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := cmd.Output(); err != nil || string(out) != "hello, odd length" {
		t.Errorf("busybox cpio -i --to-stdout bin/hello: %q, %v; want the file's contents", out, err)
	}
}
