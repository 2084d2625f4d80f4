package openwrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wgpanel/wgpanel/internal/dnshosts"
	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/usage"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// UCI names in /etc/config/wgpanel.
const (
	pkgSettings     = "wgpanel"
	typeSettings    = "wgpanel"
	sectionSettings = "main"

	setInterface       = "interface"
	setEndpoint        = "endpoint"
	setDNS             = "dns"
	setMTU             = "mtu"
	setKeepPrivateKeys = "keep_private_keys"
	setListen          = "listen"
	setAuth            = "auth"
	setPasswordHash    = "password_hash"
	setSTUNServer      = "stun_server"
	setClientToClient  = "client_to_client"
	setDNSDomain       = "dns_domain"
	setHistoryFlash    = "history_flash_interval"
	setMetricsToken    = "metrics_token"
)

// DefaultSTUNServer is the stun_server that the package's conffile and a
// new --dev state directory carry: the server asked for the router's public
// address when the owner presses "Find my public address", and never
// unasked. An absent or empty stun_server turns the feature off, because
// libuci (and `uci set wgpanel.main.stun_server=”`) cannot tell an empty
// option from a missing one.
const DefaultSTUNServer = "stun.l.google.com:19302"

// settingNames lists the options of `config wgpanel 'main'` in the order
// they are read.
var settingNames = []string{
	setInterface, setEndpoint, setDNS, setMTU, setKeepPrivateKeys, setListen, setAuth, setPasswordHash,
	setSTUNServer, setClientToClient, setDNSDomain, setHistoryFlash, setMetricsToken,
}

// secretSettings are never logged nor shown.
var secretSettings = []string{setPasswordHash, setMetricsToken}

// DefaultSettings returns the settings that apply when /etc/config/wgpanel
// or one of its options is missing: interface wg0, private keys kept, and
// the router's root password (auth "shadow").
func DefaultSettings() vpn.Settings {
	return vpn.Settings{
		Interface:            "wg0",
		KeepPrivateKeys:      true,
		Auth:                 "shadow",
		DNSDomain:            dnshosts.DefaultDomain,
		HistoryFlashInterval: usage.DefaultFlashInterval,
	}
}

// settingsSection returns `config wgpanel 'main'`, else the first section
// of type wgpanel, else nil.
func settingsSection(f *uci.File) *uci.Section {
	if s := f.Section(sectionSettings); s != nil && s.Type == typeSettings {
		return s
	}
	if ss := f.SectionsByType(typeSettings); len(ss) > 0 {
		return ss[0]
	}
	return nil
}

// Settings reads wgpanel's own options alone, without the network file.
func (s *Store) Settings(ctx context.Context) (vpn.Settings, error) {
	if err := ctx.Err(); err != nil {
		return vpn.Settings{}, err
	}
	return s.loadSettings()
}

// loadSettings reads /etc/config/wgpanel. A missing file means defaults.
// The store's Interface and DefaultAuth fields apply on top.
func (s *Store) loadSettings() (vpn.Settings, error) {
	def := DefaultSettings()
	if s.DefaultAuth != "" {
		def.Auth = s.DefaultAuth
	}
	if s.ShowKeysOnce {
		def.KeepPrivateKeys = false
	}
	path := s.dir.Path(pkgSettings)
	f, err := s.dir.Load(pkgSettings)
	var st vpn.Settings
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = def
	case err != nil:
		return vpn.Settings{}, fileError(path, "read", err)
	default:
		if st, err = parseSettings(path, f, def); err != nil {
			return vpn.Settings{}, err
		}
	}
	if s.Interface != "" {
		if err := checkIfname(s.Interface); err != nil {
			return vpn.Settings{}, &vpn.Error{Code: vpn.EINVALID, Field: "interface", Message: fmt.Sprintf("The interface name is not valid: %v.", err)}
		}
		st.Interface = s.Interface
	}
	return st, nil
}

func parseSettings(path string, f *uci.File, def vpn.Settings) (vpn.Settings, error) {
	st := def
	sec := settingsSection(f)
	if sec == nil {
		return st, nil
	}
	loc := location{file: path, f: f, sec: sec, kind: "wgpanel"}
	for _, name := range settingNames {
		v, ok := sec.Get(name)
		if !ok {
			continue
		}
		if err := applySetting(&st, name, v); err != nil {
			e := loc.badOption(name, "%v", err)
			e.Message = strings.TrimSuffix(e.Message, "; fix the value in LuCI or in the file") + "; fix the value in the file"
			return vpn.Settings{}, e
		}
	}
	return st, nil
}

