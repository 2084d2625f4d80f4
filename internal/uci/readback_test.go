package uci

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Update writes f.Bytes() after only f.Validate(): these tests stand for the
// check that the written file reads back as the File it came from.

// tricky are the bytes that matter to libuci's parser, so that random
// values hit them often.
const tricky = "'\"\\#; \t\r\n\v\f\x01\x7f\xff\xc3\xa9"

// randomValue returns a value of up to max bytes, NUL-free and allowed to be
// empty, mostly made of tricky bytes and letters.
func randomValue(r *rand.Rand, max int) string {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		switch r.IntN(3) {
		case 0:
			b[i] = tricky[r.IntN(len(tricky))]
		case 1:
			b[i] = byte('a' + r.IntN(26))
		default:
			b[i] = byte(1 + r.IntN(255))
		}
	}
	return string(b)
}

// randomName returns a valid section or option name, one of few so that
// names repeat and Validate refuses some files.
func randomName(r *rand.Rand) string {
	names := []string{"a", "b", "cfg0", "name_1", "X9", "description", "public_key"}
	return names[r.IntN(len(names))]
}

// randomType returns a section type: printable ASCII without space, quotes
// and comment characters included, sometimes invalid.
func randomType(r *rand.Rand) string {
	b := make([]byte, 1+r.IntN(6))
	for i := range b {
		b[i] = byte(33 + r.IntN(94))
	}
	if r.IntN(50) == 0 {
		b[r.IntN(len(b))] = ' '
	}
	return string(b)
}

// randomFile builds a File through the fields (not the setters, which
// would hide what Validate must catch).
func randomFile(r *rand.Rand) *File {
	f := &File{Name: "random"}
	for range r.IntN(5) {
		s := &Section{Type: randomType(r)}
		if r.IntN(2) == 0 {
			s.Name = randomName(r)
		}
		for range r.IntN(5) {
			o := &Option{Name: randomName(r), IsList: r.IntN(2) == 0}
			n := 1
			if o.IsList {
				n = r.IntN(4)
			} else if r.IntN(20) == 0 {
				n = r.IntN(3)
			}
			for range n {
				o.Values = append(o.Values, randomValue(r, 12))
			}
			s.Options = append(s.Options, o)
		}
		f.Sections = append(f.Sections, s)
	}
	return f
}

// checkReadBack fails t when f is valid but its bytes do not read back as f.
// It reports whether f was valid.
func checkReadBack(t *testing.T, f *File) bool {
	t.Helper()
	if f.Validate() != nil {
		return false
	}
	data := f.Bytes()
	g, err := Parse("random", data)
	if err != nil {
		t.Fatalf("a valid File does not read back: %v\nfile: %s\nbytes: %q", err, dump(f), data)
	}
	if !equal(f, g) {
		t.Fatalf("a valid File reads back differently:\nwant %s\ngot  %s\nbytes: %q", dump(f), dump(g), data)
	}
	return true
}

func TestValidFilesReadBack(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	valid := 0
	for range 50000 {
		if checkReadBack(t, randomFile(r)) {
			valid++
		}
	}
	// The generator must produce both kinds, or the test tests little.
	if valid < 5000 || valid > 45000 {
		t.Fatalf("%d of 50000 random files are valid; the generator is off", valid)
	}
}

// FuzzValidFilesReadBack builds files from the fuzzer's strings: a section
// with its type, name and one option or list, followed by a section that
// holds the second value, so that a value that ends a line early or spills
// into the next one shows.
func FuzzValidFilesReadBack(f *testing.F) {
	f.Add("interface", "wg0", "private_key", false, "a'b", "c\\")
	f.Add("wireguard_wg0", "", "allowed_ips", true, "10.0.0.2/32", "#;\"")
	f.Add("a'b", "x", "o", true, "", "\n\r\t")
	f.Fuzz(func(t *testing.T, typ, name, option string, list bool, v1, v2 string) {
		o := &Option{Name: option, IsList: list, Values: []string{v1}}
		if list {
			o.Values = append(o.Values, v2)
		}
		file := &File{Sections: []*Section{
			{Type: typ, Name: name, Options: []*Option{o}},
			{Type: "next", Options: []*Option{{Name: "value", Values: []string{v2}}, {Name: "after", Values: []string{"x"}}}},
		}}
		checkReadBack(t, file)
	})
}

// equal reports whether a and b hold the same sections and options; the
// file names are not compared.
func equal(a, b *File) bool {
	if len(a.Sections) != len(b.Sections) {
		return false
	}
	for i, s := range a.Sections {
		t := b.Sections[i]
		if s.Type != t.Type || s.Name != t.Name || len(s.Options) != len(t.Options) {
			return false
		}
		for j, o := range s.Options {
			p := t.Options[j]
			if o.Name != p.Name || o.IsList != p.IsList || !slices.Equal(o.Values, p.Values) {
				return false
			}
		}
	}
	return true
}
