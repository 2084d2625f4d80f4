package uci

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setLockTimeout shortens LockTimeout for one test.
func setLockTimeout(t *testing.T, d time.Duration) {
	old := LockTimeout
	LockTimeout = d
	t.Cleanup(func() { LockTimeout = old })
}

// TestUpdateLockTimeout holds the package lock as another program would and
// checks that Update gives up after LockTimeout, names the holder's pid and
// writes nothing.
func TestUpdateLockTimeout(t *testing.T) {
	setLockTimeout(t, 300*time.Millisecond)
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	before := readDirFile(t, dir, "network")
	holder, err := os.Open(dir.Path("network"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = addPeer(dir, "late")
	took := time.Since(start)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Update with the lock held elsewhere = %v; want a *LockedError", err)
	}
	if want := fmt.Sprintf("locked by another program (pid %d)", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q; want it to contain %q", err, want)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Update gave up after %v; want about 300ms", took)
	}
	if got := readDirFile(t, dir, "network"); string(got) != string(before) {
		t.Error("the file changed")
	}
	checkNoTemp(t, dir)

	// A context deadline sooner than LockTimeout ends the wait sooner.
	setLockTimeout(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = dir.UpdateContext(ctx, "network", func(f *File) error { f.AddSection("x", ""); return nil })
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("UpdateContext with a 100ms deadline = %v after %v; want an error soon", err, time.Since(start))
	}
}

