package uci

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are
// *ParseErrors with a line inside the input, and that whatever it accepts
// serializes to a file that reads back the same (and serializes the same).
func FuzzParse(f *testing.F) {
	for _, name := range []string{"network.default", "network.wireguard-example", "firewall.default", "firewall.wireguard-example"} {
		f.Add(readFixture(f, name))
	}
	for _, s := range []string{
		"config a 'n'; option x 'y'; list l 'v'\n",
		"config a\noption x y; option z w\n",
		"c a\no x 'it'\\''s'\nl y \"a\\\"b\"\nl y ''\n",
		"config a\noption x 'one\ntwo'\noption x ab\\\ncd\n",
		"config a 'x'\noption o 1\nconfig a 'x'\noption o 2\nlist o 3\n",
		"package p\nconfig 'a#b'\n\toption x y#c\n",
		"config a\r\n\toption x 'y'\r\n",
		"config a\noption x 'y';\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v; want *ParseError", err, err)
			}
			if lines := bytes.Count(data, []byte{'\n'}) + 1; pe.Line < 1 || pe.Line > lines {
				t.Fatalf("error on line %d of a %d-line input: %v", pe.Line, lines, err)
			}
			return
		}
		if err := file.Validate(); err != nil {
			t.Fatalf("Parse accepted a file that fails Validate: %v", err)
		}
		out := file.Bytes()
		again, err := Parse("fuzz", out)
		if err != nil {
			t.Fatalf("Parse(Bytes()) failed: %v\ninput: %q\nBytes: %q", err, data, out)
		}
		if !equal(file, again) {
			t.Fatalf("Parse(Bytes()) differs:\ngot  %s\nwant %s\nBytes: %q", dump(again), dump(file), out)
		}
		if out2 := again.Bytes(); !bytes.Equal(out, out2) {
			t.Fatalf("Bytes() not stable:\nfirst  %q\nsecond %q", out, out2)
		}
	})
}
