package ipkcheck

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Entry is one member of a tar archive with its contents.
type Entry struct {
	Header *tar.Header
	Body   []byte
}

// Package is an .ipk taken apart by Read.
type Package struct {
	// Members are the entries of the outer archive, in archive order.
	Members []Entry
	// Control holds the fields of ./control; ControlOrder their order.
	Control      map[string]string
	ControlOrder []string
	// ControlTar and DataTar are the entries of control.tar.gz and
	// data.tar.gz, in archive order.
	ControlTar []Entry
	DataTar    []Entry
	// DataTarSize is the length in bytes of the uncompressed data tar,
	// the figure OpenWrt's ipkg-build writes as Installed-Size.
	DataTarSize int64
}

// Member returns the outer archive member called name ("./name" matches
// too, as opkg strips a leading "./"), or nil.
func (p *Package) Member(name string) *Entry { return find(p.Members, name) }

// ControlFile returns the entry of control.tar.gz called name, or nil.
func (p *Package) ControlFile(name string) *Entry { return find(p.ControlTar, name) }

// DataFile returns the entry of data.tar.gz for the absolute path name
// (e.g. "/usr/bin/wgpanel"), or nil.
func (p *Package) DataFile(name string) *Entry { return find(p.DataTar, name) }

func find(es []Entry, name string) *Entry {
	want := clean(name)
	for i := range es {
		if clean(es[i].Header.Name) == want {
			return &es[i]
		}
	}
	return nil
}

// clean drops the "./" or "/" a tar member name may start with and a
// directory's trailing slash.
func clean(name string) string {
	name = strings.TrimPrefix(name, ".")
	name = strings.TrimPrefix(name, "/")
	return strings.TrimSuffix(name, "/")
}

// Read takes an .ipk apart. It fails when the file is not a gzip'd tar
// (an ar archive, as Debian packages and some packagers write, is named as
// such), when control.tar.gz, data.tar.gz or ./control are missing or do not
// decompress, or when the control file does not parse.
func Read(r io.Reader) (*Package, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(8); bytes.HasPrefix(magic, []byte("!<arch>")) {
		return nil, errors.New("ipk: the outer archive is an ar archive; OpenWrt's opkg expects a gzip'd tar")
	}
	members, _, err := readTarGz(br)
	if err != nil {
		return nil, fmt.Errorf("ipk: outer archive: %w", err)
	}
	p := &Package{Members: members}

	control := p.Member("control.tar.gz")
	if control == nil {
		return nil, errors.New("ipk: no control.tar.gz")
	}
	if p.ControlTar, _, err = readTarGz(bytes.NewReader(control.Body)); err != nil {
		return nil, fmt.Errorf("ipk: control.tar.gz: %w", err)
	}
	data := p.Member("data.tar.gz")
	if data == nil {
		return nil, errors.New("ipk: no data.tar.gz")
	}
	if p.DataTar, p.DataTarSize, err = readTarGz(bytes.NewReader(data.Body)); err != nil {
		return nil, fmt.Errorf("ipk: data.tar.gz: %w", err)
	}

	cf := p.ControlFile("control")
	if cf == nil {
		return nil, errors.New("ipk: control.tar.gz has no ./control")
	}
	if p.Control, p.ControlOrder, err = ParseControl(cf.Body); err != nil {
		return nil, fmt.Errorf("ipk: ./control: %w", err)
	}
	return p, nil
}

// readTarGz reads every entry of a gzip'd tar and returns them with the
// length of the uncompressed tar stream.
func readTarGz(r io.Reader) ([]Entry, int64, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, 0, fmt.Errorf("not gzip: %w", err)
	}
	cr := &countingReader{r: zr}
	tr := tar.NewReader(cr)
	var es []Entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, 0, err
		}
		es = append(es, Entry{Header: hdr, Body: body})
	}
	// The tar reader stops at the end-of-archive marker; count the padding
	// after it too, as `zcat | wc -c` would.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, 0, err
	}
	return es, cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ParseControl parses a control file: "Field: value" lines, where a line
// starting with a space continues the previous field. It returns the fields
// and their order. A repeated field, a line without a colon, a blank line
// before the end, or a missing final newline is an error, since opkg's
// parser would stop at or misread each of them.
func ParseControl(b []byte) (map[string]string, []string, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, nil, errors.New("does not end with a newline")
	}
	fields := map[string]string{}
	var order []string
	var last string
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, line := range lines {
		switch {
		case line == "":
			return nil, nil, fmt.Errorf("line %d: blank line inside the control file", i+1)
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, nil, fmt.Errorf("line %d: continuation line before any field", i+1)
			}
			fields[last] += "\n" + line[1:]
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, nil, fmt.Errorf("line %d: %q is not a field", i+1, line)
			}
			if _, dup := fields[name]; dup {
				return nil, nil, fmt.Errorf("line %d: field %s repeated", i+1, name)
			}
			fields[name] = strings.TrimSpace(value)
			order = append(order, name)
			last = name
		}
	}
	return fields, order, nil
}