// TestUpdateContextDoneBeforeRename checks that a context ending while the
// change is being made writes nothing: the caller may already have told its
// client that the request failed.
func TestUpdateContextDoneBeforeRename(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	before := readDirFile(t, dir, "network")
	ctx, cancel := context.WithCancel(context.Background())
	err := dir.UpdateContext(ctx, "network", func(f *File) error {
		f.AddSection("wireguard_wg0", "").Set("description", "too late")
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateContext = %v; want context.Canceled", err)
	}
	if got := readDirFile(t, dir, "network"); string(got) != string(before) {
		t.Error("the file changed after the context ended")
	}
	checkNoTemp(t, dir)
}

// TestNotRegularFile puts a FIFO where the package file belongs: Load and
// Update must refuse it at once instead of blocking on it.
func TestNotRegularFile(t *testing.T) {
	dir := newDir(t, nil)
	if err := syscall.Mkfifo(dir.Path("network"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan [2]error, 1)
	go func() {
		_, lerr := dir.Load("network")
		done <- [2]error{lerr, addPeer(dir, "x")}
	}()
	select {
	case errs := <-done:
		for i, err := range errs {
			var nr *NotRegularError
			if !errors.As(err, &nr) || !strings.Contains(err.Error(), "is not a regular file (it is a named pipe)") {
				t.Errorf("call %d on a FIFO = %v; want a *NotRegularError", i, err)
			}
		}
	case <-time.After(5 * time.Second):
		// Unblock the goroutine so that the test binary can exit.
		if f, err := os.OpenFile(dir.Path("network"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatal("Load or Update blocked on a FIFO")
	}
}

// TestStaleTempFiles leaves temporary files of dead commits behind, as kill
// -9 does, and checks that the next commit removes them but waits for a
// libuci commit that is between unlocking and renaming.
func TestStaleTempFiles(t *testing.T) {
	// A file's status change time cannot be set back, so the test makes
	// libuci's files go stale sooner instead.
	staleLibuciTemp = 100 * time.Millisecond
	defer func() { staleLibuciTemp = 3 * time.Second }()
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	write := func(name string, age time.Duration) string {
		path := filepath.Join(string(dir), name)
		if err := os.WriteFile(path, []byte("private copy\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ownDead := write(".network.wgpanel-AAAAAA", 0)
	libuciDead := write(".network.uci-BBBBBB", time.Minute)
	otherPkg := write(".firewall.uci-CCCCCC", time.Minute)
	time.Sleep(150 * time.Millisecond)
	if err := addPeer(dir, "after a crash"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ownDead, libuciDead} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of a dead commit is still there", filepath.Base(p))
		}
	}
	if _, err := os.Stat(otherPkg); err != nil {
		t.Errorf("a temporary file of another package was removed: %v", err)
	}
	os.Remove(otherPkg)

	// A fresh, unlocked libuci temporary file is a commit in its gap:
	// Update waits for its rename.
	staleLibuciTemp = 3 * time.Second
	gap := filepath.Join(string(dir), ".network.uci-DDDDDD")
	data := append(readDirFile(t, dir, "network"), "\nconfig uci_marker\n\toption id 'gap'\n"...)
	if err := os.WriteFile(gap, data, 0o600); err != nil {
		t.Fatal(err)
	}
	renamed := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		renamed <- os.Rename(gap, dir.Path("network"))
	}()
	if err := addPeer(dir, "after the gap"); err != nil {
		t.Fatal(err)
	}
	if err := <-renamed; err != nil {
		t.Fatalf("the libuci commit's rename failed: %v", err)
	}
	f, err := dir.Load("network")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, s := range f.Sections {
		if v, ok := s.Get("id"); ok {
			found = append(found, v)
		}
		if v, ok := s.Get("description"); ok && v == "after the gap" {
			found = append(found, v)
		}
	}
	if strings.Join(found, ",") != "gap,after the gap" {
		t.Errorf("after a commit racing libuci's gap the file has %q; want both changes", found)
	}
	checkNoTemp(t, dir)
}

// TestReplacedCopiesScanOncePerVersion checks that a clean scan is
// remembered only for the version of the file it saw: once the file is
// replaced, a process that still has the old copy open is found again.
func TestReplacedCopiesScanOncePerVersion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "network")
	if err := os.WriteFile(path, []byte("config interface 'lan'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := newReplacedCopies(path)
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	if rc.live(stat()) {
		t.Fatal("live with no other process; want not live")
	}

	// Another process opens the current file, as libuci does before it
	// locks; then the file is replaced under it.
	openElsewhere(t, path)
	if rc.live(stat()) {
		t.Fatal("live while the other process has the current file open; want not live (nothing is replaced)")
	}
	tmp := filepath.Join(dir, ".network.new")
	if err := os.WriteFile(tmp, []byte("config interface 'wan'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !rc.live(stat()) {
		t.Error("not live after the file was replaced under a process that has it open; want live")
	}
}

// TestOnlyOpen checks the lease test for other open files of an inode,
// within this process and in another one.
func TestOnlyOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "network")
	if err := os.WriteFile(path, []byte("config interface 'lan'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !onlyOpen(f) {
		t.Fatal("onlyOpen = false with one open file; want true")
	}
	g, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if onlyOpen(f) {
		t.Error("onlyOpen = true while this process has a second file open; want false")
	}
	g.Close()
	if !onlyOpen(f) {
		t.Error("onlyOpen = false after the second file was closed; want true")
	}
	stop := openElsewhere(t, path)
	if onlyOpen(f) {
		t.Error("onlyOpen = true while another process has the file open; want false")
	}
	stop()
	if !onlyOpen(f) {
		t.Error("onlyOpen = false after the other process ended; want true")
	}
}

// openElsewhere starts a process that holds path open for reading, as a
// libuci reader or a commit before its lock would; stop ends it.
func openElsewhere(t *testing.T, path string) (stop func()) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `exec 3<"$1"; echo opened; exec sleep 10`, "sh", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	t.Cleanup(stop)
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return stop
}

// TestCommitSkipsScanOnlyWhenAlone checks that a commit marks its new file
// free of replaced copies without scanning /proc only when nobody else had
// the replaced file open: with a process holding it, the replaced copy gets
// the new content (libuci would read it next) and the new version is not
// marked clean.
func TestCommitSkipsScanOnlyWhenAlone(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	path := dir.Path("network")
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	name := abs + " (deleted)"
	isClean := func() bool {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := fileID(fi)
		v, ok := cleanFiles.Load(name)
		return ok && v == cleanKey(id, fi)
	}
	if err := addPeer(dir, "first"); err != nil {
		t.Fatal(err)
	}
	if !isClean() {
		t.Fatal("after a commit nobody else watched, the new file is not marked clean")
	}
	if err := addPeer(dir, "second"); err != nil {
		t.Fatal(err)
	}
	if !isClean() {
		t.Fatal("after a second such commit, the new file is not marked clean")
	}

	// Another process has the current file open; the commit replaces it.
	cmd := exec.Command("sh", "-c", `exec 3<"$1"; echo opened; read x; cat <&3`, "sh", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rd := bufio.NewReader(out)
	if _, err := rd.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := addPeer(dir, "third"); err != nil {
		t.Fatal(err)
	}
	if isClean() {
		t.Error("the new file is marked clean while another process had the replaced one open")
	}
	in.Write([]byte("go\n"))
	in.Close()
	old, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if now := readDirFile(t, dir, "network"); string(old) != string(now) {
		t.Errorf("the replaced copy another process had open holds:\n%s\nwant the new content:\n%s", old, now)
	}
}

// TestOpenWhileLeased checks that a read or commit that opens the file
// while another commit holds its lease for a moment (see onlyOpen) waits
// for it instead of failing: with O_NONBLOCK the open reports EWOULDBLOCK.
func TestOpenWhileLeased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "network")
	if err := os.WriteFile(path, []byte("config interface 'lan'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	holder, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := unix.FcntlInt(holder.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		t.Fatalf("take a write lease: %v", err)
	}
	if _, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("open while leased: %v; want EWOULDBLOCK (the premise of this test)", err)
	}
	released := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, err := unix.FcntlInt(holder.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
		released <- err
	}()
	f, err := openRegular(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("openRegular while leased: %v; want it to wait for the lease", err)
	}
	f.Close()
	if err := <-released; err != nil {
		t.Fatal(err)
	}
}
