package auth

import (
	"net/netip"
	"sync"
	"time"
)

// maxBuckets bounds the limiter's memory. A router's LAN has far fewer
// clients; when more addresses than this are tracked, the full buckets
// (clients that have not tried for a while) are dropped first.
const maxBuckets = 4096

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
		if len(l.buckets) >= maxBuckets {
			l.pruneLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
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
// like absent ones. If that frees nothing, every bucket goes: forgetting
// some attempts is better than growing without bound.
func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
