package uci

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// ParseError names the file and line of a syntax error.
type ParseError struct {
	File string
	Line int
	Msg  string
}

// Error returns the error as "/etc/config/network:12: unterminated quote".
func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Parse reads one UCI package from data. name is used in error messages and
// becomes File.Name. The error, if any, is a *ParseError.
//
// Parse accepts exactly what libuci (file.c, strict mode, as the uci command
// and every OpenWrt daemon use it) accepts and builds the same sections and
// options from it, including libuci's quirks: a statement is split into
// words at blanks; 'single' quotes take everything literally up to the next
// single quote, even across lines; in "double" quotes and unquoted words a
// backslash takes the next character literally and a backslash at the end
// of a line joins the next line; adjacent quoted and unquoted parts form one
// word; # starts a comment wherever a word may continue; ; ends a statement;
// an option with an empty value is ignored; a repeated option with a different value is
// moved to the end of its section; `list` appends (turning a plain option of
// that name into a list at the end of the section); `package NAME` is
// checked and ignored; and a repeated `config TYPE NAME` reopens the earlier
// section, which must have the same type. There are two deviations: a NUL
// byte, which libuci silently truncates at, is an error; and libuci also
// lets `config TYPE cfgXXXXXX` reopen an anonymous section through the name
// it generates for it, which Parse does not, because how that name is
// counted differs between libuci versions.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{
		data:  data,
		file:  &File{Name: name},
		named: make(map[string]*Section),
		types: make(map[string]string),
		names: make(map[string]string),
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &ParseError{File: name, Line: 1 + bytes.Count(data[:i], []byte{'\n'}), Msg: "the file contains a NUL byte"}
	}
	for p.rd < len(data) {
		p.pos = 0
		p.getln(0)
		if p.buf[0] == 0 {
			continue
		}
		if err := p.parseLine(); err != nil {
			err.File = name
			return nil, err
		}
	}
	return p.file, nil
}

// parser follows libuci's parser closely because its results depend on how
// the C code edits its line buffer in place: strtok ends the keyword with a
// NUL byte, each argument is unescaped onto itself and terminated with a
// NUL, a ; or # is overwritten with a NUL, and a quote or backslash at the
// end of a line pulls the next line into the same buffer. buf always ends
// with a 0 byte at index filled, standing for the C string terminator.
type parser struct {
	data   []byte
	rd     int    // read offset in data
	buf    []byte // the current statement line(s), terminated by a 0 byte
	filled int    // index of the terminator written by the last getln
	pos    int
	line   int // physical lines read so far

	file  *File
	cur   *Section            // the section option and list statements go to
	named map[string]*Section // the named sections
	types map[string]string   // section types seen, to share their strings
	names map[string]string   // valid names seen, to share their strings

	// stmt names the statement being parsed for error messages: "config",
	// "option NAME" once NAME is known to be valid, and so on. Messages
	// never repeat a value, a type or an invalid name from the file: any of
	// them may be a key someone typed into the wrong place, and parse
	// errors reach logs and web clients.
	stmt string
}

// getln reads the next physical line into buf at offset, replacing what is
// there, as libuci's uci_getln does.
func (p *parser) getln(offset int) {
	p.buf = p.buf[:offset]
	if p.rd >= len(p.data) {
		p.buf = append(p.buf, 0)
		p.filled = offset
		return
	}
	rest := p.data[p.rd:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i+1]
	}
	p.rd += len(rest)
	p.line++
	p.buf = append(p.buf, rest...)
	p.filled = len(p.buf)
	p.buf = append(p.buf, 0)
}

