// Package usage keeps each WireGuard device's traffic history: bytes
// received and sent, in 5-minute buckets for the last 48 hours and in daily
// totals for the last 90 days, accumulated across counter resets.
//
// WireGuard's per-peer counters start again from zero whenever the device
// is re-created (netifd does that on every ifup on OpenWrt 23.05 and
// 24.10), the router reboots or the peer is removed and added again. Record
// takes the raw counters as read from the device; a counter lower than the
// one seen last means such a reset, and the new value is counted from zero.
// A reset followed by more traffic than before, all between two samples,
// cannot be told from no reset; callers sample when the interface goes down
// to keep that window closed. A device's first sample counts its counters
// in full, into the current bucket, so traffic from before wgpanel first
// saw the device (its first start, a lost snapshot) shows up there.
//
// The history lives in RAM. Record writes a snapshot to a file in RAM
// (/tmp) at most once a minute, and to flash at most once per
// Options.FlashInterval (an hour by default; 0 never writes flash); Close
// writes both. Each snapshot is one small binary file with a checksum,
// replaced atomically (temporary file, fsync, rename, fsync of the
// directory). Open loads the newer of the two, so the history survives a
// restart of wgpanel (the RAM file) and a reboot (the flash file, up to one
// interval old).
//
// The package has no timer and starts no goroutine: callers decide when to
// sample (when the page asks, when the interface goes down, and at most
// every SampleInterval while a device is connected). It knows nothing of
// WireGuard, UCI or HTTP; devices are identified by a string key (their
// public key).
package usage
