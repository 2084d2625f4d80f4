// Package ucitest commits UCI packages the way libuci does, for tests that
// race wgpanel's commits against LuCI's and the uci command's.
package ucitest

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Commit changes package pkg in dir exactly as libuci's uci_file_commit
// (uci's file.c) does: open the package file read-write, creating it
// (uci_open_stream), flock(LOCK_EX), read it from the start, mkstemp
// <dir>/.<pkg>.uci-XXXXXX, flock(LOCK_EX) the temporary file, write, fsync,
// unlock and close it, unlock and close the package file, and only then
// realpath, stat, chmod and rename. gap widens the window between
// unlocking and renaming. edit turns the file's content into the new one.
// Like libuci, Commit never checks that the file it locked is still the one
// at the path.
//
// The package imports nothing of wgpanel, so that package uci's own tests
// can use it.
func Commit(dir, pkg string, gap time.Duration, edit func(old []byte) ([]byte, error)) error {
	path := filepath.Join(dir, pkg)
	mode := uint32(0o600)
	var st syscall.Stat_t
	if syscall.Stat(path, &st) == nil {
		mode = st.Mode & 0o7777
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	f1 := os.NewFile(uintptr(fd), path)
	defer f1.Close()
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return err
	}
	data, err := io.ReadAll(f1)
	if err != nil {
		return err
	}
	data, err = edit(data)
	if err != nil {
		return err
	}

	tmp, err := mkstemp(filepath.Join(dir, "."+pkg+".uci-"))
	if err != nil {
		return err
	}
	tfd := int(tmp.Fd())
	if err := syscall.Flock(tfd, syscall.LOCK_EX); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	syscall.Flock(tfd, syscall.LOCK_UN)
	tmp.Close()
	syscall.Flock(fd, syscall.LOCK_UN)
	f1.Close()

	time.Sleep(gap)

	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		err = syscall.Stat(real, &st)
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), os.FileMode(st.Mode&0o777))
	}
	if err == nil {
		err = os.Rename(tmp.Name(), real)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
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
