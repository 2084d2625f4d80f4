package doctor

import (
	"context"
	"strings"
	"testing"
)

// TestOddPeerSections adds peer sections wgpanel cannot read to the
// healthy router: the doctor names each with its problem as a warning, and
// every other check still runs.
func TestOddPeerSections(t *testing.T) {
	r := healthy(t)
	r.network += "\nconfig wireguard_wg0\n\toption description 'ghost'\n\tlist allowed_ips '10.66.66.50/32'\n" +
		"\nconfig wireguard_wg0\n\toption description 'typo'\n\toption public_key 'not-a-key'\n"
	checks := Run(context.Background(), input(t, r, device(t), publicWAN))
	var found bool
	for _, c := range checks {
		if c.ID != IDPeerSections {
			if c.Status != StatusOK {
				t.Errorf("got %s %s: %s; want ok (only the peer sections are odd)", c.ID, c.Status, c.Finding)
			}
			continue
		}
		found = true
		if c.Status != StatusWarn {
			t.Errorf("peer sections: %s; want warn", c.Status)
		}
		for _, want := range []string{"2 peer sections", "ghost (section @wireguard_wg0[", "no public key",
			"typo", `"not-a-key" is not a valid WireGuard key`, "leaves them as they are"} {
			if !strings.Contains(c.Finding, want) {
				t.Errorf("finding %q lacks %q", c.Finding, want)
			}
		}
		if !strings.Contains(c.Fix, "LuCI") {
			t.Errorf("fix %q does not say where to fix them", c.Fix)
		}
	}
	if !found {
		t.Errorf("no %s check among %d checks", IDPeerSections, len(checks))
	}
}
