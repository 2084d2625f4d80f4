package openwrt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"strings"

	"github.com/wgpanel/wgpanel/internal/uci"
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
)

// settingNames lists the options of `config wgpanel 'main'` in the order
// they are read.
var settingNames = []string{
	setInterface, setEndpoint, setDNS, setMTU, setKeepPrivateKeys, setListen, setAuth, setPasswordHash,
}

// DefaultSettings returns the settings that apply when /etc/config/wgpanel
// or one of its options is missing: interface wg0, private keys kept, and
// the router's root password (auth "shadow").
func DefaultSettings() vpn.Settings {
	return vpn.Settings{
		Interface:       "wg0",
		KeepPrivateKeys: true,
		Auth:            "shadow",
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
	default:
		return fmt.Errorf("unknown option %q", name)
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

// SetSetting sets one option of `config wgpanel 'main'` in
// /etc/config/wgpanel, creating the file and section when missing. name is
// one of interface, endpoint, dns, mtu, keep_private_keys, listen, auth and
// password_hash; an empty value removes the option, so that its default
// applies. dns takes addresses separated by spaces and is written as a list.
// A bad name or value is a *vpn.Error with code EINVALID.
func (s *Store) SetSetting(ctx context.Context, name, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	value = strings.TrimSpace(value)
	known := false
	for _, n := range settingNames {
		known = known || n == name
	}
	if !known {
		return &vpn.Error{Code: vpn.EINVALID, Field: "name",
			Message: fmt.Sprintf("%q is not a wgpanel setting; the settings are %s", name, strings.Join(settingNames, ", "))}
	}
	var scratch vpn.Settings
	if err := applySetting(&scratch, name, value); err != nil {
		return &vpn.Error{Code: vpn.EINVALID, Field: name, Message: fmt.Sprintf("%s: %v", name, err)}
	}
	path := s.dir.Path(pkgSettings)
	err := s.dir.UpdateContext(ctx, pkgSettings, func(f *uci.File) error {
		sec := settingsSection(f)
		if sec == nil {
			if value == "" {
				return nil
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
		return nil
	})
	if err != nil {
		return fileError(path, "write", err)
	}
	if name == setPasswordHash {
		s.log.Info("wgpanel setting changed", "option", name)
	} else {
		s.log.Info("wgpanel setting changed", "option", name, "value", value)
	}
	return nil
}

// SetPasswordHash stores the crypt(3) hash wgpanel checks when auth is
// "password" (option password_hash in /etc/config/wgpanel).
func (s *Store) SetPasswordHash(ctx context.Context, hash string) error {
	return s.SetSetting(ctx, setPasswordHash, hash)
}

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
