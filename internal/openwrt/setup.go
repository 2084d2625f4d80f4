package openwrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Setup's choices when it creates the interface.
const (
	defaultListenPort = 51820
	maxIfaceSuffix    = 99
	typeRoute         = "route"
	typeRoute6        = "route6"
	optTarget         = "target"
	typeDevice        = "device"
	optDevice         = "device"
	optName           = "name"
)

var (
	// tunnelPool is where setup picks the tunnel's IPv4 /24.
	tunnelPool = netip.MustParsePrefix("10.0.0.0/8")
	// ulaSubnetID is the /64 setup prefers inside the router's ULA prefix
	// (fdxx:xxxx:xxxx:66::/64 for a /48), to echo 10.66.66.0/24.
	ulaSubnetID uint64 = 0x66
)

// SetupOptions are the inputs of Setup that do not come from the UCI files.
type SetupOptions struct {
	// GenerateKey makes the new interface's private key. nil means
	// wgtypes.GeneratePrivateKey. It is called only when an interface is
	// created.
	GenerateKey func() (wgtypes.Key, error)
	// WAN is the router's live WAN address with its prefix length, when
	// known (Runtime.WANAddr). The tunnel subnet avoids it, and it is used
	// to suggest an endpoint.
	WAN netip.Prefix
	// Avoid lists more subnets the tunnel subnet must not overlap, besides
	// every address and route in the network file.
	Avoid []netip.Prefix
	// Endpoint, when set and wgpanel has no endpoint yet, is written as
	// the endpoint option of /etc/config/wgpanel (a DDNS name or address
	// the owner confirmed, e.g. the suggestion on the first-run page).
	Endpoint string
	// Standalone is set in --dev mode, where the config directory is the
	// state directory on a host without netifd or fw4: a missing network
	// file starts as the starter one (loopback and a LAN of 192.168.1.1/24)
	// and a missing firewall file is created with a lan and a wan zone, so
	// that the plan is the same as on a router.
	Standalone bool
	// Reload, when set, is called once with the packages Setup wrote
	// ("network", "firewall") so that the running system applies them:
	// System.Reload on OpenWrt. nil (standalone mode) applies nothing.
	Reload func(ctx context.Context, packages ...string) error
}

// SetupResult says what Setup found and did.
type SetupResult struct {
	Interface  string
	Created    bool // the interface was created; false means an existing one was adopted
	PublicKey  wgtypes.Key
	ListenPort int
	Addresses  []netip.Prefix
	// Changes lists, in words, every change written, in order; empty when
	// Setup found everything in place and wrote nothing.
	Changes []string
	// Notes are things Setup could not or would not do that the owner
	// should know about (no firewall zone for the LAN, an adopted
	// interface, ...).
	Notes []string
	// Packages lists the UCI packages written ("network", "firewall",
	// "wgpanel").
	Packages []string
	// Endpoint is wgpanel's endpoint setting after Setup; when it is
	// empty, SuggestedEndpoint and SuggestionReason say what to set it to
	// (see SuggestEndpoint).
	Endpoint          string
	SuggestedEndpoint string
	SuggestionReason  string
}

