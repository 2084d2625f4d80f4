package uci

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
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
// whether that is fine. A malformed file returns a *ParseError, and a path
// that is not a regular file a *NotRegularError.
//
// Load takes no lock: every writer that follows libuci's protocol replaces
// the file with a rename, so a reader sees either the old or the new file.
// Update may afterwards rewrite the replaced file in place (see Update); a
// read that overlapped that sees the file unlinked and reads again.
func (d Dir) Load(pkg string) (*File, error) {
	if err := checkPackage(pkg); err != nil {
		return nil, err
	}
	path := d.Path(pkg)
	for range 100 {
		data, replaced, err := readCurrent(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return &File{Name: path}, fmt.Errorf("uci: load %s: %w", pkg, err)
			}
			return nil, fmt.Errorf("uci: load %s: %w", pkg, err)
		}
		if !replaced {
			return Parse(path, data)
		}
	}
	return nil, fmt.Errorf("uci: load %s: %s keeps being replaced while it is read", pkg, path)
}

// readCurrent reads the file at path. replaced tells that it was replaced
// by a rename while it was read, so data may not be what it held.
func readCurrent(path string) (data []byte, replaced bool, err error) {
	f, err := openRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(f)
	if err != nil {
		return nil, false, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	return data, nlink(st) == 0, nil
}

func nlink(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// Update is UpdateContext without a context.
func (d Dir) Update(pkg string, fn func(f *File) error) error {
	return d.UpdateContext(context.Background(), pkg, fn)
}

// UpdateContext commits a change to package pkg with libuci's protocol. It
// opens the file (creating it with mode 0600, libuci's UCI_FILEMODE, when
// it is missing; refusing anything but a regular file), takes flock(LOCK_EX)
// on it, and checks that the locked file is still the one at the path: a
// commit that finished while Update waited has renamed a new file over it,
// and then Update opens and locks again. It then waits while another
// program's commit is between releasing its lock and renaming its file into
// place (see temp.go), removing temporary files of dead commits. Under the
// lock it reads and parses the file and calls fn. If fn returns nil and
// the file serializes differently than before, Update writes the new
// content to <dir>/.<pkg>.wgpanel-XXXXXX (locked while it exists), fsyncs
// it, gives it the old file's mode (and owner, where allowed), renames it
// over the file and fsyncs the directory.
//
// libuci does not check, once it has its lock, that the file is still the
// one at the path: a libuci commit that waited for Update's lock would read
// the replaced file and rename it back over Update's change. So after its
// rename Update also writes the new content into the replaced, now unlinked
// file (page cache only: it is never synced and is freed with its last
// reader), and keeps the new file locked until those waiters are done.
//
// Waiting for the lock and for other commits ends after LockTimeout without
// another commit completing, or at ctx's deadline, with a *LockedError
// naming the holder's pid when /proc/locks shows it. ctx is checked last
// just before the rename: once ctx is done nothing is written.
//
// A malformed file returns its *ParseError and is never overwritten; fn is
// not called. An error from fn is returned as is and nothing is written.
// Comparing the serialized forms means that a hand-written file keeps its
// comments and layout when fn changes nothing. A file Update created only to
// lock it is removed again when nothing is written. Before writing, Update
// checks the File fn left with File.Validate, and writes nothing and returns
// an error if libuci would refuse it or read it otherwise (a valid File's
// Bytes read back as exactly that File: this package's tests check it for
// generated and fuzzed files, so it is not parsed again here). No
// temporary file is left behind on any error.
//
// A commit that finds the file as this process's last commit of it left it
// starts from the File that commit wrote instead of parsing it. So fn must
// not keep f, or anything in it, after it returns.
//
// Goroutines of one process may call Update on the same package at once:
// each call locks through its own open file, and flock locks of different
// open files exclude each other even within a process.
func (d Dir) UpdateContext(ctx context.Context, pkg string, fn func(f *File) error) error {
	if err := checkPackage(pkg); err != nil {
		return err
	}
	path := d.Path(pkg)
	for attempt := 0; attempt < maxLockAttempts; attempt++ {
		// Each attempt follows a commit that completed: LockTimeout
		// bounds a wait on a program that holds the lock and does not
		// finish, not a queue of commits that all do.
		done, err := d.tryUpdate(ctx, pkg, path, attempt, deadline(ctx), fn)
		if done {
			return err
		}
	}
	return fmt.Errorf("uci: commit %s: %s kept being replaced while waiting for its lock", pkg, path)
}

// tryUpdate makes one attempt at Update. done is false when the file was
// replaced or removed while waiting for the lock, and Update must try again.
func (d Dir) tryUpdate(ctx context.Context, pkg, path string, attempt int, until time.Time, fn func(f *File) error) (done bool, err error) {
	lf, created, err := openForLock(path)
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	// Closing the file releases the lock.
	closeLocked := true
	defer func() {
		if closeLocked {
			lf.Close()
		}
	}()
	if testHookOpened != nil {
		testHookOpened(attempt)
	}
	if err := lockUntil(ctx, lf, path, until); errors.Is(err, errReplaced) {
		return false, nil
	} else if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	// A writer renames its new file over path, so the inode locked here may
	// no longer be the file at path: then this lock protects nothing.
	locked, current, err := lockedIsCurrent(lf, path)
	if err != nil || !current {
		return err != nil, err
	}
	if testHookLocked != nil {
		testHookLocked(attempt)
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	isCurrent := func() bool {
		_, cur, err := lockedIsCurrent(lf, path)
		return err == nil && cur
	}
	dirs := []string{string(d)}
	if td := filepath.Dir(target); td != filepath.Clean(string(d)) {
		dirs = append(dirs, td)
	}
	// A libuci commit on a replaced copy of the file is live too.
	abs, err := filepath.Abs(target)
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	replaced := newReplacedCopies(abs)
	staleCommit := func() bool {
		cur, err := os.Stat(abs)
		return err == nil && replaced.live(cur)
	}
	if err := waitForCommits(ctx, dirs, pkg, until, isCurrent, staleCommit); errors.Is(err, errReplaced) {
		return false, nil
	} else if err != nil {
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	// A commit that was renamed into place while this one scanned for
	// them left no temporary file behind to see: check again.
	if _, current, err := lockedIsCurrent(lf, path); err != nil || !current {
		return err != nil, err
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

	data, err := readAll(lf, locked.Size())
	if err != nil {
		return true, fmt.Errorf("uci: commit %s: read %s: %w", pkg, path, err)
	}
	f, before, err := parseLocked(abs, path, data)
	if err != nil {
		return true, err
	}
	if err := fn(f); err != nil {
		discard()
		return true, err
	}
	after := f.Bytes()
	if bytes.Equal(before, after) {
		discard()
		return true, nil
	}
	if err := f.Validate(); err != nil {
		discard()
		return true, fmt.Errorf("uci: commit %s: refusing to write %s: %w", pkg, path, err)
	}
	// The locked file's version as the check for replaced copies saw it:
	// the rename changes its ctime.
	oldVersion := ""
	if st, err := lf.Stat(); err == nil {
		if id, ok := fileID(st); ok {
			oldVersion = cleanKey(id, st)
		}
	}
	nf, err := replaceFile(ctx, target, locked, pkg, after)
	if err != nil {
		discard()
		return true, fmt.Errorf("uci: commit %s: %w", pkg, err)
	}
	defer nf.Close()
	// Remembered while the new file is still locked, so that a commit
	// that reads it finds it remembered.
	lastCommits.Store(abs, &lastCommit{data: after, file: f})
	handOver(ctx, lf, nf, path, abs, dirs, pkg, after, oldVersion)
	// Closing the replaced file frees it, which costs a journal write
	// that the caller need not wait for. Its lock goes with it: nobody
	// waits for that one unless handOver returned early, and a waiter
	// then finds the file replaced and tries again.
	closeLocked = false
	go lf.Close()
	return true, nil
}

// lastCommit is what a commit of this process wrote to a package file: its
// content and the File it serialized.
type lastCommit struct {
	data []byte
	file *File
}

// lastCommits holds the lastCommit of each package file (by absolute path)
// this process committed to. Every valid File reads back as itself from its
// Bytes (the tests of this package check that), so when a commit finds
// exactly those bytes under its lock, the File is what parsing them would
// return, at no cost. The File is handed over, not shared: the commit that
// takes it out gives it to its fn, and puts back only the File it wrote.
var lastCommits sync.Map

// parseLocked returns the File in data, the content of the package file at
// abs read under its lock, named path, and its serialized form.
func parseLocked(abs, path string, data []byte) (f *File, serialized []byte, err error) {
	if v, ok := lastCommits.LoadAndDelete(abs); ok {
		if lc := v.(*lastCommit); bytes.Equal(lc.data, data) {
			lc.file.Name = path
			return lc.file, lc.data, nil
		}
	}
	if f, err = Parse(path, data); err != nil {
		return nil, nil, err
	}
	return f, f.Bytes(), nil
}

// readAll reads f to its end; size is its size as stat gave it, which
// saves growing the buffer.
func readAll(f io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size > 0 && size < 1<<30 {
		buf.Grow(int(size) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// lockedIsCurrent reports whether the locked file lf is still the file at
// path. A missing path is not an error: the caller retries.
func lockedIsCurrent(lf *os.File, path string) (locked fs.FileInfo, current bool, err error) {
	locked, err = lf.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("uci: %w", err)
	}
	cur, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return locked, false, nil
		}
		return nil, false, fmt.Errorf("uci: %w", err)
	}
	return locked, os.SameFile(locked, cur), nil
}

// handOverWait bounds how long handOver waits for the programs that waited
// for the replaced file's lock.
var handOverWait = 2 * time.Second

// handOver runs after the new file nf is in place, with the replaced file
// old still locked and nf locked too. Programs that opened old before the
// rename (libuci does not check, once locked, whether its file is still
// current) read old next, so old gets the new content first; it is
// unlinked, so this costs no flash write. Then old's lock is released and,
// while such a program may still commit, nf stays locked: the next commit
// must not read the file before that program's rename (see
// replacedCopies). When old is open nowhere else, and no older copy was
// (oldVersion, see replacedCopies.markClean), there is no such program:
// the wait ends at once, without a scan of /proc.
func handOver(ctx context.Context, old, nf *os.File, path, abs string, dirs []string, pkg string, data []byte, oldVersion string) {
	st, err := old.Stat()
	if err != nil || nlink(st) != 0 {
		return
	}
	replaced := newReplacedCopies(abs)
	clean := replaced.markClean(oldVersion, old, nf)
	// Overwritten in place, then cut to length: unlike emptying it first,
	// this frees and allocates next to nothing.
	if _, err := old.WriteAt(data, 0); err == nil {
		old.Truncate(int64(len(data)))
	}
	if clean {
		// Nobody waits for old's lock (a waiter has it open), and no
		// libuci commit is between its open and its lock.
		return
	}
	flock(old, syscall.LOCK_UN)
	nst, err := nf.Stat()
	if err != nil {
		return
	}
	until := time.Now().Add(handOverWait)
	ctx = context.WithoutCancel(ctx)
	for i := 0; ; i++ {
		cur, err := os.Stat(path)
		if err != nil || !os.SameFile(cur, nst) {
			return // renamed over: the waiting is the next commit's
		}
		live, _ := liveCommits(dirs, pkg, nil)
		if !live && len(lockUsers(old)) == 0 && !replaced.live(cur) {
			return
		}
		if pause(ctx, i, until) != nil {
			return
		}
	}
}

// openForLock opens path for reading and writing to lock it, creating an
// empty file with libuci's mode when there is none. created tells whether
// this call created it. Only a regular file is opened.
func openForLock(path string) (f *os.File, created bool, err error) {
	for range 100 {
		f, err = openRegular(path, os.O_RDWR, 0)
		if err == nil {
			return f, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		f, err = openRegular(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, newFileMode)
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

// replaceFile writes data to a temporary file beside target (path with its
// symbolic links followed, as libuci's realpath does), locked from its
// creation, syncs it, gives it old's mode and owner and, unless ctx is
// done by then, renames it over target, then syncs the directory. It
// returns the new file, still open and locked; the caller closes it. On
// failure the temporary file is removed.
func replaceFile(ctx context.Context, target string, old fs.FileInfo, pkg string, data []byte) (_ *os.File, err error) {
	dir := filepath.Dir(target)
	tmp, err := createTemp(dir, "."+pkg+ownTempInfix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
			tmp.Close()
		}
	}()
	if err := flock(tmp, syscall.LOCK_EX); err != nil {
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Chmod(old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return nil, err
	}
	if st, ok := old.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		// Keep the owner where we may (as root); libuci does not try.
		if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return nil, err
		}
	}
	// The last moment to give up: a caller whose client was told that the
	// request failed must not have changed anything.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return nil, err
	}
	// The change is in place now, and the caller must treat it so: a
	// failing directory sync only means that a power cut right now might
	// bring back the old file, as after every libuci commit, which does
	// not sync the directory at all.
	syncDir(dir)
	return tmp, nil
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
