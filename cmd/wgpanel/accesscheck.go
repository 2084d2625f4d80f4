package main

import (
	"context"
	"strings"

	"github.com/wgpanel/wgpanel/internal/access"
	"github.com/wgpanel/wgpanel/internal/doctor"
	"github.com/wgpanel/wgpanel/internal/fwpolicy"
	"github.com/wgpanel/wgpanel/internal/openwrt"
)

// accessCheck is the doctor's check that the firewall holds what wgpanel
// wrote for the devices' access: fw4's rules in /etc/config/firewall on a
// router, the nftables table that serve loaded standalone (nft is nil
// outside serve, where no table is known: then there is no check).
func accessCheck(ctx context.Context, store *openwrt.Store, nft *fwpolicy.NFT, standalone bool) *doctor.Check {
	const id = "access"
	if standalone {
		if nft == nil {
			return nil
		}
		problem, err := nft.Check(ctx)
		switch {
		case err != nil:
			return &doctor.Check{ID: id, Status: doctor.StatusWarn, Finding: "Cannot read the nftables table that limits what devices reach: " + err.Error() + ".",
				Fix: "Check that nft is installed and runs."}
		case problem != "":
			return &doctor.Check{ID: id, Status: doctor.StatusWarn, Finding: problem,
				Fix: "Change any device, or restart wgpanel: it loads the table again."}
		}
		return &doctor.Check{ID: id, Status: doctor.StatusOK, Finding: "The firewall limits each device to the access it was given (nftables table inet wgpanel)."}
	}
	problems, err := access.Check(ctx, store)
	switch {
	case err != nil:
		return &doctor.Check{ID: id, Status: doctor.StatusWarn, Finding: err.Error(),
			Fix: "Until this is fixed, devices reach what the firewall zones allow, whatever their access says."}
	case len(problems) > 0:
		return &doctor.Check{ID: id, Status: doctor.StatusWarn,
			Finding: "The firewall does not hold what wgpanel wrote for the devices' access: " + strings.Join(problems, "; ") + ".",
			Fix:     "Restart wgpanel (/etc/init.d/wgpanel restart): it writes its rules again. Leave the rules named \"wgpanel: ...\" to wgpanel."}
	}
	return &doctor.Check{ID: id, Status: doctor.StatusOK, Finding: "The firewall holds wgpanel's rules for each device's access."}
}
