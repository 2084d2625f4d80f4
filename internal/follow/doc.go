// Package follow is the daemon's event loop: it keeps the running WireGuard
// device following the configuration, and samples the device for the
// doctor while someone could care.
//
// Events come in through Loop.Changed: the kernel's link notifications for
// the managed interface (wgdev.WatchLink), changes to the configuration
// directory (WatchDir, inotify on the directory, since LuCI, uci and
// wgpanel rename new files into place), and SIGUSR1 from the OpenWrt
// hotplug script on ifup. The loop reconciles once things have been quiet
// for a moment (netifd's setconf or syncconf must be finished first), and
// logs one line per reconcile with what it changed.
//
// Sampling the device (for the doctor's endpoint history) runs only while
// the web page is open (Loop.PageOpen, called for each API request) or a
// peer is connected. With neither, the loop arms no timer at all: an idle
// daemon sleeps until an event arrives.
//
// The package decides when to act, not what to do: reconciling is
// internal/vpn's, reading the device internal/wgdev's, and the doctor's
// history internal/doctor's; serve wires them together.
package follow
