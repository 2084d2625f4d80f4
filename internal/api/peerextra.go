package api

import (
	"net/netip"
	"time"

	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// peerExtraJSON holds the access and end date fields of POST and PATCH
// /api/peers: {"access": "all|internet|lan|hosts", "hosts": ["192.168.1.10"],
// "expires": "2026-12-31T18:00:00Z" or "" for none}.
type peerExtraJSON struct {
	Access  *string   `json:"access"`
	Hosts   *[]string `json:"hosts"`
	Expires *string   `json:"expires"`
}

// update puts the fields present into u, or returns the first bad one.
func (x *peerExtraJSON) update(u *vpn.PeerUpdate) error {
	if x.Access != nil {
		a, err := vpn.ParseAccess(*x.Access)
		if err != nil {
			return err
		}
		u.Access = &a
	}
	if x.Hosts != nil {
		hs, err := vpn.ParseHosts(*x.Hosts)
		if err != nil {
			return err
		}
		if hs == nil {
			hs = []netip.Prefix{}
		}
		u.Hosts = &hs
	}
	if x.Expires != nil {
		t, err := expiry.Parse(*x.Expires)
		if err != nil {
			return &vpn.Error{Code: vpn.EINVALID, Field: "expires", Message: "The end date is not a date and time such as 2026-12-31T18:00:00Z; leave it empty for none."}
		}
		u.Expires = &t
	}
	return nil
}

// options returns the new device's options.
func (x *peerExtraJSON) options() (vpn.PeerOptions, error) {
	var u vpn.PeerUpdate
	if err := x.update(&u); err != nil {
		return vpn.PeerOptions{}, err
	}
	return u.Options(), nil
}

// setExtra fills the access and end date of a peer's JSON.
func setExtra(p *PeerJSON, v *vpn.PeerView) {
	p.Access = v.Access.OrAll()
	p.Hosts = vpn.HostStrings(v.Hosts)
	if !v.Expires.IsZero() {
		t := v.Expires.UTC()
		p.Expires = &t
		p.ExpiresText = expiry.Describe(v.Expires, time.Now())
	}
}
