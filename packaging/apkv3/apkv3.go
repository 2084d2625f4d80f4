// Package apkv3 writes a package in apk-tools 3's "apkv3" format, the one
// OpenWrt 25.12 installs with `apk add`.
//
// The format (apk-tools' doc/apk-v3.5 and doc/apk-package.5): the bytes
// "ADBd", then a raw deflate stream holding the file header "ADB." and the
// schema "pckg", one ADB block with the package's metadata (its info fields,
// the directory tree with each file's size, mode, owner and SHA-256, and the
// scripts), and one DATA block per non-empty regular file, in tree order.
// Every block starts with a little-endian word holding its type (top two
// bits) and its length including that word, and is padded to 8 bytes.
//
// Inside the ADB block, after a 4-byte version header and the root value,
// every value is a 32-bit word: four type bits and 28 bits holding either
// the value itself (small integers, null) or the offset of the value in the
// block (blobs with a length prefix, objects and arrays as a count word and
// one word per slot).
//
// Only what wgpanel needs is written: regular files and directories, no
// symlinks, devices, hard links, xattrs, triggers or signatures (apk installs
// an unsigned package with --allow-untrusted). The package is written in
// one pass from memory; the result depends only on the input, so the same
// input gives the same bytes.
package apkv3

import (
	"bytes"
	"cmp"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Info holds the package info fields apk shows and resolves with.
type Info struct {
	Name        string
	Version     string
	Description string // one line
	Arch        string
	License     string
	Origin      string
	Maintainer  string
	URL         string
	Depends     []string // package names, no version constraints
	Provides    []string
}

// File is one regular file of the package.
type File struct {
	Path  string // absolute, e.g. /usr/bin/wgpanel
	Mode  uint32 // permission bits, e.g. 0o755
	User  string // owner name, e.g. root
	Group string
	MTime int64 // seconds since the epoch
	Data  []byte
}

// Scripts are the package's maintainer scripts; an empty one is left out.
type Scripts struct {
	PostInstall  []byte
	PostUpgrade  []byte
	PreDeinstall []byte
}

// Package is everything Write needs.
type Package struct {
	Info    Info
	Files   []File
	Scripts Scripts
}

// dirMode is the mode of every directory holding a file, owned by root.
const dirMode = 0o755

// Field slots of apk's schemas (apk-tools src/apk_adb.h).
const (
	piName          = 1
	piVersion       = 2
	piHashes        = 3
	piDescription   = 4
	piArch          = 5
	piLicense       = 6
	piOrigin        = 7
	piMaintainer    = 8
	piURL           = 9
	piInstalledSize = 12
	piDepends       = 15
	piProvides      = 16
	piMax           = 22

	aclMode  = 1
	aclUser  = 2
	aclGroup = 3
	aclMax   = 5

	fiName   = 1
	fiACL    = 2
	fiSize   = 3
	fiMTime  = 4
	fiHashes = 5
	fiMax    = 7

	diName  = 1
	diACL   = 2
	diFiles = 3
	diMax   = 4

	scPostInstall  = 3
	scPreDeinstall = 4
	scPostUpgrade  = 7
	scMax          = 8

	pkgInfo    = 1
	pkgPaths   = 2
	pkgScripts = 3
	pkgMax     = 6

	depName = 1
	depMax  = 4
)

// Value type bits.
const (
	typeInt    = 0x10000000
	typeInt32  = 0x20000000
	typeBlob8  = 0x80000000
	typeBlob16 = 0x90000000
	typeBlob32 = 0xa0000000
	typeArray  = 0xd0000000
	typeObject = 0xe0000000
	valueMask  = 0x0fffffff
)

// Block types.
const (
	blockADB  = 0
	blockData = 2
)

// uniqueIDLen is the length of the package's identity in the "hashes"
// field: a SHA-256 of the ADB block, cut to a SHA-1's length, as apk mkpkg
// writes it.
const uniqueIDLen = 20

// maxBlock is the largest payload a plain block header can describe.
const maxBlock = 0x3fffffff - 4

// adb builds the ADB block: a header (compat version, version, reserved,
// root value) followed by values, each at its natural alignment.
type adb struct {
	buf []byte
	err error
}

func newADB() *adb { return &adb{buf: make([]byte, 8)} }

func (a *adb) write(align int, parts ...[]byte) uint32 {
	for len(a.buf)%align != 0 {
		a.buf = append(a.buf, 0)
	}
	off := len(a.buf)
	for _, p := range parts {
		a.buf = append(a.buf, p...)
	}
	if off > valueMask && a.err == nil {
		a.err = errors.New("apkv3: metadata too large")
	}
	return uint32(off)
}

// blob stores b with its length prefix; an empty blob is null (0).
func (a *adb) blob(b []byte) uint32 {
	switch n := len(b); {
	case n == 0:
		return 0
	case n <= 0xff:
		return typeBlob8 | a.write(1, []byte{byte(n)}, b)
	case n <= 0xffff:
		return typeBlob16 | a.write(2, binary.LittleEndian.AppendUint16(nil, uint16(n)), b)
	default:
		return typeBlob32 | a.write(4, binary.LittleEndian.AppendUint32(nil, uint32(n)), b)
	}
}

func (a *adb) str(s string) uint32 { return a.blob([]byte(s)) }

func (a *adb) int(v uint64) uint32 {
	switch {
	case v < typeInt:
		return typeInt | uint32(v)
	case v <= 0xffffffff:
		return typeInt32 | a.write(4, binary.LittleEndian.AppendUint32(nil, uint32(v)))
	default:
		a.err = fmt.Errorf("apkv3: integer %d too large", v)
		return 0
	}
}

// slots stores an object or array: slot 0 holds the number of slots, and
// trailing null slots are dropped; one with no non-null slot is null.
func (a *adb) slots(typ uint32, vals []uint32) uint32 {
	n := len(vals)
	for n > 1 && vals[n-1] == 0 {
		n--
	}
	if n <= 1 {
		return 0
	}
	vals[0] = uint32(n)
	var b []byte
	for _, v := range vals[:n] {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return typ | a.write(4, b)
}

// object stores an object with max slots; fields maps slot to value.
func (a *adb) object(max int, fields map[int]uint32) uint32 {
	vals := make([]uint32, max)
	for i, v := range fields {
		vals[i] = v
	}
	return a.slots(typeObject, vals)
}

func (a *adb) array(items []uint32) uint32 {
	return a.slots(typeArray, append([]uint32{0}, items...))
}

// dir is one directory of the tree with its files in name order.
type dir struct {
	name  string // relative, e.g. "usr/bin"
	files []File
}

// tree groups the files by directory: every directory that holds a file,
// and each of their parents, sorted by name as apk sorts them (bytewise).
func (p *Package) tree() ([]dir, error) {
	byDir := map[string][]File{}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasSuffix(f.Path, "/") {
			return nil, fmt.Errorf("apkv3: file path %q is not a clean absolute path", f.Path)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("apkv3: file %s given twice", f.Path)
		}
		seen[f.Path] = true
		d, name := path.Split(strings.TrimPrefix(f.Path, "/"))
		d = strings.TrimSuffix(d, "/")
		if d == "" {
			return nil, fmt.Errorf("apkv3: file %s in / is not supported", f.Path)
		}
		f.Path = name
		byDir[d] = append(byDir[d], f)
		for p := path.Dir(d); p != "."; p = path.Dir(p) {
			if _, ok := byDir[p]; !ok {
				byDir[p] = nil
			}
		}
	}
	var dirs []dir
	for name, files := range byDir {
		slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
		dirs = append(dirs, dir{name: name, files: files})
	}
	slices.SortFunc(dirs, func(a, b dir) int { return strings.Compare(a.name, b.name) })
	return dirs, nil
}

// Write writes the package to w.
func (p *Package) Write(w io.Writer) error {
	meta, dirs, err := p.metadata()
	if err != nil {
		return err
	}
	var raw bytes.Buffer
	raw.WriteString("ADB.pckg")
	if err := writeBlock(&raw, blockADB, meta); err != nil {
		return err
	}
	for i, d := range dirs {
		for j, f := range d.files {
			if len(f.Data) == 0 {
				continue
			}
			// The data block names its file by 1-based indexes into the
			// paths array and that directory's files array.
			hdr := binary.LittleEndian.AppendUint32(nil, uint32(i+1))
			hdr = binary.LittleEndian.AppendUint32(hdr, uint32(j+1))
			if err := writeBlock(&raw, blockData, append(hdr, f.Data...)); err != nil {
				return err
			}
		}
	}
	if _, err := io.WriteString(w, "ADBd"); err != nil {
		return err
	}
	zw, err := flate.NewWriter(w, flate.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

func writeBlock(w *bytes.Buffer, typ uint32, payload []byte) error {
	if len(payload) > maxBlock {
		return fmt.Errorf("apkv3: a block of %d bytes is too large", len(payload))
	}
	size := 4 + len(payload)
	w.Write(binary.LittleEndian.AppendUint32(nil, typ<<30|uint32(size)))
	w.Write(payload)
	for ; size%8 != 0; size++ {
		w.WriteByte(0)
	}
	return nil
}

// metadata builds the ADB block and returns it with the tree it describes.
func (p *Package) metadata() ([]byte, []dir, error) {
	if err := p.Info.check(); err != nil {
		return nil, nil, err
	}
	dirs, err := p.tree()
	if err != nil {
		return nil, nil, err
	}
	a := newADB()
	acl := func(mode uint32, user, group string) uint32 {
		return a.object(aclMax, map[int]uint32{
			aclMode: a.int(uint64(mode & 0o7777)), aclUser: a.str(user), aclGroup: a.str(group),
		})
	}
	var installed uint64
	var paths []uint32
	for _, d := range dirs {
		var files []uint32
		for _, f := range d.files {
			sum := sha256.Sum256(f.Data)
			installed += uint64(len(f.Data))
			files = append(files, a.object(fiMax, map[int]uint32{
				fiName:   a.str(f.Path),
				fiACL:    acl(f.Mode, cmp.Or(f.User, "root"), cmp.Or(f.Group, "root")),
				fiSize:   a.int(uint64(len(f.Data))),
				fiMTime:  a.int(uint64(f.MTime)),
				fiHashes: a.blob(sum[:]),
			}))
		}
		paths = append(paths, a.object(diMax, map[int]uint32{
			diName:  a.str(d.name),
			diACL:   acl(dirMode, "root", "root"),
			diFiles: a.array(files),
		}))
	}
	deps := func(names []string) uint32 {
		names = slices.Clone(names)
		slices.Sort(names)
		names = slices.Compact(names)
		var items []uint32
		for _, n := range names {
			items = append(items, a.object(depMax, map[int]uint32{depName: a.str(n)}))
		}
		return a.array(items)
	}
	in := p.Info
	// The identity is filled in once the whole block is known.
	idOff := len(a.buf) + 1
	id := a.blob(make([]byte, uniqueIDLen))
	info := a.object(piMax, map[int]uint32{
		piName:          a.str(in.Name),
		piVersion:       a.str(in.Version),
		piHashes:        id,
		piDescription:   a.str(in.Description),
		piArch:          a.str(in.Arch),
		piLicense:       a.str(in.License),
		piOrigin:        a.str(in.Origin),
		piMaintainer:    a.str(in.Maintainer),
		piURL:           a.str(in.URL),
		piInstalledSize: a.int(max(installed, 1)),
		piDepends:       deps(in.Depends),
		piProvides:      deps(in.Provides),
	})
	scripts := a.object(scMax, map[int]uint32{
		scPostInstall:  a.blob(p.Scripts.PostInstall),
		scPreDeinstall: a.blob(p.Scripts.PreDeinstall),
		scPostUpgrade:  a.blob(p.Scripts.PostUpgrade),
	})
	root := a.object(pkgMax, map[int]uint32{
		pkgInfo:    info,
		pkgPaths:   a.array(paths),
		pkgScripts: scripts,
	})
	if a.err != nil {
		return nil, nil, a.err
	}
	if id&valueMask != uint32(idOff-1) {
		return nil, nil, errors.New("apkv3: internal error placing the package identity")
	}
	binary.LittleEndian.PutUint32(a.buf[4:8], root)
	sum := sha256.Sum256(a.buf)
	copy(a.buf[idOff:idOff+uniqueIDLen], sum[:uniqueIDLen])
	return a.buf, dirs, nil
}

// check refuses info apk would refuse: a name outside [A-Za-z0-9._+-]
// starting with a letter or digit, and a version outside apk's grammar.
func (in Info) check() error {
	if !ValidName(in.Name) {
		return fmt.Errorf("apkv3: package name %q is not valid for apk", in.Name)
	}
	if !ValidVersion(in.Version) {
		return fmt.Errorf("apkv3: version %q is not valid for apk (e.g. 1.2.3_p4-r1)", in.Version)
	}
	for _, d := range append(slices.Clone(in.Depends), in.Provides...) {
		if !ValidName(d) {
			return fmt.Errorf("apkv3: dependency %q is not a valid package name", d)
		}
	}
	if strings.ContainsAny(in.Description, "\n") {
		return errors.New("apkv3: the description must be one line")
	}
	return nil
}

// ValidName reports whether s is a valid apk package name.
func ValidName(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("._+-", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
