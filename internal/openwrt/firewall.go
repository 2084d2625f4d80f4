package openwrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// UCI names in /etc/config/firewall, as firewall4 (OpenWrt 23.05) reads them.
const (
	pkgFirewall = "firewall"

	typeZone       = "zone"
	typeRule       = "rule"
	typeForwarding = "forwarding"
	typeDefaults   = "defaults"

	fwName     = "name"
	fwNetwork  = "network"
	fwInput    = "input"
	fwForward  = "forward"
	fwEnabled  = "enabled"
	fwSrc      = "src"
	fwDest     = "dest"
	fwProto    = "proto"
	fwDestPort = "dest_port"
	fwTarget   = "target"
	fwFamily   = "family"

	// wgRuleName is the name LuCI users and the OpenWrt guide give the
	// rule that opens the WireGuard port.
	wgRuleName = "Allow-WireGuard"
)

// fwRestrictions are rule options that narrow which packets a rule
// matches. A rule carrying any of them does not accept every phone, so it
// does not count as the rule that opens the port.
var fwRestrictions = []string{
	"src_ip", "src_mac", "src_port", "ipset", "helper", "mark",
	"start_date", "stop_date", "start_time", "stop_time", "weekdays", "monthdays",
}

// firewall is /etc/config/firewall read the way fw4 reads the parts wgpanel
// cares about: zones with their networks and policies, input rules and
// forwardings.
type firewall struct {
	f     *uci.File
	zones []*fwZone
}

type fwZone struct {
	sec      *uci.Section
	name     string
	networks []string
	input    string // effective policy, upper case: ACCEPT, REJECT or DROP
	forward  string
}

func readFirewall(f *uci.File) *firewall {
	fw := &firewall{f: f}
	// fw4 falls back to the defaults section's policies, and to DROP when
	// that has none.
	defIn, defFwd := "DROP", "DROP"
	if ds := f.SectionsByType(typeDefaults); len(ds) > 0 {
		if v, ok := ds[0].Get(fwInput); ok && v != "" {
			defIn = strings.ToUpper(v)
		}
		if v, ok := ds[0].Get(fwForward); ok && v != "" {
			defFwd = strings.ToUpper(v)
		}
	}
	for _, s := range f.SectionsByType(typeZone) {
		if !enabled(s) {
			continue
		}
		name, _ := s.Get(fwName)
		if name == "" {
			continue
		}
		z := &fwZone{sec: s, name: name, networks: values(s, fwNetwork), input: defIn, forward: defFwd}
		if v, ok := s.Get(fwInput); ok && v != "" {
			z.input = strings.ToUpper(v)
		}
		if v, ok := s.Get(fwForward); ok && v != "" {
			z.forward = strings.ToUpper(v)
		}
		fw.zones = append(fw.zones, z)
	}
	return fw
}

// enabled reads fw4's enabled option (default on).
func enabled(s *uci.Section) bool {
	v, ok := s.Get(fwEnabled)
	if !ok || v == "" {
		return true
	}
	b, ok := parseBool(v)
	return !ok || b
}

// zoneOf returns the zone whose networks include network, or nil.
func (fw *firewall) zoneOf(network string) *fwZone {
	for _, z := range fw.zones {
		if slices.Contains(z.networks, network) {
			return z
		}
	}
	return nil
}

func (fw *firewall) zoneNamed(name string) *fwZone {
	for _, z := range fw.zones {
		if z.name == name {
			return z
		}
	}
	return nil
}

// wanZone is the zone holding the network 'wan', else the zone named wan.
func (fw *firewall) wanZone() *fwZone {
	if z := fw.zoneOf("wan"); z != nil {
		return z
	}
	return fw.zoneNamed("wan")
}

// lanZone is the zone holding the network 'lan', else the zone named lan.
func (fw *firewall) lanZone() *fwZone {
	if z := fw.zoneOf("lan"); z != nil {
		return z
	}
	return fw.zoneNamed("lan")
}

// forwards reports whether traffic from zone src may be forwarded to zone
// dest: within one zone by its forward policy, between zones by an enabled
// forwarding section.
func (fw *firewall) forwards(src, dest *fwZone) bool {
	if src == dest {
		return src.forward == "ACCEPT"
	}
	for _, s := range fw.f.SectionsByType(typeForwarding) {
		if !enabled(s) {
			continue
		}
		sv, _ := s.Get(fwSrc)
		dv, _ := s.Get(fwDest)
		if (sv == src.name || sv == "*") && (dv == dest.name || dv == "*") {
			return true
		}
	}
	return false
}

// acceptingRule returns the name of what makes the router accept IPv4
// packets for proto and port arriving from zone z: an enabled input rule
// (src z or '*', no dest, target ACCEPT, the protocol and port, no
// restriction on the sender), or the zone's own input policy. ok is false
// when nothing accepts them.
func (fw *firewall) acceptingRule(z *fwZone, proto string, port int) (name string, ok bool) {
	if z.input == "ACCEPT" {
		return fmt.Sprintf("the input policy ACCEPT of zone %s", z.name), true
	}
	for i, s := range fw.f.SectionsByType(typeRule) {
		if ruleAccepts(s, z.name, proto, port) {
			if n, _ := s.Get(fwName); n != "" {
				return n, true
			}
			return fmt.Sprintf("@rule[%d]", i), true
		}
	}
	return "", false
}

