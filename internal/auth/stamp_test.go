package auth

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestNewPasswordEndsSessions checks that a password changed behind the
// daemon's back (passwd over SSH, LuCI, wgpanel passwd) ends every session
// made with the old one, in both modes.
func TestNewPasswordEndsSessions(t *testing.T) {
	const oldHash = "$1$Dx6R4sSj$6pU6WRAvT96l7d9T79ioX."
	const newHash = "$1$abcdefgh$6pU6WRAvT96l7d9T79ioX."

	t.Run("shadow", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "shadow")
		write := func(hash string) {
			// passwd replaces the file with a rename, as a commit does.
			tmp := filepath.Join(dir, "shadow+")
			if err := os.WriteFile(tmp, []byte("root:"+hash+":19000:0:99999:7:::\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}
		write(oldHash)
		a, err := New(Config{Mode: ModeShadow, ShadowPath: path})
		if err != nil {
			t.Fatal(err)
		}
		tok := a.NewSession()
		if _, ok := a.CheckSession(tok); !ok {
			t.Fatal("a new session is not valid")
		}
		write(oldHash)
		if _, ok := a.CheckSession(tok); !ok {
			t.Error("rewriting the same password ended the session")
		}
		write(newHash)
		if _, ok := a.CheckSession(tok); ok {
			t.Error("the session made with the old password is still valid after passwd")
		}
		tok = a.NewSession()
		if _, ok := a.CheckSession(tok); !ok {
			t.Error("a session made with the new password is not valid")
		}
	})

	t.Run("password", func(t *testing.T) {
		var hash atomic.Value
		hash.Store(oldHash)
		a, err := New(Config{Mode: ModePassword, Hash: func() (string, error) { return hash.Load().(string), nil }})
		if err != nil {
			t.Fatal(err)
		}
		mine, other := a.NewSession(), a.NewSession()
		hash.Store(newHash)
		// The session that changed the password through the page stays.
		a.PasswordChanged(mine)
		if _, ok := a.CheckSession(mine); !ok {
			t.Error("the session that set the new password ended")
		}
		if _, ok := a.CheckSession(other); ok {
			t.Error("another session is still valid after a new password")
		}
	})
}
