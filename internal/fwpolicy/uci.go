package fwpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/wgpanel/wgpanel/internal/uci"
)

// NamePrefix starts the name of every rule wgpanel writes. It is how Apply
// tells its own rules from the owner's.
const NamePrefix = "wgpanel: "

// Zones names the fw4 zones the rules go between, as
// openwrt.FirewallZones reads them from the firewall file.
type Zones struct {
	Device string // the zone holding the WireGuard interface
	LAN    string
	WAN    string
}

// Rule is one fw4 `config rule` section. Dest "" makes it an input rule
// (traffic to the router itself), any other Dest a forward rule.
type Rule struct {
	Name     string
	Src      string
	Dest     string
	Proto    []string
	SrcIP    []string
	DestIP   []string
	DestPort string
	Target   string // ACCEPT or REJECT
}

// Rules returns the fw4 rules that enforce p between zones z, in the order
// fw4 must see them: the client-to-client rule first, then each device's
// rules in p's order.
func Rules(p Policy, z Zones) ([]Rule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if z.Device == "" {
		// fw4 forwards nothing from an interface in no zone, so there is
		// nothing to allow; but a limit cannot be written either.
		for _, d := range p.Devices {
			if d.mode() != All {
				return nil, errors.New("the WireGuard interface is in no firewall zone, so wgpanel cannot limit what devices reach: add it to a zone (LuCI: Network, Firewall)")
			}
		}
		return nil, nil
	}
	var rules []Rule
	if len(p.Subnets) > 0 {
		subnets := prefixStrings(p.Subnets)
		r := Rule{Name: NamePrefix + "devices may not reach each other", Src: z.Device, Dest: z.Device,
			SrcIP: subnets, DestIP: subnets, Target: "REJECT"}
		if p.ClientToClient {
			r.Name, r.Target = NamePrefix+"devices may reach each other", "ACCEPT"
		}
		rules = append(rules, r)
	}
	for _, d := range p.Devices {
		rs, err := deviceRules(d, z)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rs...)
	}
	return rules, nil
}

func deviceRules(d Device, z Zones) ([]Rule, error) {
	name := NamePrefix + d.label()
	src := prefixStrings(d.Addresses)
	// Guests and host-limited devices may ask the router's DNS and nothing
	// else of the router (not LuCI, not ssh).
	routerRules := []Rule{
		{Name: name + ": DNS on the router", Src: z.Device, SrcIP: src, Proto: []string{"tcp", "udp"}, DestPort: "53", Target: "ACCEPT"},
		{Name: name + ": nothing else on the router", Src: z.Device, SrcIP: src, Target: "REJECT"},
	}
	need := func(zone, what string) error {
		if zone == "" {
			return fmt.Errorf("device %s: there is no firewall zone for the %s, so its access cannot be limited", d.Name, what)
		}
		return nil
	}
	switch d.mode() {
	case Internet:
		if err := need(z.LAN, "LAN"); err != nil {
			return nil, err
		}
		return append([]Rule{{Name: name, Src: z.Device, SrcIP: src, Dest: z.LAN, Target: "REJECT"}}, routerRules...), nil
	case LAN:
		if err := need(z.WAN, "WAN"); err != nil {
			return nil, err
		}
		return []Rule{{Name: name, Src: z.Device, SrcIP: src, Dest: z.WAN, Target: "REJECT"}}, nil
	case Hosts:
		if err := need(z.LAN, "LAN"); err != nil {
			return nil, err
		}
		return append([]Rule{
			{Name: name, Src: z.Device, SrcIP: src, Dest: z.LAN, DestIP: prefixStrings(d.Hosts), Target: "ACCEPT"},
			{Name: name + ": nothing else", Src: z.Device, SrcIP: src, Dest: "*", Target: "REJECT"},
		}, routerRules...), nil
	}
	return nil, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = prefixString(p)
	}
	return s
}

// section returns r as a firewall section in the option order LuCI writes.
func (r *Rule) section() *uci.Section {
	s := &uci.Section{Type: "rule"}
	s.Set("name", r.Name)
	s.Set("src", r.Src)
	if r.Dest != "" {
		s.Set("dest", r.Dest)
	}
	if len(r.Proto) > 0 {
		s.SetList("proto", r.Proto)
	}
	if len(r.SrcIP) > 0 {
		s.SetList("src_ip", r.SrcIP)
	}
	if len(r.DestIP) > 0 {
		s.SetList("dest_ip", r.DestIP)
	}
	if r.DestPort != "" {
		s.Set("dest_port", r.DestPort)
	}
	s.Set("target", r.Target)
	return s
}

