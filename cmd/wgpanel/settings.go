package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/reach"
)

// settingFlags are the options `wgpanel settings` changes, by flag name.
var settingFlags = []struct{ flag, option, usage string }{
	{"endpoint", "endpoint", "the router's public address or DDNS name that phones dial (\"\" removes it)"},
	{"dns", "dns", "DNS servers handed to phones, separated by spaces (\"\": the router's LAN address)"},
	{"mtu", "mtu", "MTU written into phone configs (\"\" or 0: none)"},
	{"keep-private-keys", "keep_private_keys", "1 keeps phones' private keys so their codes can be shown again; 0 shows them once"},
	{"stun-server", "stun_server", "HOST[:PORT] asked for the public address by reachability --discover (\"\": off)"},
	{"client-to-client", "client_to_client", "1 lets devices reach each other through the tunnel; 0 (default) does not"},
	{"dns-domain", "dns_domain", "devices answer in DNS as NAME.DOMAIN (default vpn.lan)"},
	{"history-flash-interval", "history_flash_interval", "least time between writes of the usage history to flash, such as 1h (default); 0 never"},
	{"metrics-token", "metrics_token", "bearer token that GET /metrics requires (\"\": /metrics off)"},
}

// settings prints wgpanel's options, or changes those given as flags, all
// at once or none.
func (g *globals) settings(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	vals := make(map[string]*string, len(settingFlags))
	for _, f := range settingFlags {
		vals[f.flag] = fs.String(f.flag, "", f.usage)
	}
	pos, err := g.parse("settings", fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("settings takes flags only, such as --endpoint HOST; %q is not one", pos[0])
	}
	var changes []openwrt.SettingChange
	fs.Visit(func(f *flag.Flag) {
		for _, sf := range settingFlags {
			if sf.flag == f.Name {
				v := *vals[f.Name]
				if sf.option == "mtu" && strings.TrimSpace(v) == "0" {
					v = ""
				}
				changes = append(changes, openwrt.SettingChange{Name: sf.option, Value: v})
			}
		}
	})
	e, err := g.openToWrite()
	if err != nil {
		return err
	}
	defer e.Close()
	if len(changes) > 0 {
		if err := e.store.SetSettings(ctx, changes...); err != nil {
			return err
		}
	}
	st, err := e.store.Settings(ctx)
	if err != nil {
		return err
	}
	w := g.stdout
	show := func(name, v, unset string) {
		if v == "" {
			v = unset
		}
		fmt.Fprintf(w, "%-18s %s\n", name+":", v)
	}
	show("endpoint", st.Endpoint, "not set")
	dns := make([]string, len(st.DNS))
	for i, a := range st.DNS {
		dns[i] = a.String()
	}
	show("dns", strings.Join(dns, " "), "the router's LAN address")
	mtu := ""
	if st.MTU > 0 {
		mtu = strconv.Itoa(st.MTU)
	}
	show("mtu", mtu, "none")
	show("keep_private_keys", map[bool]string{true: "yes", false: "no"}[st.KeepPrivateKeys], "")
	show("stun_server", st.STUNServer, "off")
	show("client_to_client", map[bool]string{true: "yes", false: "no"}[st.ClientToClient], "")
	show("dns_domain", st.DNSDomain, "")
	flash := "never"
	if st.HistoryFlashInterval > 0 {
		flash = st.HistoryFlashInterval.String()
	}
	show("history_flash_interval", flash, "")
	show("metrics_token", map[bool]string{true: "set (hidden)", false: ""}[st.MetricsToken != ""], "off")
	if msg := reach.EndpointWarning(st.Endpoint); msg != "" {
		fmt.Fprintf(w, "warning: %s\n", msg)
	}
	if len(changes) > 0 {
		fmt.Fprintln(w, "saved; phones that scanned their code before an endpoint, DNS or MTU change need to scan it again (wgpanel peer show NAME --qr)")
	}
	return nil
}
