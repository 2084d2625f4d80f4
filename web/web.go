// Package web holds wgpanel's user interface: one page in plain HTML, CSS
// and JavaScript, embedded into the binary. Nothing is loaded from another
// server, so the page works on a LAN with no internet. internal/api serves
// these files; the page talks to the JSON API.
//
// The page uses no inline script or style, because the server's Content
// Security Policy allows neither.
//
// The binary carries the files gzipped (index.html.gz, app.js.gz,
// style.css.gz), which keeps about 35 KB out of the router's flash; FS
// serves them decompressed. The .gz files are made from the files beside
// them by `go generate ./web`, and a test fails when they differ.
package web

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

//go:generate go test -run TestGzippedMatchSources -update .

//go:embed index.html.gz app.js.gz style.css.gz
var gzipped embed.FS

// FS holds index.html, app.js and style.css at its root.
var FS fs.FS = mustGunzip(gzipped)

// memFS is a flat, read-only file system held in memory.
type memFS map[string][]byte

var _ fs.ReadDirFS = memFS(nil)

func mustGunzip(src fs.FS) memFS {
	m := make(memFS)
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		panic(err) // embedded at build time: cannot fail at run time
	}
	for _, e := range entries {
		b, err := fs.ReadFile(src, e.Name())
		if err != nil {
			panic(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			panic(err)
		}
		if m[strings.TrimSuffix(e.Name(), ".gz")], err = io.ReadAll(zr); err != nil {
			panic(err)
		}
	}
	return m
}

func (m memFS) Open(name string) (fs.File, error) {
	if name == "." {
		return &memDir{fs: m}, nil
	}
	b, ok := m[name]
	if !ok || !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{Reader: bytes.NewReader(b), info: fileInfo{name: name, size: int64(len(b))}}, nil
}

func (m memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for n, b := range m {
		out = append(out, fs.FileInfoToDirEntry(fileInfo{name: n, size: int64(len(b))}))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// memFile is an open file; it seeks, as http.FileServerFS wants.
type memFile struct {
	*bytes.Reader
	info fileInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

// memDir is the open root directory.
type memDir struct {
	fs   memFS
	read bool
}

func (d *memDir) Stat() (fs.FileInfo, error) { return fileInfo{name: ".", dir: true}, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}
func (d *memDir) Close() error { return nil }

func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.read {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	d.read = true
	return d.fs.ReadDir(".")
}

type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (i fileInfo) Name() string { return path.Base(i.name) }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// ModTime is zero, as for embedded files: the server makes ETags instead.
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }
