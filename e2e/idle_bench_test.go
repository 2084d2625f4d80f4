package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// idleWindow is how long BenchmarkIdleWakeups watches serve, unless
	// WGPANEL_IDLE_WINDOW (a Go duration) says otherwise, for example to
	// take in the Go runtime's forced GC every two minutes.
	idleWindow = 60 * time.Second
	// idleLimit is the target: context switches in a minute.
	idleLimit = 10
	// idleSettle lets start-up finish (the start-up reconcile, the sample
	// at start, the web password's file writes) before counting.
	idleSettle = 3 * time.Second
)

// BenchmarkIdleWakeups runs `wgpanel serve` as on a router (router build,
// no --dev, a device made like netifd's outside serve's process) with
// nobody logged in and no peer connected, and counts the context switches
// of all its threads (voluntary and involuntary, from
// /proc/PID/task/*/status) during one minute. Every periodic timer in the
// daemon shows up here; the target is at most 10 a minute.
func BenchmarkIdleWakeups(b *testing.B) {
	tp := newTopo(b, topoOptions{router: true, beforeServe: func(tp *topo) { writePeers(b, tp, 3) }})
	waitWebUI(b, tp)
	pid := tp.serve.Process.Pid // ip netns exec execs serve in place
	time.Sleep(idleSettle)
	window := idleWindow
	if v := os.Getenv("WGPANEL_IDLE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			b.Fatalf("WGPANEL_IDLE_WINDOW=%q is not a duration of at least 1s", v)
		}
		window = d
	}
	var switches, threads int
	for b.Loop() {
		before, _ := contextSwitches(b, pid)
		time.Sleep(window)
		after, n := contextSwitches(b, pid)
		switches, threads = after-before, n
	}
	perMin := float64(switches) / window.Minutes()
	b.ReportMetric(perMin, "ctxsw/min")
	b.Logf("serve (router mode, idle) made %d context switches in %v over %d threads", switches, window, threads)
	if perMin > idleLimit {
		b.Errorf("%d context switches in %v while idle (%.1f a minute); want at most %d a minute", switches, window, perMin, idleLimit)
	}
}

// contextSwitches sums voluntary and involuntary context switches over the
// threads of pid, and returns how many threads it counted.
func contextSwitches(t testing.TB, pid int) (sum, threads int) {
	t.Helper()
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no threads of process %d: %v", pid, err)
	}
	for _, path := range dirs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited
		}
		threads++
		for _, line := range strings.Split(string(data), "\n") {
			name, val, ok := strings.Cut(line, ":")
			if !ok || (name != "voluntary_ctxt_switches" && name != "nonvoluntary_ctxt_switches") {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			sum += n
		}
	}
	return sum, threads
}
