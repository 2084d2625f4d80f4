package fwpolicy

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/openwrt"
	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/uci"
)

var (
	subnet  = []netip.Prefix{netip.MustParsePrefix("10.66.66.1/24"), netip.MustParsePrefix("fd00:66::1/64")}
	tablet  = Device{Name: "tablet", Addresses: pfx("10.66.66.2/32", "fd00:66::2/128"), Mode: Internet}
	phone   = Device{Name: "phone", Addresses: pfx("10.66.66.3/32"), Mode: LAN}
	laptop  = Device{Name: "laptop", Addresses: pfx("10.66.66.4/32"), Mode: Hosts, Hosts: pfx("192.168.1.10/32", "192.168.1.20/32")}
	desktop = Device{Name: "desktop", Addresses: pfx("10.66.66.5/32"), Mode: All}
)

func pfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// load reads a firewall fixture from testdata and the zones
// openwrt.FirewallZones finds in it for wg0.
func load(t testing.TB, name string) (*uci.File, Zones) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := uci.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	var z Zones
	z.Device, z.LAN, z.WAN = openwrt.FirewallZones(f, "wg0")
	return f, z
}

func TestApplyGolden(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
	}{
		{"all", Policy{Devices: []Device{desktop}, Subnets: subnet}},
		{"internet", Policy{Devices: []Device{tablet}, Subnets: subnet}},
		{"lan", Policy{Devices: []Device{phone}, Subnets: subnet}},
		{"hosts", Policy{Devices: []Device{laptop}, Subnets: subnet}},
		{"client-to-client-on", Policy{Devices: []Device{desktop}, Subnets: subnet, ClientToClient: true}},
		{"mixed", Policy{Devices: []Device{tablet, phone, laptop, desktop}, Subnets: subnet}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, z := load(t, "firewall.wireguard-example")
			orig := f.Clone()
			changes, err := Apply(f, tt.p, z)
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) == 0 {
				t.Fatal("Apply reported no change on a file without wgpanel's rules")
			}
			testutil.Golden(t, tt.name+".firewall", f.Bytes())
			// The owner's sections are all still there, unchanged and in order.
			if got, want := withoutOurs(f), orig.Bytes(); string(got) != string(want) {
				t.Errorf("the owner's sections changed:\ngot:\n%s\nwant:\n%s", got, want)
			}
			// A second Apply is a no-op.
			before := f.Bytes()
			again, err := Apply(f, tt.p, z)
			if err != nil || len(again) != 0 || string(f.Bytes()) != string(before) {
				t.Errorf("second Apply: changes %q, err %v; want none", again, err)
			}
			if problems, err := Check(f, tt.p, z); err != nil || len(problems) != 0 {
				t.Errorf("Check after Apply = %q, %v; want nothing", problems, err)
			}
		})
	}
}

// withoutOurs is f's text without wgpanel's rules.
func withoutOurs(f *uci.File) []byte {
	c := f.Clone()
	c.Sections = slices.DeleteFunc(c.Sections, ours)
	return c.Bytes()
}

// sectionTexts returns the text of each section of f.
func sectionTexts(f *uci.File) []string {
	var out []string
	for _, s := range f.Sections {
		out = append(out, string((&uci.File{Sections: []*uci.Section{s}}).Bytes()))
	}
	return out
}

// changedSections returns the sections in a but not b and in b but not a.
func changedSections(a, b *uci.File) (gone, added []string) {
	ta, tb := sectionTexts(a), sectionTexts(b)
	for _, s := range ta {
		if !slices.Contains(tb, s) {
			gone = append(gone, s)
		}
	}
	for _, s := range tb {
		if !slices.Contains(ta, s) {
			added = append(added, s)
		}
	}
	return gone, added
}

