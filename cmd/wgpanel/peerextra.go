package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// peerExtraFlags reads --access, --hosts and --expires, and the MODE or
// DATE argument of `peer access` and `peer expires`, into u. A flag that
// the subcommand does not take is refused.
func peerExtraFlags(fs *flag.FlagSet, sub string, pos []string, u *vpn.PeerUpdate) error {
	allowed := map[string][]string{"add": {"access", "hosts", "expires"}, "access": {"hosts"}, "enable": {"expires"}}[sub]
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"access", "hosts", "expires"} {
		if set[name] && !slices.Contains(allowed, name) {
			return fmt.Errorf("peer %s does not take --%s", sub, name)
		}
	}
	get := func(name string) (string, bool) {
		return fs.Lookup(name).Value.String(), set[name]
	}
	mode, modeSet := get("access")
	if sub == "access" {
		mode, modeSet = pos[1], true
	}
	if modeSet {
		a, err := vpn.ParseAccess(mode)
		if err != nil {
			return err
		}
		u.Access = &a
	}
	if h, ok := get("hosts"); ok {
		hs, err := vpn.ParseHosts([]string{h})
		if err != nil {
			return err
		}
		u.Hosts = &hs
	}
	date, dateSet := get("expires")
	if sub == "expires" {
		date, dateSet = pos[1], true
	}
	if dateSet {
		if date == "never" || date == "none" {
			date = ""
		}
		t, err := expiry.Parse(date)
		if err != nil {
			return fmt.Errorf("%q is not a date and time such as 2026-12-31T18:00:00Z (or never)", date)
		}
		u.Expires = &t
	}
	return nil
}

// accessWords says what a device may reach, as the page does.
func accessWords(v vpn.PeerView) string {
	switch v.Access.OrAll() {
	case vpn.AccessInternet:
		return "the internet only, not the home network"
	case vpn.AccessLAN:
		return "the home network only, not the internet"
	case vpn.AccessAll:
		return "everything (home network and, for all-traffic devices, the internet)"
	}
	return accessShort(v)
}

// accessShort says it in a few words, for peer list.
func accessShort(v vpn.PeerView) string {
	switch v.Access.OrAll() {
	case vpn.AccessInternet:
		return "internet only"
	case vpn.AccessLAN:
		return "home network only"
	case vpn.AccessHosts:
		hs := make([]string, len(v.Hosts))
		for i, h := range v.Hosts {
			hs[i] = h.String()
		}
		return "only " + strings.Join(hs, ", ")
	}
	return "everything"
}
