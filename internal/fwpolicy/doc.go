// Package fwpolicy is the firewall schema of per-device access: what each
// WireGuard device may reach, and whether devices may reach each other.
//
// A Policy lists the devices (name, tunnel addresses, access Mode) and the
// server-wide client-to-client switch. Rules turns it into fw4 rules for
// /etc/config/firewall, named so that an owner recognises them in LuCI
// ("wgpanel: tablet – internet only"); Apply writes them into a parsed
// firewall file. wgpanel's rules are found by their name prefix "wgpanel: "
// only: no other section of the file is read for identity, changed, moved
// or removed, and Apply changes nothing when the file already says what the
// policy says. Check is the doctor's view: it reports how the file differs
// from what Apply would write (a rule removed, disabled or edited in LuCI).
//
// Ruleset and NFT are the standalone enforcement of the same policy for
// hosts without fw4: one nftables table of wgpanel's own, `table inet
// wgpanel`, replaced as a whole in one `nft -f` transaction on every change
// and deleted on exit. It only ever rejects traffic arriving on the WireGuard
// interface; it accepts nothing that another table would drop. NFT.Check
// tells the doctor when the table was flushed by another program.
//
// The package does not read zones itself: openwrt.FirewallZones tells which
// zones hold the interface, the LAN and the WAN. It does not write files,
// reload fw4 or decide when to apply: the caller runs Apply inside
// uci.Dir.Update and reloads the firewall when Apply reports a change.
package fwpolicy
