package auth

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxShadowSize bounds how much of a shadow file is read; a router's has a
// handful of lines.
const maxShadowSize = 1 << 20

// readShadowRoot returns root's password field from the shadow file at
// path: a crypt(3) hash, "" when no password is set, or a value starting
// with '!' or '*' when the account is locked. The file is read on every
// login so that a password changed with passwd takes effect at once.
func readShadowRoot(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("auth: read the root password: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxShadowSize))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != "root" {
			continue
		}
		hash, _, _ := strings.Cut(rest, ":")
		return hash, nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("auth: read %s: %w", path, err)
	}
	return "", fmt.Errorf("auth: %s has no entry for root", path)
}