// Setup makes the router ready for phones, idempotently: it creates the
// WireGuard interface in /etc/config/network unless one exists (an
// existing interface is adopted, keeping its key, port and addresses; only
// a missing listen port or missing addresses are filled in), puts it in the
// LAN's firewall zone, adds the WAN rule for its UDP port, records the
// interface (and opts.Endpoint) in /etc/config/wgpanel when that is needed,
// and finally calls opts.Reload with the packages it wrote. A second run
// finds everything in place, writes nothing and reports no changes.
//
// The interface is wgpanel's interface setting (default wg0). When that is
// the default and unused, but one other WireGuard interface with a listen
// port exists, that one is adopted; when wg0 is taken by something else,
// the next free wgN is used. A new interface gets listen_port 51820 (or the
// next port no other WireGuard interface uses), the first /24 of
// 10.66.66.0/24, 10.66.67.0/24, ... inside 10.0.0.0/8 that overlaps no
// address or route in the network file nor opts.WAN and opts.Avoid, and,
// when the router has a ULA prefix, the /64 number 0x66 in it (or the next
// one no LAN's assignment uses).
//
// When the UCI files are written but Reload fails, Setup returns the
// result together with the error.
func (s *Store) Setup(ctx context.Context, opts SetupOptions) (*SetupResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A bad endpoint is refused before anything is written.
	if _, err := parseEndpoint(strings.TrimSpace(opts.Endpoint)); err != nil {
		return nil, &vpn.Error{Code: vpn.EINVALID, Field: "endpoint", Message: fmt.Sprintf("endpoint: %v", err)}
	}
	settings, explicit, err := s.setupSettings()
	if err != nil {
		return nil, err
	}
	res := &SetupResult{}

	ns, err := s.setupNetwork(settings.Interface, explicit, opts)
	if err != nil {
		return nil, err
	}
	res.Interface = ns.srv.Interface
	res.Created = ns.created
	res.PublicKey = ns.srv.PublicKey()
	res.ListenPort = ns.srv.ListenPort
	res.Addresses = ns.srv.Addresses
	res.Changes = append(res.Changes, ns.changes...)
	res.Notes = append(res.Notes, ns.notes...)
	if len(ns.changes) > 0 {
		res.Packages = append(res.Packages, pkgNetwork)
	}

	ifname, port := ns.srv.Interface, ns.srv.ListenPort
	fwChanges, fwNotes, err := s.updateFirewall(opts.Standalone,
		func(fw *firewall) (string, string) { return ensureZone(fw, ifname) },
		func(fw *firewall) (string, string) { return ensureWANRule(fw, port) },
	)
	if err != nil {
		return nil, err
	}
	res.Changes = append(res.Changes, fwChanges...)
	res.Notes = append(res.Notes, fwNotes...)
	if len(fwChanges) > 0 {
		res.Packages = append(res.Packages, pkgFirewall)
	}

	setChanges, err := s.setupWgpanel(ctx, ifname, settings, opts.Endpoint)
	if err != nil {
		return nil, err
	}
	if len(setChanges) > 0 {
		res.Changes = append(res.Changes, setChanges...)
		res.Packages = append(res.Packages, pkgSettings)
	}
	res.Endpoint = settings.Endpoint
	if res.Endpoint == "" && opts.Endpoint != "" {
		res.Endpoint, _ = parseEndpoint(strings.TrimSpace(opts.Endpoint))
	}
	if res.Endpoint == "" {
		res.SuggestedEndpoint, res.SuggestionReason = SuggestEndpoint(s.dir, opts.WAN.Addr())
	}

	var reload []string
	for _, p := range res.Packages {
		if p == pkgNetwork || p == pkgFirewall {
			reload = append(reload, p)
		}
	}
	s.log.Info("setup done", "interface", ifname, "created", res.Created, "changes", len(res.Changes))
	if len(reload) > 0 && opts.Reload != nil {
		if err := opts.Reload(ctx, reload...); err != nil {
			return res, &vpn.Error{
				Code: vpn.EUNAVAILABLE,
				Message: fmt.Sprintf("The configuration was written, but OpenWrt could not apply it (%v); "+
					"run 'reload_config' or reboot the router.", err),
				Err: err,
			}
		}
	}
	return res, nil
}

// setupSettings reads the settings and whether the interface name was
// chosen (the --interface flag or the interface option) rather than the
// default.
func (s *Store) setupSettings() (vpn.Settings, bool, error) {
	settings, err := s.loadSettings()
	if err != nil {
		return settings, false, err
	}
	if s.Interface != "" {
		return settings, true, nil
	}
	f, err := s.dir.Load(pkgSettings)
	if err != nil {
		return settings, false, nil // missing: loadSettings has dealt with other errors
	}
	if sec := settingsSection(f); sec != nil {
		if v, ok := sec.Get(setInterface); ok && strings.TrimSpace(v) != "" {
			return settings, true, nil
		}
	}
	return settings, false, nil
}

