package apkv3

import (
	"bytes"
	"strings"
	"testing"
)

// TestWriteRefuses checks that input apk would refuse, or that the format
// cannot hold, gets a clear error and no output.
func TestWriteRefuses(t *testing.T) {
	good := func() *Package {
		return &Package{
			Info:  Info{Name: "wgpanel", Version: "0.0.0_p1-r1", Arch: "x86_64", Description: "one line"},
			Files: []File{{Path: "/usr/bin/x", Mode: 0o755, Data: []byte("x")}},
		}
	}
	tests := []struct {
		name    string
		change  func(p *Package)
		wantErr string
	}{
		{"valid", func(p *Package) {}, ""},
		{"version with a commit hash", func(p *Package) { p.Info.Version = "0.1.0~gf682155-r1" }, "not valid for apk"},
		{"version with a plus", func(p *Package) { p.Info.Version = "1.2.3+3.gabc1234" }, "not valid for apk"},
		{"empty name", func(p *Package) { p.Info.Name = "" }, "package name"},
		{"name with a space", func(p *Package) { p.Info.Name = "wg panel" }, "package name"},
		{"bad dependency", func(p *Package) { p.Info.Depends = []string{"kmod wireguard"} }, "dependency"},
		{"two-line description", func(p *Package) { p.Info.Description = "a\nb" }, "one line"},
		{"relative path", func(p *Package) { p.Files[0].Path = "usr/bin/x" }, "clean absolute path"},
		{"unclean path", func(p *Package) { p.Files[0].Path = "/usr/../bin/x" }, "clean absolute path"},
		{"file in /", func(p *Package) { p.Files[0].Path = "/x" }, "in / is not supported"},
		{"same file twice", func(p *Package) { p.Files = append(p.Files, p.Files[0]) }, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.change(p)
			var buf bytes.Buffer
			err := p.Write(&buf)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Write: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Write error %v; want one mentioning %q", err, tt.wantErr)
			case tt.wantErr != "" && buf.Len() != 0:
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// TestBlobSizes checks the three blob encodings: a length byte up to 255
// bytes, a 16-bit length up to 65535, a 32-bit one beyond, each aligned.
func TestBlobSizes(t *testing.T) {
	for _, n := range []int{1, 255, 256, 65535, 65536} {
		a := newADB()
		a.buf = append(a.buf, 0) // misalign on purpose
		v := a.blob(bytes.Repeat([]byte{'x'}, n))
		off := int(v & valueMask)
		var typ uint32
		var hdr int
		switch {
		case n <= 0xff:
			typ, hdr = typeBlob8, 1
		case n <= 0xffff:
			typ, hdr = typeBlob16, 2
		default:
			typ, hdr = typeBlob32, 4
		}
		if v&^valueMask != typ || off%hdr != 0 || len(a.buf) != off+hdr+n {
			t.Errorf("%d bytes: value %#x at %d, buffer %d; want type %#x, %d-aligned", n, v, off, len(a.buf), typ, hdr)
		}
	}
	if a := newADB(); a.blob(nil) != 0 {
		t.Error("an empty blob is not null")
	}
}
