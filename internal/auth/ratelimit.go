package auth

import (
	"net/netip"
	"sync"
	"time"
)

// maxBuckets bounds the limiter's memory. A router's LAN has far fewer
// clients. When this many addresses are tracked, the full buckets (clients
// that have not tried for a while, which behave like absent ones) are
// dropped; if none is full, new addresses share one overflow bucket. A
// bucket that is not full is never dropped, because dropping it would give
// its client fresh attempts: filling the table from many addresses must not
// reset anyone's limit.
const maxBuckets = 4096

// overflow is the key of the bucket that addresses share while the table is
// full. The zero Addr is never a client's address.
var overflow netip.Addr

// limiter is a token bucket per client address: burst attempts at once,
// then one more per interval.
type limiter struct {
	burst    float64
	interval time.Duration

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst int, interval time.Duration) *limiter {
	return &limiter{burst: float64(burst), interval: interval, buckets: make(map[netip.Addr]*bucket)}
}

// allow takes one token from addr's bucket. When none is left it returns
// false and the time until the next one.
func (l *limiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		// One slot stays free for the overflow bucket.
		if len(l.buckets) >= maxBuckets-1 {
			l.pruneLocked(now)
		}
		if len(l.buckets) >= maxBuckets-1 {
			addr = overflow
		}
		if b = l.buckets[addr]; b == nil {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[addr] = b
		}
	}
	l.refill(b, now)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(l.interval))
		return false, wait
	}
	b.tokens--
	return true, 0
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.interval))
		b.last = now
	}
}

// pruneLocked drops buckets that have refilled completely, which behave
// like absent ones, and only those.
func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
