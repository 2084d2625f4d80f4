package dnshosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// DefaultDomain is dns_domain's default.
const DefaultDomain = "vpn.lan"

// maxLabel is the longest DNS label (RFC 1035).
const maxLabel = 63

// fold maps accented Latin letters (lower case) to ASCII.
var fold = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'þ': "th", 'ð': "d", 'ø': "o", 'ł': "l", 'đ': "d", 'ħ': "h", 'ı': "i",
}

// base maps runs of accented lower-case Latin letters to their base
// letter: each string lists the letters that fold to its first byte.
var base = []string{
	"aàáâãäåāăą", "cçćĉċč", "dď", "eèéêëēĕėęě", "gĝğġģ", "hĥ", "iìíîïĩīĭįĳ", "jĵ", "kķ",
	"lĺļľŀ", "nñńņňŉ", "oòóôõöōŏő", "rŕŗř", "sśŝşšș", "tţťŧț", "uùúûüũūŭůűų", "wŵ", "yýÿŷ", "zźżž",
}

func init() {
	for _, s := range base {
		for _, r := range s[1:] {
			fold[r] = s[:1]
		}
	}
}

// Label returns name as one DNS label, by the rule in the package comment.
func Label(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(name) {
		var s string
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			s = string(r)
		case fold[r] != "":
			s = fold[r]
		case unicode.Is(unicode.Mn, r):
			continue // a combining accent belongs to the letter before it
		}
		if s == "" {
			hyphen = b.Len() > 0
			continue
		}
		if hyphen {
			b.WriteByte('-')
			hyphen = false
		}
		b.WriteString(s)
	}
	l := b.String()
	if len(l) > maxLabel {
		l = strings.TrimRight(l[:maxLabel], "-")
	}
	if l == "" {
		return "device"
	}
	return l
}

// Device is one enabled device to list.
type Device struct {
	Name      string
	Addresses []netip.Addr
}

// Entry is one device's name in DNS.
type Entry struct {
	Name      string // the device's own name
	Host      string // label.domain
	Addresses []netip.Addr
}

// CheckDomain reports whether domain can follow the labels: dot-separated
// labels of letters, digits and inner hyphens.
func CheckDomain(domain string) error {
	if len(domain) > 200 {
		return fmt.Errorf("the DNS domain %.20q… is too long", domain)
	}
	for _, l := range strings.Split(domain, ".") {
		if l == "" || len(l) > maxLabel || l[0] == '-' || l[len(l)-1] == '-' || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("%q is not a DNS domain: use lower-case letters, digits, hyphens and dots, like vpn.lan", domain)
		}
	}
	return nil
}

// Hosts names the devices in domain: labels numbered on collision in the
// order given, devices without an address left out.
func Hosts(devices []Device, domain string) ([]Entry, error) {
	if domain == "" {
		domain = DefaultDomain
	}
	if err := CheckDomain(domain); err != nil {
		return nil, err
	}
	// A device's own label wins over a number given to another one:
	// "phone", "phone", "phone-2" gives phone, phone-3, phone-2.
	own := make(map[string]bool)
	for _, d := range devices {
		if len(d.Addresses) > 0 {
			own[Label(d.Name)] = true
		}
	}
	used := make(map[string]bool)
	var out []Entry
	for _, d := range devices {
		if len(d.Addresses) == 0 {
			continue
		}
		l := Label(d.Name)
		// At most len(devices) numbers can be taken, so the loop ends.
		for n := 2; used[l]; n++ {
			if c := numbered(Label(d.Name), n); !used[c] && !own[c] {
				l = c
			}
		}
		used[l] = true
		out = append(out, Entry{Name: d.Name, Host: l + "." + domain, Addresses: d.Addresses})
	}
	return out, nil
}

// numbered returns label with -n appended, shortened to fit 63 bytes.
func numbered(label string, n int) string {
	suffix := "-" + strconv.Itoa(n)
	return strings.TrimRight(label[:min(len(label), maxLabel-len(suffix))], "-") + suffix
}

// Format returns the hosts file for entries: one line per address.
func Format(entries []Entry) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by wgpanel: its WireGuard devices by name. Changes here are overwritten.\n")
	for _, e := range entries {
		for _, a := range e.Addresses {
			fmt.Fprintf(&b, "%s %s\n", a.Unmap(), e.Host)
		}
	}
	return b.Bytes()
}

// Write replaces the file at path with data, atomically: a reader (dnsmasq)
// sees the old file or the new one, never a part. It reports whether the
// content changed; an unchanged file is not rewritten.
func Write(path string, data []byte) (changed bool, err error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("dnshosts: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return false, fmt.Errorf("dnshosts: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	// /tmp is RAM: a rename is atomic for readers; no fsync is needed.
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("dnshosts: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, fmt.Errorf("dnshosts: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("dnshosts: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("dnshosts: %w", err)
	}
	return true, nil
}

// OpenWrtPIDFiles are where OpenWrt's dnsmasq instances (one per
// `config dnsmasq` section) keep their pids.
var OpenWrtPIDFiles = []string{"/var/run/dnsmasq/*.pid"}

// OpenWrtInitScript reloads dnsmasq when no pid file is found.
const OpenWrtInitScript = "/etc/init.d/dnsmasq"

// Reloader makes dnsmasq read its hosts files again.
type Reloader struct {
	PIDFiles   []string // glob patterns of pid files
	InitScript string   // run with "reload" when no pid file names a running dnsmasq; "" for none
}

// Reload sends SIGHUP to every running dnsmasq named by the pid files, or
// runs the init script when there is none. It returns how many dnsmasq
// processes were signalled; 0 with no error means no dnsmasq runs (then
// there is nothing to reload).
func (r Reloader) Reload(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for _, pattern := range r.PIDFiles {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			pid, ok := dnsmasqPID(f)
			if !ok {
				continue
			}
			if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
				errs = append(errs, fmt.Errorf("signal dnsmasq (pid %d): %w", pid, err))
				continue
			}
			n++
		}
	}
	if n > 0 || len(errs) > 0 {
		return n, errors.Join(errs...)
	}
	if r.InitScript == "" {
		return 0, nil
	}
	if _, err := os.Stat(r.InitScript); err != nil {
		return 0, nil
	}
	if out, err := exec.CommandContext(ctx, r.InitScript, "reload").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("dnshosts: %s reload: %w: %s", r.InitScript, err, strings.TrimSpace(string(out)))
	}
	return 1, nil
}

// dnsmasqPID reads a pid file and returns its pid when that process is a
// dnsmasq: a stale pid file must not make wgpanel signal another program
// (SIGHUP ends most).
func dnsmasqPID(file string) (int, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "dnsmasq" {
		return 0, false
	}
	return pid, true
}
