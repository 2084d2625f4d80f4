package doctor

import (
	"fmt"
	"strings"
)

// peerSections reports the peer sections wgpanel cannot understand (see
// vpn.Server.Odd): they are left alone, but their owner should know why
// wgpanel does not show or manage them as it does the others.
func (c *checker) peerSections() *Check {
	cfg := c.in.Config
	if cfg == nil || cfg.Server == nil {
		return nil
	}
	odd := cfg.Server.Odd
	if len(odd) == 0 {
		return ok(IDPeerSections, "wgpanel can read every peer section of the interface.")
	}
	var b strings.Builder
	for i, o := range odd {
		if i > 0 {
			b.WriteString("; ")
		}
		name := o.Section
		if o.Name != "" {
			name = fmt.Sprintf("%s (section %s)", o.Name, o.Section)
		}
		fmt.Fprintf(&b, "%s: %s", name, o.Problem)
	}
	what := "1 peer section"
	if len(odd) > 1 {
		what = fmt.Sprintf("%d peer sections", len(odd))
	}
	return warn(IDPeerSections,
		fmt.Sprintf("wgpanel cannot read %s, so it leaves them as they are: %s.", what, b.String()),
		fmt.Sprintf("Fix them in LuCI (Network, Interfaces, %s, Peers) or in /etc/config/network.", cfg.Server.Interface))
}
