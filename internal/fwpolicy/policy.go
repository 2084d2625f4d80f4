package fwpolicy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Mode is what one device may reach through the router.
type Mode string

// The access modes. The zero Mode means All.
const (
	// All is the default: the LAN and, for "all traffic" devices, the
	// internet.
	All Mode = "all"
	// Internet is the internet only: no LAN and nothing on the router but
	// its DNS. For a guest.
	Internet Mode = "internet"
	// LAN is the LAN only: nothing beyond the router's WAN.
	LAN Mode = "lan"
	// Hosts is the listed LAN addresses only, and the router's DNS.
	Hosts Mode = "hosts"
)

// Device is one WireGuard device as far as access goes.
type Device struct {
	Name      string
	Addresses []netip.Prefix // its tunnel addresses (AllowedIPs on the server)
	Mode      Mode
	Hosts     []netip.Prefix // Hosts mode only: the LAN addresses it may reach
}

// Policy is the access of every device on one WireGuard interface.
type Policy struct {
	Devices []Device
	// ClientToClient lets devices reach each other's tunnel addresses.
	ClientToClient bool
	// Subnets are the tunnel's subnets (the interface's addresses), between
	// which ClientToClient allows or rejects traffic.
	Subnets []netip.Prefix
}

// Validate reports the first device whose access cannot be enforced, in
// words for the owner.
//
// Only a device whose access is limited gets rules, named after it, so
// only such a device needs a name of its own: LuCI adds peers without one.
func (p *Policy) Validate() error {
	seen := make(map[string]bool)
	for _, d := range p.Devices {
		switch d.mode() {
		case All, Internet, LAN, Hosts:
		default:
			return fmt.Errorf("device %s: %q is not an access mode: use all, internet, lan or hosts", d.Name, d.Mode)
		}
		if d.mode() != All {
			if strings.TrimSpace(d.Name) == "" {
				return fmt.Errorf("a device whose access is limited has no name; give it one")
			}
			if seen[d.Name] {
				return fmt.Errorf("two devices whose access is limited are named %q; rename one", d.Name)
			}
			seen[d.Name] = true
		}
		if d.mode() != All && len(d.Addresses) == 0 {
			return fmt.Errorf("device %s has no tunnel address, so its access cannot be limited", d.Name)
		}
		if d.mode() == Hosts && len(d.Hosts) == 0 {
			return fmt.Errorf("device %s may reach only listed hosts, but none is listed", d.Name)
		}
		for _, a := range append(append([]netip.Prefix(nil), d.Addresses...), d.Hosts...) {
			if !a.IsValid() {
				return fmt.Errorf("device %s has an invalid address", d.Name)
			}
		}
	}
	return nil
}

func (d *Device) mode() Mode {
	if d.Mode == "" {
		return All
	}
	return d.Mode
}

// label is how a rule name describes the device's mode, after the device
// name: "tablet – internet only".
func (d *Device) label() string {
	switch d.mode() {
	case Internet:
		return d.Name + " – internet only"
	case LAN:
		return d.Name + " – LAN only"
	case Hosts:
		return d.Name + " – only " + joinPrefixes(d.Hosts, ", ")
	}
	return d.Name
}

// joinPrefixes writes single addresses without their /32 or /128.
func joinPrefixes(ps []netip.Prefix, sep string) string {
	return strings.Join(prefixStrings(ps), sep)
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.Masked().String()
}
