package auth

import (
	"crypto/sha256"
	"os"
	"syscall"
	"time"
)

// stamp is the SHA-256 of the password hash a session was made with. A
// session whose stamp differs from the current password's has seen the
// password change and ends, whoever changed it: passwd over SSH, LuCI or
// `wgpanel passwd` in another process.
type stamp [32]byte

// fileKey identifies one version of a file: every writer of /etc/shadow and
// /etc/config/wgpanel renames a new file into place, which changes the inode.
type fileKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
}

// hashFile returns the file the password hash is read from, "" when unknown.
func (a *Authenticator) hashFile() string {
	if a.mode == ModeShadow {
		return a.shadowPath
	}
	return a.hashPath
}

// passwordStamp returns the stamp of the current password. With a known
// hash file it costs one stat while the file is unchanged, so that checking
// it on every request is cheap on a router.
func (a *Authenticator) passwordStamp() (stamp, error) {
	var key fileKey
	keyed := false
	if path := a.hashFile(); path != "" {
		if fi, err := os.Stat(path); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				key = fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino), size: fi.Size(), mtime: fi.ModTime(),
					ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))}
				keyed = true
			}
		}
	}
	if keyed {
		a.stampMu.Lock()
		s, ok := a.stamp, a.stampOK && a.stampKey == key
		a.stampMu.Unlock()
		if ok {
			return s, nil
		}
	}
	h, err := a.readHash()
	if err != nil {
		return stamp{}, err
	}
	s := stamp(sha256.Sum256([]byte(h)))
	if keyed {
		a.stampMu.Lock()
		a.stamp, a.stampKey, a.stampOK = s, key, true
		a.stampMu.Unlock()
	}
	return s, nil
}

// PasswordChanged ends every session but keep's, which takes the new
// password's stamp. The page calls it after the owner set a new password
// through it; a password changed elsewhere ends every session by itself.
func (a *Authenticator) PasswordChanged(keep string) {
	s, err := a.passwordStamp()
	keepKey := sha256.Sum256([]byte(keep))
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, sess := range a.sessions {
		if k == keepKey && keep != "" && err == nil {
			sess.stamp = s
			continue
		}
		delete(a.sessions, k)
	}
}