// TestApplyTouchesOnlyOneDevice adds, changes and removes one device among
// others and checks that only that device's rules appear, change or go.
func TestApplyTouchesOnlyOneDevice(t *testing.T) {
	f, z := load(t, "firewall.wireguard-example")
	// An owner's rule after wgpanel's, with a name close to ours.
	p := Policy{Devices: []Device{tablet, phone}, Subnets: subnet}
	if _, err := Apply(f, p, z); err != nil {
		t.Fatal(err)
	}
	owner := f.AddSection("rule", "")
	owner.Set("name", "wgpanel tablet by hand")
	owner.Set("src", "lan")
	owner.Set("target", "DROP")

	steps := []struct {
		name   string
		device string
		change func(p Policy) Policy
	}{
		{"add laptop", "laptop", func(p Policy) Policy { p.Devices = append(p.Devices, laptop); return p }},
		{"tablet to lan only", "tablet", func(p Policy) Policy {
			d := slices.Clone(p.Devices)
			d[0].Mode = LAN
			p.Devices = d
			return p
		}},
		{"laptop gets a third host", "laptop", func(p Policy) Policy {
			d := slices.Clone(p.Devices)
			d[2].Hosts = append(slices.Clone(d[2].Hosts), netip.MustParsePrefix("192.168.1.30/32"))
			p.Devices = d
			return p
		}},
		{"remove phone", "phone", func(p Policy) Policy {
			p.Devices = slices.Delete(slices.Clone(p.Devices), 1, 2)
			return p
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := f.Clone()
			p = st.change(p)
			changes, err := Apply(f, p, z)
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) == 0 {
				t.Fatal("no change reported")
			}
			for _, c := range changes {
				if !strings.Contains(c, NamePrefix+st.device+" ") {
					t.Errorf("change %q is not about %s", c, st.device)
				}
			}
			gone, added := changedSections(before, f)
			for _, s := range append(gone, added...) {
				if !strings.Contains(s, "option name '"+NamePrefix+st.device+" ") {
					t.Errorf("a section other than %s's rules changed:\n%s", st.device, s)
				}
			}
			if len(gone)+len(added) == 0 {
				t.Error("no section changed")
			}
			if last := f.Sections[len(f.Sections)-1]; last != owner {
				t.Error("the owner's rule is no longer after wgpanel's rules")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	p := Policy{Devices: []Device{tablet, phone}, Subnets: subnet}
	tests := []struct {
		name   string
		change func(f *uci.File)
		want   string
	}{
		{"rule removed", func(f *uci.File) {
			f.Sections = slices.DeleteFunc(f.Sections, func(s *uci.Section) bool { return ruleName(s) == NamePrefix+"phone – LAN only" })
		}, "has no rule 'wgpanel: phone – LAN only'"},
		{"rule disabled in LuCI", func(f *uci.File) {
			for _, s := range f.Sections {
				if ruleName(s) == NamePrefix+"tablet – internet only" {
					s.Set("enabled", "0")
				}
			}
		}, "'wgpanel: tablet – internet only' was changed or disabled"},
		{"rule of a removed device", func(f *uci.File) {
			s := f.AddSection("rule", "")
			s.Set("name", NamePrefix+"old – LAN only")
		}, "'wgpanel: old – LAN only' belongs to no device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, z := load(t, "firewall.wireguard-example")
			if _, err := Apply(f, p, z); err != nil {
				t.Fatal(err)
			}
			tt.change(f)
			problems, err := Check(f, p, z)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Errorf("Check = %q; want one problem containing %q", problems, tt.want)
			}
			if _, err := Apply(f, p, z); err != nil {
				t.Fatal(err)
			}
			if problems, _ := Check(f, p, z); len(problems) != 0 {
				t.Errorf("after Apply, Check = %q; want nothing", problems)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		p       Policy
		want    string
	}{
		{"interface in no zone", "firewall.default", Policy{Devices: []Device{tablet}}, "in no firewall zone"},
		{"hosts without hosts", "firewall.wireguard-example", Policy{Devices: []Device{{Name: "x", Addresses: pfx("10.66.66.9/32"), Mode: Hosts}}}, "none is listed"},
		{"unknown mode", "firewall.wireguard-example", Policy{Devices: []Device{{Name: "x", Addresses: pfx("10.66.66.9/32"), Mode: "guest"}}}, "not an access mode"},
		{"no address", "firewall.wireguard-example", Policy{Devices: []Device{{Name: "x", Mode: LAN}}}, "no tunnel address"},
		{"duplicate names", "firewall.wireguard-example", Policy{Devices: []Device{tablet, tablet}}, "two devices whose access is limited are named"},
		{"limited without a name", "firewall.wireguard-example", Policy{Devices: []Device{{Addresses: pfx("10.66.66.9/32"), Mode: LAN}}}, "has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, z := load(t, tt.fixture)
			before := f.Bytes()
			_, err := Apply(f, tt.p, z)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply error = %v; want one containing %q", err, tt.want)
			}
			if string(f.Bytes()) != string(before) {
				t.Error("Apply changed the file although it failed")
			}
		})
	}
}

// TestNoZone: with the interface in no zone, devices with full access need
// no rule (fw4 forwards nothing from it) and stale wgpanel rules go.
func TestNoZone(t *testing.T) {
	f, z := load(t, "firewall.default")
	stale := f.AddSection("rule", "")
	stale.Set("name", NamePrefix+"old – LAN only")
	changes, err := Apply(f, Policy{Devices: []Device{desktop}, Subnets: subnet}, z)
	if err != nil || len(changes) != 1 || slices.Contains(f.Sections, stale) {
		t.Errorf("Apply = %q, %v; want the stale rule removed", changes, err)
	}
}

// TestUnnamedUnlimitedDevices checks that devices without rules of their
// own need no name: LuCI adds peers without a description, and one of them,
// or two unlimited devices of one name, must not keep a guest's limit from
// being written.
func TestUnnamedUnlimitedDevices(t *testing.T) {
	f, z := load(t, "firewall.wireguard-example")
	unnamed := Device{Addresses: pfx("10.66.66.20/32")}
	twin := Device{Name: "tablet", Addresses: pfx("10.66.66.21/32"), Mode: All}
	if _, err := Apply(f, Policy{Devices: []Device{unnamed, unnamed, twin, tablet}, Subnets: subnet}, z); err != nil {
		t.Fatalf("Apply: %v; want the unlimited devices ignored", err)
	}
	var names []string
	for _, s := range f.SectionsByType("rule") {
		if n, _ := s.Get("name"); strings.HasPrefix(n, NamePrefix+"tablet") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Errorf("no rule for the limited tablet was written; rules: %q", names)
	}
}
