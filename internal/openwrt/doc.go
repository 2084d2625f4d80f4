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
// It does not know UCI syntax (that is internal/uci), and it does not touch
// any device: nothing here talks to WireGuard, netlink or the running
// system. The commands that make OpenWrt apply an interface-level change
// (ubus call network reload, ifup, firewall reload) will also live in this
// package; they are not written yet.
package openwrt
