package auth

import (
	"net/netip"
	"testing"
	"time"
)

// TestLimiterFloodKeepsLimit fills every bucket from other addresses, as an
// attacker on the LAN with thousands of source addresses could, and checks
// that a client already refused stays refused.
func TestLimiterFloodKeepsLimit(t *testing.T) {
	clock := newClock()
	a, err := New(Config{Mode: ModeShadow, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	victim := netip.MustParseAddr("192.168.1.100")
	for range DefaultLoginBurst {
		a.AllowLogin(victim)
	}
	if ok, _ := a.AllowLogin(victim); ok {
		t.Fatal("the attempt after the burst is allowed")
	}
	// Each flooding address uses one attempt, so no bucket is full.
	for i := range 2 * maxBuckets {
		a.AllowLogin(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if ok, _ := a.AllowLogin(victim); ok {
		t.Error("after a flood from other addresses the limited client may try again; want still refused")
	}
	if n := len(a.limiter.buckets); n > maxBuckets {
		t.Errorf("the limiter holds %d buckets; want at most %d", n, maxBuckets)
	}
	// The flood itself is limited: addresses beyond the bound share one
	// bucket, so they cannot try more than a burst together.
	allowed := 0
	for i := range 100 {
		if ok, _ := a.AllowLogin(netip.AddrFrom4([4]byte{172, 16, 0, byte(i)})); ok {
			allowed++
		}
	}
	if allowed != 0 {
		t.Errorf("%d new addresses were allowed while every bucket is in use; want 0 (the shared bucket is used up)", allowed)
	}
	// Once the buckets have refilled, they are dropped and new clients get
	// their own again.
	clock.Add(time.Duration(DefaultLoginBurst+1) * DefaultLoginInterval)
	if ok, _ := a.AllowLogin(netip.MustParseAddr("172.16.1.1")); !ok {
		t.Error("a new client after the buckets refilled is refused")
	}
}
