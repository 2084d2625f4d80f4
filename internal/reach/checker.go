package reach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/wgpanel/wgpanel/internal/doctor"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// Checker makes verdicts on a running system. It remembers the public
// address a STUN server reported for as long as it lives, so that later
// verdicts and endpoint suggestions keep it. It is safe for concurrent use.
type Checker struct {
	Store      *openwrt.Store
	Device     vpn.Device
	Runtime    func(context.Context) (openwrt.Runtime, error) // as doctor.Collect takes it
	Standalone bool
	Doctor     *doctor.Doctor // shares the daemon's endpoint history; a new one when nil
	Log        *slog.Logger   // nil: nothing logged
	// HostAddrs returns the machine's addresses; HostAddrs when nil.
	HostAddrs func() []netip.Addr
	// Timeout bounds Discover; DiscoverTimeout when 0.
	Timeout time.Duration

	mu     sync.Mutex
	mapped netip.Addr // guarded by mu
}

// Verdict runs the local checks and makes the verdict; it sends nothing.
func (c *Checker) Verdict(ctx context.Context) (*Result, error) {
	in := doctor.Collect(ctx, c.Store, c.Device, c.Runtime, c.Standalone)
	doc := c.Doctor
	if doc == nil {
		doc = doctor.New()
	}
	ddns, _ := openwrt.SuggestEndpoint(c.Store.Dir(), netip.Addr{})
	hostAddrs := c.HostAddrs
	if hostAddrs == nil {
		hostAddrs = HostAddrs
	}
	c.mu.Lock()
	mapped := c.mapped
	c.mu.Unlock()
	res := Decide(Input{Doctor: in, Checks: doc.Run(ctx, in), DDNS: ddns, HostAddrs: hostAddrs(), Mapped: mapped})
	return &res, nil
}

// CanDiscover reports whether option stun_server names a server.
func (c *Checker) CanDiscover(ctx context.Context) bool {
	st, err := c.Store.Settings(ctx)
	return err == nil && st.STUNServer != ""
}

// Discover asks the STUN server of option stun_server for the public
// address, then makes the verdict with it. The feature switched off is a
// *vpn.Error with code ECONFLICT; no answer is one with EUNAVAILABLE.
func (c *Checker) Discover(ctx context.Context) (*Result, error) {
	st, err := c.Store.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if st.STUNServer == "" {
		return nil, vpn.Errorf(vpn.ECONFLICT, "Finding the public address is switched off: set option stun_server in /etc/config/wgpanel (for example to %s) to switch it on.", openwrt.DefaultSTUNServer)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DiscoverTimeout
	}
	ap, err := Discover(ctx, st.STUNServer, timeout)
	if err != nil {
		msg := fmt.Sprintf("The router could not reach the STUN server %s, so wgpanel could not learn your public address. Check the router's internet connection, or set another server (option stun_server).",
			st.STUNServer)
		if errors.Is(err, ErrNoAnswer) {
			msg = fmt.Sprintf("The STUN server %s did not answer within %s, so wgpanel could not learn your public address. Check the router's internet connection, or set another server (option stun_server).",
				st.STUNServer, seconds(timeout))
		}
		if c.Log != nil {
			c.Log.Warn("public address not discovered", "stun_server", st.STUNServer, "err", err)
		}
		return nil, &vpn.Error{Code: vpn.EUNAVAILABLE, Message: msg, Err: err}
	}
	if c.Log != nil {
		c.Log.Info("public address discovered", "stun_server", st.STUNServer, "address", ap.Addr().String())
	}
	c.mu.Lock()
	c.mapped = ap.Addr()
	c.mu.Unlock()
	return c.Verdict(ctx)
}
