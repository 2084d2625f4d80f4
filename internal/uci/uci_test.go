package uci

import (
	"slices"
	"strings"
	"testing"
)

const accessorInput = `
config interface 'lan'
	option proto 'static'
	list dns '192.0.2.53'
	list dns '192.0.2.54'
	option ipaddr '192.168.1.1'

config wireguard_wg0
	option description 'a'

config interface 'wan'
	option proto 'dhcp'

config wireguard_wg0
	option description 'b'
`

func accessorFile(t *testing.T) *File {
	t.Helper()
	return mustParse(t, "network", []byte(accessorInput))
}

func TestFileSection(t *testing.T) {
	f := accessorFile(t)
	tests := []struct {
		name     string
		wantType string // "" = nil
	}{
		{"lan", "interface"},
		{"wan", "interface"},
		{"wg0", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := f.Section(tt.name)
			switch {
			case tt.wantType == "" && s != nil:
				t.Errorf("Section(%q) = %s; want nil", tt.name, s.Type)
			case tt.wantType != "" && (s == nil || s.Type != tt.wantType || s.Name != tt.name):
				t.Errorf("Section(%q) = %+v; want type %s", tt.name, s, tt.wantType)
			}
		})
	}
}

func TestFileSectionsByType(t *testing.T) {
	f := accessorFile(t)
	var got []string
	for _, s := range f.SectionsByType("wireguard_wg0") {
		v, _ := s.Get("description")
		got = append(got, v)
	}
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("SectionsByType(wireguard_wg0) descriptions = %q; want %q", got, want)
	}
	if got := f.SectionsByType("zone"); got != nil {
		t.Errorf("SectionsByType(zone) = %v; want nil", got)
	}
}

func TestFileAddSection(t *testing.T) {
	f := accessorFile(t)
	n := len(f.Sections)

	anon := f.AddSection("wireguard_wg0", "")
	if anon.Type != "wireguard_wg0" || anon.Name != "" || f.Sections[n] != anon {
		t.Fatalf("AddSection(wireguard_wg0, \"\") = %+v, at index %d; want a new last anonymous section", anon, slices.Index(f.Sections, anon))
	}
	anon2 := f.AddSection("wireguard_wg0", "")
	if anon2 == anon || len(f.Sections) != n+2 {
		t.Errorf("second anonymous AddSection did not append a new section")
	}
	named := f.AddSection("interface", "wg0")
	if f.Section("wg0") != named || len(f.Sections) != n+3 {
		t.Errorf("AddSection(interface, wg0) not found by Section(wg0)")
	}
	// An existing name returns that section, retyped, as uci set does.
	again := f.AddSection("alias", "lan")
	if again != f.Sections[0] || again.Type != "alias" || len(f.Sections) != n+3 {
		t.Errorf("AddSection(alias, lan) = %+v; want the existing lan section with type alias", again)
	}
}

func TestFileRemoveSection(t *testing.T) {
	f := accessorFile(t)
	peers := f.SectionsByType("wireguard_wg0")
	if !f.RemoveSection(peers[0]) {
		t.Fatal("RemoveSection(first peer) = false; want true")
	}
	if f.RemoveSection(peers[0]) {
		t.Error("RemoveSection of a removed section = true; want false")
	}
	if f.RemoveSection(&Section{Type: "interface", Name: "lan"}) {
		t.Error("RemoveSection of an equal but different section = true; want false")
	}
	var got []string
	for _, s := range f.Sections {
		got = append(got, s.Type+"/"+s.Name)
	}
	if want := []string{"interface/lan", "interface/wan", "wireguard_wg0/"}; !slices.Equal(got, want) {
		t.Errorf("sections after RemoveSection = %q; want %q", got, want)
	}
}

func TestSectionGetList(t *testing.T) {
	lan := accessorFile(t).Section("lan")
	tests := []struct {
		name     string
		wantGet  string
		wantOK   bool
		wantList []string
	}{
		{"proto", "static", true, []string{"static"}},
		{"dns", "192.0.2.53 192.0.2.54", true, []string{"192.0.2.53", "192.0.2.54"}},
		{"gateway", "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lan.Get(tt.name)
			if got != tt.wantGet || ok != tt.wantOK {
				t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.wantGet, tt.wantOK)
			}
			if got := lan.List(tt.name); !slices.Equal(got, tt.wantList) || (got == nil) != (tt.wantList == nil) {
				t.Errorf("List(%q) = %#v; want %#v", tt.name, got, tt.wantList)
			}
			if o := lan.Option(tt.name); (o != nil) != tt.wantOK {
				t.Errorf("Option(%q) = %v; want present %v", tt.name, o, tt.wantOK)
			}
		})
	}
	// List returns a copy.
	l := lan.List("dns")
	l[0] = "changed"
	if got := lan.List("dns")[0]; got != "192.0.2.53" {
		t.Errorf("changing List's result changed the section: %q", got)
	}
}

