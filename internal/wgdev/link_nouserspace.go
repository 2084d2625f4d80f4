//go:build nouserspace

package wgdev

import (
	"context"
	"fmt"

	"github.com/jsimonetti/rtnetlink/v2"

	"github.com/wgpanel/wgpanel/internal/vpn"
)

// This file stands in for link_userspace.go in a build with the nouserspace
// tag, such as the router's: there netifd runs WireGuard in the kernel, and
// the embedded wireguard-go would only take up flash. Up then creates
// kernel WireGuard links only.

// userspaceBuilt reports whether this build has the embedded wireguard-go.
const userspaceBuilt = false

// userspaceLink is empty: no Link of this build is a userspace device.
type userspaceLink struct{}

// closeUserspace has nothing to release.
func (l *Link) closeUserspace() {}

// upUserspace fails: Up calls it only when the kernel has no WireGuard.
func (l *Link) upUserspace(_ context.Context, _ *rtnetlink.Conn, cfg LinkConfig) error {
	return &deviceError{
		msg: fmt.Sprintf("cannot create interface %s: this build of wgpanel has no built-in userspace WireGuard; "+
			"load the kernel module (kmod-wireguard, modprobe wireguard) for standalone mode", cfg.Name),
		sentinel: vpn.ErrDeviceUnreachable,
	}
}
