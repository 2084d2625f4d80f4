package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// session is one login. Only the SHA-256 of its token is kept, so a map
// lookup's timing says nothing about a valid token, and a memory dump holds
// no usable token.
type session struct {
	created  time.Time
	lastSeen time.Time
	stamp    stamp // of the password it was made with
}

// Session describes a valid session.
type Session struct {
	Created time.Time
	// Expires is when the session ends unless it is used before then.
	Expires time.Time
}

// NewSession starts a session and returns its token: 32 random bytes in
// unpadded URL-safe base64, fit for a cookie value. When MaxSessions are
// open, the one used least recently ends.
func (a *Authenticator) NewSession() string {
	var raw [32]byte
	// crypto/rand never fails since Go 1.24.
	_, _ = rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := a.now()
	// Should the password be unreadable now, the zero stamp makes the
	// session fail its first check, which is what an unreadable password
	// does to every session.
	st, _ := a.passwordStamp()

	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	if len(a.sessions) >= a.maxSessions {
		var oldest [32]byte
		var oldestSeen time.Time
		first := true
		for k, s := range a.sessions {
			if first || s.lastSeen.Before(oldestSeen) {
				oldest, oldestSeen, first = k, s.lastSeen, false
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[sha256.Sum256([]byte(token))] = &session{created: now, lastSeen: now, stamp: st}
	return token
}

// CheckSession reports whether token belongs to a live session and, if so,
// marks it used now, which moves its idle expiry forward. A session made
// with another password than the current one has ended. While the password
// cannot be read, no session is valid (none is ended either).
func (a *Authenticator) CheckSession(token string) (Session, bool) {
	if token == "" {
		return Session{}, false
	}
	key := sha256.Sum256([]byte(token))
	now := a.now()
	st, err := a.passwordStamp()
	if err != nil {
		return Session{}, false
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[key]
	if !ok {
		return Session{}, false
	}
	if a.expiredLocked(s, now) || s.stamp != st {
		delete(a.sessions, key)
		return Session{}, false
	}
	s.lastSeen = now
	return Session{Created: s.created, Expires: a.expiresLocked(s)}, true
}

// EndSession ends the session of token, if there is one.
func (a *Authenticator) EndSession(token string) {
	key := sha256.Sum256([]byte(token))
	a.mu.Lock()
	delete(a.sessions, key)
	a.mu.Unlock()
}

// expiresLocked returns when s ends if it is not used again.
func (a *Authenticator) expiresLocked(s *session) time.Time {
	idle := s.lastSeen.Add(a.idle)
	if abs := s.created.Add(a.maxAge); abs.Before(idle) {
		return abs
	}
	return idle
}

func (a *Authenticator) expiredLocked(s *session, now time.Time) bool {
	return !now.Before(a.expiresLocked(s))
}

// pruneLocked drops expired sessions. The map holds at most MaxSessions
// entries, so this is cheap.
func (a *Authenticator) pruneLocked(now time.Time) {
	for k, s := range a.sessions {
		if a.expiredLocked(s, now) {
			delete(a.sessions, k)
		}
	}
}
