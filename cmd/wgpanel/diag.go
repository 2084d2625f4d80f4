package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/doctor"
	"github.com/wgpanel/wgpanel/internal/fwpolicy"
	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

// diagnostics runs setup and the doctor against this machine: OpenWrt's
// ubus and init scripts on a router, nothing but the state dir standalone.
type diagnostics struct {
	store      *openwrt.Store
	dev        vpn.Device
	doc        *doctor.Doctor
	standalone bool
	// nft is serve's standalone access table, for the access check; nil
	// outside serve.
	nft *fwpolicy.NFT
}

var _ api.Diagnostics = (*diagnostics)(nil)

func (g *globals) diagnostics(e *env) *diagnostics {
	return &diagnostics{store: e.store, dev: e.dev, doc: doctor.New(), standalone: g.standaloneConfig()}
}

func (d *diagnostics) runtime(ctx context.Context) (openwrt.Runtime, error) {
	if d.standalone {
		return openwrt.HostRuntime(ctx)
	}
	return openwrt.GatherRuntime(ctx)
}

// reload is how a written change reaches the running router; standalone
// there is nothing to reload.
func (d *diagnostics) reload() func(context.Context, ...string) error {
	if d.standalone {
		return nil
	}
	return openwrt.System{}.Reload
}

// Doctor runs every check.
func (d *diagnostics) Doctor(ctx context.Context) ([]doctor.Check, error) {
	checks := d.doc.Run(ctx, doctor.Collect(ctx, d.store, d.dev, d.runtime, d.standalone))
	if c := accessCheck(ctx, d.store, d.nft, d.standalone); c != nil {
		checks = append(checks, *c)
	}
	return checks, nil
}

// Fix applies the safe local fixes named by ids, or every fixable one when
// ids is empty.
func (d *diagnostics) Fix(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		checks, err := d.Doctor(ctx)
		if err != nil {
			return nil, err
		}
		ids = doctor.FixableIDs(checks)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return doctor.Fix(ctx, d.store, ids, d.reload())
}

// Setup creates or adopts the interface and its firewall rules.
func (d *diagnostics) Setup(ctx context.Context, endpoint string) (*openwrt.SetupResult, error) {
	opts := openwrt.SetupOptions{Endpoint: endpoint, Standalone: d.standalone, Reload: d.reload()}
	if rt, err := d.runtime(ctx); err == nil {
		opts.WAN = rt.WANAddr
	}
	res, err := d.store.Setup(ctx, opts)
	if err != nil || endpoint == "" || res.Endpoint == endpoint {
		return res, err
	}
	// Setup fills in a missing endpoint only; one the owner names
	// explicitly replaces the old one.
	if err := d.store.SetSetting(ctx, "endpoint", endpoint); err != nil {
		return res, err
	}
	res.Changes = append(res.Changes, fmt.Sprintf("changed wgpanel's endpoint from %s to %s", res.Endpoint, endpoint))
	res.Endpoint = endpoint
	return res, nil
}

func (g *globals) setup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "the router's public address or DDNS name that phones dial")
	if _, err := g.parse("setup", fs, args); err != nil {
		return err
	}
	e, err := g.openToWrite()
	if err != nil {
		return err
	}
	defer e.Close()
	res, err := g.diagnostics(e).Setup(ctx, *endpoint)
	if res != nil {
		printSetup(g, res)
	}
	return err
}

func printSetup(g *globals, res *openwrt.SetupResult) {
	w := g.stdout
	if len(res.Changes) == 0 {
		fmt.Fprintf(w, "nothing to do: interface %s and its firewall rules are in place\n", res.Interface)
	}
	for _, c := range res.Changes {
		fmt.Fprintln(w, c)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "interface %s: public key %s, UDP port %d, addresses %s\n",
		res.Interface, res.PublicKey, res.ListenPort, joinStrings(res.Addresses))
	switch {
	case res.Endpoint != "":
		fmt.Fprintf(w, "endpoint: %s\n", res.Endpoint)
	case res.SuggestedEndpoint != "":
		fmt.Fprintf(w, "endpoint: not set; suggested %s (%s): wgpanel setup --endpoint %s\n",
			res.SuggestedEndpoint, res.SuggestionReason, res.SuggestedEndpoint)
	default:
		fmt.Fprintln(w, "endpoint: not set; run wgpanel setup --endpoint HOST with your public address or DDNS name")
	}
	fmt.Fprintln(w, "next: wgpanel peer add phone")
}

func joinStrings[T fmt.Stringer](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

func (g *globals) doctor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	fix := fs.Bool("fix", false, "apply the safe local fixes (firewall rule, zone) the checks offer")
	if _, err := g.parse("doctor", fs, args); err != nil {
		return err
	}
	e, err := g.open(slog.LevelWarn)
	if err != nil {
		return err
	}
	defer e.Close()
	d := g.diagnostics(e)
	if *fix {
		changes, err := d.Fix(ctx, nil)
		if err != nil {
			return err
		}
		if !*asJSON {
			for _, c := range changes {
				fmt.Fprintf(g.stdout, "fixed: %s\n", c)
			}
			if len(changes) == 0 {
				fmt.Fprintln(g.stdout, "nothing to fix automatically")
			}
		}
	}
	checks, err := d.Doctor(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(g.stdout, doctor.Report{Checks: checks})
	}
	for _, c := range checks {
		fmt.Fprintf(g.stdout, "%-5s %-18s %s\n", strings.ToUpper(c.Status), c.ID, c.Finding)
		if c.Fix != "" && c.Status != "ok" {
			fmt.Fprintf(g.stdout, "      %-18s fix: %s\n", "", c.Fix)
		}
	}
	if ids := doctor.FixableIDs(checks); len(ids) > 0 && !*fix {
		fmt.Fprintf(g.stdout, "run wgpanel doctor --fix to fix %s\n", strings.Join(ids, ", "))
	}
	return nil
}
