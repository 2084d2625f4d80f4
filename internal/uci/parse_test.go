package uci

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dump renders f compactly for table tests: one line per section, "TYPE" or
// "TYPE[NAME]", then name="value" for an option and name=["a" "b"] for a
// list, values quoted with %q so that escapes are visible.
func dump(f *File) string {
	var b strings.Builder
	for i, s := range f.Sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s.Type)
		if s.Name != "" {
			fmt.Fprintf(&b, "[%s]", s.Name)
		}
		for _, o := range s.Options {
			if o.IsList {
				fmt.Fprintf(&b, " %s=[", o.Name)
				for j, v := range o.Values {
					if j > 0 {
						b.WriteByte(' ')
					}
					fmt.Fprintf(&b, "%q", v)
				}
				b.WriteByte(']')
				continue
			}
			fmt.Fprintf(&b, " %s=%q", o.Name, o.Values[0])
		}
	}
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// Layout.
		{"empty file", "", ""},
		{"blank lines only", "\n\n  \t\n", ""},
		{"uci export style", "\nconfig interface 'lan'\n\toption proto 'static'\n\tlist ports 'lan1'\n\tlist ports 'lan2'\n\n", `interface[lan] proto="static" ports=["lan1" "lan2"]`},
		{"hand-written with tabs", "config zone\n\toption name\t\tlan\n\tlist   network\t\t'lan'\n", `zone name="lan" network=["lan"]`},
		{"no newline at end", "config a\noption x y", `a x="y"`},
		{"CRLF line ends", "config a 'b'\r\n\toption x 'y'\r\n\toption z w\r\n", `a[b] x="y" z="w"`},
		{"one-letter keywords", "c a b\no x 1\nl y 2\nl y 3\np pkg\n", `a[b] x="1" y=["2" "3"]`},
		{"package line is ignored", "package network\nconfig a\n", `a`},
		{"package name with hyphen", "package my-pkg\nconfig a\n", `a`},
		{"keyword after vertical tab and form feed", "\v\fconfig a\n", `a`},

		// Quoting and escapes.
		{"unquoted value", "config a\noption x hello\n", `a x="hello"`},
		{"single quotes keep blanks", "config a\noption x 'a b\tc'\n", `a x="a b\tc"`},
		{"double quotes keep blanks", "config a\noption x \"a b\"\n", `a x="a b"`},
		{"backslash in single quotes is literal", `config a` + "\n" + `option x 'a\b\'` + "\n", `a x="a\\b\\"`},
		{"backslash escapes in double quotes", `config a` + "\n" + `option x "q\"b\\s\n\'"` + "\n", `a x="q\"b\\sn'"`},
		{"backslash escapes unquoted", `config a` + "\n" + `option x a\ b\#c\;d\'e\"f\\g` + "\n", `a x="a b#c;d'e\"f\\g"`},
		{"quote concatenation", `config a` + "\n" + `option x 'it'\''s'` + "\n", `a x="it's"`},
		{"adjacent parts form one word", `config a` + "\n" + `option x a'b c'"d e"f` + "\n", `a x="ab cd ef"`},
		{"double quote inside single quotes", "config a\noption x '\"hi\"'\n", `a x="\"hi\""`},
		{"single quote inside double quotes", "config a\noption x \"it's\"\n", `a x="it's"`},
		{"empty list item", "config a\nlist x ''\nlist x\n", `a x=["" ""]`},
		{"quoted type and name", "config 'interface' \"lan\"\n", `interface[lan]`},
		{"type with punctuation", "config 'wifi-iface'\nconfig a.b:c\n", "wifi-iface\na.b:c"},

		// Values across lines.
		{"single quotes span lines", "config a\noption x 'one\ntwo'\noption y z\n", `a x="one\ntwo" y="z"`},
		{"double quotes span lines", "config a\noption x \"one\n\ttwo\"\n", `a x="one\n\ttwo"`},
		{"continuation unquoted", "config a\noption x ab\\\ncd\n", `a x="abcd"`},
		{"continuation in double quotes", "config a\noption x \"ab\\\ncd\"\n", `a x="abcd"`},
		{"continuation with CRLF", "config a\r\noption x ab\\\r\ncd\r\n", `a x="abcd"`},
		{"continuation right before a word", "config a\noption x \\\ny\n", `a x="y"`},
		{"backslash at end of file", "config a\noption x ab\\", `a x="ab"`},
		{"escaped CR without LF", "config a\noption x a\\\rb\n", `a x="a\rb"`},

		// Comments.
		{"comment lines", "# head\nconfig a\n  # indented\n\t#option x y\n", `a`},
		{"comment after value", "config a\noption x y # note\n", `a x="y"`},
		{"comment right after word", "config a\noption x y#note\n", `a x="y"`},
		{"comment after quoted value", "config a\noption x 'y'#note\n", `a x="y"`},
		{"hash inside quotes", "config a\noption x 'y # z'\n", `a x="y # z"`},
		{"comment instead of a name", "config rule # the rule\noption x y\n", `rule x="y"`},
		{"comment instead of a value", "config a\noption x # nothing\n", `a`},

		// Semicolons.
		{"semicolon after quoted word", "config a 'n'; option x 'y'; list l 'v'\n", `a[n] x="y" l=["v"]`},
		{"semicolon after a blank", "config a 'n' ; option x y ; option z w\n", `a[n] x="y" z="w"`},
		{"semicolon at end of line after unquoted word", "config a\noption x y;\n", `a x="y"`},
		// libuci overwrites a ; that directly follows an unquoted word
		// with the word's terminator and so never sees the statements
		// after it.
		{"semicolon right after unquoted word drops the rest", "config a\noption x y; option z w\n", `a x="y"`},
		{"semicolon right after escaped word", "config a\noption x y\\z; option z w\n", `a x="yz" z="w"`},
		{"semicolon inside quotes", "config a\noption x 'y;z'\n", `a x="y;z"`},

		// Repeated options and lists.
		{"repeated option moves to the end", "config a\noption x 1\noption y 2\noption x 3\n", `a y="2" x="3"`},
		{"repeated option with the same value stays", "config a\noption x 1\noption y 2\noption x 1\n", `a x="1" y="2"`},
		{"empty option is ignored", "config a\noption x ''\noption y\n", `a`},
		{"empty option keeps the earlier value", "config a\noption x 1\noption y 2\noption x ''\n", `a x="1" y="2"`},
		{"list appends", "config a\nlist x 1\noption y 2\nlist x 3\n", `a x=["1" "3"] y="2"`},
		{"list after option converts and moves", "config a\noption x 1\noption y 2\nlist x 3\n", `a y="2" x=["1" "3"]`},
		{"option after list replaces and moves", "config a\nlist x 1\nlist x 2\noption y 2\noption x 3\n", `a y="2" x="3"`},
		{"repeated list values are kept", "config a\nlist x 1\nlist x 1\n", `a x=["1" "1"]`},

		// Sections.
		{"anonymous sections stay apart", "config rule\noption n 1\nconfig rule\noption n 2\n", "rule n=\"1\"\nrule n=\"2\""},
		{"empty name is anonymous", "config rule ''\n", `rule`},
		{"named section merges", "config i 'lan'\noption a 1\noption b 2\nconfig i 'wan'\noption a 9\nconfig i 'lan'\noption c 3\noption a 4\n", "i[lan] b=\"2\" c=\"3\" a=\"4\"\ni[wan] a=\"9\""},
		{"section without options", "config a 'x'\nconfig b\n", "a[x]\nb"},
		{"anonymous section named like a generated name", "config a\nconfig a 'cfg01ca82'\n", "a\na[cfg01ca82]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("test", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := dump(f); got != tt.want {
				t.Errorf("Parse(%q):\ngot  %s\nwant %s", tt.in, got, tt.want)
			}
			if err := f.Validate(); err != nil {
				t.Errorf("Validate() of parsed file: %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		msg  string // substring of ParseError.Msg
	}{
		{"unknown command", "config a\n\tfoo bar\n", 2, "invalid statement"},
		{"keyword glued to quote", "config a\noption'x' y\n", 2, "invalid statement"},
		{"option before section", "# c\noption x y\n", 2, "before the first config section"},
		{"list before section", "list x y\n", 1, "before the first config section"},
		{"config at end of line", "config a\nconfig\n", 2, "config without a section type"},
		{"config at end of file", "config a\nconfig", 2, "config without a section type"},
		{"config with blank only", "config \n", 1, "config without a section type"},
		{"option at end of line", "config a\noption\n", 2, "option without a name"},
		{"option without name", "config a\noption ;\n", 2, "option without a name"},
		{"list at end of file", "config a\nl", 2, "list without a name"},
		{"package without name", "package\n", 1, "package without a name"},
		{"invalid package name", "package a.b\n", 1, "invalid package name"},
		{"too many arguments", "config a\noption x y z\n", 2, "too many arguments"},
		{"too many config arguments", "config a b c\n", 1, "too many arguments"},
		{"semicolon as config name", "config a ; option x y\n", 1, "too many arguments"},
		{"invalid option name", "config a\noption my-opt y\n", 2, "invalid option name"},
		{"quoted option name with blank", "config a\noption 'a b' y\n", 2, "invalid option name"},
		{"invalid section name", "config a 'my.lan'\n", 1, "invalid section name"},
		// Found by FuzzParse: a type seen before must not pass as a name.
		{"type reused as section name", "c +000 +000", 1, "invalid section name"},
		{"type with blank", "config 'a b'\n", 1, "invalid section type"},
		{"type with control character", "config 'a\tb'\n", 1, "invalid section type"},
		{"type with non-ASCII", "config 'zoné'\n", 1, "invalid section type"},
		{"empty type", "config ''\n", 1, "config without a section type"},
		{"section redefined with other type", "config a 'x'\nconfig b 'x'\n", 2, "section x is defined again with another type"},
		{"unterminated single quote", "config a\n\toption x 'abc\n\toption y z\n\n", 2, "unterminated ' quote"},
		{"unterminated double quote", "config a\noption x \"abc\n", 2, `unterminated " quote`},
		{"unterminated quote at end of file", "config a\noption x 'abc", 2, "unterminated ' quote"},
		{"unterminated quote in type", "config 'a\n", 1, "unterminated ' quote"},
		{"semicolon then newline after quote", "config a\noption x 'y';\n", 2, "; must be followed by another statement"},
		{"NUL byte", "config a\noption x y\x00z\n", 2, "NUL byte"},
		// The continuation ends the (empty) value at the blank that
		// follows it, so the word after the blank is one argument too many.
		{"continuation before blanks", "config a\noption x \\\n  y\n", 3, "too many arguments"},
		{"error after multi-line value", "config a\noption x 'a\nb' c\n", 3, "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("/etc/config/test", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %s; want an error", tt.in, dump(f))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T %v; want *ParseError", tt.in, err, err)
			}
			if pe.File != "/etc/config/test" || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("Parse(%q) error = %q (file %q, line %d); want line %d containing %q", tt.in, pe.Msg, pe.File, pe.Line, tt.line, tt.msg)
			}
			want := fmt.Sprintf("/etc/config/test:%d: %s", pe.Line, pe.Msg)
			if got := err.Error(); got != want {
				t.Errorf("Error() = %q; want %q", got, want)
			}
		})
	}
}

func TestParseErrorWithoutFile(t *testing.T) {
	e := &ParseError{Line: 3, Msg: "unterminated ' quote"}
	if got, want := e.Error(), "line 3: unterminated ' quote"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}
