package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/uci"
	"github.com/wgpanel/wgpanel/internal/uci/ucitest"
)

// TestPeerAddBesideLibuci runs `wgpanel peer add` processes while commits
// made exactly as libuci makes them (LuCI's Save & Apply, `uci commit` in
// a script; the gap between libuci's unlock and its rename widened) change
// the same network file: ten rounds of 40 against 40. Every add that
// reports success must be in the file afterwards, and no libuci change may
// disappear. (The libuci commits run one after another: libuci racing
// itself loses changes without wgpanel.)
func TestPeerAddBesideLibuci(t *testing.T) {
	t.Parallel()
	const rounds, perSide = 10, 40
	const gap = 3 * time.Millisecond
	tp := newTopo(t, topoOptions{})
	lostOurs, lostTheirs, failed := 0, 0, 0
	start := time.Now()
	for round := range rounds {
		var wg sync.WaitGroup
		libuciErr := make(chan error, 1)
		wg.Go(func() {
			for i := range perSide {
				id := fmt.Sprintf("%d_%d", round, i)
				err := ucitest.Commit(tp.configDir, "network", gap, func(old []byte) ([]byte, error) {
					f, err := uci.Parse("network", old)
					if err != nil {
						return nil, err
					}
					f.AddSection("uci_marker", "").Set("id", id)
					return f.Bytes(), nil
				})
				if err != nil {
					libuciErr <- err
					return
				}
			}
		})
		results := make([]cmdResult, perSide)
		for i := range perSide {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 5 * time.Millisecond)
				results[i] = tp.wgpanel("peer", "add", fmt.Sprintf("r%d-%d", round, i))
			})
		}
		wg.Wait()
		select {
		case err := <-libuciErr:
			t.Fatalf("round %d: libuci-style commit: %v", round, err)
		default:
		}
		have := map[string]bool{}
		for _, s := range readUCI(t, filepath.Join(tp.configDir, "network")) {
			for _, d := range s.options["description"] {
				have["peer "+d] = true
			}
			if s.typ == "uci_marker" {
				have["marker "+strings.Join(s.options["id"], ",")] = true
			}
		}
		for i, r := range results {
			if r.err != nil {
				failed++
				t.Errorf("round %d: %v", round, r)
			} else if !have[fmt.Sprintf("peer r%d-%d", round, i)] {
				lostOurs++
			}
			if !have[fmt.Sprintf("marker %d_%d", round, i)] {
				lostTheirs++
			}
		}
		if left := tempFiles(t, tp.configDir); len(left) > 0 {
			t.Errorf("round %d: temporary files left: %q", round, left)
		}
		// Free the addresses for the next round.
		for name := range tp.peers() {
			tp.mustWgpanel("peer", "remove", name)
		}
	}
	t.Logf("%d rounds of %d `wgpanel peer add` against %d libuci-style commits (gap widened to %v) in %v: lost %d of wgpanel's, %d of libuci's, %d adds failed",
		rounds, perSide, perSide, gap, time.Since(start).Round(time.Millisecond), lostOurs, lostTheirs, failed)
	if lostOurs != 0 || lostTheirs != 0 {
		t.Errorf("lost %d of %d wgpanel peers and %d of %d libuci changes; want none",
			lostOurs, rounds*perSide, lostTheirs, rounds*perSide)
	}
}
