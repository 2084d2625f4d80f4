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
	"syscall"
	"time"
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
// instead of a blocking flock keeps the wait bounded and cancellable.
func lockUntil(ctx context.Context, f *os.File, path string, until time.Time) error {
	for i := 0; ; i++ {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
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

// lockUser is one entry of /proc/locks for a file.
type lockUser struct {
	pid     int
	write   bool // LOCK_EX rather than LOCK_SH
	blocked bool // waiting for the lock rather than holding it
}

// lockUsers returns the processes holding or waiting for a lock on f, as
// /proc/locks lists them; nothing without /proc.
func lockUsers(f *os.File) []lockUser {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	id, ok := fileID(fi)
	if !ok {
		return nil
	}
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
		if len(fields) < 6 || fields[5] != id {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		users = append(users, lockUser{pid: pid, write: fields[3] == "WRITE", blocked: blocked})
	}
	return users
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