// setupWgpanel records the interface in /etc/config/wgpanel when it is not
// the one the file names (or its default), and the endpoint when none is
// set yet.
func (s *Store) setupWgpanel(ctx context.Context, ifname string, settings vpn.Settings, endpoint string) ([]string, error) {
	var changes []string
	recorded := DefaultSettings().Interface
	if f, err := s.dir.Load(pkgSettings); err == nil {
		if sec := settingsSection(f); sec != nil {
			if v, ok := sec.Get(setInterface); ok && strings.TrimSpace(v) != "" {
				recorded = strings.TrimSpace(v)
			}
		}
	}
	if ifname != recorded {
		if err := s.SetSetting(ctx, setInterface, ifname); err != nil {
			return nil, err
		}
		changes = append(changes, fmt.Sprintf("set wgpanel's interface to %s", ifname))
	}
	endpoint = strings.TrimSpace(endpoint)
	if endpoint != "" && settings.Endpoint == "" {
		if err := s.SetSetting(ctx, setEndpoint, endpoint); err != nil {
			return nil, err
		}
		changes = append(changes, fmt.Sprintf("set wgpanel's endpoint to %s", endpoint))
	}
	return changes, nil
}

// netSetup is what setupNetwork did.
type netSetup struct {
	srv     *vpn.Server // the interface after setup, without peers
	created bool
	changes []string
	notes   []string
}

func (s *Store) setupNetwork(want string, explicit bool, opts SetupOptions) (*netSetup, error) {
	path := s.dir.Path(pkgNetwork)
	_, err := os.Stat(path)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case err != nil && !missing:
		return nil, fileError(path, "read", err)
	case missing && !opts.Standalone:
		return nil, missingNetwork(path)
	case missing:
		if err := os.MkdirAll(string(s.dir), 0o700); err != nil {
			return nil, fmt.Errorf("openwrt: setup: %w", err)
		}
	}
	gen := opts.GenerateKey
	if gen == nil {
		gen = wgtypes.GeneratePrivateKey
	}
	var res *netSetup
	err = s.dir.Update(pkgNetwork, func(f *uci.File) error {
		res = &netSetup{}
		if missing && len(f.Sections) == 0 {
			addStarterBase(f)
			res.changes = append(res.changes, fmt.Sprintf("created %s with a LAN of %s/24 (standalone mode)", path, starterLANAddr))
		}
		if err := planInterface(path, f, want, explicit, opts, gen, res); err != nil {
			return err
		}
		if len(res.changes) == 0 {
			return errUnchanged
		}
		return nil
	})
	switch {
	case err == nil:
		s.log.Info("network updated", "file", path, "changes", strings.Join(res.changes, "; "))
	case errors.Is(err, errUnchanged):
	default:
		return nil, fileError(path, "write", err)
	}
	return res, nil
}

