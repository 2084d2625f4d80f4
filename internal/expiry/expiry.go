package expiry

import (
	"fmt"
	"strings"
	"time"
)

// MaxWait bounds the timer the daemon arms while an end date is pending.
const MaxWait = time.Hour

// Device is what expiry needs to know of a device.
type Device struct {
	Key     string // its identity (the public key)
	Name    string
	Enabled bool
	Expires time.Time // zero: never
}

// Next returns the enabled devices whose end date has come at now, in the
// order given, and the earliest end date still ahead (zero when none is).
func Next(devices []Device, now time.Time) (due []Device, next time.Time) {
	for _, d := range devices {
		if !d.Enabled || d.Expires.IsZero() {
			continue
		}
		if !now.Before(d.Expires) {
			due = append(due, d)
			continue
		}
		if next.IsZero() || d.Expires.Before(next) {
			next = d.Expires
		}
	}
	return due, next
}

// Wait returns how long the daemon's timer should wait for next at now,
// at most MaxWait; ok is false when next is zero (no timer at all).
func Wait(next, now time.Time) (d time.Duration, ok bool) {
	if next.IsZero() {
		return 0, false
	}
	return min(max(next.Sub(now), 0), MaxWait), true
}

// Parse reads an end date as the API and UCI give it: RFC 3339, or "" for
// none.
func Parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an end date: use a date and time such as 2026-12-31T23:59:00+01:00", s)
	}
	return t, nil
}

// Format writes an end date as Parse reads it, in UTC; "" for none.
func Format(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// CheckEnable refuses to enable a device whose end date has passed: the
// owner must give a new date or none, else the device would be disabled
// again at once.
func CheckEnable(name string, expires, now time.Time) error {
	if !expires.IsZero() && !now.Before(expires) {
		return fmt.Errorf("%s expired on %s: give it a new end date or none to enable it", name, expires.Local().Format("2 Jan 2006 15:04"))
	}
	return nil
}

// Describe says when a device's access ends, as the page shows it:
// "expires in 3 days", "expires in 5 hours", "expired"; "" when never.
func Describe(expires, now time.Time) string {
	if expires.IsZero() {
		return ""
	}
	left := expires.Sub(now)
	switch {
	case left <= 0:
		return "expired"
	case left < time.Hour:
		return plural(int((left+time.Minute-1)/time.Minute), "minute")
	case left < 48*time.Hour:
		return plural(int(left/time.Hour), "hour")
	}
	return plural(int(left/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "expires in 1 " + unit
	}
	return fmt.Sprintf("expires in %d %ss", n, unit)
}
