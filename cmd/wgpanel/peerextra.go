package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// peerExtraFlags reads --access, --hosts and --expires, and the MODE or
// DATE argument of `peer access` and `peer expires`, into u. A flag that
// the subcommand does not take is refused.
func peerExtraFlags(fs *flag.FlagSet, sub string, pos []string, u *vpn.PeerUpdate) error {
	allowed := map[string][]string{"add": {"access", "hosts", "expires"}, "access": {"hosts"}, "enable": {"expires"}}[sub]
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "access", "hosts", "expires":
		default:
			return
		}
		if err == nil && !strings.Contains(" "+strings.Join(allowed, " ")+" ", " "+f.Name+" ") {
			err = fmt.Errorf("peer %s does not take --%s", sub, f.Name)
		}
	})
	if err != nil {
		return err
	}
	get := func(name string) (string, bool) {
		f := fs.Lookup(name)
		set := false
		fs.Visit(func(v *flag.Flag) { set = set || v.Name == name })
		return f.Value.String(), set
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
