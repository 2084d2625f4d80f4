package ipkcheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
)

// apkVersionValid and apkVersionCompare implement apk-tools 3's version
// rules from apk-package(5): number{.number}...{letter}{_suffix{number}}...
// {~hash}{-r#}, suffixes ordered alpha < beta < pre < rc < (none) < cvs <
// svn < git < hg < p. They are the test's own, independent of the
// writer's check in packaging/apkv3.
type apkToken struct {
	kind   int // see the tok* constants, in grammar order
	num    uint64
	text   string
	suffix int
}

const (
	tokFirst = iota
	tokDigit
	tokLetter
	tokSuffix
	tokSuffixNum
	tokHash
	tokRevision
	tokEnd
	tokInvalid
)

var apkSuffixes = []string{"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"}

const apkNoSuffix = 4

func digitsAt(s string, i int) (string, int) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return s[i:j], j
}

func atoi(d string) uint64 {
	var n uint64
	for _, c := range d {
		n = n*10 + uint64(c-'0')
	}
	return n
}

// apkTokens splits v; the last token is tokEnd or tokInvalid.
func apkTokens(v string) []apkToken {
	d, i := digitsAt(v, 0)
	if d == "" {
		return []apkToken{{kind: tokInvalid}}
	}
	toks := []apkToken{{kind: tokFirst, num: atoi(d), text: d}}
	prev := tokFirst
	bad := func() []apkToken { return append(toks, apkToken{kind: tokInvalid}) }
	for i < len(v) {
		c := v[i]
		var t apkToken
		switch {
		case c >= 'a' && c <= 'z':
			if prev > tokDigit {
				return bad()
			}
			t = apkToken{kind: tokLetter, text: v[i : i+1]}
			i++
		case c == '.' || c >= '0' && c <= '9':
			if c == '.' {
				if prev > tokDigit {
					return bad()
				}
				i++
			}
			kind := tokDigit
			switch prev {
			case tokFirst, tokDigit:
			case tokSuffix:
				kind = tokSuffixNum
			default:
				return bad()
			}
			d, i = digitsAt(v, i)
			if d == "" {
				return bad()
			}
			t = apkToken{kind: kind, num: atoi(d), text: d}
		case c == '_':
			if prev > tokSuffixNum {
				return bad()
			}
			j := i + 1
			for j < len(v) && v[j] >= 'a' && v[j] <= 'z' {
				j++
			}
			name := v[i+1 : j]
			s := -1
			for k, n := range apkSuffixes {
				if n == name && n != "" {
					s = k
				}
			}
			if s < 0 {
				return bad()
			}
			t = apkToken{kind: tokSuffix, suffix: s, text: name}
			i = j
		case c == '~':
			if prev >= tokHash {
				return bad()
			}
			j := i + 1
			for j < len(v) && strings.IndexByte("0123456789abcdef", v[j]) >= 0 {
				j++
			}
			if j == i+1 {
				return bad()
			}
			t = apkToken{kind: tokHash, text: v[i+1 : j]}
			i = j
		case c == '-':
			if prev >= tokRevision || !strings.HasPrefix(v[i:], "-r") {
				return bad()
			}
			d, i = digitsAt(v, i+2)
			if d == "" {
				return bad()
			}
			t = apkToken{kind: tokRevision, num: atoi(d), text: d}
		default:
			return bad()
		}
		toks = append(toks, t)
		prev = t.kind
	}
	return append(toks, apkToken{kind: tokEnd})
}

func apkVersionValid(v string) bool {
	toks := apkTokens(v)
	return toks[len(toks)-1].kind == tokEnd
}

