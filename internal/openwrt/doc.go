// Package openwrt maps OpenWrt's UCI schema to wgpanel's domain and back.
//
// It is the only package that knows UCI option names. It reads the
// `proto wireguard` interface wgpanel manages and its peers (sections of
// type wireguard_<ifname>, named or anonymous, exactly as LuCI 23.05 and
// wireguard.sh use them) from /etc/config/network, the LAN and WAN
// addresses from the same file, and wgpanel's own options from
// /etc/config/wgpanel. It writes peers back with LuCI's option names, so
// LuCI shows and edits them too, matching peers by public key and leaving
// every section and option it does not own untouched.
//
// Setup creates or adopts the interface and puts it in the firewall (the
// LAN zone and LuCI's Allow-WireGuard rule in /etc/config/firewall);
// EnsureZone and EnsureWANRule apply those two firewall parts alone, for the
// doctor's fixes. Facts summarises network, firewall and dhcp (dnsmasq) for
// the doctor, and SuggestEndpoint reads /etc/config/ddns.
//
// It does not know UCI syntax (that is internal/uci), and it does not touch
// any device: nothing here talks to WireGuard or netlink. The only commands
// it runs are in System: those that make OpenWrt apply a change (ubus call
// network reload, /etc/init.d/firewall reload) and the ubus query for the
// WAN's live address and gateway, behind a function field tests replace.
package openwrt
