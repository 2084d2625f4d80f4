package uci

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// File is one parsed UCI package (e.g. /etc/config/network).
type File struct {
	Name     string     // file name used in error messages (e.g. "/etc/config/network")
	Sections []*Section // in file order
}

// Section is one `config TYPE [NAME]` block.
type Section struct {
	Type    string
	Name    string    // "" for an anonymous section
	Options []*Option // in file order
}

// Option is one `option` or the items of one `list` of a section.
type Option struct {
	Name   string
	IsList bool
	Values []string // exactly one value when !IsList
}

// Clone returns a deep copy of f.
func (f *File) Clone() *File {
	c := &File{Name: f.Name, Sections: make([]*Section, len(f.Sections))}
	for i, s := range f.Sections {
		c.Sections[i] = s.clone()
	}
	return c
}

func (s *Section) clone() *Section {
	c := &Section{Type: s.Type, Name: s.Name, Options: make([]*Option, len(s.Options))}
	for i, o := range s.Options {
		c.Options[i] = &Option{Name: o.Name, IsList: o.IsList, Values: slices.Clone(o.Values)}
	}
	return c
}

// Section returns the section named name, or nil. Anonymous sections have no
// name and are never returned.
func (f *File) Section(name string) *Section {
	if name == "" {
		return nil
	}
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SectionsByType returns the sections of type typ in file order.
func (f *File) SectionsByType(typ string) []*Section {
	var out []*Section
	for _, s := range f.Sections {
		if s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

// AddSection appends a new section of type typ and returns it; name "" makes
// it anonymous. When a section named name exists already, AddSection returns
// that section with its type set to typ, as `uci set PKG.NAME=TYPE` does,
// because two sections of one name would merge when the file is read again.
func (f *File) AddSection(typ, name string) *Section {
	if s := f.Section(name); s != nil {
		s.Type = typ
		return s
	}
	s := &Section{Type: typ, Name: name}
	f.Sections = append(f.Sections, s)
	return s
}

// RemoveSection removes s from f and reports whether it was there.
func (f *File) RemoveSection(s *Section) bool {
	i := slices.Index(f.Sections, s)
	if i < 0 {
		return false
	}
	f.Sections = slices.Delete(f.Sections, i, i+1)
	return true
}

// Option returns the option or list called name, or nil.
func (s *Section) Option(name string) *Option {
	if i := s.index(name); i >= 0 {
		return s.Options[i]
	}
	return nil
}

func (s *Section) index(name string) int {
	for i, o := range s.Options {
		if o.Name == name {
			return i
		}
	}
	return -1
}

// Get returns the value of option name. A list gives its values joined by a
// space, as `uci get` prints it. ok is false when the option is absent.
func (s *Section) Get(name string) (value string, ok bool) {
	o := s.Option(name)
	if o == nil {
		return "", false
	}
	if o.IsList {
		return strings.Join(o.Values, " "), true
	}
	if len(o.Values) == 0 {
		return "", true
	}
	return o.Values[0], true
}

// List returns the values of list name; a plain option yields its one value
// and an absent option nil. The slice is a copy.
func (s *Section) List(name string) []string {
	o := s.Option(name)
	if o == nil {
		return nil
	}
	return slices.Clone(o.Values)
}

// Set makes name a plain option with value. An existing option or list of
// that name is replaced where it stands; otherwise the option is appended.
// An empty value deletes the option, as `uci set` does, because libuci
// ignores an option with an empty value when it reads a file.
func (s *Section) Set(name, value string) {
	if value == "" {
		s.Delete(name)
		return
	}
	o := &Option{Name: name, Values: []string{value}}
	if i := s.index(name); i >= 0 {
		s.Options[i] = o
		return
	}
	s.Options = append(s.Options, o)
}

// SetList makes name a list holding values (copied). An existing option or
// list of that name is replaced where it stands; otherwise the list is
// appended. No values deletes it.
func (s *Section) SetList(name string, values []string) {
	if len(values) == 0 {
		s.Delete(name)
		return
	}
	o := &Option{Name: name, IsList: true, Values: slices.Clone(values)}
	if i := s.index(name); i >= 0 {
		s.Options[i] = o
		return
	}
	s.Options = append(s.Options, o)
}

// Delete removes option or list name; an absent name is not an error.
func (s *Section) Delete(name string) {
	if i := s.index(name); i >= 0 {
		s.Options = slices.Delete(s.Options, i, i+1)
	}
}

// Validate reports the first thing in f that libuci would refuse to read
// back or would read differently: an invalid section type, section name or
// option name, a name used by two sections or two options of a section, a
// plain option without exactly one non-empty value, an empty list, or a NUL
// byte in a value. Parse never returns a File that fails Validate.
func (f *File) Validate() error {
	named := make(map[string]bool)
	for i, s := range f.Sections {
		if err := s.validate(named); err != nil {
			where := fmt.Sprintf("section %d (%s)", i+1, quoteShort(s.Type))
			if s.Name != "" && validName(s.Name) {
				where = fmt.Sprintf("section %q", s.Name)
			}
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// validate is Validate for one section; named holds the names of the
// sections before it, and gets s's.
func (s *Section) validate(named map[string]bool) error {
	if !validType(s.Type) {
		return fmt.Errorf("invalid section type %s", quoteShort(s.Type))
	}
	if s.Name != "" {
		if !validName(s.Name) {
			return fmt.Errorf("invalid section name %s", quoteShort(s.Name))
		}
		if named[s.Name] {
			return errors.New("two sections have this name")
		}
		named[s.Name] = true
	}
	for j, o := range s.Options {
		if !validName(o.Name) {
			return fmt.Errorf("invalid option name %s", quoteShort(o.Name))
		}
		if s.index(o.Name) != j {
			return fmt.Errorf("option %q appears twice", o.Name)
		}
		switch {
		case o.IsList && len(o.Values) == 0:
			return fmt.Errorf("list %q has no values", o.Name)
		case !o.IsList && len(o.Values) != 1:
			return fmt.Errorf("option %q has %d values; want 1", o.Name, len(o.Values))
		case !o.IsList && o.Values[0] == "":
			return fmt.Errorf("option %q is empty", o.Name)
		}
		for _, v := range o.Values {
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("option %q contains a NUL byte", o.Name)
			}
		}
	}
	return nil
}

// validName reports whether s is a valid section or option name for libuci:
// not empty, only ASCII letters, digits and underscores.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// validType reports whether s is a valid section type for libuci: not empty,
// only printable ASCII other than space.
func validType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// validPackage reports whether s is a valid package (file) name for libuci:
// not empty, only ASCII letters, digits, underscores and hyphens.
func validPackage(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isNameByte(c) && c != '-' {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// quoteShort quotes s for an error message, shortened to a readable length.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