func (p *parser) errorf(format string, args ...any) *ParseError {
	return &ParseError{Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func (p *parser) skipSpace() {
	for p.buf[p.pos] != 0 && isSpace(p.buf[p.pos]) {
		p.pos++
	}
}

// parseBackslash skips a backslash. It reports false when the backslash ends
// the line, which joins the next line in its place (a line continuation),
// and true when the character after it is to be taken literally.
func (p *parser) parseBackslash() bool {
	p.pos++
	c := p.buf[p.pos]
	if c == 0 || c == '\n' || c == '\r' && p.buf[p.pos+1] == '\n' && p.buf[p.pos+2] == 0 {
		p.getln(p.pos)
		return false
	}
	return true
}

// addc copies the current character to the unescaped output at *target.
func (p *parser) addc(target *int) {
	p.buf[*target] = p.buf[p.pos]
	*target++
	p.pos++
}

func (p *parser) parseDoubleQuote(target *int) *ParseError {
	start := p.line
	p.pos++
	for {
		switch p.buf[p.pos] {
		case '"':
			p.pos++
			return nil
		case 0:
			p.getln(p.pos)
			if p.buf[p.pos] == 0 {
				return &ParseError{Line: start, Msg: `unterminated " quote: the closing " is missing`}
			}
		case '\\':
			if p.parseBackslash() {
				p.addc(target)
			}
		default:
			p.addc(target)
		}
	}
}

func (p *parser) parseSingleQuote(target *int) *ParseError {
	start := p.line
	p.pos++
	for {
		switch p.buf[p.pos] {
		case '\'':
			p.pos++
			return nil
		case 0:
			p.getln(p.pos)
			if p.buf[p.pos] == 0 {
				return &ParseError{Line: start, Msg: "unterminated ' quote: the closing ' is missing"}
			}
		default:
			p.addc(target)
		}
	}
}

// parseStr reads one word starting at pos, unescaping it onto itself, and
// returns the index just past it (where it is NUL-terminated).
func (p *parser) parseStr() (int, *ParseError) {
	target := p.pos
	next := true
loop:
	for {
		switch p.buf[p.pos] {
		case '\'':
			if err := p.parseSingleQuote(&target); err != nil {
				return 0, err
			}
		case '"':
			if err := p.parseDoubleQuote(&target); err != nil {
				return 0, err
			}
		case '#':
			p.buf[p.pos] = 0
			break loop
		case 0:
			break loop
		case ';':
			next = false
			break loop
		case '\\':
			if p.parseBackslash() {
				p.addc(&target)
			}
		default:
			p.addc(&target)
		}
		if c := p.buf[p.pos]; c == 0 || isSpace(c) {
			break
		}
	}
	// An unquoted word that stopped at a blank skips it, because the
	// terminator written at target may overwrite it.
	if p.buf[p.pos] != 0 && next {
		p.pos++
	}
	p.buf[target] = 0
	return target, nil
}

// argKind says how nextArg checks an argument.
type argKind int

const (
	argValue   argKind = iota // anything
	argType                   // section type, checked by the caller
	argName                   // section or option name
	argPackage                // package name
)

// nextArg reads the next argument of a statement. missing is the error
// message when the argument is required and absent ("" = optional).
func (p *parser) nextArg(missing string, kind argKind) (string, *ParseError) {
	p.skipSpace()
	val, end := p.pos, p.pos
	if p.buf[p.pos] == ';' {
		p.buf[p.pos] = 0
		p.pos++
	} else {
		var err *ParseError
		if end, err = p.parseStr(); err != nil {
			return "", err
		}
	}
	if p.buf[val] == 0 {
		if missing != "" {
			return "", p.errorf("%s", missing)
		}
		return "", nil
	}
	// Types and names repeat in every section: share one string for each
	// instead of allocating it again. Only valid names enter names.
	word := p.buf[val:end]
	switch kind {
	case argType:
		if s, ok := p.types[string(word)]; ok {
			return s, nil
		}
		s := string(word)
		p.types[s] = s
		return s, nil
	case argName:
		if s, ok := p.names[string(word)]; ok {
			return s, nil
		}
		s := string(word)
		if !validName(s) {
			return "", p.errorf("invalid %s name: names may contain only letters, digits and _", p.stmt)
		}
		p.names[s] = s
		return s, nil
	case argPackage:
		if s := string(word); !validPackage(s) {
			return "", p.errorf("invalid package name: it may contain only letters, digits, _ and -")
		}
	}
	return string(word), nil
}

// assertEOL checks that the statement has no further argument.
func (p *parser) assertEOL() *ParseError {
	p.skipSpace()
	s, err := p.nextArg("", argValue)
	if err != nil {
		return err
	}
	if s != "" {
		return p.errorf("too many arguments for %s; quote a value that contains blanks", p.stmt)
	}
	return nil
}

// keyword finds the next keyword at pos as strtok(s, " \t") does: it skips
// blanks, ends the word at the next blank with a NUL byte and returns the
// word's bounds. ok is false when only blanks are left.
func (p *parser) keyword() (start, end int, ok bool) {
	i := p.pos
	for p.buf[i] == ' ' || p.buf[i] == '\t' {
		i++
	}
	if p.buf[i] == 0 {
		return 0, 0, false
	}
	j := i
	for p.buf[j] != 0 && p.buf[j] != ' ' && p.buf[j] != '\t' {
		j++
	}
	p.buf[j] = 0
	return i, j, true
}

// skipKeyword moves past the keyword ending at end and its terminator, or
// fails with msg when the line ends right after the keyword.
func (p *parser) skipKeyword(end int, msg string) *ParseError {
	if end+1 > p.filled {
		return p.errorf("%s", msg)
	}
	p.pos = end + 1
	return nil
}

// parseLine parses the statements of one line (more when quotes or
// continuations span lines).
func (p *parser) parseLine() *ParseError {
	p.skipSpace()
	for {
		start, end, ok := p.keyword()
		if !ok {
			return nil
		}
		var err *ParseError
		switch string(p.buf[start:end]) {
		case "p", "package":
			err = p.parsePackage(end)
		case "c", "config":
			err = p.parseConfig(end)
		case "o", "option":
			err = p.parseOption(end, false)
		case "l", "list":
			err = p.parseOption(end, true)
		default:
			if p.buf[start] == '#' {
				return nil
			}
			return p.invalidCommand(string(p.buf[start:end]))
		}
		if err != nil {
			return err
		}
	}
}

// invalidCommand explains a line that does not start with a keyword. libuci
// says "invalid command" also for a keyword followed directly by the end of
// the line, because strtok splits only at blanks; that case gets the
// message of the missing argument instead.
func (p *parser) invalidCommand(word string) *ParseError {
	switch strings.TrimRightFunc(word, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) {
	case "":
		return p.errorf("; must be followed by another statement on the same line (libuci reads nothing else after it)")
	case "p", "package":
		return p.errorf("package without a name")
	case "c", "config":
		return p.errorf("config without a section type")
	case "o", "option":
		return p.errorf("option without a name")
	case "l", "list":
		return p.errorf("list without a name")
	}
	return p.errorf("invalid statement: a line must start with config, option, list or package")
}

func (p *parser) parsePackage(end int) *ParseError {
	p.stmt = "package"
	if err := p.skipKeyword(end, "package without a name"); err != nil {
		return err
	}
	if _, err := p.nextArg("package without a name", argPackage); err != nil {
		return err
	}
	// libuci checks the name of a package statement inside a config file
	// and ignores it: the file name is the package name.
	return p.assertEOL()
}

func (p *parser) parseConfig(end int) *ParseError {
	p.stmt = "section" // the name is the next word checked as a name
	if err := p.skipKeyword(end, "config without a section type"); err != nil {
		return err
	}
	typ, err := p.nextArg("config without a section type", argType)
	if err != nil {
		return err
	}
	if !validType(typ) {
		return p.errorf("invalid section type: it may contain only printable characters other than blanks")
	}
	name, err := p.nextArg("", argName)
	if err != nil {
		return err
	}
	p.stmt = "config"
	if err := p.assertEOL(); err != nil {
		return err
	}
	f := p.file
	if name == "" {
		p.cur = &Section{Type: typ}
		f.Sections = append(f.Sections, p.cur)
		return nil
	}
	if s := p.named[name]; s != nil {
		if s.Type != typ {
			return p.errorf("section %s is defined again with another type than before", name)
		}
		p.cur = s
		return nil
	}
	p.cur = &Section{Type: typ, Name: name}
	p.named[name] = p.cur
	f.Sections = append(f.Sections, p.cur)
	return nil
}

func (p *parser) parseOption(end int, list bool) *ParseError {
	if p.cur == nil {
		return p.errorf("option or list before the first config section")
	}
	var missing string
	missing, p.stmt = "option without a name", "option"
	if list {
		missing, p.stmt = "list without a name", "list"
	}
	if err := p.skipKeyword(end, missing); err != nil {
		return err
	}
	name, err := p.nextArg(missing, argName)
	if err != nil {
		return err
	}
	p.stmt += " " + name
	value, err := p.nextArg("", argValue)
	if err != nil {
		return err
	}
	if err := p.assertEOL(); err != nil {
		return err
	}
	s := p.cur
	i := s.index(name)
	switch {
	case list && i >= 0 && s.Options[i].IsList:
		s.Options[i].Values = append(s.Options[i].Values, value)
	case list && i >= 0:
		// A plain option becomes a list holding its value first; like
		// every option libuci replaces, it moves to the end.
		old := s.Options[i].Values
		s.Options = slices.Delete(s.Options, i, i+1)
		s.Options = append(s.Options, &Option{Name: name, IsList: true, Values: append(slices.Clip(old), value)})
	case list:
		s.Options = append(s.Options, newOption(name, true, value))
	case value == "":
		// libuci's uci_set ignores an empty value for an option it is
		// reading; it neither creates nor deletes the option.
	case i >= 0 && !s.Options[i].IsList && s.Options[i].Values[0] == value:
		// The same value again changes nothing, not even the position.
	case i >= 0:
		s.Options = slices.Delete(s.Options, i, i+1)
		s.Options = append(s.Options, newOption(name, false, value))
	default:
		s.Options = append(s.Options, newOption(name, false, value))
	}
	return nil
}

// newOption returns an option holding one value, allocating the option and
// its Values array together.
func newOption(name string, list bool, value string) *Option {
	a := &struct {
		o Option
		v [1]string
	}{o: Option{Name: name, IsList: list}, v: [1]string{value}}
	a.o.Values = a.v[:1:1]
	return &a.o
}
