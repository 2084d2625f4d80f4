package vpn

import (
	"net/netip"
	"slices"
	"time"

	"github.com/wgpanel/wgpanel/internal/expiry"
)

// PeerOptions are the optional settings of a new device.
type PeerOptions struct {
	Access  Access // "" is AccessAll
	Hosts   []netip.Prefix
	Expires time.Time // zero: never
}

func (o *PeerOptions) check(now time.Time) error {
	if err := CheckAccess(o.Access.OrAll(), o.Hosts); err != nil {
		return err
	}
	return CheckExpires(o.Expires, now)
}

// applyExtra applies the access, hosts and end date of u to p, and refuses
// to enable an expired device unless u gives it a new end date (or none).
// Choosing a mode other than hosts drops the hosts list.
func (u *PeerUpdate) applyExtra(p *Peer, now time.Time) error {
	if u.Access != nil {
		a, err := ParseAccess(string(*u.Access))
		if err != nil {
			return err
		}
		p.Access = a
		if a != AccessHosts && u.Hosts == nil {
			p.Hosts = nil
		}
	}
	if u.Hosts != nil {
		p.Hosts = slices.Clone(*u.Hosts)
	}
	if u.Access != nil || u.Hosts != nil {
		if err := CheckAccess(p.Access.OrAll(), p.Hosts); err != nil {
			return err
		}
	}
	if u.Expires != nil {
		if err := CheckExpires(*u.Expires, now); err != nil {
			return err
		}
		p.Expires = *u.Expires
	}
	if u.Enabled != nil && *u.Enabled {
		if err := expiry.CheckEnable(p.Name, p.Expires, now); err != nil {
			return &Error{Code: ECONFLICT, Field: "expires", Message: err.Error() + "."}
		}
	}
	return nil
}

// Options returns the access, hosts and end date of u as the options of a
// new device.
func (u *PeerUpdate) Options() PeerOptions {
	var o PeerOptions
	if u.Access != nil {
		o.Access = *u.Access
	}
	if u.Hosts != nil {
		o.Hosts = *u.Hosts
	}
	if u.Expires != nil {
		o.Expires = *u.Expires
	}
	return o
}

// Empty reports whether u changes nothing.
func (u *PeerUpdate) Empty() bool {
	return u.Name == nil && u.Enabled == nil && u.Access == nil && u.Hosts == nil && u.Expires == nil
}
