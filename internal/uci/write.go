package uci

import "strings"

// Bytes serializes f as `uci commit` writes a package (libuci's export
// format without the package line): each section preceded by an empty line
// as "config TYPE 'NAME'" (no name for an anonymous section), each option as
// a tab, "option NAME 'VALUE'", each list item as a tab, "list NAME 'VALUE'",
// a single quote inside a value written as a closing quote, a backslash, a
// quote and an opening quote, and an empty line at the end.
// A section type that libuci could not read back unquoted is single-quoted.
func (f *File) Bytes() []byte {
	n := 1
	for _, s := range f.Sections {
		n += len("\nconfig  ''\n") + len(s.Type) + len(s.Name)
		for _, o := range s.Options {
			for _, v := range o.Values {
				n += len("\toption  ''\n") + len(o.Name) + len(v)
			}
		}
	}
	b := make([]byte, 0, n+n/16)
	for _, s := range f.Sections {
		b = append(b, "\nconfig "...)
		if plainWord(s.Type) {
			b = append(b, s.Type...)
		} else {
			b = appendQuoted(b, s.Type)
		}
		if s.Name != "" {
			b = append(b, ' ')
			b = appendQuoted(b, s.Name)
		}
		b = append(b, '\n')
		for _, o := range s.Options {
			if !o.IsList {
				v := ""
				if len(o.Values) > 0 {
					v = o.Values[0]
				}
				b = appendOption(b, "\toption ", o.Name, v)
				continue
			}
			for _, v := range o.Values {
				b = appendOption(b, "\tlist ", o.Name, v)
			}
		}
	}
	return append(b, '\n')
}

func appendOption(b []byte, keyword, name, value string) []byte {
	b = append(b, keyword...)
	b = appendEscaped(b, name)
	b = append(b, ' ')
	b = appendQuoted(b, value)
	return append(b, '\n')
}

// appendQuoted appends s in single quotes.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	b = appendEscaped(b, s)
	return append(b, '\'')
}

// appendEscaped appends s with each single quote closing the quoted string,
// escaped with a backslash and opening a new one, as libuci's uci_escape does.
func appendEscaped(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		b = append(b, `'\''`...)
		s = s[i+1:]
	}
}

// plainWord reports whether s reads back unchanged as an unquoted word:
// not empty and free of blanks, control characters, quotes, backslashes,
// # and ;.
func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c == 0x7f:
			return false
		case c == '\'' || c == '"' || c == '\\' || c == '#' || c == ';':
			return false
		}
	}
	return true
}