// planInterface adopts or creates the interface in f and records what it
// did in res.
func planInterface(path string, f *uci.File, want string, explicit bool, opts SetupOptions,
	gen func() (wgtypes.Key, error), res *netSetup) error {
	ifname, adopt, err := chooseInterface(path, f, want, explicit)
	if err != nil {
		return err
	}
	if adopt {
		srv, _, err := parseServer(path, f, ifname)
		if err != nil {
			return err
		}
		srv.Peers = nil
		res.srv = srv
		sec := f.Section(ifname)
		if ifname != want {
			res.notes = append(res.notes, fmt.Sprintf("wgpanel adopted the existing WireGuard interface %s; choose another with --interface.", ifname))
		}
		if srv.ListenPort == 0 {
			srv.ListenPort = freePort(f, ifname)
			setInt(sec, optListenPort, srv.ListenPort)
			res.changes = append(res.changes, fmt.Sprintf("set listen_port %d on interface %s, which had none", srv.ListenPort, ifname))
		}
		if len(srv.Addresses) == 0 {
			addrs, err := tunnelAddresses(f, ifname, opts)
			if err != nil {
				return err
			}
			srv.Addresses = addrs
			sec.SetList(optAddresses, prefixStrings(addrs))
			res.changes = append(res.changes, fmt.Sprintf("gave interface %s the addresses %s, as it had none", ifname, joinPrefixStrings(addrs)))
		}
		if len(res.changes) == 0 {
			res.notes = append(res.notes, fmt.Sprintf("The WireGuard interface %s exists already (%s, port %d); setup kept it as it is.",
				ifname, joinPrefixStrings(srv.Addresses), srv.ListenPort))
		}
		return nil
	}

	key, err := gen()
	if err != nil {
		return fmt.Errorf("openwrt: setup: generate a private key: %w", err)
	}
	if key == zeroKey {
		return errors.New("openwrt: setup: the key generator returned a zero key")
	}
	addrs, err := tunnelAddresses(f, ifname, opts)
	if err != nil {
		return err
	}
	srv := &vpn.Server{Interface: ifname, PrivateKey: key, ListenPort: freePort(f, ifname), Addresses: addrs}
	if err := checkServer(ifname, srv); err != nil {
		return err
	}
	// The option order is LuCI's: proto, private_key, listen_port, addresses.
	sec := f.AddSection(typeInterface, ifname)
	sec.Set(optProto, protoWG)
	sec.Set(optPrivateKey, key.String())
	setInt(sec, optListenPort, srv.ListenPort)
	sec.SetList(optAddresses, prefixStrings(addrs))
	res.srv = srv
	res.created = true
	res.changes = append(res.changes, fmt.Sprintf("created interface %s (%s, port %d)", ifname, joinPrefixStrings(addrs), srv.ListenPort))
	return nil
}

// chooseInterface picks the interface setup works on and whether it
// exists already (adopt).
func chooseInterface(path string, f *uci.File, want string, explicit bool) (ifname string, adopt bool, err error) {
	sec := f.Section(want)
	if isWireGuard(sec) {
		return want, true, nil
	}
	if explicit {
		if sec != nil {
			proto, _ := sec.Get(optProto)
			return "", false, &vpn.Error{Code: vpn.ECONFIG, Message: fmt.Sprintf(
				"%s: section '%s' exists but is not a WireGuard interface (config %s, proto '%s'); "+
					"choose another interface name with --interface or in the wgpanel settings", path, want, sec.Type, proto)}
		}
		if nameTaken(f, want) {
			return "", false, &vpn.Error{Code: vpn.ECONFIG, Message: fmt.Sprintf(
				"%s: a device named %s exists already; choose another interface name with --interface", path, want)}
		}
		return want, false, nil
	}
	// The name is the default: adopt the one WireGuard server there is.
	var servers []string
	for _, s := range f.SectionsByType(typeInterface) {
		if s.Name != "" && isWireGuard(s) {
			if v, ok := s.Get(optListenPort); ok && v != "" {
				servers = append(servers, s.Name)
			}
		}
	}
	switch {
	case len(servers) == 1:
		return servers[0], true, nil
	case len(servers) > 1:
		return "", false, &vpn.Error{Code: vpn.ECONFIG, Message: fmt.Sprintf(
			"%s has several WireGuard interfaces (%s); choose the one wgpanel manages with --interface",
			path, strings.Join(servers, ", "))}
	}
	if !nameTaken(f, want) {
		return want, false, nil
	}
	for i := 0; i <= maxIfaceSuffix; i++ {
		if n := "wg" + strconv.Itoa(i); !nameTaken(f, n) {
			return n, false, nil
		}
	}
	return "", false, &vpn.Error{Code: vpn.ECONFIG, Message: fmt.Sprintf(
		"%s: the names wg0 to wg%d are all taken; choose an interface name with --interface", path, maxIfaceSuffix)}
}

