package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/uci"
)

// TestKillDuringPeerAdd kills `wgpanel peer add` with SIGKILL at random
// points, at least 200 times, while serve runs. After each batch of kills
// (and one more add that completes, as the next change after a crash
// would) the network file parses, no temporary file is left (each is a
// full copy with private keys), every add that completed is in UCI, and
// the device holds exactly the enabled peers of UCI: a peer whose add was
// killed after its commit but before its live apply must be brought onto
// the device by the running daemon, not left only in the file.
func TestKillDuringPeerAdd(t *testing.T) {
	t.Parallel()
	const (
		wantKills = 200
		batch     = 50 // peers added per batch; the /24 holds 253
		maxTries  = 2000
		budget    = 4 * time.Minute
	)
	tp := newTopo(t, topoOptions{})
	network := filepath.Join(tp.configDir, "network")
	deadline := time.Now().Add(budget)

	// How long one add takes here, to spread the kills over all of it. The
	// estimate follows the adds that complete, since the machine's load
	// changes while the test runs.
	start := time.Now()
	tp.mustWgpanel("peer", "add", "calibrate")
	typical := time.Since(start)
	t.Logf("one peer add takes about %v at first", typical.Round(time.Millisecond))

	kills, completed, tries, round, stale := 0, 0, 0, 0, 0
	for kills < wantKills && tries < maxTries {
		if time.Now().After(deadline) {
			t.Fatalf("only %d kills within %v", kills, budget)
		}
		round++
		var done []string // names whose add completed in this batch
		for i := 0; i < batch && kills < wantKills; i++ {
			tries++
			name := fmt.Sprintf("r%d-%d", round, i)
			killed, took := addAndKill(t, tp, name, rand.N(typical*5/4))
			if killed {
				kills++
			}
			if took > 0 {
				done = append(done, name)
				completed++
				typical = (3*typical + took) / 4
			}
		}
		// The next change after a crash removes what the killed ones left.
		stale += len(tempFiles(t, tp.configDir))
		settle := fmt.Sprintf("r%d-settle", round)
		tp.mustWgpanel("peer", "add", settle)
		done = append(done, settle)

		data, err := os.ReadFile(network)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uci.Parse(network, data); err != nil {
			t.Fatalf("round %d: the network file does not parse: %v", round, err)
		}
		if left := tempFiles(t, tp.configDir); len(left) > 0 {
			t.Errorf("round %d: temporary files left after the next commit: %q", round, left)
		}
		inUCI := map[string]bool{}
		var enabled []string
		for _, s := range tp.uciPeers() {
			inUCI[strings.Join(s.options["description"], ",")] = true
			if d := s.options["disabled"]; len(d) == 0 || d[0] != "1" {
				enabled = append(enabled, strings.Join(s.options["public_key"], ","))
			}
		}
		for _, name := range done {
			if !inUCI[name] {
				t.Errorf("round %d: peer add %s exited 0 but the peer is not in the network file", round, name)
			}
		}
		sort.Strings(enabled)
		if dev := waitDevice(tp, enabled, 15*time.Second); !slices.Equal(dev, enabled) {
			t.Errorf("round %d: the device has %d peers, the network file %d enabled ones; want the same (only on the device: %q, only in UCI: %q)",
				round, len(dev), len(enabled), minus(dev, enabled), minus(enabled, dev))
		}
		if t.Failed() {
			break
		}
		// Free the addresses for the next batch.
		for name := range tp.peers() {
			tp.mustWgpanel("peer", "remove", name)
		}
	}
	t.Logf("%d tries: %d peer add processes killed at random points, %d completed; %d temporary files of killed commits found at batch ends (the next commit removed them)",
		tries, kills, completed, stale)
	if kills < wantKills {
		t.Errorf("%d kills; want at least %d", kills, wantKills)
	}
}

// addAndKill starts `peer add name` in the router namespace and sends it
// SIGKILL after delay unless it has exited by then. killed tells whether
// the signal hit the running process; took is how long the add ran when it
// exited 0, else 0.
func addAndKill(t *testing.T, tp *topo, name string, delay time.Duration) (killed bool, took time.Duration) {
	t.Helper()
	cmd := command(t.Context(), nil, inNS(tp.router, tp.bin, "--config-dir", tp.configDir, "peer", "add", name)...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start peer add %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(delay):
		cmd.Process.Signal(syscall.SIGKILL)
		select {
		case err = <-exited:
		case <-time.After(quickTimeout):
			t.Fatalf("peer add %s did not end after SIGKILL", name)
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, isWS := ee.Sys().(syscall.WaitStatus); isWS && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, 0
		}
		t.Errorf("peer add %s: %v", name, err)
		return false, 0
	}
	if err != nil {
		return false, 0
	}
	return false, time.Since(start)
}

// tempFiles lists the temporary commit files in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".uci-") || strings.Contains(e.Name(), ".wgpanel-") {
			left = append(left, e.Name())
		}
	}
	return left
}

// waitDevice polls the device's peers until they equal want or timeout
// passes, and returns the last ones seen.
func waitDevice(tp *topo, want []string, timeout time.Duration) []string {
	end := time.Now().Add(timeout)
	for {
		dev := tp.devicePeers()
		if slices.Equal(dev, want) || time.Now().After(end) {
			return dev
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// minus returns the elements of a that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
