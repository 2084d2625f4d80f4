package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/reach"
)

// reacher returns the reachability checker over d, sharing its doctor.
func reacher(d *diagnostics, log *slog.Logger) *reach.Checker {
	return &reach.Checker{Store: d.store, Device: d.dev, Runtime: d.runtime, Standalone: d.standalone, Doctor: d.doc, Log: log}
}

var _ api.Reachability = (*reach.Checker)(nil)

// reachability prints the verdict; with --discover it first asks the STUN
// server for the public address (the only time wgpanel contacts it).
func (g *globals) reachability(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reachability", flag.ContinueOnError)
	discover := fs.Bool("discover", false, "ask the STUN server (option stun_server) for the public address first")
	asJSON := fs.Bool("json", false, "print JSON, as GET /api/reachability answers")
	if _, err := g.parse("reachability", fs, args); err != nil {
		return err
	}
	e, err := g.open(slog.LevelWarn)
	if err != nil {
		return err
	}
	defer e.Close()
	r := reacher(g.diagnostics(e), e.log)
	get := r.Verdict
	if *discover {
		get = r.Discover
	}
	res, err := get(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(g.stdout, api.ReachJSON(res, r.CanDiscover(ctx)))
	}
	w := g.stdout
	fmt.Fprintln(w, res.Summary)
	if res.Fix != "" {
		// The verdict names the page's controls; here the commands do it.
		fix := strings.ReplaceAll(res.Fix, "the Endpoint below", "the endpoint (wgpanel settings --endpoint HOST)")
		fix = strings.ReplaceAll(fix, "the Endpoint", "the endpoint (wgpanel settings --endpoint HOST)")
		if len(res.FixIDs) > 0 {
			fix = "run wgpanel doctor --fix"
		}
		fmt.Fprintf(w, "to do: %s\n", fix)
	}
	show := func(label string, a netip.Addr, note string) {
		v := "unknown"
		if a.IsValid() {
			v = a.String() + note
		}
		fmt.Fprintf(w, "%-12s %s\n", label+":", v)
	}
	show("WAN IPv4", res.WANIPv4, "")
	note := ""
	if res.Discovered {
		note = " (seen by the STUN server)"
	}
	show("public IPv4", res.PublicIPv4, note)
	show("public IPv6", res.PublicIPv6, "")
	for _, sg := range res.Suggestions {
		fmt.Fprintf(w, "endpoint suggestion: %s (%s): wgpanel settings --endpoint %s\n", sg.Value, sg.Why, sg.Value)
	}
	if !*discover && r.CanDiscover(ctx) && !res.Discovered {
		fmt.Fprintln(w, "to learn the public address for certain: wgpanel reachability --discover")
	}
	return nil
}
