package uci

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LockTimeout bounds how long Update waits for the lock of a package file,
// and for a commit of another program to finish renaming its file into
// place, before it gives up with a *LockedError. libuci holds its lock for
// milliseconds, so waiting longer only means that a program is stuck while
// holding it; a web request must get its answer well before a browser or
// the API's own timeout gives up.
var LockTimeout = 5 * time.Second

// LockedError is returned when a package file stays locked by another
// program for longer than LockTimeout.
type LockedError struct {
	Path string
	Pid  int // the lock holder's process id; 0 when unknown
}

func (e *LockedError) Error() string {
	if e.Pid > 0 {
		return fmt.Sprintf("the configuration is locked by another program (pid %d)", e.Pid)
	}
	return "the configuration is locked by another program"
}

// NotRegularError is returned for a package path that is not a regular file
// (a FIFO, a device or a directory): reading one could block forever.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (it is a %s); restore the configuration file", e.Path, fileKind(e.Mode))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDir != 0:
		return "directory"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// openRegular opens path with flag, never blocking on a FIFO (O_NONBLOCK),
// and refuses anything that is not a regular file. The returned file is in
// blocking mode again.
func openRegular(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	for i := 0; errors.Is(err, syscall.EWOULDBLOCK) && i < 100; i++ {
		// A commit holds a lease on the file for a moment (see
		// onlyOpen); with O_NONBLOCK, open reports that instead of
		// waiting for it.
		time.Sleep(time.Millisecond)
		f, err = os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	if err := setBlocking(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func setBlocking(f *os.File) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := conn.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}

// deadline returns when waiting for the lock ends: LockTimeout from now, or
// ctx's deadline if that is sooner.
func deadline(ctx context.Context) time.Time {
	d := time.Now().Add(LockTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// pause sleeps for the i-th wait of a polling loop (1 ms growing to 10 ms),
// never past until. It returns ctx's error, or a non-nil error when until
// has passed.
func pause(ctx context.Context, i int, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	left := time.Until(until)
	if left <= 0 {
		return context.DeadlineExceeded
	}
	d := min(time.Duration(1<<min(i, 4))*time.Millisecond, 10*time.Millisecond, left)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lockUntil takes flock(LOCK_EX) on f, polling until the deadline. Polling
// instead of a blocking flock keeps the wait bounded and cancellable. When
// another commit replaces the file meanwhile, it returns errReplaced: the
// lock is no longer worth having, and the queue moved on.
func lockUntil(ctx context.Context, f *os.File, path string, until time.Time) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if cur, err := os.Stat(path); err != nil || !os.SameFile(fi, cur) {
			return errReplaced
		}
		if perr := pause(ctx, i, until); perr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &LockedError{Path: path, Pid: lockHolder(f)}
		}
	}
}

// fileID returns the device and inode of fi in the form /proc/locks shows
// them ("MAJ:MIN:INODE", major and minor in hex).
func fileID(fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino), true
}

// procLocks is read for the locks on a file; a variable for tests.
var procLocks = "/proc/locks"

// lockUser is one entry of /proc/locks.
type lockUser struct {
	pid     int
	id      string // the file, as fileID gives it
	write   bool   // LOCK_EX rather than LOCK_SH
	blocked bool   // waiting for the lock rather than holding it
}

// allLocks returns the entries of /proc/locks; nothing without /proc.
func allLocks() []lockUser {
	pl, err := os.Open(procLocks)
	if err != nil {
		return nil
	}
	defer pl.Close()
	var users []lockUser
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF", a waiter
		// with "->" after the number.
		fields := strings.Fields(sc.Text())
		blocked := len(fields) > 1 && fields[1] == "->"
		if blocked {
			fields = append(fields[:1], fields[2:]...)
		}
		if len(fields) < 6 {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		users = append(users, lockUser{pid: pid, id: fields[5], write: fields[3] == "WRITE", blocked: blocked})
	}
	return users
}

// lockUsers returns the processes holding or waiting for a lock on f.
func lockUsers(f *os.File) []lockUser {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	id, ok := fileID(fi)
	if !ok {
		return nil
	}
	var users []lockUser
	for _, u := range allLocks() {
		if u.id == id {
			users = append(users, u)
		}
	}
	return users
}

// replacedOpenWait is how long a process that has a replaced copy of a
// package file open, without a write lock on such a copy, still counts as
// a commit that is about to lock it (libuci opens, then locks).
var replacedOpenWait = 100 * time.Millisecond

// replacedCopies finds the other processes that have a replaced (unlinked)
// copy of a package file open. libuci opens the file, then waits for its
// lock, and never checks that the file is still current: such a process
// reads the old copy and later renames its result over the file, so every
// commit must wait for it. A process with a write lock on a replaced copy
// of the file's file system is such a commit; one without is waited for
// only replacedOpenWait from when it was first seen (it may be between
// opening and locking, or only reading).
type replacedCopies struct {
	name  string // the file's /proc link: "<path> (deleted)"
	first map[int]time.Time
}

func newReplacedCopies(path string) *replacedCopies {
	return &replacedCopies{name: path + " (deleted)", first: make(map[int]time.Time)}
}

// live reports whether a commit on a replaced copy may still rename; cur
// is the file at the path now.
func (rc *replacedCopies) live(cur fs.FileInfo) bool {
	id, ok := fileID(cur)
	if !ok {
		return false
	}
	version := cleanKey(id, cur)
	if v, ok := cleanFiles.Load(rc.name); ok && v == version {
		return false
	}
	pids := openers(rc.name)
	if len(pids) == 0 {
		cleanFiles.Store(rc.name, version)
		return false
	}
	dev := id[:strings.LastIndexByte(id, ':')+1]
	writers := make(map[int]bool)
	for _, u := range allLocks() {
		if u.write && u.id != id && strings.HasPrefix(u.id, dev) {
			writers[u.pid] = true
		}
	}
	now := time.Now()
	for _, pid := range pids {
		t, seen := rc.first[pid]
		if !seen {
			rc.first[pid], t = now, now
		}
		if writers[pid] || now.Sub(t) < replacedOpenWait {
			return true
		}
	}
	return false
}

// cleanFiles remembers, per replaced-copy name, the version of the file
// that was current when a scan of /proc found no process with a replaced
// copy open. A copy cannot be opened any more once it is replaced, so as
// long as that version is still the file, a new scan cannot find one
// either: the scan, which reads every open file of every process, is made
// once per version of the file instead of at every check.
var cleanFiles sync.Map

// cleanKey names a version of a file: its inode, and its change time, which
// a rename sets, so that an inode number used again is another version.
func cleanKey(id string, fi fs.FileInfo) string {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return id
	}
	return fmt.Sprintf("%s@%d.%09d", id, st.Ctim.Sec, st.Ctim.Nsec)
}