func isWireGuard(sec *uci.Section) bool {
	if sec == nil || sec.Type != typeInterface {
		return false
	}
	proto, _ := sec.Get(optProto)
	return proto == protoWG
}

// nameTaken reports whether name is used by a section, or as a device name
// netifd would clash with.
func nameTaken(f *uci.File, name string) bool {
	if f.Section(name) != nil {
		return true
	}
	for _, s := range f.Sections {
		if s.Type == typeDevice {
			if v, _ := s.Get(optName); v == name {
				return true
			}
		}
		if s.Type == typeInterface {
			if v, _ := s.Get(optDevice); v == name {
				return true
			}
		}
	}
	return false
}

// freePort returns 51820, or the next port no other WireGuard interface
// listens on.
func freePort(f *uci.File, ifname string) int {
	used := map[int]bool{}
	for _, s := range f.SectionsByType(typeInterface) {
		if s.Name == ifname || !isWireGuard(s) {
			continue
		}
		if v, ok := s.Get(optListenPort); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				used[n] = true
			}
		}
	}
	for p := defaultListenPort; p <= 65535; p++ {
		if !used[p] {
			return p
		}
	}
	return defaultListenPort // unreachable in practice: 13716 WireGuard interfaces
}

// tunnelAddresses picks the addresses of a new interface: the router's
// address .1 in a free /24 of 10.0.0.0/8 and, when there is a ULA prefix,
// ::1 in a free /64 of it.
func tunnelAddresses(f *uci.File, ifname string, opts SetupOptions) ([]netip.Prefix, error) {
	used := usedPrefixes(f, ifname)
	if opts.WAN.IsValid() {
		used = append(used, opts.WAN.Masked())
	}
	used = append(used, opts.Avoid...)
	v4, ok := freeSubnet4(used)
	if !ok {
		return nil, &vpn.Error{Code: vpn.ECONFLICT, Message: "Every /24 in 10.0.0.0/8 overlaps an address or route of the router; add the interface in LuCI with an address of your choice."}
	}
	addrs := []netip.Prefix{netip.PrefixFrom(v4.Addr().Next(), v4.Bits())}
	if v6, ok := freeSubnet6(f, used); ok {
		addrs = append(addrs, netip.PrefixFrom(v6.Addr().Next(), v6.Bits()))
	}
	return addrs, nil
}

// usedPrefixes lists every subnet the network file puts on the router,
// except those of interface skip: static addresses of every interface,
// WireGuard addresses, the routes of `config route`/`route6` sections, the
// allowed IPs other WireGuard interfaces route, and the ULA subnets netifd
// assigns with ip6assign. Unreadable values are skipped: the list only
// steers a choice.
func usedPrefixes(f *uci.File, skip string) []netip.Prefix {
	var used []netip.Prefix
	add := func(p netip.Prefix) {
		// A default route (or a full-tunnel client's 0.0.0.0/1 halves)
		// overlaps everything and says nothing about the LAN.
		if p.IsValid() && p.Bits() >= 8 {
			used = append(used, p.Masked())
		}
	}
	for _, s := range f.SectionsByType(typeInterface) {
		if s.Name == skip {
			continue
		}
		if addrs, err := staticAddrs(s); err == nil {
			for _, p := range addrs {
				add(p)
			}
		}
		if addrs, err := staticAddrs6(s); err == nil {
			for _, p := range addrs {
				add(p)
			}
		}
		if isWireGuard(s) {
			if addrs, err := parsePrefixes(s, optAddresses, true); err == nil {
				for _, p := range addrs {
					add(p)
				}
			}
			for _, ps := range f.SectionsByType(peerType(s.Name)) {
				if !boolOption(ps, optRouteAllowed) {
					continue
				}
				if ips, err := parsePrefixes(ps, optAllowedIPs, true); err == nil {
					for _, p := range ips {
						add(p)
					}
				}
			}
		}
		if p, ok := ulaSubnet(f, s); ok {
			add(p)
		}
	}
	for _, typ := range []string{typeRoute, typeRoute6} {
		for _, s := range f.SectionsByType(typ) {
			if p, ok := routeTarget(s); ok {
				add(p)
			}
		}
	}
	return used
}