// ruleAccepts matches one rule section by meaning, as fw4 would apply it.
func ruleAccepts(s *uci.Section, zone, proto string, port int) bool {
	if !enabled(s) {
		return false
	}
	if src, _ := s.Get(fwSrc); src != zone && src != "*" {
		return false
	}
	if dest, _ := s.Get(fwDest); dest != "" {
		return false // a forward rule, not input
	}
	if target, _ := s.Get(fwTarget); !strings.EqualFold(target, "ACCEPT") {
		return false
	}
	switch fam, _ := s.Get(fwFamily); strings.ToLower(fam) {
	case "ipv6", "6", "inet6":
		return false
	}
	for _, o := range fwRestrictions {
		if v, ok := s.Get(o); ok && v != "" {
			return false
		}
	}
	if !protoMatches(values(s, fwProto), proto) {
		return false
	}
	return portMatches(values(s, fwDestPort), port)
}

// protoMatches reports whether the proto words of a rule include proto.
// No words means fw4's default, tcp and udp.
func protoMatches(words []string, proto string) bool {
	if len(words) == 0 {
		return proto == "tcp" || proto == "udp"
	}
	for _, w := range words {
		switch strings.ToLower(w) {
		case proto, "all", "any", "*":
			return true
		case "tcpudp":
			if proto == "tcp" || proto == "udp" {
				return true
			}
		case "17":
			if proto == "udp" {
				return true
			}
		case "6":
			if proto == "tcp" {
				return true
			}
		}
	}
	return false
}

// portMatches reports whether the dest_port words of a rule include port.
// No words means every port; a negated word ('!51820') never counts.
func portMatches(words []string, port int) bool {
	if len(words) == 0 {
		return true
	}
	for _, w := range words {
		if strings.HasPrefix(w, "!") {
			return false
		}
		lo, hi, ok := strings.Cut(w, "-")
		if !ok {
			lo, hi, ok = strings.Cut(w, ":")
		}
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if ok {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if a <= port && port <= b {
			return true
		}
	}
	return false
}

// ensureZone puts network ifname into the LAN's zone unless it already is
// in a zone. It appends to `list network` as `uci add_list` (and so LuCI)
// does. It returns the change made, or a note saying why it made none
// when that needs the owner's attention.
func ensureZone(fw *firewall, ifname string) (change, note string) {
	if fw.zoneOf(ifname) != nil {
		return "", ""
	}
	lan := fw.lanZone()
	if lan == nil {
		return "", fmt.Sprintf("There is no firewall zone for the LAN, so %s was not put in one: add it to a zone that may forward to your LAN (LuCI: Network, Firewall).", ifname)
	}
	nets := lan.sec.List(fwNetwork)
	lan.sec.SetList(fwNetwork, append(nets, ifname))
	lan.networks = values(lan.sec, fwNetwork)
	return fmt.Sprintf("added %s to firewall zone %s", ifname, lan.name), ""
}

// ensureWANRule adds LuCI's Allow-WireGuard rule for UDP port from the WAN
// zone unless something accepts that traffic already.
func ensureWANRule(fw *firewall, port int) (change, note string) {
	wan := fw.wanZone()
	if wan == nil {
		return "", fmt.Sprintf("There is no firewall zone for the WAN, so no rule for UDP %d was added.", port)
	}
	if _, ok := fw.acceptingRule(wan, "udp", port); ok {
		return "", ""
	}
	name := wgRuleName
	for _, s := range fw.f.SectionsByType(typeRule) {
		if n, _ := s.Get(fwName); n == name {
			name = fmt.Sprintf("%s-%d", wgRuleName, port)
			break
		}
	}
	// The option order is LuCI's: name, proto (a MultiValue, so a list),
	// src, dest_port, target.
	s := fw.f.AddSection(typeRule, "")
	s.Set(fwName, name)
	s.SetList(fwProto, []string{"udp"})
	s.Set(fwSrc, wan.name)
	s.Set(fwDestPort, strconv.Itoa(port))
	s.Set(fwTarget, "ACCEPT")
	return fmt.Sprintf("added firewall rule %s for UDP %d from %s", name, port, wan.name), ""
}

// standaloneFirewall fills an empty firewall file with what fw4's default
// file holds apart from its rules: the defaults, a lan and a wan zone and
// lan-to-wan forwarding. Standalone mode has no fw4; the file only keeps
// setup's plan and the doctor's view the same as on a router.
func standaloneFirewall(f *uci.File) {
	d := f.AddSection(typeDefaults, "")
	d.Set(fwInput, "REJECT")
	d.Set("output", "ACCEPT")
	d.Set(fwForward, "REJECT")

	lan := f.AddSection(typeZone, "")
	lan.Set(fwName, "lan")
	lan.SetList(fwNetwork, []string{"lan"})
	lan.Set(fwInput, "ACCEPT")
	lan.Set("output", "ACCEPT")
	lan.Set(fwForward, "ACCEPT")

	wan := f.AddSection(typeZone, "")
	wan.Set(fwName, "wan")
	wan.SetList(fwNetwork, []string{"wan", "wan6"})
	wan.Set(fwInput, "REJECT")
	wan.Set("output", "ACCEPT")
	wan.Set(fwForward, "REJECT")
	wan.Set("masq", "1")
	wan.Set("mtu_fix", "1")

	fwd := f.AddSection(typeForwarding, "")
	fwd.Set(fwSrc, "lan")
	fwd.Set(fwDest, "wan")
}

// firewallPlan is one change to the firewall file: ensureZone or
// ensureWANRule bound to its argument.
type firewallPlan func(fw *firewall) (change, note string)

// updateFirewall applies plans to /etc/config/firewall under its lock and
// writes it when one of them changed something. A missing file is left
// missing (the router has no firewall package) unless create is set, in
// which case it starts as standaloneFirewall. It returns the changes and
// notes in plan order.
func (s *Store) updateFirewall(create bool, plans ...firewallPlan) (changes, notes []string, err error) {
	path := s.dir.Path(pkgFirewall)
	_, err = os.Stat(path)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case err != nil && !missing:
		return nil, nil, fileError(path, "read", err)
	case missing && !create:
		return nil, []string{fmt.Sprintf("%s does not exist (the firewall package is not installed), so no firewall zone or rule was set up.", path)}, nil
	}
	err = s.dir.Update(pkgFirewall, func(f *uci.File) error {
		changes, notes = nil, nil
		if len(f.Sections) == 0 && missing {
			standaloneFirewall(f)
			changes = append(changes, fmt.Sprintf("created %s with zones lan and wan (standalone mode: no firewall reads it)", path))
		}
		fw := readFirewall(f)
		for _, p := range plans {
			c, n := p(fw)
			if c != "" {
				changes = append(changes, c)
			}
			if n != "" {
				notes = append(notes, n)
			}
		}
		if len(changes) == 0 {
			return errUnchanged
		}
		return nil
	})
	switch {
	case err == nil:
		s.log.Info("firewall updated", "file", path, "changes", strings.Join(changes, "; "))
		return changes, notes, nil
	case errors.Is(err, errUnchanged):
		return nil, notes, nil
	default:
		return nil, nil, fileError(path, "write", err)
	}
}

