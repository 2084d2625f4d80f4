// Package expiry decides when devices with an end date (UCI option
// wgpanel_expires, RFC 3339) stop working.
//
// Next tells, for a clock reading, which enabled devices are due to be
// disabled now and when the next one will be; the daemon disables the due
// ones, logs them, and arms one timer for Wait(next, now). There is no
// polling: with no end date pending there is no timer at all. Wait never
// exceeds MaxWait, so that a step of the wall clock (a router without a
// battery-backed clock boots with an old time until NTP corrects it) is
// noticed within that bound rather than when a monotonic timer finally
// fires.
//
// The package holds no state and starts no timer itself; it does not read
// or write UCI.
package expiry
