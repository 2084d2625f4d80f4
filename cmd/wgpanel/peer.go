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

	"github.com/skip2/go-qrcode"

	"github.com/wgpanel/wgpanel/internal/api"
	"github.com/wgpanel/wgpanel/internal/vpn"
)

func (g *globals) peer(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("peer needs a subcommand: add, list, show, remove, enable, disable or rename")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("peer "+sub, flag.ContinueOnError)
	full := fs.Bool("full-tunnel", false, "send all of the device's traffic through the router")
	qr := fs.Bool("qr", false, "also print the config as a QR code for the WireGuard app")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := g.parse("peer "+sub, fs, args)
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "list": 0, "show": 1, "remove": 1, "enable": 1, "disable": 1, "rename": 2}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("unknown peer subcommand %q; use add, list, show, remove, enable, disable or rename", sub)
	}
	if len(pos) != n {
		return fmt.Errorf("peer %s takes %d argument(s), got %d; run wgpanel help", sub, n, len(pos))
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
		res, err := svc.AddPeer(ctx, pos[0], tunnel)
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
		if _, err := svc.UpdatePeer(ctx, p.PublicKey, vpn.PeerUpdate{Enabled: &on}); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%sd %s\n", sub, p.Name)
	case "rename":
		if _, err := svc.UpdatePeer(ctx, p.PublicKey, vpn.PeerUpdate{Name: &pos[1]}); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "renamed %s to %s\n", p.Name, pos[1])
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
	code, err := qrcode.New(cfg, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("making the QR code: %w", err)
	}
	fmt.Fprintln(g.stdout)
	fmt.Fprint(g.stdout, code.ToSmallString(false))
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printPeers(w io.Writer, peers []vpn.PeerView, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESSES\tTUNNEL\tSTATE\tHANDSHAKE\tRX\tTX")
	for _, p := range peers {
		addrs := make([]string, len(p.Addresses))
		for i, a := range p.Addresses {
			addrs[i] = a.String()
		}
		state := "enabled"
		switch {
		case p.Problem != "":
			state = "unreadable"
		case !p.Enabled:
			state = "disabled"
		case p.Online:
			state = "online"
		}
		hs := "never"
		if !p.LatestHandshake.IsZero() {
			hs = now.Sub(p.LatestHandshake).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, strings.Join(addrs, ","), p.Tunnel, state, hs,
			humanBytes(p.RxBytes), humanBytes(p.TxBytes))
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

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
