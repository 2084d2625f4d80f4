package uci

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/uci/ucitest"
)

// Settings of the libuci helper process (WGPANEL_UCI_TEST_HELPER=libuci).
const (
	helperGap   = "WGPANEL_UCI_TEST_GAP"   // the widened gap between unlock and rename
	helperRound = "WGPANEL_UCI_TEST_ROUND" // names this round's markers
)

// runLibuciHelper commits WGPANEL_UCI_TEST_COUNT changes to the network
// package one after another, each exactly as libuci's uci_file_commit does
// (ucitest.Commit), with the gap between releasing the locks and renaming
// widened to WGPANEL_UCI_TEST_GAP. Each commit adds a section `config
// uci_marker` with `option id 'ROUND_I'`, as `uci add network uci_marker;
// uci set ...; uci commit network` would.
func runLibuciHelper() error {
	dir := os.Getenv(helperDir)
	n, err := strconv.Atoi(os.Getenv(helperCount))
	if err != nil {
		return err
	}
	gap, err := time.ParseDuration(os.Getenv(helperGap))
	if err != nil {
		return err
	}
	for i := range n {
		id := fmt.Sprintf("%s_%d", os.Getenv(helperRound), i)
		err := ucitest.Commit(dir, "network", gap, func(old []byte) ([]byte, error) {
			f, err := Parse("network", old)
			if err != nil {
				return nil, err
			}
			f.AddSection("uci_marker", "").Set("id", id)
			return f.Bytes(), nil
		})
		if err != nil {
			return fmt.Errorf("commit %d: %w", i, err)
		}
	}
	return nil
}

// TestUpdateBesideLibuci races wgpanel's commits against a process that
// commits exactly as libuci does, with libuci's gap between unlocking and
// renaming widened, for rounds of 40 against 40 commits. Not one change may
// be lost on either side. (libuci's commits run one after another: two
// libuci commits racing each other lose changes by themselves.)
func TestUpdateBesideLibuci(t *testing.T) {
	const rounds, perSide = 10, 40
	const gap = 3 * time.Millisecond
	dir := newDir(t, map[string][]byte{"network": readFixture(t, "network.wireguard-example")})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	lostOurs, lostTheirs := 0, 0
	start := time.Now()
	for round := range rounds {
		cmd, out := startHelper(ctx, t, "libuci", dir, perSide,
			helperGap+"="+gap.String(), helperRound+"="+strconv.Itoa(round))
		var wg sync.WaitGroup
		errs := make(chan error, perSide)
		for i := range perSide {
			wg.Go(func() {
				// Spread the adds over the helper's run.
				time.Sleep(time.Duration(i) * 4 * time.Millisecond)
				errs <- addPeer(dir, fmt.Sprintf("r%d_%d", round, i))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("round %d: Update: %v", round, err)
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("round %d: libuci helper: %v\n%s", round, err, out.String())
		}

		f, err := dir.Load("network")
		if err != nil {
			t.Fatalf("round %d: Load: %v", round, err)
		}
		have := make(map[string]bool)
		for _, s := range f.Sections {
			if v, ok := s.Get("description"); ok {
				have["peer "+v] = true
			}
			if v, ok := s.Get("id"); ok && s.Type == "uci_marker" {
				have["marker "+v] = true
			}
		}
		for i := range perSide {
			if !have[fmt.Sprintf("peer r%d_%d", round, i)] {
				lostOurs++
			}
			if !have[fmt.Sprintf("marker %d_%d", round, i)] {
				lostTheirs++
			}
		}
	}
	t.Logf("%d rounds of %d wgpanel commits against %d libuci commits (gap widened to %v) in %v: lost %d of wgpanel's, %d of libuci's",
		rounds, perSide, perSide, gap, time.Since(start).Round(time.Millisecond), lostOurs, lostTheirs)
	if lostOurs != 0 || lostTheirs != 0 {
		t.Errorf("lost %d of %d wgpanel changes and %d of %d libuci changes; want none", lostOurs, rounds*perSide, lostTheirs, rounds*perSide)
	}
	checkNoTemp(t, dir)
}
