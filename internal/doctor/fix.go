package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// fixes are the checks Fix can repair: safe, local and reversible in LuCI.
var fixes = map[string]func(st *openwrt.Store, ctx context.Context) (changes, notes []string, err error){
	IDFirewallRule: (*openwrt.Store).EnsureWANRule,
	IDFirewallZone: (*openwrt.Store).EnsureZone,
}

// Fix applies the fixes of the given checks, in order, and nothing else:
// IDFirewallRule adds the Allow-WireGuard rule for the listen port,
// IDFirewallZone puts the interface in the LAN's zone; each only when it is
// still missing. It then calls reload with "firewall" when something
// changed (System.Reload on OpenWrt; nil in standalone mode). It returns
// the changes made, in words; none when everything was in place. An ID
// without an automatic fix is a *vpn.Error with code EINVALID, reported
// before anything is changed; a fix that cannot be made (no zone for the
// LAN) is a *vpn.Error with code ECONFIG.
func Fix(ctx context.Context, st *openwrt.Store, ids []string, reload func(ctx context.Context, packages ...string) error) ([]string, error) {
	for _, id := range ids {
		if fixes[id] == nil {
			return nil, &vpn.Error{Code: vpn.EINVALID, Field: "ids",
				Message: fmt.Sprintf("The check %q has no automatic fix; follow the advice the doctor gives for it.", id)}
		}
	}
	var changes []string
	for _, id := range ids {
		c, notes, err := fixes[id](st, ctx)
		changes = append(changes, c...)
		if err == nil && len(c) == 0 && len(notes) > 0 {
			err = &vpn.Error{Code: vpn.ECONFIG, Message: strings.Join(notes, " ")}
		}
		if err != nil {
			if len(changes) > 0 && reload != nil {
				_ = reload(ctx, "firewall")
			}
			return changes, err
		}
	}
	if len(changes) > 0 && reload != nil {
		if err := reload(ctx, "firewall"); err != nil {
			return changes, &vpn.Error{Code: vpn.EUNAVAILABLE, Err: err,
				Message: fmt.Sprintf("The firewall configuration was written, but the firewall could not be reloaded (%v); run '/etc/init.d/firewall reload'.", err)}
		}
	}
	return changes, nil
}