// routeTarget reads a static route's target: "a.b.c.d/nn", or a bare
// address with option netmask (IPv4) or alone (a host route).
func routeTarget(s *uci.Section) (netip.Prefix, bool) {
	v, ok := s.Get(optTarget)
	if !ok || v == "" {
		return netip.Prefix{}, false
	}
	if strings.Contains(v, "/") {
		addr, mask, _ := strings.Cut(v, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return netip.Prefix{}, false
		}
		bits, err := strconv.Atoi(mask)
		if err != nil && a.Is4() {
			if bits, err = parseNetmask(mask); err != nil {
				return netip.Prefix{}, false
			}
		} else if err != nil {
			return netip.Prefix{}, false
		}
		p := netip.PrefixFrom(a.Unmap(), bits)
		return p, p.IsValid()
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits := a.BitLen()
	if m, ok := s.Get(optNetmask); ok && m != "" && a.Is4() {
		if bits, err = parseNetmask(m); err != nil {
			return netip.Prefix{}, false
		}
	}
	return netip.PrefixFrom(a, bits), true
}

// freeSubnet4 returns the first /24 in the order 10.66.66.0, 10.66.67.0,
// ..., 10.66.65.0, 10.67.66.0, ... that overlaps none of used.
func freeSubnet4(used []netip.Prefix) (netip.Prefix, bool) {
	base := tunnelPool.Addr().As4()
	for i := 0; i < 1<<16; i++ {
		b := byte(66 + i>>8)
		c := byte(66 + i&0xff)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], b, c, 0}), 24)
		if !overlapsAny(p, used) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// freeSubnet6 returns a /64 in the router's ULA prefix that overlaps none
// of used: subnet 0x66 if free, else the next one.
func freeSubnet6(f *uci.File, used []netip.Prefix) (netip.Prefix, bool) {
	ula, ok := ulaPrefix(f)
	if !ok || ula.Bits() > 64 {
		return netip.Prefix{}, false
	}
	free := 64 - ula.Bits()
	n := uint64(1) << min(free, 16)
	b := ula.Addr().As16()
	hi := uint64(0)
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
	}
	for i := uint64(0); i < n; i++ {
		id := ulaSubnetID + i
		if free < 64 {
			id &= 1<<free - 1
		}
		v := hi | id
		var a [16]byte
		for j := 7; j >= 0; j-- {
			a[j] = byte(v)
			v >>= 8
		}
		p := netip.PrefixFrom(netip.AddrFrom16(a), 64)
		if !overlapsAny(p, used) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// ulaPrefix reads globals.ula_prefix.
func ulaPrefix(f *uci.File) (netip.Prefix, bool) {
	for _, g := range f.SectionsByType(typeGlobals) {
		if v, ok := g.Get(optULAPrefix); ok && v != "" {
			p, err := netip.ParsePrefix(v)
			if err != nil || !p.Addr().Is6() {
				return netip.Prefix{}, false
			}
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	return slices.ContainsFunc(used, p.Overlaps)
}

func joinPrefixStrings(ps []netip.Prefix) string {
	return strings.Join(prefixStrings(ps), ", ")
}

// errNoInterface is the error for a missing WireGuard interface.
func errNoInterface(ifname string) *vpn.Error {
	return vpn.Errorf(vpn.ECONFIG, "There is no WireGuard interface %s yet: run wgpanel setup, or create it in LuCI.", ifname)
}

// errNoPort is the error for an interface without a fixed listen port.
func errNoPort(path, ifname string) *vpn.Error {
	return vpn.Errorf(vpn.ECONFIG, "%s: interface '%s' has no listen_port, so phones cannot know where to connect; run wgpanel setup or set it in LuCI.", path, ifname)
}