// ours reports whether s is a rule wgpanel wrote, by its name alone.
func ours(s *uci.Section) bool {
	if s.Type != "rule" {
		return false
	}
	n, _ := s.Get("name")
	return strings.HasPrefix(n, NamePrefix)
}

func ruleName(s *uci.Section) string {
	n, _ := s.Get("name")
	return n
}

// diffKind is how one of wgpanel's rules in a file differs from the policy.
type diffKind int

const (
	missing diffKind = iota
	edited
	extra
)

// words returns the formats, taking the rule name, of what Apply did about
// a difference and of how Check reports it.
func (k diffKind) words() [2]string {
	switch k {
	case missing:
		return [2]string{"added firewall rule '%s'",
			"The firewall has no rule '%s', which wgpanel wrote: the device can reach more than it should until wgpanel writes it again."}
	case edited:
		return [2]string{"updated firewall rule '%s'", "The firewall rule '%s' was changed or disabled since wgpanel wrote it."}
	}
	return [2]string{"removed firewall rule '%s'", "The firewall rule '%s' belongs to no device's current access."}
}

type diff struct {
	kind diffKind
	name string
}

// plan computes the sections wgpanel's rules should be, in order, reusing
// each existing section that is already right, and the differences.
func plan(f *uci.File, rules []Rule) (want, have []*uci.Section, diffs []diff) {
	for _, s := range f.Sections {
		if ours(s) {
			have = append(have, s)
		}
	}
	byName := make(map[string][]*uci.Section, len(have)) // in file order
	for _, s := range have {
		byName[ruleName(s)] = append(byName[ruleName(s)], s)
	}
	used := make(map[*uci.Section]bool)
	for i := range rules {
		sec := rules[i].section()
		same := byName[rules[i].Name]
		switch {
		case len(same) == 0:
			diffs = append(diffs, diff{missing, rules[i].Name})
		case sameOptions(same[0], sec):
			sec = same[0]
			used[sec] = true
		default:
			used[same[0]] = true
			sec.Name = same[0].Name
			diffs = append(diffs, diff{edited, rules[i].Name})
		}
		if len(same) > 0 {
			byName[rules[i].Name] = same[1:]
		}
		want = append(want, sec)
	}
	for _, s := range have {
		if !used[s] {
			diffs = append(diffs, diff{extra, ruleName(s)})
		}
	}
	return want, have, diffs
}

func sameOptions(a, b *uci.Section) bool {
	return slices.EqualFunc(a.Options, b.Options, func(x, y *uci.Option) bool {
		return x.Name == y.Name && x.IsList == y.IsList && slices.Equal(x.Values, y.Values)
	})
}

// Apply makes wgpanel's rules in firewall file f those that enforce p
// between zones z. The rules stay together where the first of them was
// (at the end of the file when there was none); the owner's sections keep
// their content and order. It returns what it changed, one line per rule
// ("added firewall rule 'wgpanel: tablet – internet only'"); none means f
// is untouched. On an error f is untouched too.
func Apply(f *uci.File, p Policy, z Zones) (changes []string, err error) {
	rules, err := Rules(p, z)
	if err != nil {
		return nil, err
	}
	want, have, diffs := plan(f, rules)
	if len(diffs) == 0 && slices.Equal(want, have) {
		return nil, nil
	}
	for _, d := range diffs {
		changes = append(changes, fmt.Sprintf(d.kind.words()[0], d.name))
	}
	if len(changes) == 0 {
		changes = append(changes, "put wgpanel's firewall rules back in order")
	}
	out := make([]*uci.Section, 0, len(f.Sections)-len(have)+len(want))
	placed := false
	for _, s := range f.Sections {
		if !ours(s) {
			out = append(out, s)
			continue
		}
		if !placed {
			out = append(out, want...)
			placed = true
		}
	}
	if !placed {
		out = append(out, want...)
	}
	f.Sections = out
	return changes, nil
}

// Check returns, in words for the owner, each way firewall file f does not
// contain what Apply writes for p: a rule missing, changed or disabled
// since, or one left over. None means the firewall holds wgpanel's rules.
func Check(f *uci.File, p Policy, z Zones) ([]string, error) {
	rules, err := Rules(p, z)
	if err != nil {
		return nil, err
	}
	_, _, diffs := plan(f, rules)
	var problems []string
	for _, d := range diffs {
		problems = append(problems, fmt.Sprintf(d.kind.words()[1], d.name))
	}
	return problems, nil
}
