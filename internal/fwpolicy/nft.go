package fwpolicy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"unicode/utf8"
)

// Table is the nftables table the standalone enforcement owns.
const Table = "inet wgpanel"

// Net is what the standalone enforcement knows of the host's networks:
// the WireGuard interface and the LAN's prefixes. Everything else counts
// as the internet.
type Net struct {
	Interface string
	LAN       []netip.Prefix
}

// Ruleset returns the nft script that replaces table inet wgpanel with one
// enforcing p on n, in one transaction (`nft -f`). Its base chains run just
// before the usual filter priority; they accept (that is, leave to the
// other tables) everything that does not come in on the WireGuard
// interface, and reject what p forbids.
func Ruleset(p Policy, n Net) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if !validIfname(n.Interface) {
		return "", fmt.Errorf("%q is not a network interface name", n.Interface)
	}
	var input, forward []string
	if len(p.Subnets) > 0 {
		r := Rule{Name: NamePrefix + "devices may not reach each other"}
		verdict := "reject"
		if p.ClientToClient {
			r.Name, verdict = NamePrefix+"devices may reach each other", "accept"
		}
		forward = append(forward, fmt.Sprintf("oifname %q %s comment %s", n.Interface, verdict, nftComment(r.Name)))
	}
	for _, d := range p.Devices {
		if d.mode() == All {
			continue
		}
		name := NamePrefix + d.label()
		for _, fam := range []string{"ip", "ip6"} {
			src := ofFamily(d.Addresses, fam)
			if len(src) == 0 {
				continue
			}
			sel := fmt.Sprintf("%s saddr %s", fam, nftSet(src))
			lan := ofFamily(n.LAN, fam)
			switch d.mode() {
			case Internet:
				if len(lan) > 0 {
					forward = append(forward, fmt.Sprintf("%s %s daddr %s reject comment %s", sel, fam, nftSet(lan), nftComment(name)))
				}
			case LAN:
				if len(lan) > 0 {
					forward = append(forward, fmt.Sprintf("%s %s daddr != %s reject comment %s", sel, fam, nftSet(lan), nftComment(name)))
				} else {
					forward = append(forward, fmt.Sprintf("%s reject comment %s", sel, nftComment(name)))
				}
			case Hosts:
				if hosts := ofFamily(d.Hosts, fam); len(hosts) > 0 {
					forward = append(forward, fmt.Sprintf("%s %s daddr %s accept comment %s", sel, fam, nftSet(hosts), nftComment(name)))
				}
				forward = append(forward, fmt.Sprintf("%s reject comment %s", sel, nftComment(name+": nothing else")))
			}
			if d.mode() == Internet || d.mode() == Hosts {
				input = append(input,
					fmt.Sprintf("%s meta l4proto { tcp, udp } th dport 53 accept comment %s", sel, nftComment(name+": DNS on the router")),
					fmt.Sprintf("%s reject comment %s", sel, nftComment(name+": nothing else on the router")))
			}
		}
	}
	var b strings.Builder
	// Declaring the table first makes the delete succeed when it does not
	// exist yet; the three commands are one transaction.
	fmt.Fprintf(&b, "table %s\ndelete table %s\ntable %s {\n", Table, Table, Table)
	chain := func(name string, rules []string) {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority filter - 1; policy accept;\n", name, name)
		fmt.Fprintf(&b, "\t\tiifname != %q accept\n", n.Interface)
		for _, r := range rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	chain("input", input)
	chain("forward", forward)
	b.WriteString("}\n")
	return b.String(), nil
}

func ofFamily(ps []netip.Prefix, fam string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.Addr().Is4() == (fam == "ip") {
			out = append(out, p)
		}
	}
	return out
}

func nftSet(ps []netip.Prefix) string {
	return "{ " + joinPrefixes(ps, ", ") + " }"
}

// nftComment quotes s as an nft comment: no quote, backslash or control
// character inside, at most 127 bytes (the kernel's limit is 128 with the
// terminating NUL).
func nftComment(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' || r == 0x7f {
			return '\''
		}
		return r
	}, s)
	for len(s) > 127 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return `"` + s + `"`
}

// validIfname accepts what Linux accepts as an interface name and needs no
// quoting in an nft string.
func validIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == '/' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// NFT enforces a Policy on a standalone host with table inet wgpanel. Its
// methods may be called from several goroutines.
type NFT struct {
	// run runs nft with args and stdin and returns its standard output;
	// tests replace it.
	run func(ctx context.Context, stdin string, args ...string) ([]byte, error)

	mu   sync.Mutex
	last string // the ruleset last loaded, "" when the table is not ours to keep
}

// NewNFT returns an NFT that runs the nft program found in PATH.
func NewNFT() *NFT {
	return &NFT{run: runNFT}
}

func runNFT(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nft", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errors.New("the nft program is not installed (Debian: apt-get install nftables), so per-device access cannot be enforced")
		}
		return nil, fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// Apply loads the ruleset for p and n unless it is the one loaded last. It
// reports whether it loaded anything. On an error the previous table stays
// as it was (nft applies a script entirely or not at all).
func (t *NFT) Apply(ctx context.Context, p Policy, n Net) (changed bool, err error) {
	rs, err := Ruleset(p, n)
	if err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rs == t.last {
		return false, nil
	}
	if _, err := t.run(ctx, rs, "-f", "-"); err != nil {
		return false, fmt.Errorf("fwpolicy: load table %s: %w", Table, err)
	}
	t.last = rs
	return true, nil
}

// Remove deletes table inet wgpanel; a table that is not there is no
// error. The daemon calls it on exit.
func (t *NFT) Remove(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = ""
	// The same declare-then-delete script as in Ruleset, so that a missing
	// table is not an error.
	if _, err := t.run(ctx, fmt.Sprintf("table %s\ndelete table %s\n", Table, Table), "-f", "-"); err != nil {
		return fmt.Errorf("fwpolicy: remove table %s: %w", Table, err)
	}
	return nil
}

// Check is the doctor's view of the standalone enforcement: it returns a
// problem, in words for the owner, when table inet wgpanel that Apply
// loaded is gone or lost rules (another program flushed the ruleset), and
// "" when it is in place or nothing was loaded. After a problem, the next
// Apply loads the table again even if the policy did not change.
func (t *NFT) Check(ctx context.Context) (problem string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == "" {
		return "", nil
	}
	out, err := t.run(ctx, "", "list", "table", "inet", "wgpanel")
	if err != nil && !strings.Contains(err.Error(), "No such file") {
		return "", fmt.Errorf("fwpolicy: read table %s: %w", Table, err)
	}
	want := strings.Count(t.last, " comment ")
	if got := strings.Count(string(out), " comment "); err == nil && got == want {
		return "", nil
	}
	t.last = ""
	return fmt.Sprintf("The nftables table %s that limits what devices reach is missing or incomplete (another program changed the ruleset); wgpanel loads it again with the next change.", Table), nil
}
