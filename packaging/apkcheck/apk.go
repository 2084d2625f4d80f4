// Package apkcheck opens an apk-tools 3 package (.apk, "apkv3") the way
// apk reads one, for the tests of `make apk`. It is written from apk-tools'
// format documentation (doc/apk-v3.5, doc/apk-package.5, src/adb.h,
// src/apk_adb.h) separately from the writer in packaging/apkv3, so that a
// mistake in one is not repeated by the other.
//
// Read checks the container: the "ADBd" compression marker, the deflate
// stream, the "ADB." magic and "pckg" schema, each block's header, padding
// and order (one ADB block, then DATA blocks only), and decodes the ADB
// block's values with bounds checks. It does not judge the contents; the
// tests in packaging/ipkcheck do.
package apkcheck

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Package is a decoded .apk.
type Package struct {
	Info    Info
	Paths   []Dir
	Scripts map[string][]byte // by apk's script name, e.g. "post-install"
	// Blocks are the block types in file order ("ADB", "DATA", ...).
	Blocks []string
	// Data are the DATA blocks in file order.
	Data []DataBlock
	// ADB is the raw ADB block payload.
	ADB []byte
	// Unknown lists slots set that this reader has no name for.
	Unknown []string
}

// Info is the package info object; Fields holds every string field by
// apk's name for it ("name", "version", "arch", ...).
type Info struct {
	Fields        map[string]string
	Hashes        []byte
	InstalledSize uint64
	Depends       []string
	Provides      []string
}

// ACL is a file's or directory's mode and owner.
type ACL struct {
	Mode        uint64
	User, Group string
}

// Dir is one entry of the paths array.
type Dir struct {
	Name  string
	ACL   ACL
	Files []File
}

// File is one entry of a directory's files array.
type File struct {
	Name   string
	ACL    ACL
	Size   uint64
	MTime  uint64
	Hash   []byte
	Target []byte
}

// DataBlock is a DATA block: the file it holds, by 1-based indexes, and
// the file's contents.
type DataBlock struct {
	PathIdx, FileIdx uint32
	Data             []byte
}

// File returns the file at absolute path p with its data, or false.
func (p *Package) File(abs string) (File, []byte, bool) {
	for i, d := range p.Paths {
		for j, f := range d.Files {
			if "/"+d.Name+"/"+f.Name != abs {
				continue
			}
			for _, b := range p.Data {
				if b.PathIdx == uint32(i+1) && b.FileIdx == uint32(j+1) {
					return f, b.Data, true
				}
			}
			return f, nil, true
		}
	}
	return File{}, nil, false
}

const (
	tSpecial = 0x0
	tInt     = 0x1
	tInt32   = 0x2
	tInt64   = 0x3
	tBlob8   = 0x8
	tBlob16  = 0x9
	tBlob32  = 0xa
	tArray   = 0xd
	tObject  = 0xe
)

// Read decodes a whole .apk.
func Read(r io.Reader) (*Package, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(raw) < 4 || string(raw[:3]) != "ADB" {
		return nil, errors.New("apk: not an apkv3 package (no ADB marker)")
	}
	var body []byte
	switch raw[3] {
	case 'd':
		body, err = io.ReadAll(flate.NewReader(bytes.NewReader(raw[4:])))
		if err != nil {
			return nil, fmt.Errorf("apk: deflate stream: %w", err)
		}
	case '.':
		body = raw
	default:
		return nil, fmt.Errorf("apk: unsupported compression marker %q", raw[:4])
	}
	if len(body) < 8 || string(body[:4]) != "ADB." {
		return nil, errors.New("apk: no ADB. file header after decompression")
	}
	if string(body[4:8]) != "pckg" {
		return nil, fmt.Errorf("apk: schema %q; want a package (pckg)", body[4:8])
	}
	p := &Package{Scripts: map[string][]byte{}}
	for off := 8; off < len(body); {
		if len(body)-off < 4 {
			return nil, fmt.Errorf("apk: %d stray bytes at the end", len(body)-off)
		}
		w := binary.LittleEndian.Uint32(body[off:])
		typ, size := w>>30, int(w&0x3fffffff)
		if typ == 3 {
			return nil, errors.New("apk: extended block headers are not expected in a small package")
		}
		if size < 4 || off+size > len(body) {
			return nil, fmt.Errorf("apk: block at %d has size %d beyond the end (%d)", off, size, len(body))
		}
		payload := body[off+4 : off+size]
		padded := (size + 7) &^ 7
		if off+padded > len(body) {
			return nil, fmt.Errorf("apk: block at %d lacks its padding", off)
		}
		for _, b := range body[off+size : off+padded] {
			if b != 0 {
				return nil, fmt.Errorf("apk: block at %d has non-zero padding", off)
			}
		}
		off += padded
		switch typ {
		case 0:
			if len(p.Blocks) != 0 {
				return nil, errors.New("apk: an ADB block after the first block")
			}
			p.Blocks = append(p.Blocks, "ADB")
			p.ADB = payload
		case 1:
			return nil, errors.New("apk: unexpected signature block")
		case 2:
			if len(p.Blocks) == 0 {
				return nil, errors.New("apk: a DATA block before the ADB block")
			}
			p.Blocks = append(p.Blocks, "DATA")
			if len(payload) < 8 {
				return nil, errors.New("apk: DATA block without its file header")
			}
			p.Data = append(p.Data, DataBlock{
				PathIdx: binary.LittleEndian.Uint32(payload),
				FileIdx: binary.LittleEndian.Uint32(payload[4:]),
				Data:    payload[8:],
			})
		}
	}
	if p.ADB == nil {
		return nil, errors.New("apk: no ADB block")
	}
	if err := p.decode(); err != nil {
		return nil, err
	}
	return p, nil
}

