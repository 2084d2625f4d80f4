package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/GehirnInc/crypt"
	"github.com/GehirnInc/crypt/md5_crypt"
	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
)

// HashRounds is the sha512-crypt rounds count HashPassword uses, glibc's
// default. One check takes about 2 ms on an amd64 server core and 42 ms for
// an ARMv7 build under qemu-arm (BenchmarkVerifySHA512); the router's
// Cortex-A9 runs Go's generic SHA-512 code, so expect some 50 to 100 ms:
// well under a second, while a guesser still pays 5000 hashes per attempt.
const HashRounds = sha512_crypt.RoundsDefault

// verify checks pw against a crypt(3) hash in constant time. Only the
// formats LuCI's rpcd accepts on OpenWrt are supported: $1$, $5$ and $6$.
func verify(hash, pw string) error {
	var c crypt.Crypter
	switch {
	case strings.HasPrefix(hash, md5_crypt.MagicPrefix):
		c = md5_crypt.New()
	case strings.HasPrefix(hash, sha256_crypt.MagicPrefix):
		c = sha256_crypt.New()
	case strings.HasPrefix(hash, sha512_crypt.MagicPrefix):
		c = sha512_crypt.New()
	default:
		return fmt.Errorf("auth: the password hash has a format wgpanel cannot check (%s); "+
			"set the password again with passwd", hashKind(hash))
	}
	// The library splits a full hash badly when it has a rounds= part and a
	// salt shorter than 16 characters, so hand it only the setting (all but
	// the last $-field) and compare the whole result.
	i := strings.LastIndexByte(hash, '$')
	if i < 3 {
		return errors.New("auth: the password hash is malformed; set the password again")
	}
	got, err := c.Generate([]byte(pw), []byte(hash[:i]))
	if err != nil {
		return fmt.Errorf("auth: the password hash is malformed (%v); set the password again", err)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(hash)) != 1 {
		return ErrWrongPassword
	}
	return nil
}

// hashKind names the format of a hash for an error message without showing
// the hash itself.
func hashKind(hash string) string {
	if strings.HasPrefix(hash, "$") {
		if i := strings.IndexByte(hash[1:], '$'); i >= 0 {
			return "$" + hash[1:i+1] + "$"
		}
	}
	return "not a $-prefixed crypt hash"
}

// HashPassword returns the sha512-crypt hash of pw with a random salt, in
// the form crypt(3) and /etc/shadow use ("$6$salt$hash").
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("the password is empty")
	}
	if len(pw) > MaxPasswordLen {
		return "", fmt.Errorf("the password is longer than %d bytes", MaxPasswordLen)
	}
	c := sha512_crypt.New()
	salt := make([]byte, 12) // 16 characters of crypt base64
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: random salt: %w", err)
	}
	setting := sha512_crypt.MagicPrefix
	if HashRounds != sha512_crypt.RoundsDefault {
		setting += fmt.Sprintf("rounds=%d$", HashRounds)
	}
	setting += cryptBase64(salt)
	h, err := c.Generate([]byte(pw), []byte(setting))
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return h, nil
}

// cryptBase64 encodes b in crypt(3)'s alphabet, 6 bits per character.
// Only the characters matter for a salt, not their byte order.
func cryptBase64(b []byte) string {
	const alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var sb strings.Builder
	var acc, bits uint
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 6 {
			bits -= 6
			sb.WriteByte(alphabet[(acc>>bits)&63])
		}
	}
	if bits > 0 {
		sb.WriteByte(alphabet[(acc<<(6-bits))&63])
	}
	return sb.String()
}

// GeneratePassword returns a random password of 16 characters in four
// groups, such as "k7mq-x3vh-9rtc-wp4n", about 79 bits. The alphabet leaves
// out characters that are easy to misread (0/o, 1/l/i) and upper case, so it
// can be typed on a phone from a terminal printout.
func GeneratePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	base := big.NewInt(int64(len(alphabet)))
	limit := new(big.Int).Exp(base, big.NewInt(16), nil)
	// crypto/rand never fails since Go 1.24; it crashes the program instead
	// when the system has no randomness.
	n, _ := rand.Int(rand.Reader, limit)
	var digit big.Int
	out := make([]byte, 0, 19)
	for i := range 16 {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		n.DivMod(n, base, &digit)
		out = append(out, alphabet[digit.Int64()])
	}
	return string(out)
}
