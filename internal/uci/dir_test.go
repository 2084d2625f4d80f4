package uci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a helper process for TestUpdateProcesses: with
// helperEnv set it runs Update a number of times and exits.
const (
	helperEnv   = "WGPANEL_UCI_TEST_HELPER"
	helperDir   = "WGPANEL_UCI_TEST_DIR"
	helperID    = "WGPANEL_UCI_TEST_ID"
	helperCount = "WGPANEL_UCI_TEST_COUNT"
)

func TestMain(m *testing.M) {
	helper := map[string]func() error{"update": runUpdateHelper, "libuci": runLibuciHelper}[os.Getenv(helperEnv)]
	if helper != nil {
		if err := helper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runUpdateHelper adds WGPANEL_UCI_TEST_COUNT sections from two goroutines,
// one Update each, so that the lock is contended inside the process too.
func runUpdateHelper() error {
	dir := Dir(os.Getenv(helperDir))
	id := os.Getenv(helperID)
	n, err := strconv.Atoi(os.Getenv(helperCount))
	if err != nil {
		return err
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := g; i < n; i += 2 {
				errs <- addPeer(dir, fmt.Sprintf("p%s_%d", id, i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// addPeer adds an anonymous peer section described as name, the way
// wgpanel adds peers, failing if the description exists already.
func addPeer(dir Dir, name string) error {
	return dir.Update("network", func(f *File) error {
		for _, s := range f.SectionsByType("wireguard_wg0") {
			if d, _ := s.Get("description"); d == name {
				return fmt.Errorf("peer %s exists already", name)
			}
		}
		s := f.AddSection("wireguard_wg0", "")
		s.Set("description", name)
		s.SetList("allowed_ips", []string{"10.66.66.2/32"})
		return nil
	})
}

// startHelper starts the test binary as a helper process of kind (see
// TestMain) on dir for count commits, with more environment settings.
func startHelper(ctx context.Context, t *testing.T, kind string, dir Dir, count int, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+kind, helperDir+"="+string(dir), helperCount+"="+strconv.Itoa(count))
	cmd.Env = append(cmd.Env, env...)
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the %s helper: %v", kind, err)
	}
	return cmd, out
}

// newDir returns a fresh directory holding the given files.
func newDir(t *testing.T, files map[string][]byte) Dir {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Dir(dir)
}

// checkNoTemp fails if a temporary commit file is left in dir.
func checkNoTemp(t *testing.T, dir Dir) {
	t.Helper()
	entries, err := os.ReadDir(string(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".uci-") || strings.Contains(e.Name(), ".wgpanel-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func readDirFile(t *testing.T, dir Dir, pkg string) []byte {
	t.Helper()
	data, err := os.ReadFile(dir.Path(pkg))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDirPath(t *testing.T) {
	if got, want := Dir("/etc/config").Path("network"), "/etc/config/network"; got != want {
		t.Errorf("Path(network) = %q; want %q", got, want)
	}
}

func TestDirLoad(t *testing.T) {
	dir := newDir(t, map[string][]byte{
		"network": readFixture(t, "network.wireguard-example"),
		"broken":  []byte("config a\n\toption x 'y\n"),
	})
	f, err := dir.Load("network")
	if err != nil {
		t.Fatalf("Load(network): %v", err)
	}
	if f.Name != dir.Path("network") || f.Section("wg0") == nil {
		t.Errorf("Load(network) = file %q with wg0 %v; want %q with wg0", f.Name, f.Section("wg0"), dir.Path("network"))
	}

	f, err = dir.Load("wgpanel")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v; want fs.ErrNotExist", err)
	}
	if f == nil || len(f.Sections) != 0 || f.Name != dir.Path("wgpanel") {
		t.Errorf("Load(missing) file = %+v; want an empty file named %s", f, dir.Path("wgpanel"))
	}

	_, err = dir.Load("broken")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != dir.Path("broken") || pe.Line != 2 {
		t.Errorf("Load(broken) error = %v; want a *ParseError for %s line 2", err, dir.Path("broken"))
	}

	for _, pkg := range []string{"", "../etc/passwd", "a/b", ".network", "net work"} {
		if _, err := dir.Load(pkg); err == nil || !strings.Contains(err.Error(), "invalid package name") {
			t.Errorf("Load(%q) error = %v; want invalid package name", pkg, err)
		}
		if err := dir.Update(pkg, func(*File) error { return nil }); err == nil || !strings.Contains(err.Error(), "invalid package name") {
			t.Errorf("Update(%q) error = %v; want invalid package name", pkg, err)
		}
	}
}

func TestUpdateWritesAndKeepsMode(t *testing.T) {
	data := readFixture(t, "network.wireguard-example")
	dir := newDir(t, map[string][]byte{"network": data})
	path := dir.Path("network")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	err := dir.Update("network", func(f *File) error {
		f.Section("wg0").Set("listen_port", "51821")
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := strings.Replace(string(data), "option listen_port '51820'", "option listen_port '51821'", 1)
	if got := string(readDirFile(t, dir, "network")); got != want {
		t.Errorf("file after Update:\n%s\nwant:\n%s", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o640 {
		t.Errorf("mode after Update = %o; want 640", got)
	}
	checkNoTemp(t, dir)
}

func TestUpdateCreatesMissingFile(t *testing.T) {
	dir := newDir(t, nil)
	err := dir.Update("wgpanel", func(f *File) error {
		if len(f.Sections) != 0 || f.Name != dir.Path("wgpanel") {
			return fmt.Errorf("fn got %s named %s; want an empty file", dump(f), f.Name)
		}
		f.AddSection("wgpanel", "main").Set("interface", "wg0")
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, want := string(readDirFile(t, dir, "wgpanel")), "\nconfig wgpanel 'main'\n\toption interface 'wg0'\n\n"; got != want {
		t.Errorf("created file = %q; want %q", got, want)
	}
	st, err := os.Stat(dir.Path("wgpanel"))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != newFileMode {
		t.Errorf("mode of a created file = %o; want %o (libuci's UCI_FILEMODE)", got, newFileMode)
	}
	checkNoTemp(t, dir)
}

func TestUpdateMissingFileNothingWritten(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fn      func(f *File) error
		wantErr error
	}{
		{"no change", func(f *File) error { return nil }, nil},
		{"fn fails", func(f *File) error { f.AddSection("a", ""); return boom }, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t, nil)
			if err := dir.Update("wgpanel", tt.fn); err != tt.wantErr {
				t.Fatalf("Update error = %v; want %v", err, tt.wantErr)
			}
			if _, err := os.Stat(dir.Path("wgpanel")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("stat after Update = %v; want the file still missing", err)
			}
			checkNoTemp(t, dir)
		})
	}
}

// TestUpdateUnchangedKeepsFile checks that a hand-written file keeps its
// comments, layout and inode when fn changes nothing in substance.
func TestUpdateUnchangedKeepsFile(t *testing.T) {
	data := readFixture(t, "firewall.default")
	dir := newDir(t, map[string][]byte{"firewall": data})
	before, err := os.Stat(dir.Path("firewall"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = dir.Update("firewall", func(f *File) error {
		calls++
		s := f.SectionsByType("defaults")[0]
		s.Set("input", "ACCEPT")
		s.Set("input", "REJECT") // back to what it was
		return nil
	})
	if err != nil || calls != 1 {
		t.Fatalf("Update = %v after %d calls of fn; want nil after 1", err, calls)
	}
	if got := readDirFile(t, dir, "firewall"); !bytes.Equal(got, data) {
		t.Errorf("file changed although fn changed nothing:\n%s", got)
	}
	after, err := os.Stat(dir.Path("firewall"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("file was replaced although fn changed nothing")
	}
	checkNoTemp(t, dir)
}

func TestUpdateMalformedFileUntouched(t *testing.T) {
	bad := []byte("config interface 'lan'\n\toption proto static\n\tfoo bar\n")
	dir := newDir(t, map[string][]byte{"network": bad})
	called := false
	err := dir.Update("network", func(f *File) error {
		called = true
		return nil
	})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Update error = %v; want a *ParseError", err)
	}
	if pe.File != dir.Path("network") || pe.Line != 3 {
		t.Errorf("ParseError names %s line %d; want %s line 3", pe.File, pe.Line, dir.Path("network"))
	}
	if called {
		t.Error("fn was called for a malformed file")
	}
	if got := readDirFile(t, dir, "network"); !bytes.Equal(got, bad) {
		t.Errorf("malformed file was changed:\n%s", got)
	}
	checkNoTemp(t, dir)
}

func TestUpdateFailureWritesNothing(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fn      func(f *File) error
		wantErr string
	}{
		{"fn error", func(f *File) error {
			f.Section("lan").Set("proto", "dhcp")
			return boom
		}, "boom"},
		{"invalid option name", func(f *File) error {
			f.Section("lan").Set("ip-addr", "192.0.2.1")
			return nil
		}, `invalid option name "ip-addr"`},
		{"duplicate section name", func(f *File) error {
			f.Sections = append(f.Sections, &Section{Type: "interface", Name: "lan"})
			return nil
		}, "two sections have this name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readFixture(t, "network.default")
			dir := newDir(t, map[string][]byte{"network": data})
			err := dir.Update("network", tt.fn)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Update error = %v; want one containing %q", err, tt.wantErr)
			}
			if tt.wantErr == "boom" && err != boom {
				t.Errorf("Update error = %#v; want fn's error as is", err)
			}
			if got := readDirFile(t, dir, "network"); !bytes.Equal(got, data) {
				t.Errorf("file changed by a failed Update:\n%s", got)
			}
			checkNoTemp(t, dir)
		})
	}
}

// TestUpdateRetriesReplacedFile replaces the file while Update waits for
// its lock, as a concurrent commit does, and expects Update to notice that
// it locked a stale inode and to work on the new file.
func TestUpdateRetriesReplacedFile(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": []byte("config a 'old'\n")})
	path := dir.Path("network")

	// Hold the lock on the current file, as another writer would.
	holder, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := flock(holder, syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	opened := make(chan int, 10)
	var locked []int
	testHookOpened = func(attempt int) { opened <- attempt }
	testHookLocked = func(attempt int) { locked = append(locked, attempt) }
	defer func() { testHookOpened, testHookLocked = nil, nil }()

	var seen string
	done := make(chan error, 1)
	go func() {
		done <- dir.Update("network", func(f *File) error {
			seen = dump(f)
			f.AddSection("b", "added")
			return nil
		})
	}()
	select {
	case a := <-opened:
		if a != 0 {
			t.Fatalf("first attempt = %d; want 0", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Update did not open the file")
	}
	// Replace the file the way a commit does, then release the old lock.
	tmp := filepath.Join(string(dir), ".network.uci-test01")
	if err := os.WriteFile(tmp, []byte("\nconfig a 'new'\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	holder.Close()

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Update did not finish after the lock was released")
	}
	if len(locked) != 1 || locked[0] != 1 {
		t.Errorf("Update locked the current file on attempts %v; want [1] (a retry after the stale lock)", locked)
	}
	if seen != "a[new]" {
		t.Errorf("fn saw %q; want the replaced file a[new]", seen)
	}
	if got, want := string(readDirFile(t, dir, "network")), "\nconfig a 'new'\n\nconfig b 'added'\n\n"; got != want {
		t.Errorf("file = %q; want %q", got, want)
	}
}

// TestUpdateFollowsSymlink checks that a symbolic link to the package file
// stays a link and its target is replaced, as libuci's realpath does.
func TestUpdateFollowsSymlink(t *testing.T) {
	real := newDir(t, map[string][]byte{"network": readFixture(t, "network.default")})
	dir := newDir(t, nil)
	if err := os.Symlink(real.Path("network"), dir.Path("network")); err != nil {
		t.Fatal(err)
	}
	err := dir.Update("network", func(f *File) error {
		f.Section("lan").Set("ipaddr", "192.168.2.1")
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	st, err := os.Lstat(dir.Path("network"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&fs.ModeSymlink == 0 {
		t.Error("the symbolic link was replaced by a file")
	}
	if got := readDirFile(t, real, "network"); !bytes.Contains(got, []byte("option ipaddr '192.168.2.1'")) {
		t.Errorf("link target not updated:\n%s", got)
	}
	checkNoTemp(t, dir)
	checkNoTemp(t, real)
}

// checkPeers expects exactly the peers named in want in dir's network file,
// each once, besides the fixture's own two.
func checkPeers(t *testing.T, dir Dir, want []string) {
	t.Helper()
	f, err := dir.Load("network")
	if err != nil {
		t.Fatalf("Load after concurrent updates: %v", err)
	}
	count := make(map[string]int)
	for _, s := range f.SectionsByType("wireguard_wg0") {
		d, _ := s.Get("description")
		count[d]++
	}
	for _, name := range want {
		if count[name] != 1 {
			t.Errorf("peer %s present %d times; want 1", name, count[name])
		}
	}
	if got := len(f.SectionsByType("wireguard_wg0")); got != len(want)+2 {
		t.Errorf("got %d peer sections; want %d", got, len(want)+2)
	}
	checkNoTemp(t, dir)
}

func TestUpdateConcurrentGoroutines(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var names []string
	for i := range n {
		name := fmt.Sprintf("g%d", i)
		names = append(names, name)
		wg.Go(func() { errs <- addPeer(dir, name) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	checkPeers(t, dir, names)
}

// TestUpdateConcurrentProcesses runs several copies of the test binary,
// each adding peers from two goroutines, against one file while goroutines
// of this process add peers too.
func TestUpdateConcurrentProcesses(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	const procs, perProc, local = 6, 10, 10
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var names []string
	var cmds []*exec.Cmd
	var outputs []*bytes.Buffer
	for p := range procs {
		cmd, out := startHelper(ctx, t, "update", dir, perProc, helperID+"="+strconv.Itoa(p))
		cmds = append(cmds, cmd)
		outputs = append(outputs, out)
		for i := range perProc {
			names = append(names, fmt.Sprintf("p%d_%d", p, i))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, local)
	for i := range local {
		name := fmt.Sprintf("local%d", i)
		names = append(names, name)
		wg.Go(func() { errs <- addPeer(dir, name) })
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i, err, outputs[i])
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	checkPeers(t, dir, names)
}

// TestUpdateAfterOtherWriter checks that a commit after this process's own
// starts from the file as it is, not from what this process last wrote:
// another program's change in between (the same size, and within the same
// second) is kept, and the File fn gets is named by the path.
func TestUpdateAfterOtherWriter(t *testing.T) {
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	if err := addPeer(dir, "first"); err != nil {
		t.Fatal(err)
	}
	ours := readDirFile(t, dir, "network")
	theirs := bytes.Replace(ours, []byte("'first'"), []byte("'other'"), 1)
	tmp := dir.Path(".network.uci-test01")
	if err := os.WriteFile(tmp, theirs, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir.Path("network")); err != nil {
		t.Fatal(err)
	}
	err := dir.Update("network", func(f *File) error {
		if f.Name != dir.Path("network") {
			t.Errorf("File.Name = %q; want %q", f.Name, dir.Path("network"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := addPeer(dir, "second"); err != nil {
		t.Fatal(err)
	}
	got := string(readDirFile(t, dir, "network"))
	if !strings.Contains(got, "'other'") || strings.Contains(got, "'first'") || !strings.Contains(got, "'second'") {
		t.Errorf("after another program renamed 'first' to 'other' and this one added 'second':\n%s", got)
	}
	// And from this process's own file again: the same result as parsing.
	if err := addPeer(dir, "third"); err != nil {
		t.Fatal(err)
	}
	f, err := Parse("network", readDirFile(t, dir, "network"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.SectionsByType("wireguard_wg0")); n != 5 {
		t.Errorf("%d peer sections after adding three to two; want 5", n)
	}
}
