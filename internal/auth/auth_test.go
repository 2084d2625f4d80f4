package auth

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable time source for sessions and the rate limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func passwordAuth(t *testing.T, hash string) *Authenticator {
	t.Helper()
	a, err := New(Config{Mode: ModePassword, Hash: func() (string, error) { return hash, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestVerifyOpenSSL checks hashes made by Debian's openssl passwd, the same
// algorithms busybox passwd and LuCI write into /etc/shadow.
func TestVerifyOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed; CI must install it (Debian package openssl)")
		}
		t.Skip("openssl is not installed; it makes the reference hashes")
	}
	for _, alg := range []string{"-1", "-5", "-6"} {
		for _, pw := range []string{"secret", "correct horse battery staple", "ünïcødé-pw", "x"} {
			t.Run(alg+"/"+pw, func(t *testing.T) {
				out, err := exec.Command("openssl", "passwd", alg, pw).Output()
				if err != nil {
					t.Fatalf("openssl passwd %s: %v", alg, err)
				}
				hash := strings.TrimSpace(string(out))
				if err := verify(hash, pw); err != nil {
					t.Errorf("verify(%q, %q) = %v; want nil", hash, pw, err)
				}
				if err := verify(hash, pw+"!"); !errors.Is(err, ErrWrongPassword) {
					t.Errorf("verify with a wrong password = %v; want ErrWrongPassword", err)
				}
				a := passwordAuth(t, hash)
				if err := a.CheckPassword(pw); err != nil {
					t.Errorf("CheckPassword = %v; want nil", err)
				}
			})
		}
	}
}

// TestVerifyGlibc checks hashes with a rounds= part and short or truncated
// salts, made by glibc's crypt(3) (via Python's crypt module), which openssl
// passwd cannot make.
func TestVerifyGlibc(t *testing.T) {
	tests := []struct {
		name, pw, hash string
	}{
		{"sha512 rounds 10000", "Hello world!",
			"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{"sha256 explicit default rounds", "Hello world!",
			"$5$rounds=5000$toolongsaltstrin$0vuwUia3Nx9V/DqToMS8YLcfXpEXmSaC8wgguLIbus2"},
		{"sha512 rounds short salt", "pw",
			"$6$rounds=6000$ab$9NCgZZVpF5K/rPJ1cVge2gwGn6C3eYCgAcYZepkrd4Ul9FJDK201SJN1sQetCsS4rSCNGEkRnq6dbmXGXXSfy."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verify(tt.hash, tt.pw); err != nil {
				t.Errorf("verify = %v; want nil", err)
			}
			if err := verify(tt.hash, "wrong"); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("verify(wrong) = %v; want ErrWrongPassword", err)
			}
		})
	}
}

func TestVerifyUnsupported(t *testing.T) {
	tests := []struct{ name, hash, want string }{
		{"des", "abJnggxhB/yWI", "cannot check"},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuu", "$2b$"},
		{"yescrypt", "$y$j9T$salt$hash", "$y$"},
		{"no fields", "$6$", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(tt.hash, "pw")
			if err == nil || errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("verify(%q) = %v; want an error containing %q", tt.hash, err, tt.want)
			}
		})
	}
}

func TestShadow(t *testing.T) {
	const hashOfSecret = "$1$Dx6R4sSj$6pU6WRAvT96l7d9T79ioX." // openssl passwd -1 -salt Dx6R4sSj secret
	tests := []struct {
		name    string
		content string // "" means no file at all
		pw      string
		want    error  // nil, ErrWrongPassword or ErrNoPassword
		wantMsg string // a part of the error message, for other errors
	}{
		{"right password", "daemon:*:0:0:99999:7:::\nroot:" + hashOfSecret + ":19000:0:99999:7:::\n", "secret", nil, ""},
		{"wrong password", "root:" + hashOfSecret + ":19000:0:99999:7:::\n", "Secret", ErrWrongPassword, ""},
		{"empty password (OpenWrt default)", "root:::0:99999:7:::\n", "", ErrNoPassword, "passwd"},
		{"empty password, any input", "root:::0:99999:7:::\n", "anything", ErrNoPassword, "LuCI"},
		{"locked with !", "root:!" + hashOfSecret + ":0:99999:7:::\n", "secret", ErrNoPassword, "passwd"},
		{"locked with *", "root:*:0:99999:7:::\n", "secret", ErrNoPassword, "passwd"},
		{"no root line", "daemon:*:0:0:99999:7:::\n", "secret", nil, "no entry for root"},
		{"missing file", "", "secret", nil, "read the root password"},
		{"too long password", "root:" + hashOfSecret + ":0:99999:7:::\n", strings.Repeat("a", MaxPasswordLen+1), ErrWrongPassword, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shadow")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			a, err := New(Config{Mode: ModeShadow, ShadowPath: path})
			if err != nil {
				t.Fatal(err)
			}
			err = a.CheckPassword(tt.pw)
			switch {
			case tt.want == nil && tt.wantMsg == "":
				if err != nil {
					t.Errorf("CheckPassword = %v; want nil", err)
				}
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Errorf("CheckPassword = %v; want %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("CheckPassword = %q; want a message containing %q", err, tt.wantMsg)
				}
			default:
				if err == nil || errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrNoPassword) ||
					!strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("CheckPassword = %v; want an error containing %q", err, tt.wantMsg)
				}
			}
		})
	}
}

