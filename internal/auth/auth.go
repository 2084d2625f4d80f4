package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Modes of checking the password.
const (
	// ModeShadow checks the router's root password in a shadow file.
	ModeShadow = "shadow"
	// ModePassword checks wgpanel's own hash, from /etc/config/wgpanel.
	ModePassword = "password"
)

// DefaultShadowPath is where the root password lives on OpenWrt.
const DefaultShadowPath = "/etc/shadow"

// MaxPasswordLen bounds the length of a password. sha-crypt's cost grows
// with the square of the password length, so a long password sent to the
// login form would otherwise keep a router CPU busy for seconds.
const MaxPasswordLen = 256

// Defaults for Config.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	DefaultMaxSessions = 64
	// DefaultLoginBurst login attempts may come at once from one client
	// address; after that one more is allowed every DefaultLoginInterval.
	DefaultLoginBurst    = 5
	DefaultLoginInterval = 12 * time.Second
)

var (
	// ErrWrongPassword is returned for a password that does not match.
	ErrWrongPassword = errors.New("wrong password")
	// ErrNoPassword is matched (errors.Is) by the error returned when no
	// password is set at all, or the root account is locked. Its message
	// tells the owner how to set one.
	ErrNoPassword = errors.New("no password is set")
)

// noPasswordError carries a message for the owner and matches ErrNoPassword.
type noPasswordError struct{ msg string }

func (e *noPasswordError) Error() string        { return e.msg }
func (e *noPasswordError) Is(target error) bool { return target == ErrNoPassword }

// Config configures an Authenticator. Zero fields take the defaults above.
type Config struct {
	// Mode is ModeShadow or ModePassword.
	Mode string
	// ShadowPath is the shadow file for ModeShadow; DefaultShadowPath when "".
	ShadowPath string
	// Hash returns the current crypt(3) hash for ModePassword, "" when none
	// is set. It is called on every login, so it can re-read the config file
	// and a new `wgpanel passwd` takes effect without a restart.
	Hash func() (string, error)
	// HashFile is the file Hash reads, if any. Sessions end when the
	// password changes; with HashFile set, Hash is called for that check
	// only after the file changed, not on every request.
	HashFile string

	IdleTimeout   time.Duration // a session not used for this long ends
	MaxAge        time.Duration // a session ends this long after login, used or not
	MaxSessions   int           // the oldest session ends when one more is made
	LoginBurst    int           // login attempts allowed at once per client address
	LoginInterval time.Duration // one more attempt is allowed per interval

	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Authenticator checks passwords, rate limits login attempts and keeps
// sessions. It is safe for concurrent use.
type Authenticator struct {
	mode       string
	shadowPath string
	hash       func() (string, error)
	hashPath   string
	now        func() time.Time

	idle, maxAge time.Duration
	maxSessions  int

	limiter *limiter

	stampMu  sync.Mutex
	stamp    stamp // of the password last read from the hash file
	stampKey fileKey
	stampOK  bool

	mu       sync.Mutex
	sessions map[[32]byte]*session // keyed by the SHA-256 of the token
}

// New returns an Authenticator for cfg.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{
		mode:        cfg.Mode,
		shadowPath:  cfg.ShadowPath,
		hash:        cfg.Hash,
		hashPath:    cfg.HashFile,
		now:         cfg.Now,
		idle:        cfg.IdleTimeout,
		maxAge:      cfg.MaxAge,
		maxSessions: cfg.MaxSessions,
		sessions:    make(map[[32]byte]*session),
	}
	switch a.mode {
	case ModeShadow:
		if a.shadowPath == "" {
			a.shadowPath = DefaultShadowPath
		}
	case ModePassword:
		if a.hash == nil {
			return nil, errors.New("auth: mode password needs a Hash function")
		}
	default:
		return nil, fmt.Errorf("auth: unknown mode %q: use %q or %q", cfg.Mode, ModeShadow, ModePassword)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.idle <= 0 {
		a.idle = DefaultIdleTimeout
	}
	if a.maxAge <= 0 {
		a.maxAge = DefaultMaxAge
	}
	if a.maxSessions <= 0 {
		a.maxSessions = DefaultMaxSessions
	}
	burst, interval := cfg.LoginBurst, cfg.LoginInterval
	if burst <= 0 {
		burst = DefaultLoginBurst
	}
	if interval <= 0 {
		interval = DefaultLoginInterval
	}
	a.limiter = newLimiter(burst, interval)
	return a, nil
}

// Mode returns ModeShadow or ModePassword.
func (a *Authenticator) Mode() string { return a.mode }

// IdleTimeout returns how long an unused session lives.
func (a *Authenticator) IdleTimeout() time.Duration { return a.idle }

// CheckPassword returns nil when pw is the current password. It returns
// ErrWrongPassword when it is not, an error matching ErrNoPassword (with a
// message for the owner) when no password is set, and any other error when
// the password cannot be read or its hash cannot be checked.
func (a *Authenticator) CheckPassword(pw string) error {
	hash, err := a.readHash()
	if err != nil {
		return err
	}
	switch {
	case a.mode == ModeShadow && (hash == "" || hash[0] == '!' || hash[0] == '*'):
		return &noPasswordError{"The router has no root password (or root is locked). " +
			"Set one with passwd over SSH or under System, Administration in LuCI, then log in with it."}
	case hash == "":
		return &noPasswordError{"No wgpanel password is set. Set one with: wgpanel passwd"}
	}
	if len(pw) > MaxPasswordLen {
		return ErrWrongPassword
	}
	return verify(hash, pw)
}

// readHash returns the current password hash as stored: root's shadow field
// or wgpanel's own hash.
func (a *Authenticator) readHash() (string, error) {
	if a.mode == ModeShadow {
		return readShadowRoot(a.shadowPath)
	}
	h, err := a.hash()
	if err != nil {
		return "", fmt.Errorf("auth: read password hash: %w", err)
	}
	return h, nil
}

// AllowLogin reports whether a login attempt from the client address addr
// may be made now. When it may not, it returns how long the client should
// wait. Every call that returns true uses up one attempt. IPv6 clients are
// counted per /64, since one host can pick any address in its subnet.
func (a *Authenticator) AllowLogin(addr netip.Addr) (bool, time.Duration) {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	return a.limiter.allow(addr, a.now())
}
