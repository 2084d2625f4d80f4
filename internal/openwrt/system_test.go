package openwrt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeExec answers commands from a table keyed by the joined command line
// and records every call.
type fakeExec struct {
	out   map[string][]byte
	fail  map[string]error
	calls []string
}

func (f *fakeExec) exec(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, line)
	if err := f.fail[line]; err != nil {
		return nil, err
	}
	if out, ok := f.out[line]; ok {
		return out, nil
	}
	return nil, errors.New("exec: not found")
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSystemReload(t *testing.T) {
	tests := []struct {
		name    string
		pkgs    []string
		fail    string
		want    []string
		wantErr string
	}{
		{"network and firewall", []string{"network", "firewall"}, "",
			[]string{"ubus call network reload", "/etc/init.d/firewall reload"}, ""},
		{"firewall only", []string{"firewall"}, "", []string{"/etc/init.d/firewall reload"}, ""},
		{"wgpanel needs none", []string{"wgpanel"}, "", nil, ""},
		{"stops at a failure", []string{"network", "firewall"}, "ubus call network reload",
			[]string{"ubus call network reload"}, "reload network: ubus call network reload: Command failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := &fakeExec{out: map[string][]byte{"ubus call network reload": nil, "/etc/init.d/firewall reload": nil}}
			if tt.fail != "" {
				fe.fail = map[string]error{tt.fail: errors.New("Command failed: Not found")}
			}
			err := System{Exec: fe.exec}.Reload(context.Background(), tt.pkgs...)
			if !reflect.DeepEqual(fe.calls, tt.want) {
				t.Errorf("got calls %q; want %q", fe.calls, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got error %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestGatherRuntime(t *testing.T) {
	const wanStatus = "ubus call network.interface.wan status"
	tests := []struct {
		name   string
		status string
		device map[string]string // command line -> testdata file
		want   Runtime
	}{
		{"double NAT DHCP WAN", "ubus-wan-dhcp.json", nil, Runtime{
			WANProto: "dhcp", WANUp: true, WANDevice: "wan",
			WANAddr: netip.MustParsePrefix("192.168.2.253/24"), Gateway: netip.MustParseAddr("192.168.2.254"),
		}},
		{"PPPoE with device MTU", "ubus-wan-pppoe.json",
			map[string]string{`ubus call network.device status {"name":"pppoe-wan"}`: "ubus-device-pppoe.json"},
			Runtime{
				WANProto: "pppoe", WANUp: true, WANDevice: "pppoe-wan",
				WANAddr: netip.MustParsePrefix("198.51.100.23/32"), Gateway: netip.MustParseAddr("198.51.100.1"),
				WANMTU: 1492,
			}},
		{"WAN down", "ubus-wan-down.json", nil, Runtime{WANProto: "dhcp", WANDevice: "wan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := &fakeExec{out: map[string][]byte{wanStatus: readTestdata(t, tt.status)}}
			for line, file := range tt.device {
				fe.out[line] = readTestdata(t, file)
			}
			got, err := System{Exec: fe.exec}.GatherRuntime(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}

	t.Run("ubus missing", func(t *testing.T) {
		fe := &fakeExec{}
		_, err := System{Exec: fe.exec}.GatherRuntime(context.Background())
		if err == nil || !strings.Contains(err.Error(), wanStatus) {
			t.Errorf("got error %v; want one naming the command", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		fe := &fakeExec{out: map[string][]byte{wanStatus: []byte("Command failed: Not found\n")}}
		if _, err := (System{Exec: fe.exec}).GatherRuntime(context.Background()); err == nil {
			t.Error("got no error for output that is not JSON")
		}
	})
}

func TestHostRuntime(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface to stand in for the WAN: %v", err)
	}
	lookup := func(name string) (*net.Interface, error) {
		if name != "eth0" {
			return nil, errors.New("no such interface")
		}
		return lo, nil
	}
	routes := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"eth0\t00000000\tFE02A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	rt, err := hostRuntime([]byte(routes), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if rt.WANDevice != "eth0" || rt.Gateway != netip.MustParseAddr("192.168.2.254") ||
		rt.WANAddr != netip.MustParsePrefix("127.0.0.1/8") || rt.WANMTU != lo.MTU {
		t.Errorf("got %+v; want eth0 via 192.168.2.254 with lo's address and MTU", rt)
	}

	if _, err := hostRuntime([]byte(routes[:strings.LastIndex(routes, "eth0")]), lookup); !errors.Is(err, errNoDefaultRoute) {
		t.Errorf("got error %v; want %v", err, errNoDefaultRoute)
	}
}
