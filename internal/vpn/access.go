package vpn

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Access is what one device may reach through the router. The firewall
// side (fw4 rules, the standalone nft table) lives in internal/fwpolicy;
// this is the domain's spelling of the same four modes.
type Access string

const (
	// AccessAll is the default: the LAN and, for "all traffic" devices,
	// the internet.
	AccessAll Access = "all"
	// AccessInternet is the internet only, no LAN (a guest).
	AccessInternet Access = "internet"
	// AccessLAN is the LAN only, no internet through the router.
	AccessLAN Access = "lan"
	// AccessHosts is the listed LAN addresses only.
	AccessHosts Access = "hosts"
)

// ParseAccess reads an access mode as the API, the CLI and UCI spell it;
// "" is AccessAll.
func ParseAccess(s string) (Access, error) {
	switch a := Access(strings.TrimSpace(s)); a {
	case "", AccessAll:
		return AccessAll, nil
	case AccessInternet, AccessLAN, AccessHosts:
		return a, nil
	}
	return "", &Error{Code: EINVALID, Field: "access", Message: fmt.Sprintf(
		"The access %q is unknown; use all, internet (no home network), lan (no internet) or hosts (only the listed addresses).", s)}
}

// maxHosts bounds the addresses one hosts-mode device may list: each is a
// firewall rule.
const maxHosts = 32

// ParseHosts reads the addresses a hosts-mode device may reach, as
// "192.168.1.10" or "192.168.1.0/28", separated by commas or spaces.
func ParseHosts(words []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, w := range words {
		for _, s := range strings.FieldsFunc(w, func(r rune) bool { return r == ',' || r == ' ' }) {
			p, err := parseHost(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// HostStrings writes hosts as ParseHosts reads them: a single address
// without its /32 or /128, a network with its length.
func HostStrings(hosts []netip.Prefix) []string {
	out := make([]string, len(hosts))
	for i, p := range hosts {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

func parseHost(s string) (netip.Prefix, error) {
	bad := &Error{Code: EINVALID, Field: "hosts", Message: fmt.Sprintf("%q is not an address such as 192.168.1.10 or a network such as 192.168.1.0/28.", s)}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, bad
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, bad
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// CheckAccess checks that access and hosts go together: hosts mode needs
// at least one address, the other modes none.
func CheckAccess(a Access, hosts []netip.Prefix) error {
	a, err := ParseAccess(string(a))
	if err != nil {
		return err
	}
	switch {
	case a == AccessHosts && len(hosts) == 0:
		return &Error{Code: EINVALID, Field: "hosts", Message: "Access 'hosts' needs the addresses the device may reach, such as 192.168.1.10."}
	case a != AccessHosts && len(hosts) > 0:
		return &Error{Code: EINVALID, Field: "hosts", Message: "Addresses to reach are only for access 'hosts'; leave them out or choose hosts."}
	case len(hosts) > maxHosts:
		return &Error{Code: EINVALID, Field: "hosts", Message: fmt.Sprintf("%d addresses are too many; list at most %d.", len(hosts), maxHosts)}
	}
	return nil
}

// OrAll returns a with the default applied.
func (a Access) OrAll() Access {
	if a == "" {
		return AccessAll
	}
	return a
}

// CheckExpires refuses an end date that already passed when it is set.
func CheckExpires(t, now time.Time) error {
	if !t.IsZero() && !t.After(now) {
		return &Error{Code: EINVALID, Field: "expires", Message: fmt.Sprintf("The end date %s has already passed; give a later one, or none.", t.UTC().Format(time.RFC3339))}
	}
	return nil
}