// applySetting parses value as option name into st. An empty value means
// the default. The error says what is wrong with the value.
func applySetting(st *vpn.Settings, name, value string) error {
	value = strings.TrimSpace(value)
	def := DefaultSettings()
	switch name {
	case setInterface:
		if value == "" {
			st.Interface = def.Interface
			return nil
		}
		if err := checkIfname(value); err != nil {
			return err
		}
		st.Interface = value
	case setEndpoint:
		ep, err := parseEndpoint(value)
		if err != nil {
			return err
		}
		st.Endpoint = ep
	case setDNS:
		st.DNS = nil
		for _, w := range strings.Fields(value) {
			a, err := netip.ParseAddr(w)
			if err != nil || a.Zone() != "" {
				return fmt.Errorf("%q is not an IP address such as 192.168.1.1", w)
			}
			st.DNS = append(st.DNS, a.Unmap())
		}
	case setMTU:
		if value == "" {
			st.MTU = 0
			return nil
		}
		n, err := parseInt(value, 576, 65535)
		if err != nil {
			return err
		}
		st.MTU = n
	case setKeepPrivateKeys:
		if value == "" {
			// st holds the default already (which depends on the store).
			return nil
		}
		b, ok := parseBool(value)
		if !ok {
			return fmt.Errorf("%q is not a yes/no value ('1' or '0')", value)
		}
		st.KeepPrivateKeys = b
	case setListen:
		if value != "" {
			_, port, err := net.SplitHostPort(value)
			if err != nil {
				return fmt.Errorf("%q is not an address and port such as 192.168.1.1:8080 or :8080", value)
			}
			if _, err := parseInt(port, 1, 65535); err != nil {
				return fmt.Errorf("%q does not end in a port number from 1 to 65535", value)
			}
		}
		st.Listen = value
	case setAuth:
		switch value {
		case "":
			st.Auth = def.Auth
		case "shadow", "password":
			st.Auth = value
		default:
			return fmt.Errorf("%q is neither 'shadow' (the router's root password) nor 'password' (password_hash)", value)
		}
	case setPasswordHash:
		if strings.ContainsFunc(value, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return errors.New("the hash contains spaces or control characters")
		}
		st.PasswordHash = value
	case setSTUNServer:
		if value != "" {
			if err := checkHostPort(value); err != nil {
				return err
			}
		}
		st.STUNServer = value
	case setClientToClient:
		b, ok := parseBool(value)
		if !ok && value != "" {
			return fmt.Errorf("%q is not a yes/no value ('1' or '0')", value)
		}
		st.ClientToClient = b
	case setDNSDomain:
		if value == "" {
			st.DNSDomain = def.DNSDomain
			return nil
		}
		value = strings.ToLower(value)
		if err := dnshosts.CheckDomain(value); err != nil {
			return fmt.Errorf("%q is not a domain such as vpn.lan (labels of letters, digits and hyphens, separated by dots)", value)
		}
		st.DNSDomain = value
	case setHistoryFlash:
		d, err := parseInterval(value, def.HistoryFlashInterval)
		if err != nil {
			return err
		}
		st.HistoryFlashInterval = d
	case setMetricsToken:
		if value != "" && (len(value) < 16 || strings.ContainsFunc(value, func(r rune) bool { return r <= ' ' || r >= 0x7f })) {
			return errors.New("the token must be at least 16 characters, without spaces or control characters")
		}
		st.MetricsToken = value
	default:
		return fmt.Errorf("unknown option %q", name)
	}
	return nil
}

// parseInterval reads history_flash_interval: a number of seconds or a
// duration such as 30m or 2h; "" is def, 0 is never. Less than ten minutes
// would wear the flash for nothing.
func parseInterval(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time such as 1h, 30m or 3600 (seconds); 0 never writes the history to flash", v)
		}
		d = time.Duration(n) * time.Second
	}
	if d != 0 && (d < 10*time.Minute || d > 7*24*time.Hour) {
		return 0, fmt.Errorf("%q is not between 10m and 168h (or 0 for never)", v)
	}
	return d, nil
}

// checkHostPort accepts a host name or address with an optional port, as
// stun_server takes it: stun.example.org, 192.0.2.1:3478, [2001:db8::1]:3478.
func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		host, port = v, ""
	}
	if port != "" {
		if _, err := parseInt(port, 1, 65535); err != nil {
			return fmt.Errorf("%q does not end in a port number from 1 to 65535", v)
		}
	}
	if _, err := parseEndpoint(host); err != nil || host == "" {
		return fmt.Errorf("%q is not a host name or address with an optional port, such as stun.example.org:3478", v)
	}
	return nil
}

// checkIfname accepts a name that is both a UCI section name and a Linux
// interface name, since netifd names the WireGuard device after the section.
func checkIfname(v string) error {
	if v == "" || len(v) > 15 {
		return fmt.Errorf("%q is not an interface name of 1 to 15 characters", v)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("%q is not an interface name (letters, digits and _ only)", v)
		}
	}
	return nil
}

