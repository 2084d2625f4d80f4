package uci

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/internal/testutil/fixtures"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	return fixtures.OpenWrt(t, name)
}

func mustParse(t testing.TB, name string, data []byte) *File {
	t.Helper()
	f, err := Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return f
}

// TestBytesExportStyleFixtures checks that files already written by uci
// commit or LuCI come out byte for byte as they went in.
func TestBytesExportStyleFixtures(t *testing.T) {
	for _, name := range []string{"network.default", "network.wireguard-example", "firewall.wireguard-example"} {
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			f := mustParse(t, name, data)
			if got := f.Bytes(); !bytes.Equal(got, data) {
				t.Errorf("Bytes() differs from the fixture:\ngot:\n%s\nwant:\n%s", got, data)
			}
		})
	}
}

// TestBytesGolden checks the hand-written firewall.default (comments,
// tabs, unquoted values) against its uci-export form in testdata.
func TestBytesGolden(t *testing.T) {
	for _, name := range []string{"firewall.default"} {
		t.Run(name, func(t *testing.T) {
			f := mustParse(t, name, readFixture(t, name))
			got := f.Bytes()
			testutil.Golden(t, name+".golden", got)
			if bytes.Contains(got, []byte("#")) {
				t.Errorf("Bytes() kept a comment:\n%s", got)
			}
		})
	}
}

// TestBytesLuCIEditOfDefaultFirewall makes the changes LuCI makes for a
// WireGuard interface to the stock firewall (wg0 into the lan zone, a rule
// for UDP 51820) and expects exactly firewall.wireguard-example: every
// section and option it did not touch comes out unchanged and in order.
func TestBytesLuCIEditOfDefaultFirewall(t *testing.T) {
	f := mustParse(t, "firewall.default", readFixture(t, "firewall.default"))
	var lan *Section
	for _, z := range f.SectionsByType("zone") {
		if v, _ := z.Get("name"); v == "lan" {
			lan = z
		}
	}
	if lan == nil {
		t.Fatal("no lan zone in firewall.default")
	}
	lan.SetList("network", append(lan.List("network"), "wg0"))
	r := f.AddSection("rule", "")
	r.Set("name", "Allow-WireGuard")
	r.SetList("proto", []string{"udp"})
	r.Set("src", "wan")
	r.Set("dest_port", "51820")
	r.Set("target", "ACCEPT")
	want := readFixture(t, "firewall.wireguard-example")
	if got := f.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("Bytes() after the LuCI edit:\n%s\nwant firewall.wireguard-example:\n%s", got, want)
	}
}

// TestBytesPeerEditKeepsTheRest changes one option of one anonymous peer
// and expects that line, and nothing else, to change.
func TestBytesPeerEditKeepsTheRest(t *testing.T) {
	data := readFixture(t, "network.wireguard-example")
	f := mustParse(t, "network", data)
	peers := f.SectionsByType("wireguard_wg0")
	if len(peers) != 2 {
		t.Fatalf("got %d wireguard_wg0 sections; want 2", len(peers))
	}
	peers[1].Set("description", "bob's laptop")
	want := strings.Replace(string(data), "option description 'bob-laptop'", `option description 'bob'\''s laptop'`, 1)
	if got := string(f.Bytes()); got != want {
		t.Errorf("Bytes():\n%s\nwant:\n%s", got, want)
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"empty file", &File{}, "\n"},
		{"named and anonymous", &File{Sections: []*Section{
			{Type: "interface", Name: "lan", Options: []*Option{{Name: "proto", Values: []string{"static"}}}},
			{Type: "rule"},
		}}, "\nconfig interface 'lan'\n\toption proto 'static'\n\nconfig rule\n\n"},
		{"list items", &File{Sections: []*Section{
			{Type: "a", Options: []*Option{{Name: "l", IsList: true, Values: []string{"x y", ""}}}},
		}}, "\nconfig a\n\tlist l 'x y'\n\tlist l ''\n\n"},
		{"single quotes in a value", &File{Sections: []*Section{
			{Type: "a", Options: []*Option{{Name: "o", Values: []string{"'it's'"}}}},
		}}, "\nconfig a\n\toption o ''\\''it'\\''s'\\'''\n\n"},
		{"newline and backslash in a value", &File{Sections: []*Section{
			{Type: "a", Options: []*Option{{Name: "o", Values: []string{"a\\b\nc"}}}},
		}}, "\nconfig a\n\toption o 'a\\b\nc'\n\n"},
		{"type libuci writes unquoted", &File{Sections: []*Section{{Type: "wifi-iface"}, {Type: "a.b:c@d"}}},
			"\nconfig wifi-iface\n\nconfig a.b:c@d\n\n"},
		{"type that needs quotes", &File{Sections: []*Section{{Type: "a#b"}, {Type: "it's"}, {Type: `x"y\z;`}}},
			"\nconfig 'a#b'\n\nconfig 'it'\\''s'\n\nconfig 'x\"y\\z;'\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.f.Bytes())
			if got != tt.want {
				t.Fatalf("Bytes() = %q; want %q", got, tt.want)
			}
			back, err := Parse("test", []byte(got))
			if err != nil {
				t.Fatalf("Parse(Bytes()): %v", err)
			}
			if !equal(back, tt.f) {
				t.Errorf("Parse(Bytes()) = %s; want %s", dump(back), dump(tt.f))
			}
		})
	}
}
