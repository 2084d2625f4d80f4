package uci

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Dir is a UCI config directory such as /etc/config.
type Dir string

// newFileMode is the mode libuci gives a package file it creates
// (UCI_FILEMODE).
const newFileMode = 0o600

// maxLockAttempts bounds how often Update re-opens a file that another
// process replaced while Update waited for its lock. Every retry means that
// another commit completed, so the bound is only reached when thousands of
// commits overtake this one.
const maxLockAttempts = 10000

// Test hooks, called by Update when set.
var (
	testHookOpened func(attempt int) // after opening the file, before locking it
	testHookLocked func(attempt int) // after locking the file and checking it is current
)

// Path returns the file name of package pkg.
func (d Dir) Path(pkg string) string {
	return filepath.Join(string(d), pkg)
}

func checkPackage(pkg string) error {
	if !validPackage(pkg) {
		return fmt.Errorf("uci: invalid package name %s: it may contain only letters, digits, _ and -", quoteShort(pkg))
	}
	return nil
}

// Load reads and parses package pkg. A missing file returns an empty *File
// and an error satisfying errors.Is(err, fs.ErrNotExist): callers decide
// whether that is fine. A malformed file returns a *ParseError.
//
// Load takes no lock: every writer that follows libuci's protocol replaces
// the file with a rename, so a reader sees either the old or the new file.
func (d Dir) Load(pkg string) (*File, error) {
	if err := checkPackage(pkg); err != nil {
		return nil, err
	}
	path := d.Path(pkg)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &File{Name: path}, fmt.Errorf("uci: load %s: %w", pkg, err)
		}
		return nil, fmt.Errorf("uci: load %s: %w", pkg, err)
	}
	return Parse(path, data)
}

// Update commits a change to package pkg with libuci's protocol. It opens
// the file (creating it with mode 0600, libuci's UCI_FILEMODE, when it is
// missing), takes flock(LOCK_EX) on it, and checks that the locked file is
// still the one at the path: a commit that finished while Update waited has
// renamed a new file over it, and then Update opens and locks again. Under
// the lock it reads and parses the file and calls fn. If fn returns nil and
// the file serializes differently than before, Update writes the new content
// to <dir>/.<pkg>.uci-XXXXXX, fsyncs it, gives it the old file's mode (and
// owner, where allowed), renames it over the file and fsyncs the directory.
//
// A malformed file returns its *ParseError and is never overwritten; fn is
// not called. An error from fn is returned as is and nothing is written.
// Comparing the serialized forms means that a hand-written file keeps its
// comments and layout when fn changes nothing. A file Update created only to
// lock it is removed again when nothing is written. Before writing, Update
// checks that the new content reads back as exactly the File fn left (see
// File.Validate); if not, it writes nothing and returns an error. No
// temporary file is left behind on any error.
//
// Goroutines of one process may call Update on the same package at once:
// each call locks through its own open file, and flock locks of different
// open files exclude each other even within a process.
func (d Dir) Update(pkg string, fn func(f *File) error) error {
	if err := checkPackage(pkg); err != nil {
		return err
	}
	path := d.Path(pkg)
	for attempt := 0; attempt < maxLockAttempts; attempt++ {
		done, err := d.tryUpdate(pkg, path, attempt, fn)
		if done {
			return err
		}
	}
	return fmt.Errorf("uci: commit %s: %s kept being replaced while waiting for its lock", pkg, path)
}

// tryUpdate makes one attempt at Update. done is false when the file was
// replaced or removed while waiting for the lock, and Update must try again.
func (d Dir) tryUpdate(pkg, path string, attempt int, fn func(f *File) error) (done bool, err error) {
	lf, created, err := openForLock(path)
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	// Closing the file releases the lock.
	defer lf.Close()
	if testHookOpened != nil {
		testHookOpened(attempt)
	}
	if err := flock(lf, syscall.LOCK_EX); err != nil {
		return true, fmt.Errorf("uci: commit %s: lock %s: %w", pkg, path, err)
	}
	// A writer renames its new file over path, so the inode locked here may
	// no longer be the file at path: then this lock protects nothing.
	locked, err := lf.Stat()
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	current, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	if !os.SameFile(locked, current) {
		return false, nil
	}
	if testHookLocked != nil {
		testHookLocked(attempt)
	}

	// Remove a file created only for the lock, while still holding the
	// lock: a process waiting for it then finds the path gone and retries.
	discard := func() {
		if created {
			if st, err := lf.Stat(); err == nil && st.Size() == 0 {
				os.Remove(path)
			}
		}
	}

	data, err := io.ReadAll(lf)
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: read %s: %w", pkg, path, err)
	}
	f, err := Parse(path, data)
	if err != nil {
		return true, err
	}
	before := f.Bytes()
	if err := fn(f); err != nil {
		discard()
		return true, err
	}
	after := f.Bytes()
	if bytes.Equal(before, after) {
		discard()
		return true, nil
	}
	if err := checkReadsBack(path, f, after); err != nil {
		discard()
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	if err := replaceFile(path, locked, pkg, after); err != nil {
		discard()
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	return true, nil
}

// openForLock opens path to lock it, creating an empty file with libuci's
// mode when there is none. created tells whether this call created it.
func openForLock(path string) (f *os.File, created bool, err error) {
	for range 100 {
		f, err = os.Open(path)
		if err == nil {
			return f, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, newFileMode)
		if err == nil {
			return f, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		// Another process created it between the two calls: open theirs.
	}
	return nil, false, fmt.Errorf("open %s: it is a broken symbolic link or keeps being removed", path)
}

// flock calls flock(2), retrying when a signal interrupts the wait (the Go
// runtime's preemption signals do).
func flock(f *os.File, how int) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = conn.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if ferr == syscall.ENOSYS {
		// libuci carries on where the file system has no locks.
		return nil
	}
	return ferr
}

// checkReadsBack makes sure that data, the serialized f, parses back into f,
// so that Update never writes a file libuci would reject or read otherwise.
func checkReadsBack(path string, f *File, data []byte) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("refusing to write %s: %w", path, err)
	}
	g, err := Parse(path, data)
	if err != nil {
		return fmt.Errorf("refusing to write %s: it would not read back: %w", path, err)
	}
	if !equal(f, g) {
		return fmt.Errorf("refusing to write %s: it would not read back the same", path)
	}
	return nil
}

// replaceFile writes data to a temporary file beside path's real file (a
// symbolic link is followed, as libuci's realpath does), syncs it, gives it
// old's mode and owner and renames it over the real file, then syncs the
// directory. On failure the temporary file is removed.
func replaceFile(path string, old fs.FileInfo, pkg string, data []byte) (err error) {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(target)
	tmp, err := createTemp(dir, "."+pkg+".uci-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return err
	}
	if st, ok := old.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		// Keep the owner where we may (as root); libuci does not try.
		if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	return syncDir(dir)
}

// createTemp creates a new file named prefix plus six random letters and
// digits, as mkstemp does, with mode 0600.
func createTemp(dir, prefix string) (*os.File, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for range 1000 {
		var r [6]byte
		rand.Read(r[:])
		for i := range r {
			r[i] = letters[int(r[i])%len(letters)]
		}
		f, err := os.OpenFile(filepath.Join(dir, prefix+string(r[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: every name tried exists", dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
