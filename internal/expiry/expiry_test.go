package expiry

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTimeline runs a fake clock through a day with several end dates and
// checks at each step which devices are due and when the single timer
// fires next, disabling the due devices as the daemon would.
func TestTimeline(t *testing.T) {
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	devices := []Device{
		{Key: "a", Name: "guest", Enabled: true, Expires: start.Add(2 * time.Hour)},
		{Key: "b", Name: "phone", Enabled: true},
		{Key: "c", Name: "tablet", Enabled: true, Expires: start.Add(30 * time.Minute)},
		{Key: "d", Name: "old", Enabled: false, Expires: start.Add(10 * time.Minute)},
		{Key: "e", Name: "visitor", Enabled: true, Expires: start.Add(2 * time.Hour)},
		{Key: "f", Name: "week", Enabled: true, Expires: start.Add(7 * 24 * time.Hour)},
	}
	now := start
	type step struct {
		due  []string
		wait time.Duration
	}
	want := []step{
		{nil, 30 * time.Minute},
		{[]string{"tablet"}, MaxWait}, // guest is 90 minutes away
		{nil, 30 * time.Minute},
		{[]string{"guest", "visitor"}, MaxWait},
	}
	for i, w := range want {
		due, next := Next(devices, now)
		var names []string
		for _, d := range due {
			names = append(names, d.Name)
			// The daemon disables it.
			devices[slices.IndexFunc(devices, func(x Device) bool { return x.Key == d.Key })].Enabled = false
		}
		if !slices.Equal(names, w.due) {
			t.Errorf("step %d at %s: due %v; want %v", i, now.Format(time.Kitchen), names, w.due)
		}
		wait, ok := Wait(next, now)
		if !ok || wait != w.wait {
			t.Fatalf("step %d: wait %v, %v; want %v", i, wait, ok, w.wait)
		}
		now = now.Add(wait)
	}
	// The timer keeps waking at most hourly until the week is over, then
	// there is no timer at all.
	for range 7*24 - 3 { // from 12:00 on day one to 09:00 a week later
		due, next := Next(devices, now)
		if len(due) != 0 {
			t.Fatalf("at %s: %v due early", now, due)
		}
		wait, _ := Wait(next, now)
		now = now.Add(wait)
	}
	due, next := Next(devices, now)
	if len(due) != 1 || due[0].Name != "week" || !now.Equal(start.Add(7*24*time.Hour)) {
		t.Fatalf("at %s: due %v; want week at %s", now, due, start.Add(7*24*time.Hour))
	}
	devices[5].Enabled = false
	if _, next = Next(devices, now); !next.IsZero() {
		t.Errorf("next = %v; want none", next)
	}
	if _, ok := Wait(next, now); ok {
		t.Error("a timer is armed with no end date pending")
	}
}

// TestClockStep: the wall clock jumps forward past an end date (NTP after
// boot); the next check finds the device due although the timer was armed
// for longer.
func TestClockStep(t *testing.T) {
	bootClock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // the image's build date
	d := []Device{{Name: "guest", Enabled: true, Expires: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}}
	_, next := Next(d, bootClock)
	if wait, _ := Wait(next, bootClock); wait != MaxWait {
		t.Fatalf("wait %v; want MaxWait", wait)
	}
	afterNTP := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	if due, _ := Next(d, afterNTP); len(due) != 1 {
		t.Error("the device is not due after the clock step")
	}
}

func TestParse(t *testing.T) {
	got, err := Parse("2026-12-31T23:59:00+01:00")
	if err != nil || Format(got) != "2026-12-31T22:59:00Z" {
		t.Errorf("Parse = %v, %v", got, err)
	}
	if got, err := Parse(""); err != nil || !got.IsZero() || Format(got) != "" {
		t.Errorf("Parse(\"\") = %v, %v", got, err)
	}
	if _, err := Parse("next friday"); err == nil || !strings.Contains(err.Error(), "not an end date") {
		t.Errorf("Parse(next friday) error = %v", err)
	}
}

func TestCheckEnableAndDescribe(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := CheckEnable("guest", now.Add(-time.Second), now); err == nil || !strings.Contains(err.Error(), "new end date or none") {
		t.Errorf("CheckEnable(expired) = %v", err)
	}
	for _, e := range []time.Time{{}, now.Add(time.Minute)} {
		if err := CheckEnable("guest", e, now); err != nil {
			t.Errorf("CheckEnable(%v) = %v", e, err)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Hour: "expired", 0: "expired", 90 * time.Second: "expires in 2 minutes",
		time.Hour: "expires in 1 hour", 47 * time.Hour: "expires in 47 hours", 3*24*time.Hour + 5*time.Hour: "expires in 3 days",
	} {
		if got := Describe(now.Add(d), now); got != want {
			t.Errorf("Describe(+%v) = %q; want %q", d, got, want)
		}
	}
	if got := Describe(time.Time{}, now); got != "" {
		t.Errorf("Describe(never) = %q", got)
	}
}