// adb reads values out of the ADB block payload.
type adb struct{ b []byte }

func (a adb) at(off uint32, n int) ([]byte, error) {
	if int(off)+n > len(a.b) || int(off)+n < int(off) {
		return nil, fmt.Errorf("apk: value at %d+%d is outside the ADB block (%d bytes)", off, n, len(a.b))
	}
	return a.b[off : int(off)+n], nil
}

func (a adb) blob(v uint32) ([]byte, error) {
	off := v & 0x0fffffff
	var hdr int
	switch v >> 28 {
	case tSpecial:
		if v == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("apk: special value %#x where a blob belongs", v)
	case tBlob8:
		hdr = 1
	case tBlob16:
		hdr = 2
	case tBlob32:
		hdr = 4
	default:
		return nil, fmt.Errorf("apk: value %#x is not a blob", v)
	}
	h, err := a.at(off, hdr)
	if err != nil {
		return nil, err
	}
	var n uint32
	switch hdr {
	case 1:
		n = uint32(h[0])
	case 2:
		n = uint32(binary.LittleEndian.Uint16(h))
	default:
		n = binary.LittleEndian.Uint32(h)
	}
	return a.at(off+uint32(hdr), int(n))
}

func (a adb) int(v uint32) (uint64, error) {
	off := v & 0x0fffffff
	switch v >> 28 {
	case tSpecial:
		if v == 0 {
			return 0, nil
		}
	case tInt:
		return uint64(off), nil
	case tInt32:
		b, err := a.at(off, 4)
		if err != nil {
			return 0, err
		}
		return uint64(binary.LittleEndian.Uint32(b)), nil
	case tInt64:
		b, err := a.at(off, 8)
		if err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("apk: value %#x is not an integer", v)
}

// slots returns an object's or array's slots, slot 0 (the count) included;
// null gives no slots.
func (a adb) slots(v uint32, want uint32) ([]uint32, error) {
	if v == 0 {
		return nil, nil
	}
	if v>>28 != want {
		return nil, fmt.Errorf("apk: value %#x has type %#x; want %#x", v, v>>28, want)
	}
	off := v & 0x0fffffff
	if off%4 != 0 {
		return nil, fmt.Errorf("apk: object at %d is not 4-byte aligned", off)
	}
	h, err := a.at(off, 4)
	if err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(h)
	if n < 1 || n > 1<<20 {
		return nil, fmt.Errorf("apk: object at %d has %d slots", off, n)
	}
	b, err := a.at(off, int(n)*4)
	if err != nil {
		return nil, err
	}
	s := make([]uint32, n)
	for i := range s {
		s[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return s, nil
}

func slot(s []uint32, i int) uint32 {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// decoder collects the first error so that the field walk reads plainly.
type decoder struct {
	a       adb
	err     error
	unknown []string
}

func (d *decoder) str(v uint32) string {
	b, err := d.a.blob(v)
	if err != nil && d.err == nil {
		d.err = err
	}
	return string(b)
}

func (d *decoder) bytes(v uint32) []byte {
	b, err := d.a.blob(v)
	if err != nil && d.err == nil {
		d.err = err
	}
	return b
}

func (d *decoder) num(v uint32) uint64 {
	n, err := d.a.int(v)
	if err != nil && d.err == nil {
		d.err = err
	}
	return n
}

func (d *decoder) obj(v uint32, typ uint32) []uint32 {
	s, err := d.a.slots(v, typ)
	if err != nil && d.err == nil {
		d.err = err
	}
	return s
}

// known notes slots beyond those named, so a test can refuse surprises.
func (d *decoder) known(what string, s []uint32, names ...int) {
	ok := map[int]bool{}
	for _, n := range names {
		ok[n] = true
	}
	for i := 1; i < len(s); i++ {
		if s[i] != 0 && !ok[i] {
			d.unknown = append(d.unknown, fmt.Sprintf("%s slot %d", what, i))
		}
	}
}

func (d *decoder) acl(v uint32) ACL {
	s := d.obj(v, tObject)
	d.known("acl", s, 1, 2, 3)
	return ACL{Mode: d.num(slot(s, 1)), User: d.str(slot(s, 2)), Group: d.str(slot(s, 3))}
}

func (d *decoder) deps(v uint32) []string {
	var names []string
	arr := d.obj(v, tArray)
	for i := 1; i < len(arr); i++ {
		dep := d.obj(arr[i], tObject)
		d.known("dependency", dep, 1)
		names = append(names, d.str(slot(dep, 1)))
	}
	return names
}

// The info fields held as strings, by slot (apk-tools src/apk_adb.h).
var infoStrings = map[int]string{
	1: "name", 2: "version", 4: "description", 5: "arch", 6: "license",
	7: "origin", 8: "maintainer", 9: "url",
}

var scriptNames = map[int]string{
	1: "trigger", 2: "pre-install", 3: "post-install", 4: "pre-deinstall",
	5: "post-deinstall", 6: "pre-upgrade", 7: "post-upgrade",
}

func (p *Package) decode() error {
	if len(p.ADB) < 8 {
		return errors.New("apk: ADB block shorter than its header")
	}
	if p.ADB[0] != 0 {
		return fmt.Errorf("apk: ADB compat version %d; apk 3 reads 0", p.ADB[0])
	}
	d := &decoder{a: adb{p.ADB}}
	root := d.obj(binary.LittleEndian.Uint32(p.ADB[4:]), tObject)
	d.known("package", root, 1, 2, 3)

	info := d.obj(slot(root, 1), tObject)
	p.Info.Fields = map[string]string{}
	names := []int{3, 12, 15, 16}
	for i, name := range infoStrings {
		names = append(names, i)
		if v := slot(info, i); v != 0 {
			p.Info.Fields[name] = d.str(v)
		}
	}
	d.known("info", info, names...)
	p.Info.Hashes = d.bytes(slot(info, 3))
	p.Info.InstalledSize = d.num(slot(info, 12))
	p.Info.Depends = d.deps(slot(info, 15))
	p.Info.Provides = d.deps(slot(info, 16))

	paths := d.obj(slot(root, 2), tArray)
	for i := 1; i < len(paths); i++ {
		ds := d.obj(paths[i], tObject)
		d.known("dir", ds, 1, 2, 3)
		dir := Dir{Name: d.str(slot(ds, 1)), ACL: d.acl(slot(ds, 2))}
		files := d.obj(slot(ds, 3), tArray)
		for j := 1; j < len(files); j++ {
			fs := d.obj(files[j], tObject)
			d.known("file", fs, 1, 2, 3, 4, 5, 6)
			dir.Files = append(dir.Files, File{
				Name: d.str(slot(fs, 1)), ACL: d.acl(slot(fs, 2)),
				Size: d.num(slot(fs, 3)), MTime: d.num(slot(fs, 4)),
				Hash: d.bytes(slot(fs, 5)), Target: d.bytes(slot(fs, 6)),
			})
		}
		p.Paths = append(p.Paths, dir)
	}

	scripts := d.obj(slot(root, 3), tObject)
	for i := 1; i < len(scripts); i++ {
		if scripts[i] != 0 {
			p.Scripts[scriptNames[i]] = d.bytes(scripts[i])
		}
	}
	p.Unknown = d.unknown
	return d.err
}