// options renders the options of s as name=value or name=[values].
func options(s *Section) string {
	var parts []string
	for _, o := range s.Options {
		if o.IsList {
			parts = append(parts, o.Name+"=["+strings.Join(o.Values, ",")+"]")
		} else {
			parts = append(parts, o.Name+"="+strings.Join(o.Values, ","))
		}
	}
	return strings.Join(parts, " ")
}

func TestSectionMutators(t *testing.T) {
	tests := []struct {
		name string
		do   func(s *Section)
		want string
	}{
		{"set replaces in place", func(s *Section) { s.Set("proto", "dhcp") }, "proto=dhcp dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1"},
		{"set appends", func(s *Section) { s.Set("gateway", "192.168.1.254") }, "proto=static dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1 gateway=192.168.1.254"},
		{"set replaces a list in place", func(s *Section) { s.Set("dns", "192.0.2.1") }, "proto=static dns=192.0.2.1 ipaddr=192.168.1.1"},
		{"set empty deletes", func(s *Section) { s.Set("proto", "") }, "dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1"},
		{"set empty on absent option", func(s *Section) { s.Set("nothing", "") }, "proto=static dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1"},
		{"set list replaces in place", func(s *Section) { s.SetList("dns", []string{"192.0.2.9"}) }, "proto=static dns=[192.0.2.9] ipaddr=192.168.1.1"},
		{"set list replaces an option in place", func(s *Section) { s.SetList("proto", []string{"a", "b"}) }, "proto=[a,b] dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1"},
		{"set list appends", func(s *Section) { s.SetList("ports", []string{"lan1", "lan2"}) }, "proto=static dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1 ports=[lan1,lan2]"},
		{"set list empty deletes", func(s *Section) { s.SetList("dns", nil) }, "proto=static ipaddr=192.168.1.1"},
		{"delete", func(s *Section) { s.Delete("ipaddr") }, "proto=static dns=[192.0.2.53,192.0.2.54]"},
		{"delete absent", func(s *Section) { s.Delete("nothing") }, "proto=static dns=[192.0.2.53,192.0.2.54] ipaddr=192.168.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := accessorFile(t).Section("lan")
			tt.do(s)
			if got := options(s); got != tt.want {
				t.Errorf("options = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestSectionSetListCopies(t *testing.T) {
	s := &Section{Type: "a"}
	values := []string{"x", "y"}
	s.SetList("l", values)
	values[0] = "changed"
	if got := s.List("l"); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("List(l) = %q after changing the caller's slice; want [x y]", got)
	}
}

func TestFileClone(t *testing.T) {
	f := accessorFile(t)
	before := string(f.Bytes())
	c := f.Clone()
	if !equal(c, f) || c.Name != f.Name {
		t.Fatalf("Clone() = %s; want %s", dump(c), dump(f))
	}
	c.Section("lan").Set("proto", "dhcp")
	c.Section("lan").Option("dns").Values[0] = "changed"
	c.AddSection("x", "")
	c.Sections[1].Type = "changed"
	if got := string(f.Bytes()); got != before {
		t.Errorf("changing the clone changed the original:\n%s", got)
	}
}

func TestFileValidate(t *testing.T) {
	opt := func(name string, values ...string) *Option { return &Option{Name: name, Values: values} }
	list := func(name string, values ...string) *Option { return &Option{Name: name, IsList: true, Values: values} }
	tests := []struct {
		name     string
		sections []*Section
		err      string // "" = valid
	}{
		{"valid", []*Section{{Type: "a", Name: "x", Options: []*Option{opt("o", "v"), list("l", "")}}, {Type: "a"}}, ""},
		{"empty type", []*Section{{Type: ""}}, "invalid section type"},
		{"type with blank", []*Section{{Type: "a b"}}, "invalid section type"},
		{"invalid section name", []*Section{{Type: "a", Name: "x-y"}}, "invalid section name"},
		{"duplicate section name", []*Section{{Type: "a", Name: "x"}, {Type: "b", Name: "x"}}, "two sections have this name"},
		{"invalid option name", []*Section{{Type: "a", Options: []*Option{opt("o.p", "v")}}}, "invalid option name"},
		{"duplicate option", []*Section{{Type: "a", Options: []*Option{opt("o", "v"), list("o", "w")}}}, "appears twice"},
		{"empty option", []*Section{{Type: "a", Options: []*Option{opt("o", "")}}}, "is empty"},
		{"option without value", []*Section{{Type: "a", Options: []*Option{opt("o")}}}, "has 0 values"},
		{"option with two values", []*Section{{Type: "a", Options: []*Option{opt("o", "v", "w")}}}, "has 2 values"},
		{"empty list", []*Section{{Type: "a", Options: []*Option{list("l")}}}, "has no values"},
		{"NUL in value", []*Section{{Type: "a", Options: []*Option{list("l", "a\x00b")}}}, "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&File{Sections: tt.sections}).Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.err)
			}
		})
	}
}
