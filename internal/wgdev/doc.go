// Package wgdev is the running WireGuard device, and nothing else.
//
// Client implements vpn.Device over wgctrl: it reads the device's state and
// per-peer statistics, and adds, updates or removes one peer at a time with
// ReplacePeers=false, so that a change to one phone never disturbs another
// or bounces the interface. It works the same against the kernel module
// (generic netlink, as on an OpenWrt router) and against a userspace
// wireguard-go device (its UAPI socket in /var/run/wireguard). Low-level
// errors are translated where they enter: a system where WireGuard cannot
// be reached at all gives an error wrapping vpn.ErrDeviceUnreachable, a
// missing interface one wrapping vpn.ErrNoDevice.
//
// WatchLink reports the kernel's link events for one interface (netifd
// deleting, adding or setting it up), so that the daemon can reconcile
// without polling; Client.Reachable tells whether WireGuard can be reached
// at all without dumping every peer, which a change checks first.
//
// Up is the standalone bring-up for hosts that are not OpenWrt: it creates
// the interface (a kernel WireGuard link when the kernel has the module,
// else an embedded wireguard-go device with a TUN), sets its key, listen
// port, addresses and MTU and brings it up. It never takes over or deletes
// an interface it did not create.
//
// The build tag nouserspace, which the router packages are built with,
// leaves the embedded wireguard-go device out of the binary (its device,
// TUN and UAPI code take about 0.5 MB on ARMv7): Up then creates kernel
// links only and, where the kernel has no WireGuard, fails with an error
// wrapping vpn.ErrDeviceUnreachable. Client is the same in both builds.
//
// The package does not read or write UCI or any other configuration, does
// not decide which peers should exist (that is internal/vpn's reconcile),
// and does not touch routes or the firewall. It is the only package that
// imports wgctrl and wireguard-go.
package wgdev
