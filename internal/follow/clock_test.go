package follow

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer() Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves time on by d and fires every timer that is due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.on && !t.at.After(c.now) {
			t.on = false
			t.c <- c.now
		}
	}
}

// Armed returns how many timers are armed.
func (c *fakeClock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.on {
			n++
		}
	}
	return n
}

// waitArmed waits until a timer is armed to fire d from now: the loop
// has handled the event that arms it, and the test may move time.
func (c *fakeClock) waitArmed(t *testing.T, d time.Duration) {
	t.Helper()
	for i := 0; i < 5000; i++ {
		c.mu.Lock()
		for _, tm := range c.timers {
			if tm.on && tm.at.Equal(c.now.Add(d)) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the loop armed no timer for %v from now within 5 s", d)
}

type fakeTimer struct {
	clk *fakeClock
	c   chan time.Time
	at  time.Time
	on  bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	t.at, t.on = t.clk.now.Add(d), true
	select { // as Go's timers since 1.23: no stale tick after Reset
	case <-t.c:
	default:
	}
	t.clk.mu.Unlock()
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	t.on = false
	select {
	case <-t.c:
	default:
	}
	t.clk.mu.Unlock()
}
