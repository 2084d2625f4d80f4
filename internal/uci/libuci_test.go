package uci

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Settings of the libuci helper process (WGPANEL_UCI_TEST_HELPER=libuci).
const (
	helperGap   = "WGPANEL_UCI_TEST_GAP"   // the widened gap between unlock and rename
	helperRound = "WGPANEL_UCI_TEST_ROUND" // names this round's markers
)

// runLibuciHelper commits WGPANEL_UCI_TEST_COUNT changes to the network
// package one after another, each exactly as libuci's uci_file_commit
// does, with the gap between releasing the locks and renaming widened to
// WGPANEL_UCI_TEST_GAP. Each commit adds a section `config uci_marker`
// with `option id 'ROUND_I'`, as `uci add network uci_marker; uci set
// ...; uci commit network` would.
func runLibuciHelper() error {
	dir := os.Getenv(helperDir)
	n, err := strconv.Atoi(os.Getenv(helperCount))
	if err != nil {
		return err
	}
	gap, err := time.ParseDuration(os.Getenv(helperGap))
	if err != nil {
		return err
	}
	for i := range n {
		if err := libuciCommit(dir, "network", fmt.Sprintf("%s_%d", os.Getenv(helperRound), i), gap); err != nil {
			return fmt.Errorf("commit %d: %w", i, err)
		}
	}
	return nil
}

// libuciCommit mirrors uci_file_commit (uci's file.c): open the package
// file read-write (uci_open_stream with create), flock(LOCK_EX), read it
// from the start, mkstemp <confdir>/.<pkg>.uci-XXXXXX, flock(LOCK_EX) the
// temporary file, write, fflush, fsync, unlock and close it, unlock and
// close the package file, and only then realpath, stat, chmod and rename.
// libuci checks nothing about the locked file's identity.
func libuciCommit(dir, pkg, id string, gap time.Duration) error {
	path := filepath.Join(dir, pkg)
	mode := uint32(0o600)
	var st syscall.Stat_t
	if syscall.Stat(path, &st) == nil {
		mode = st.Mode & 0o7777
	}
	fd1, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT, mode)
	if err != nil {
		return err
	}
	f1 := os.NewFile(uintptr(fd1), path)
	if err := syscall.Flock(fd1, syscall.LOCK_EX); err != nil {
		f1.Close()
		return err
	}
	data, err := io.ReadAll(f1)
	if err != nil {
		f1.Close()
		return err
	}
	f, err := Parse(path, data)
	if err != nil {
		f1.Close()
		return err
	}
	s := f.AddSection("uci_marker", "")
	s.Set("id", id)

	tmp, err := mkstemp(filepath.Join(dir, "."+pkg+".uci-"))
	if err != nil {
		f1.Close()
		return err
	}
	tfd := int(tmp.Fd())
	if err := syscall.Flock(tfd, syscall.LOCK_EX); err != nil {
		return err
	}
	if _, err := tmp.Write(f.Bytes()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	syscall.Flock(tfd, syscall.LOCK_UN)
	tmp.Close()
	syscall.Flock(fd1, syscall.LOCK_UN)
	f1.Close()

	time.Sleep(gap)

	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if err := syscall.Stat(real, &st); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), os.FileMode(st.Mode&0o777)); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), real)
}

// mkstemp creates prefix plus six random letters or digits, O_EXCL, 0600.
func mkstemp(prefix string) (*os.File, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for {
		var r [6]byte
		rand.Read(r[:])
		for i := range r {
			r[i] = letters[int(r[i])%len(letters)]
		}
		f, err := os.OpenFile(prefix+string(r[:]), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !os.IsExist(err) {
			return f, err
		}
	}
}

// TestUpdateBesideLibuci races wgpanel's commits against a process that
// commits exactly as libuci does, with libuci's gap between unlocking and
// renaming widened, for rounds of 40 against 40 commits. Not one change may
// be lost on either side. (libuci's commits run one after another: two
// libuci commits racing each other lose changes by themselves.)
func TestUpdateBesideLibuci(t *testing.T) {
	const rounds, perSide = 10, 40
	const gap = 3 * time.Millisecond
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	lostOurs, lostTheirs := 0, 0
	start := time.Now()
	for round := range rounds {
		cmd, out := startHelper(ctx, t, "libuci", dir, perSide,
			helperGap+"="+gap.String(), helperRound+"="+strconv.Itoa(round))
		var wg sync.WaitGroup
		errs := make(chan error, perSide)
		for i := range perSide {
			wg.Go(func() {
				// Spread the adds over the helper's run.
				time.Sleep(time.Duration(i) * 4 * time.Millisecond)
				errs <- addPeer(dir, fmt.Sprintf("r%d_%d", round, i))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("round %d: Update: %v", round, err)
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("round %d: libuci helper: %v\n%s", round, err, out.String())
		}

		f, err := dir.Load("network")
		if err != nil {
			t.Fatalf("round %d: Load: %v", round, err)
		}
		have := make(map[string]bool)
		for _, s := range f.Sections {
			if v, ok := s.Get("description"); ok {
				have["peer "+v] = true
			}
			if v, ok := s.Get("id"); ok && s.Type == "uci_marker" {
				have["marker "+v] = true
			}
		}
		for i := range perSide {
			if !have[fmt.Sprintf("peer r%d_%d", round, i)] {
				lostOurs++
			}
			if !have[fmt.Sprintf("marker %d_%d", round, i)] {
				lostTheirs++
			}
		}
	}
	t.Logf("%d rounds of %d wgpanel commits against %d libuci commits (gap widened to %v) in %v: lost %d of wgpanel's, %d of libuci's",
		rounds, perSide, perSide, gap, time.Since(start).Round(time.Millisecond), lostOurs, lostTheirs)
	if lostOurs != 0 || lostTheirs != 0 {
		t.Errorf("lost %d of %d wgpanel changes and %d of %d libuci changes; want none", lostOurs, rounds*perSide, lostTheirs, rounds*perSide)
	}
	checkNoTemp(t, dir)
}
