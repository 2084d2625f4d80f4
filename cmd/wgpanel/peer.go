package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/expiry"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

func (g *globals) peer(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("peer needs a subcommand: add, list, show, remove, enable, disable or rename")
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "-help" || sub == "help" {
		commandUsage(g.stdout, "peer")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("peer "+sub, flag.ContinueOnError)
	full := fs.Bool("full-tunnel", false, "send all of the device's traffic through the router")
	qr := fs.Bool("qr", false, "also print the config as a QR code for the WireGuard app")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.String("access", "", "what the device may reach: all (default), internet, lan or hosts")
	fs.String("hosts", "", "for --access hosts: the LAN addresses it may reach, separated by commas")
	fs.String("expires", "", "disable the device at this date and time (RFC 3339, e.g. 2026-12-31T18:00:00Z); never for none")
	pos, err := g.parse("peer "+sub, fs, args)
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "list": 0, "show": 1, "remove": 1, "enable": 1, "disable": 1, "rename": 2, "access": 2, "expires": 2}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("unknown peer subcommand %q; use add, list, show, remove, enable, disable, rename, access or expires", sub)
	}
	if len(pos) != n {
		return fmt.Errorf("peer %s takes %d argument(s), got %d; run wgpanel help", sub, n, len(pos))
	}
	var extra vpn.PeerUpdate
	if err := peerExtraFlags(fs, sub, pos, &extra); err != nil {
		return err
	}
	e, err := g.open(slog.LevelWarn)
	if err != nil {
		return err
	}
	defer e.Close()
	svc := e.svc

	switch sub {
	case "add":
		tunnel := vpn.TunnelSplit
		if *full {
			tunnel = vpn.TunnelFull
		}
		res, err := svc.AddPeerWith(ctx, pos[0], tunnel, extra.Options())
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(g.stderr, "warning: %s\n", w)
		}
		return g.printConfig(res.Config, *qr)
	case "list":
		peers, err := svc.Peers(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(g.stdout, api.PeersJSON(peers))
		}
		printPeers(g.stdout, peers, time.Now())
		return nil
	}

	p, err := svc.Peer(ctx, pos[0])
	if err != nil {
		return err
	}
	switch sub {
	case "show":
		_, cfg, err := svc.PeerConfig(ctx, p.PublicKey)
		if err != nil {
			return err
		}
		return g.printConfig(cfg, *qr)
	case "remove":
		if err := svc.RemovePeer(ctx, p.PublicKey); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "removed %s\n", p.Name)
	case "enable", "disable":
		on := sub == "enable"
		extra.Enabled = &on
		if _, err := svc.UpdatePeer(ctx, p.PublicKey, extra); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%sd %s\n", sub, p.Name)
	case "rename":
		if _, err := svc.UpdatePeer(ctx, p.PublicKey, vpn.PeerUpdate{Name: &pos[1]}); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "renamed %s to %s\n", p.Name, pos[1])
	case "access", "expires":
		v, err := svc.UpdatePeer(ctx, p.PublicKey, extra)
		if err != nil {
			return err
		}
		if sub == "access" {
			fmt.Fprintf(g.stdout, "%s may now reach: %s\n", v.Name, accessWords(v))
		} else if v.Expires.IsZero() {
			fmt.Fprintf(g.stdout, "%s has no end date\n", v.Name)
		} else {
			fmt.Fprintf(g.stdout, "%s is disabled at %s\n", v.Name, v.Expires.Local().Format("2 Jan 2006 15:04"))
		}
	}
	return nil
}

// printConfig prints a client config, and with qr also as a QR code that
// the WireGuard app scans from the terminal.
func (g *globals) printConfig(cfg string, qr bool) error {
	fmt.Fprint(g.stdout, cfg)
	if !qr {
		return nil
	}
	fmt.Fprintln(g.stdout)
	return printQR(g.stdout, g.stderr, cfg)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printPeers lists the devices in the page's words: connected or not,
// traffic in kB and MB, which traffic goes through the tunnel.
func printPeers(w io.Writer, peers []vpn.PeerView, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tTRAFFIC\tSENDS\tADDRESSES")
	for _, p := range peers {
		addrs := make([]string, len(p.Addresses))
		for i, a := range p.Addresses {
			addrs[i] = a.String()
		}
		traffic := "none yet"
		if p.RxBytes+p.TxBytes > 0 {
			traffic = fmt.Sprintf("↓ %s ↑ %s", humanBytes(p.TxBytes), humanBytes(p.RxBytes))
		}
		sends := map[vpn.Tunnel]string{vpn.TunnelSplit: "home network only", vpn.TunnelFull: "all traffic"}[p.Tunnel]
		if p.Access.OrAll() != vpn.AccessAll {
			sends += ", reaches " + accessShort(p)
		}
		state := peerState(p, now)
		if d := expiry.Describe(p.Expires, now); d != "" && p.Problem == "" {
			state += " · " + d
		}
		if p.ConfigStale {
			state += " (re-scan needed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, state, traffic, sends, strings.Join(addrs, ","))
	}
	tw.Flush()
	for _, p := range peers {
		if p.Problem != "" {
			fmt.Fprintf(w, "%s: wgpanel cannot read this peer and leaves it as it is: %s\n", peerName(p), p.Problem)
		}
	}
}

// peerName is how a peer is named in messages; a section without a
// description has no name.
func peerName(p vpn.PeerView) string {
	if p.Name != "" {
		return p.Name
	}
	return "a peer without description"
}

// peerState says whether a device is connected, as the page does.
func peerState(p vpn.PeerView, now time.Time) string {
	switch {
	case p.Problem != "":
		return "unreadable"
	case !p.Enabled:
		return "disabled"
	case p.LatestHandshake.IsZero():
		return "not connected yet"
	case p.Online:
		return "connected · " + ago(now.Sub(p.LatestHandshake))
	}
	return "last seen " + ago(now.Sub(p.LatestHandshake))
}

// ago words a duration the way the page does: "20 s ago", "3 days ago".
func ago(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 5:
		return "just now"
	case s < 60:
		return fmt.Sprintf("%d s ago", s)
	case s < 3600:
		return fmt.Sprintf("%d min ago", s/60)
	case s < 48*3600:
		return fmt.Sprintf("%d h ago", s/3600)
	}
	return fmt.Sprintf("%d days ago", s/86400)
}

// humanBytes writes n in decimal units, as the page does: 380 kB, 1.2 MB.
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v, units := float64(n)/1000, "kMGTPE"
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %cB", v, units[i])
	}
	return fmt.Sprintf("%.0f %cB", v, units[i])
}