// parseEndpoint accepts a host name or an IP address without a port (the
// port is the interface's listen_port). An IPv6 address may come in
// brackets; they are removed.
func parseEndpoint(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.Contains(v, "://") {
		return "", fmt.Errorf("%q is not a URL: give a host name or address, such as myhome.example.org", v)
	}
	if inner, ok := strings.CutPrefix(v, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return a.String(), nil
			}
		}
		return "", fmt.Errorf("%q is not a host name or IP address", v)
	}
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("%q is a link-local address a phone cannot reach", v)
		}
		return a.String(), nil
	}
	if _, port, err := net.SplitHostPort(v); err == nil {
		return "", fmt.Errorf("%q includes a port (%s); give only the host name or address, the port is the interface's listen_port", v, port)
	}
	if len(v) > 253 {
		return "", fmt.Errorf("%q is too long for a host name", v)
	}
	// A fully qualified name may end in a dot.
	for _, label := range strings.Split(strings.TrimSuffix(v, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%q is not a host name or IP address", v)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return "", fmt.Errorf("%q is not a host name or IP address", v)
			}
		}
	}
	return v, nil
}

// SettingChange is one option of `config wgpanel 'main'` to set.
type SettingChange struct {
	Name  string
	Value string
}

// SetSetting sets one option of `config wgpanel 'main'` in
// /etc/config/wgpanel, creating the file and section when missing. name is
// one of interface, endpoint, dns, mtu, keep_private_keys, listen, auth,
// password_hash and stun_server; an empty value removes the option, so that
// its default applies. dns takes addresses separated by spaces and is written as a
// list. A bad name or value is a *vpn.Error with code EINVALID.
func (s *Store) SetSetting(ctx context.Context, name, value string) error {
	return s.SetSettings(ctx, SettingChange{name, value})
}

// SetSettings sets several options at once, as SetSetting does for one:
// every value is checked first and all are written in one commit, so a bad
// value changes nothing.
func (s *Store) SetSettings(ctx context.Context, changes ...SettingChange) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range changes {
		c := &changes[i]
		c.Value = strings.TrimSpace(c.Value)
		if !slices.Contains(settingNames, c.Name) {
			return &vpn.Error{Code: vpn.EINVALID, Field: "name",
				Message: fmt.Sprintf("%q is not a wgpanel setting; the settings are %s", c.Name, strings.Join(settingNames, ", "))}
		}
		var scratch vpn.Settings
		if err := applySetting(&scratch, c.Name, c.Value); err != nil {
			return &vpn.Error{Code: vpn.EINVALID, Field: c.Name, Message: fmt.Sprintf("%s: %v", c.Name, err)}
		}
	}
	path := s.dir.Path(pkgSettings)
	err := s.dir.UpdateContext(ctx, pkgSettings, func(f *uci.File) error {
		for _, c := range changes {
			setOption(f, c.Name, c.Value)
		}
		return nil
	})
	if err != nil {
		return fileError(path, "write", err)
	}
	for _, c := range changes {
		if slices.Contains(secretSettings, c.Name) {
			s.log.Info("wgpanel setting changed", "option", c.Name)
		} else {
			s.log.Info("wgpanel setting changed", "option", c.Name, "value", c.Value)
		}
	}
	return nil
}

// setOption writes one checked option into f's settings section.
func setOption(f *uci.File, name, value string) {
	sec := settingsSection(f)
	if sec == nil {
		if value == "" {
			return
		}
		// AddSection would retype a section of another type that
		// is named main; an anonymous section leaves it alone.
		secName := sectionSettings
		if f.Section(secName) != nil {
			secName = ""
		}
		sec = f.AddSection(typeSettings, secName)
	}
	switch {
	case value == "":
		sec.Delete(name)
	case name == setDNS:
		if o := sec.Option(name); o != nil && !o.IsList {
			sec.Set(name, strings.Join(strings.Fields(value), " "))
		} else {
			sec.SetList(name, strings.Fields(value))
		}
	default:
		sec.Set(name, value)
	}
}

// SetPasswordHash stores the crypt(3) hash wgpanel checks when auth is
// "password" (option password_hash in /etc/config/wgpanel).
func (s *Store) SetPasswordHash(ctx context.Context, hash string) error {
	return s.SetSetting(ctx, setPasswordHash, hash)
}

// SettingsPath returns the path of /etc/config/wgpanel in this store's
// directory, for messages.
func (s *Store) SettingsPath() string { return s.dir.Path(pkgSettings) }

// setAllowedHost is the list of extra host names the web UI answers to,
// besides the router's own names and addresses (see api.HostPolicy).
const setAllowedHost = "allowed_host"

// AllowedHosts returns the host names in `list allowed_host` of
// /etc/config/wgpanel. A value that is not a host name is an error naming
// the option; the others are still returned.
func (s *Store) AllowedHosts() ([]string, error) {
	path := s.dir.Path(pkgSettings)
	f, err := s.dir.Load(pkgSettings)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fileError(path, "read", err)
	}
	sec := settingsSection(f)
	if sec == nil {
		return nil, nil
	}
	var names []string
	var bad error
	if o := sec.Option(setAllowedHost); o != nil {
		for _, v := range o.Values {
			for _, w := range strings.Fields(v) {
				if h, err := parseEndpoint(w); err != nil || h == "" {
					bad = location{file: path, f: f, sec: sec, kind: "wgpanel"}.badOption(setAllowedHost, "%q is not a host name", w)
					continue
				}
				names = append(names, w)
			}
		}
	}
	return names, bad
}