// apkVersionCompare returns -1, 0 or 1.
func apkVersionCompare(a, b string) int {
	ta, tb := apkTokens(a), apkTokens(b)
	i := 0
	for ; i < len(ta) && i < len(tb) && ta[i].kind == tb[i].kind && ta[i].kind < tokEnd; i++ {
		x, y := ta[i], tb[i]
		var c int
		switch x.kind {
		case tokDigit:
			if x.text[0] == '0' || y.text[0] == '0' {
				c = strings.Compare(x.text, y.text) // leading zero: as text
				break
			}
			c = cmpU(x.num, y.num)
		case tokFirst, tokSuffixNum, tokRevision:
			c = cmpU(x.num, y.num)
		case tokLetter:
			c = strings.Compare(x.text, y.text)
		case tokSuffix:
			c = cmpU(uint64(x.suffix), uint64(y.suffix))
		default:
			c = strings.Compare(x.text, y.text)
		}
		if c != 0 {
			return c
		}
	}
	x, y := ta[min(i, len(ta)-1)], tb[min(i, len(tb)-1)]
	switch {
	case x.kind == y.kind:
		return 0
	case x.kind == tokSuffix && x.suffix < apkNoSuffix: // a pre-release
		return -1
	case y.kind == tokSuffix && y.suffix < apkNoSuffix:
		return 1
	case x.kind > y.kind:
		return -1
	default:
		return 1
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// opkgVersionCompare is opkg's pkg_vercmp for versions without an epoch:
// the upstream part and the revision after the last '-' compared in turn
// by Debian's verrevcmp, where '~' sorts before everything, the end of the
// string next, then letters, then other characters, and digit runs compare
// as numbers.
func opkgVersionCompare(a, b string) int {
	split := func(v string) (string, string) {
		if i := strings.LastIndexByte(v, '-'); i >= 0 {
			return v[:i], v[i+1:]
		}
		return v, ""
	}
	av, ar := split(a)
	bv, br := split(b)
	if c := verrevcmp(av, bv); c != 0 {
		return c
	}
	return verrevcmp(ar, br)
}

func verrevcmp(a, b string) int {
	order := func(s string, i int) int {
		if i >= len(s) {
			return 0
		}
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			return 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			return int(c)
		case c == '~':
			return -1
		}
		return int(c) + 256
	}
	isDigit := func(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a, i)) || (j < len(b) && !isDigit(b, j)) {
			if ac, bc := order(a, i), order(b, j); ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		first := 0
		for isDigit(a, i) && isDigit(b, j) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if isDigit(a, i) {
			return 1
		}
		if isDigit(b, j) {
			return -1
		}
		if first != 0 {
			return sign(first)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// TestVersionGrammar is the table of versions apk accepts and refuses.
func TestVersionGrammar(t *testing.T) {
	tests := []struct {
		v     string
		valid bool
	}{
		{"0.1.0-r1", true},
		{"1.2.3_p3", true},
		{"1.3.0_rc1", true},
		{"0.1.0_pre12", true},
		{"0.0.0_p120-r1", true},
		{"0.0.0_p120_git-r1", true},
		{"1.2.3_p5_git-r1", true},
		{"1.2.3a-r0", true},
		{"1.2.3~abc1-r0", true},
		{"0.1.0~gf682155-r1", false}, // the old scheme: g is not hex
		{"1.2.3+3.gabc1234", false},
		{"0.1.0.dirty", false},
		{"0.1.0~rc1", false},
		{"1.2.3-rc1", false},
		{"v1.2.3", false},
		{"1.2.3-r", false},
		{"1.2.3_x1", false},
		{"1..2", false},
		{"1.2.3a.4", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := apkVersionValid(tt.v); got != tt.valid {
			t.Errorf("apk accepts %q: %v; want %v", tt.v, got, tt.valid)
		}
	}
}

// versionsInOrder are versions the Makefile's scheme produces, oldest
// first: every one must sort after the one before under both apk and opkg.
var versionsInOrder = []string{
	"0.0.0-r1",
	"0.0.0_p1-r1",
	"0.0.0_p1_git-r1", // uncommitted changes on top of commit 1
	"0.0.0_p2-r1",
	"0.0.0_p9-r1",
	"0.0.0_p10-r1",
	"0.0.0_p120-r1",
	"0.0.0_p120_git-r1",
	"0.1.0-r1",
	"0.1.0-r2",
	"0.1.0_git-r1",
	"0.1.0_p1-r1",
	"0.1.0_p9_git-r1",
	"0.1.0_p10-r1",
	"0.1.1-r1",
	"0.2.0-r1",
	"0.10.0-r1",
	"1.0.0-r1",
}

// TestVersionOrder checks the order of versionsInOrder under apk's and
// opkg's rules, pair by pair both ways, and that a pre-release suffix is
// where the two disagree (why the Makefile refuses pre-release tags).
func TestVersionOrder(t *testing.T) {
	for i, a := range versionsInOrder {
		if !apkVersionValid(a) {
			t.Errorf("%s is not valid for apk", a)
		}
		for _, b := range versionsInOrder[i+1:] {
			if c := apkVersionCompare(a, b); c != -1 {
				t.Errorf("apk: %s vs %s = %d; want -1", a, b, c)
			}
			if c := apkVersionCompare(b, a); c != 1 {
				t.Errorf("apk: %s vs %s = %d; want 1", b, a, c)
			}
			if c := opkgVersionCompare(a, b); c != -1 {
				t.Errorf("opkg: %s vs %s = %d; want -1", a, b, c)
			}
			if c := opkgVersionCompare(b, a); c != 1 {
				t.Errorf("opkg: %s vs %s = %d; want 1", b, a, c)
			}
		}
		if apkVersionCompare(a, a) != 0 || opkgVersionCompare(a, a) != 0 {
			t.Errorf("%s does not equal itself", a)
		}
	}
	if apkVersionCompare("1.3.0_rc1-r1", "1.3.0-r1") != -1 || opkgVersionCompare("1.3.0_rc1-r1", "1.3.0-r1") != 1 {
		t.Error("apk orders 1.3.0_rc1 before 1.3.0 and opkg after it; the comparers disagree with that")
	}
	// The old scheme's ~ sorted before the release in opkg, and apk refuses it.
	if opkgVersionCompare("0.1.0~gabc-r1", "0.1.0-r1") != -1 || apkVersionValid("0.1.0~gabc-r1") {
		t.Error("opkg orders ~ first, and apk refuses a ~ not followed by hex only")
	}
}

// TestVersionScheme runs the Makefile's print-version and check-version in
// a scratch git repository through a history: untagged commits, a dirty
// tree, a tag, commits after it, and a pre-release tag, which is refused.
// Each version must be valid for apk and sort after the one before under
// both apk and opkg.
func TestVersionScheme(t *testing.T) {
	testutil.RequireCommand(t, "git", "make")
	makefile := filepath.Join(testutil.RepoRoot(t), "Makefile")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(name string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(name string, args ...string) {
		t.Helper()
		if out, err := run(name, args...); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	n := 0
	commit := func() {
		t.Helper()
		n++
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		must("git", "add", "f")
		must("git", "commit", "-q", "-m", "c")
	}
	version := func() string {
		t.Helper()
		out, err := run("make", "-s", "-f", makefile, "print-version")
		if err != nil {
			t.Fatalf("print-version: %v\n%s", err, out)
		}
		if out2, err := run("make", "-s", "-f", makefile, "check-version"); err != nil {
			t.Errorf("check-version refuses %s: %v\n%s", out, err, out2)
		}
		return out
	}
	must("git", "init", "-q")
	var got []string
	steps := []struct {
		do   func()
		want string
	}{
		{commit, "0.0.0_p1-r1"},
		{func() { os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644) }, "0.0.0_p1_git-r1"},
		{commit, "0.0.0_p2-r1"},
		{func() { os.WriteFile(filepath.Join(dir, "new"), nil, 0o644) }, "0.0.0_p2_git-r1"},
		{func() { os.Remove(filepath.Join(dir, "new")); must("git", "tag", "v0.1.0") }, "0.1.0-r1"},
		{commit, "0.1.0_p1-r1"},
		{commit, "0.1.0_p2-r1"},
		{func() { must("git", "tag", "v0.2.0") }, "0.2.0-r1"},
		{func() { commit(); commit(); commit() }, "0.2.0_p3-r1"},
	}
	for _, s := range steps {
		s.do()
		v := version()
		if v != s.want {
			t.Errorf("print-version %s; want %s", v, s.want)
		}
		got = append(got, v)
	}
	for i := 1; i < len(got); i++ {
		if apkVersionCompare(got[i-1], got[i]) != -1 || opkgVersionCompare(got[i-1], got[i]) != -1 {
			t.Errorf("%s does not sort before %s under both apk and opkg", got[i-1], got[i])
		}
	}
	commit()
	must("git", "tag", "v0.3.0-rc1")
	out, err := run("make", "-s", "-f", makefile, "check-version")
	if err == nil || !strings.Contains(out, "vX.Y.Z") {
		t.Errorf("check-version after a pre-release tag: %v, %q; want a refusal naming vX.Y.Z", err, out)
	}
}