// markClean records, after a commit renamed nf over the file whose
// replaced copy is old, that no process has a replaced copy of the file
// open, when that can be shown without a scan of /proc: the version old
// was found clean before (cleanFiles), and old is open nowhere but through
// this process's one file (see onlyOpen). Copies replaced before old were
// open nowhere when old was found clean, and a replaced copy cannot be
// opened by its name again (a holder of an O_PATH descriptor could reopen
// it through /proc, which libuci never does), so none of them is open now
// either. One open is not seen: one whose path lookup found old before the
// rename and that counts as open only after this check (a process stalled
// inside open(2)). The /proc scan cannot see it either; the caller writes
// the new content into old in any case, so that such a commit builds on it.
// oldVersion is old's
// cleanKey from before the rename (unlinking it changes its ctime). It
// reports whether it recorded it.
func (rc *replacedCopies) markClean(oldVersion string, old, nf *os.File) bool {
	if v, ok := cleanFiles.Load(rc.name); !ok || v != oldVersion || !onlyOpen(old) {
		return false
	}
	st, err := nf.Stat()
	if err != nil {
		return false
	}
	id, ok := fileID(st)
	if !ok {
		return false
	}
	cleanFiles.Store(rc.name, cleanKey(id, st))
	return true
}

// onlyOpen reports whether f is the only open file of its inode in the
// system. The kernel grants a write lease (F_SETLEASE, F_WRLCK) only then
// (since Linux 5.3 it counts the readers and writers of the inode; before,
// its references, which is stricter), so taking one and letting it go at
// once answers without reading every process's open files. Where leases
// are refused for other reasons (not the file's owner without
// CAP_LEASE, leases disabled, a file system without them) it reports
// false, and the caller scans instead.
func onlyOpen(f *os.File) bool {
	conn, err := f.SyscallConn()
	if err != nil {
		return false
	}
	only := false
	conn.Control(func(fd uintptr) {
		if _, err := unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_WRLCK); err == nil {
			only = true
			unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
		}
	})
	return only
}

// openers returns the processes other than this one that have a file open
// whose /proc link reads name.
func openers(name string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if hasOpen(pid, name) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// hasOpen reports whether process pid has a file open whose /proc link
// reads name.
func hasOpen(pid int, name string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(dir + "/" + fd.Name()); err == nil && link == name {
			return true
		}
	}
	return false
}

// lockHolder returns the pid of a process other than this one that holds
// a lock on f, else 0.
func lockHolder(f *os.File) int {
	pid := 0
	for _, u := range lockUsers(f) {
		if !u.blocked && (pid == 0 || pid == os.Getpid()) {
			pid = u.pid
		}
	}
	return pid
}
