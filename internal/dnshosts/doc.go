// Package dnshosts makes WireGuard devices answer by name through the
// router's dnsmasq: `phone.vpn.lan` resolves to the phone's tunnel address.
//
// Label turns a device name into one DNS label by a fixed rule: letters are
// lower-cased; Latin letters with accents lose them (é → e, ß → ss, æ → ae,
// ł → l); every other run of characters that is not a letter or digit
// (spaces, punctuation, other scripts, emoji) becomes one hyphen; hyphens
// at either end go; the result is cut to 63 bytes; a name with nothing left
// is "device". Punycode (xn--) is not used: it would need IDNA tables that
// do not fit the router binary's budget, and hosts-file names are typed by
// people. Hosts numbers labels that collide, in the order the devices are
// given: phone, phone-2, phone-3.
//
// Write replaces the hosts file (on OpenWrt /tmp/hosts/wgpanel, which
// dnsmasq reads with every file in /tmp/hosts) atomically, and Reload makes
// dnsmasq read it again: SIGHUP to each dnsmasq whose pid file matches the
// given patterns (after checking the pid is a dnsmasq), else its init
// script. The package does not decide which devices are listed (the caller
// passes enabled devices only) and does not touch dnsmasq's configuration.
package dnshosts