func TestShadowDefaultPath(t *testing.T) {
	a, err := New(Config{Mode: ModeShadow})
	if err != nil {
		t.Fatal(err)
	}
	if a.shadowPath != DefaultShadowPath {
		t.Errorf("shadow path = %q; want %q", a.shadowPath, DefaultShadowPath)
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []Config{{Mode: ""}, {Mode: "pam"}, {Mode: ModePassword}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error; want one", cfg)
		}
	}
}

func TestPasswordMode(t *testing.T) {
	var hash string
	var hashErr error
	a, err := New(Config{Mode: ModePassword, Hash: func() (string, error) { return hash, hashErr }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckPassword("x"); !errors.Is(err, ErrNoPassword) || !strings.Contains(err.Error(), "wgpanel passwd") {
		t.Errorf("no hash: CheckPassword = %v; want ErrNoPassword telling to run wgpanel passwd", err)
	}
	h, err := HashPassword("first")
	if err != nil {
		t.Fatal(err)
	}
	hash = h
	if err := a.CheckPassword("first"); err != nil {
		t.Errorf("CheckPassword(first) = %v; want nil", err)
	}
	// The hash is read again on every check, so a new password works at once.
	hash, _ = HashPassword("second")
	if err := a.CheckPassword("first"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("after change, CheckPassword(first) = %v; want ErrWrongPassword", err)
	}
	if err := a.CheckPassword("second"); err != nil {
		t.Errorf("after change, CheckPassword(second) = %v; want nil", err)
	}
	hashErr = errors.New("disk on fire")
	if err := a.CheckPassword("second"); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("hash error: CheckPassword = %v; want it wrapped", err)
	}
}

func TestHashPassword(t *testing.T) {
	re := regexp.MustCompile(`^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$`)
	h1, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("pw")
	if !re.MatchString(h1) {
		t.Errorf("HashPassword = %q; want the form $6$<16 salt chars>$<86 chars>", h1)
	}
	if h1 == h2 {
		t.Errorf("two hashes of one password are equal (%q); want random salts", h1)
	}
	if err := verify(h1, "pw"); err != nil {
		t.Errorf("verify(HashPassword(pw), pw) = %v; want nil", err)
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("HashPassword(\"\") = nil error; want one")
	}
	if _, err := HashPassword(strings.Repeat("a", MaxPasswordLen+1)); err == nil {
		t.Error("HashPassword(too long) = nil error; want one")
	}
	// glibc must accept what wgpanel writes, since the owner may copy it.
	if _, err := exec.LookPath("python3"); err == nil {
		out, err := exec.Command("python3", "-W", "ignore", "-c",
			"import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))", "pw", h1).Output()
		if err == nil && strings.TrimSpace(string(out)) != h1 {
			t.Errorf("glibc crypt(pw, %q) = %q; want the same hash", h1, out)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	re := regexp.MustCompile(`^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$`)
	seen := make(map[string]bool)
	for range 100 {
		pw := GeneratePassword()
		if !re.MatchString(pw) {
			t.Fatalf("GeneratePassword = %q; want four groups of four unambiguous characters", pw)
		}
		if strings.ContainsAny(pw, "01ilo") {
			t.Fatalf("GeneratePassword = %q contains an ambiguous character", pw)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword repeated %q", pw)
		}
		seen[pw] = true
	}
}

func TestSessions(t *testing.T) {
	clock := newClock()
	a, err := New(Config{Mode: ModePassword, Hash: func() (string, error) { return "", nil },
		IdleTimeout: 30 * time.Minute, MaxAge: 2 * time.Hour, MaxSessions: 3, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := a.NewSession()
	if len(tok) != 43 {
		t.Errorf("token length = %d; want 43 (32 bytes, unpadded base64)", len(tok))
	}
	if _, ok := a.CheckSession(tok); !ok {
		t.Fatal("a new session is not valid")
	}
	if _, ok := a.CheckSession(tok + "x"); ok {
		t.Error("a changed token is valid")
	}
	if _, ok := a.CheckSession(""); ok {
		t.Error("the empty token is valid")
	}

	t.Run("idle expiry moves with use", func(t *testing.T) {
		tok := a.NewSession()
		for range 3 {
			clock.Add(29 * time.Minute)
			s, ok := a.CheckSession(tok)
			if !ok {
				t.Fatal("session used every 29 minutes expired")
			}
			if want := clock.Now().Add(30 * time.Minute); !s.Expires.Equal(want) {
				t.Errorf("Expires = %v; want %v", s.Expires, want)
			}
		}
		clock.Add(30 * time.Minute)
		if _, ok := a.CheckSession(tok); ok {
			t.Error("session idle for 30 minutes is still valid")
		}
	})

	t.Run("absolute cap", func(t *testing.T) {
		tok := a.NewSession()
		var last Session
		for range 5 { // 5 x 25 min = 125 min > 2 h
			clock.Add(25 * time.Minute)
			s, ok := a.CheckSession(tok)
			if !ok {
				if clock.Now().Before(last.Created.Add(2 * time.Hour)) {
					t.Fatalf("session ended early at %v", clock.Now())
				}
				return
			}
			last = s
		}
		t.Error("session used every 25 minutes outlived the 2 h cap")
	})

	t.Run("logout", func(t *testing.T) {
		tok := a.NewSession()
		a.EndSession(tok)
		if _, ok := a.CheckSession(tok); ok {
			t.Error("session is valid after EndSession")
		}
		a.EndSession("unknown") // must not panic
	})

	t.Run("cap on count drops least recently used", func(t *testing.T) {
		clock.Add(24 * time.Hour) // let every earlier session expire
		t1 := a.NewSession()
		clock.Add(time.Minute)
		t2 := a.NewSession()
		clock.Add(time.Minute)
		t3 := a.NewSession()
		clock.Add(time.Minute)
		a.CheckSession(t1) // t2 is now the least recently used
		t4 := a.NewSession()
		for tok, want := range map[string]bool{t1: true, t2: false, t3: true, t4: true} {
			if _, ok := a.CheckSession(tok); ok != want {
				t.Errorf("session valid = %v; want %v", ok, want)
			}
		}
	})
}

func TestAllowLogin(t *testing.T) {
	clock := newClock()
	a, err := New(Config{Mode: ModeShadow, Now: clock.Now}) // defaults: 5 at once, one per 12 s
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.168.1.100")
	for i := range DefaultLoginBurst {
		if ok, _ := a.AllowLogin(ip); !ok {
			t.Fatalf("attempt %d refused; want %d allowed at once", i+1, DefaultLoginBurst)
		}
	}
	ok, wait := a.AllowLogin(ip)
	if ok || wait <= 0 || wait > DefaultLoginInterval {
		t.Fatalf("6th attempt: ok=%v wait=%v; want refused with a wait in (0, %v]", ok, wait, DefaultLoginInterval)
	}
	if ok, _ := a.AllowLogin(netip.MustParseAddr("192.168.1.101")); !ok {
		t.Error("another client is refused; want buckets per address")
	}
	clock.Add(wait)
	if ok, _ := a.AllowLogin(ip); !ok {
		t.Error("attempt after the wait refused")
	}
	if ok, _ := a.AllowLogin(ip); ok {
		t.Error("second attempt after one interval allowed; want one per interval")
	}
	clock.Add(time.Hour)
	for i := range DefaultLoginBurst {
		if ok, _ := a.AllowLogin(ip); !ok {
			t.Fatalf("after an hour, attempt %d refused; want the burst back", i+1)
		}
	}

	t.Run("IPv6 per /64", func(t *testing.T) {
		for i := range DefaultLoginBurst {
			addr := netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 1, 15: byte(i + 1)})
			if ok, _ := a.AllowLogin(addr); !ok {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		if ok, _ := a.AllowLogin(netip.MustParseAddr("fd00:0:0:1::ffff")); ok {
			t.Error("a new address in the same /64 is allowed; want the /64 counted as one client")
		}
		if ok, _ := a.AllowLogin(netip.MustParseAddr("fd00:0:0:2::1")); !ok {
			t.Error("another /64 is refused")
		}
		if ok, _ := a.AllowLogin(netip.MustParseAddr("fe80::1%eth0")); !ok {
			t.Error("a zoned link-local address is refused")
		}
	})

	t.Run("bounded memory", func(t *testing.T) {
		l := newLimiter(1, time.Minute)
		now := clock.Now()
		for i := range maxBuckets * 2 {
			addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			l.allow(addr, now)
		}
		if n := len(l.buckets); n > maxBuckets {
			t.Errorf("limiter tracks %d addresses; want at most %d", n, maxBuckets)
		}
	})
}

// BenchmarkVerifySHA512 measures one login check against a HashPassword
// hash. The router's ARMv7 core is roughly ten to twenty times slower.
func BenchmarkVerifySHA512(b *testing.B) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := verify(h, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMD5 measures a check of OpenWrt's default $1$ root hash.
func BenchmarkVerifyMD5(b *testing.B) {
	const h = "$1$Dx6R4sSj$6pU6WRAvT96l7d9T79ioX."
	for b.Loop() {
		if err := verify(h, "secret"); err != nil {
			b.Fatal(err)
		}
	}
}
