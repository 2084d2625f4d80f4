package vm

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
)

// The kernel's initramfs is a cpio archive in the "newc" format: for each
// file a 110-byte ASCII header (magic 070701 and 13 fields of 8 hex
// digits), the NUL-terminated name padded to 4 bytes, the data padded to 4
// bytes; it ends with the entry TRAILER!!!.

const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// archive collects the initramfs's entries by path; parents are added as
// directories.
type archive struct {
	entries map[string]cpioEntry
}

type cpioEntry struct {
	mode         uint32
	data         []byte
	major, minor uint32 // of a device node
}

func newArchive() *archive { return &archive{entries: map[string]cpioEntry{}} }

func (a *archive) dir(path string) {
	path = strings.Trim(path, "/")
	for p := path; p != "" && p != "."; p = parent(p) {
		if _, ok := a.entries[p]; !ok {
			a.entries[p] = cpioEntry{mode: modeDir | 0o755}
		}
	}
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

func (a *archive) file(path string, perm uint32, data []byte) {
	path = strings.Trim(path, "/")
	a.dir(parent(path))
	a.entries[path] = cpioEntry{mode: modeFile | perm, data: data}
}

func (a *archive) symlink(path, target string) {
	path = strings.Trim(path, "/")
	a.dir(parent(path))
	a.entries[path] = cpioEntry{mode: modeSymlink | 0o777, data: []byte(target)}
}

func (a *archive) charDev(path string, major, minor uint32) {
	path = strings.Trim(path, "/")
	a.dir(parent(path))
	a.entries[path] = cpioEntry{mode: modeChar | 0o600, major: major, minor: minor}
}

// writeTo writes the archive, parents before children.
func (a *archive) writeTo(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names) // "a" sorts before "a/b"
	var buf bytes.Buffer
	for i, n := range names {
		writeEntry(&buf, uint32(i+1), n, a.entries[n])
	}
	writeEntry(&buf, 0, "TRAILER!!!", cpioEntry{})
	_, err := w.Write(buf.Bytes())
	return err
}

func writeEntry(b *bytes.Buffer, ino uint32, name string, e cpioEntry) {
	nlink := uint32(1)
	if e.mode&0o170000 == modeDir {
		nlink = 2
	}
	fmt.Fprintf(b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0, e.major, e.minor, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	pad4(b)
	b.Write(e.data)
	pad4(b)
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}
