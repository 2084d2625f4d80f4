package uci

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Temporary files of commits. libuci's commit writes <dir>/.<pkg>.uci-XXXXXX
// while holding flock on it, then closes it and the package file (which
// releases both locks) and only then renames it over the package file. A
// commit that takes the package lock in that gap would read the old file
// and later be overwritten by libuci's rename, or overwrite libuci's change.
// So Update waits, after taking the lock, while a temporary file of a live
// commit exists.
//
// Live or stale: a temporary file locked by someone is being written, so
// its commit is alive. libuci's, once unlocked, is in the gap, where libuci
// only calls realpath, stat and chmod before renaming: a live one is
// renamed within milliseconds, so one unlocked for longer than
// staleLibuciTemp belongs to a commit that died (killed, or its rename
// failed) and is removed. wgpanel's own temporary files are named
// <dir>/.<pkg>.wgpanel-XXXXXX and stay locked from creation until their
// rename, so one that is not locked belongs to a dead process and is
// removed at once. Removing stale files matters: each is a full copy of the
// package, keys included.
const (
	libuciTempInfix = ".uci-"
	ownTempInfix    = ".wgpanel-"
)

// errReplaced tells that the file a commit locked was replaced meanwhile.
var errReplaced = errors.New("the locked file was replaced")

// staleLibuciTemp is how long an unlocked libuci temporary file counts as a
// commit in its gap; a variable for tests.
var staleLibuciTemp = 3 * time.Second

// waitForCommits waits until dirs hold no temporary file of a live commit
// of pkg, until the deadline. (libuci writes its temporary file into the
// config directory even when the package file is a symbolic link; wgpanel
// writes beside the link's target.) current reports whether the caller's locked
// file is still the package file; stale temporary files are removed only
// while it is, since then no other wgpanel commit can be between creating
// and locking its temporary file. other reports another live commit, one
// without a temporary file yet. The caller must check again afterwards
// that its locked file is current.
func waitForCommits(ctx context.Context, dirs []string, pkg string, until time.Time, current, other func() bool) error {
	for i := 0; ; i++ {
		live, err := liveCommits(dirs, pkg, current)
		if err != nil {
			return err
		}
		if !live && !other() {
			return nil
		}
		// A lock on a replaced file protects nothing, and other commits
		// would take this one for a libuci commit on a replaced copy:
		// let go of it at once.
		if !current() {
			return errReplaced
		}
		if err := pause(ctx, i, until); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &LockedError{Path: filepath.Join(dirs[0], pkg)}
		}
	}
}

// liveCommits reports whether a temporary file of a live commit of pkg is
// in dirs. With current non-nil, it removes the stale ones it finds while
// current reports true.
func liveCommits(dirs []string, pkg string, current func() bool) (bool, error) {
	live := false
	for _, dir := range dirs {
		l, err := liveCommitsIn(dir, pkg, current)
		if err != nil {
			return false, err
		}
		live = live || l
	}
	return live, nil
}

func liveCommitsIn(dir, pkg string, current func() bool) (bool, error) {
	d, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return false, err
	}
	live := false
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, "."+pkg)
		if !ok {
			continue
		}
		libuci := strings.HasPrefix(rest, libuciTempInfix)
		if !libuci && !strings.HasPrefix(rest, ownTempInfix) {
			continue
		}
		if tempLive(filepath.Join(dir, name), libuci, current) {
			live = true
		}
	}
	return live, nil
}

// tempLive reports whether the temporary file at path belongs to a live
// commit. A stale one is removed when current is non-nil and reports true;
// when current reports false, tempLive returns true, so that the caller
// waits and then finds its file replaced. A file that cannot be judged (not
// a regular file, no permission) counts as not live and stays.
func tempLive(path string, libuci bool, current func() bool) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	if libuci && time.Since(changed(fi)) < staleLibuciTemp {
		return true
	}
	// Stale. Holding its lock, remove it if the name still refers to it.
	if current == nil {
		return false
	}
	if !current() {
		return true
	}
	if cur, err := os.Lstat(path); err == nil && os.SameFile(cur, fi) {
		os.Remove(path)
	}
	return false
}

// changed returns the later of fi's modification and status change times:
// libuci's chmod just before its rename changes only the latter.
func changed(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if c := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)); c.After(t) {
			t = c
		}
	}
	return t
}