// EnsureZone puts the WireGuard interface into the LAN's firewall zone, the
// way LuCI and the OpenWrt guide do, unless it is in a zone already. It
// changes nothing else in /etc/config/firewall. It returns the change made
// ("added wg0 to firewall zone lan"), or none when there was nothing to
// do, and notes for the owner when it could not do it (no LAN zone, no
// firewall file). A missing interface is a *vpn.Error with code ECONFIG.
// OpenWrt applies the change after `/etc/init.d/firewall reload`.
func (s *Store) EnsureZone(ctx context.Context) (changes, notes []string, err error) {
	srv, err := s.loadServer(ctx)
	if err != nil {
		return nil, nil, err
	}
	ifname := srv.Interface
	return s.updateFirewall(false, func(fw *firewall) (string, string) { return ensureZone(fw, ifname) })
}

// loadServer returns the configured WireGuard interface; its absence is a
// *vpn.Error with code ECONFIG.
func (s *Store) loadServer(ctx context.Context) (*vpn.Server, error) {
	cfg, err := s.Load(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Server == nil {
		return nil, errNoInterface(cfg.Settings.Interface)
	}
	return cfg.Server, nil
}

// EnsureWANRule adds the firewall rule Allow-WireGuard accepting UDP on the
// interface's listen port from the wan zone, in LuCI's form, unless an
// enabled rule or the zone's policy accepts that traffic already. It
// changes nothing else. The listen port is read from /etc/config/network;
// an interface without one is a *vpn.Error with code ECONFIG.
func (s *Store) EnsureWANRule(ctx context.Context) (changes, notes []string, err error) {
	srv, err := s.loadServer(ctx)
	if err != nil {
		return nil, nil, err
	}
	port := srv.ListenPort
	if port == 0 {
		return nil, nil, errNoPort(s.dir.Path(pkgNetwork), srv.Interface)
	}
	return s.updateFirewall(false, func(fw *firewall) (string, string) { return ensureWANRule(fw, port) })
}

// FirewallZones returns the names of the firewall zones that hold network
// (the WireGuard interface), the LAN and the WAN in firewall file f, as fw4
// reads them; a name is "" when there is no such zone. internal/fwpolicy
// writes its per-device rules between these zones.
func FirewallZones(f *uci.File, network string) (device, lan, wan string) {
	fw := readFirewall(f)
	if z := fw.zoneOf(network); z != nil {
		device = z.name
	}
	if z := fw.lanZone(); z != nil {
		lan = z.name
	}
	if z := fw.wanZone(); z != nil {
		wan = z.name
	}
	return device, lan, wan
}
