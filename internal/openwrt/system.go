package openwrt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// System runs the commands that talk to the running OpenWrt: ubus and the
// init scripts. The zero value uses os/exec.
type System struct {
	// Exec runs a command and returns its standard output. nil means
	// os/exec; tests replace it.
	Exec func(ctx context.Context, name string, args ...string) ([]byte, error)
}

func (s System) exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	if s.Exec != nil {
		return s.Exec(ctx, name, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return out, fmt.Errorf("%w: %s", err, msg)
		}
		return out, err
	}
	return out, nil
}

// reloadCommands are what makes OpenWrt apply each UCI package.
var reloadCommands = map[string][]string{
	pkgNetwork:  {"ubus", "call", "network", "reload"},
	pkgFirewall: {"/etc/init.d/firewall", "reload"},
}

// Reload makes OpenWrt apply the given UCI packages, in the order given:
// `ubus call network reload` for "network" (netifd brings a new interface
// up and reconfigures a changed one) and `/etc/init.d/firewall reload` for
// "firewall". Other packages need no reload and are skipped. It stops at
// the first command that fails.
func (s System) Reload(ctx context.Context, packages ...string) error {
	for _, p := range packages {
		cmd, ok := reloadCommands[p]
		if !ok {
			continue
		}
		if _, err := s.exec(ctx, cmd[0], cmd[1:]...); err != nil {
			return fmt.Errorf("openwrt: reload %s: %s: %w", p, strings.Join(cmd, " "), err)
		}
	}
	return nil
}

// Runtime is what the running router knows about its WAN and wgpanel
// cannot read from UCI: the address a DHCP or PPPoE server handed out and
// the default gateway.
type Runtime struct {
	WANProto  string       // "dhcp", "pppoe", "static", ...
	WANUp     bool         // the WAN interface is up
	WANDevice string       // the layer 3 device, e.g. "wan" or "pppoe-wan"
	WANAddr   netip.Prefix // the first IPv4 address with its prefix length; invalid when none
	Gateway   netip.Addr   // the next hop of the IPv4 default route; invalid when none
	WANMTU    int          // the MTU of WANDevice; 0 when unknown
}

// ubusIfaceStatus is the part of `ubus call network.interface.wan status`
// wgpanel reads.
type ubusIfaceStatus struct {
	Up       bool   `json:"up"`
	Proto    string `json:"proto"`
	L3Device string `json:"l3_device"`
	Device   string `json:"device"`
	IPv4     []struct {
		Address string `json:"address"`
		Mask    int    `json:"mask"`
	} `json:"ipv4-address"`
	Route []struct {
		Target  string `json:"target"`
		Mask    int    `json:"mask"`
		Nexthop string `json:"nexthop"`
	} `json:"route"`
}

// GatherRuntime asks netifd over ubus for the WAN's live state:
// `ubus call network.interface.wan status`, then the MTU of its device from
// `ubus call network.device status`. A failure of the second call leaves
// WANMTU at 0.
func (s System) GatherRuntime(ctx context.Context) (Runtime, error) {
	var rt Runtime
	out, err := s.exec(ctx, "ubus", "call", "network.interface.wan", "status")
	if err != nil {
		return rt, fmt.Errorf("openwrt: ubus call network.interface.wan status: %w", err)
	}
	rt, err = parseIfaceStatus(out)
	if err != nil {
		return rt, fmt.Errorf("openwrt: ubus call network.interface.wan status: %w", err)
	}
	if rt.WANDevice != "" {
		arg, _ := json.Marshal(map[string]string{"name": rt.WANDevice})
		if out, err := s.exec(ctx, "ubus", "call", "network.device", "status", string(arg)); err == nil {
			var dev struct {
				MTU int `json:"mtu"`
			}
			if json.Unmarshal(out, &dev) == nil {
				rt.WANMTU = dev.MTU
			}
		}
	}
	return rt, nil
}

// GatherRuntime is System{}.GatherRuntime: the WAN's live state from ubus.
func GatherRuntime(ctx context.Context) (Runtime, error) {
	return System{}.GatherRuntime(ctx)
}

func parseIfaceStatus(data []byte) (Runtime, error) {
	var rt Runtime
	var st ubusIfaceStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return rt, fmt.Errorf("unexpected output: %w", err)
	}
	rt.WANProto = st.Proto
	rt.WANUp = st.Up
	rt.WANDevice = st.L3Device
	if rt.WANDevice == "" {
		rt.WANDevice = st.Device
	}
	for _, a := range st.IPv4 {
		addr, err := netip.ParseAddr(a.Address)
		if err != nil || !addr.Is4() || a.Mask < 0 || a.Mask > 32 {
			continue
		}
		rt.WANAddr = netip.PrefixFrom(addr, a.Mask)
		break
	}
	for _, r := range st.Route {
		if r.Target != "0.0.0.0" || r.Mask != 0 {
			continue
		}
		if gw, err := netip.ParseAddr(r.Nexthop); err == nil && gw.Is4() && !gw.IsUnspecified() {
			rt.Gateway = gw
			break
		}
	}
	return rt, nil
}

// HostRuntime reads the same facts on a Linux host that is not OpenWrt
// (standalone mode): the interface of the IPv4 default route in
// /proc/net/route, its gateway, first IPv4 address and MTU. WANProto is
// empty. It has GatherRuntime's signature so that either can be handed to
// doctor.Collect; reading /proc needs no ctx.
func HostRuntime(_ context.Context) (Runtime, error) {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return Runtime{}, fmt.Errorf("openwrt: read the routing table: %w", err)
	}
	return hostRuntime(data, net.InterfaceByName)
}

var errNoDefaultRoute = errors.New("openwrt: the host has no IPv4 default route")

func hostRuntime(routes []byte, lookup func(string) (*net.Interface, error)) (Runtime, error) {
	var rt Runtime
	sc := bufio.NewScanner(bytes.NewReader(routes))
	found := false
	for sc.Scan() {
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		gw, err := hex.DecodeString(f[2])
		if err != nil || len(gw) != 4 {
			continue
		}
		// The kernel prints the address in host byte order, which is
		// little-endian on every machine wgpanel runs on.
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.LittleEndian.Uint32(gw))
		rt.WANDevice = f[0]
		if a := netip.AddrFrom4(b); !a.IsUnspecified() {
			rt.Gateway = a
		}
		found = true
		break
	}
	if !found {
		return rt, errNoDefaultRoute
	}
	ifi, err := lookup(rt.WANDevice)
	if err != nil {
		return rt, fmt.Errorf("openwrt: interface %s: %w", rt.WANDevice, err)
	}
	rt.WANUp = ifi.Flags&net.FlagUp != 0
	rt.WANMTU = ifi.MTU
	addrs, err := ifi.Addrs()
	if err != nil {
		return rt, fmt.Errorf("openwrt: addresses of %s: %w", rt.WANDevice, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
				ones, _ := n.Mask.Size()
				rt.WANAddr = netip.PrefixFrom(ip.Unmap(), ones)
				break
			}
		}
	}
	return rt, nil
}
