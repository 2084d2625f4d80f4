package ipkcheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgpanel/wgpanel/internal/testutil"
	"github.com/wgpanel/wgpanel/packaging/apkcheck"
)

// apkMetaFiles are the files only the .apk carries, as OpenWrt 25.12's own
// packages do.
var apkMetaFiles = []string{
	"/lib/apk/packages/wgpanel.conffiles",
	"/lib/apk/packages/wgpanel.conffiles_static",
	"/lib/apk/packages/wgpanel.list",
}

// TestAPKContainer checks what apk reads before any field: the deflate
// marker, one ADB block first, then only DATA blocks, no signature, and no
// slot this reader has no name for.
func TestAPKContainer(t *testing.T) {
	b := buildPackages(t, wrtArch)
	if !bytes.HasPrefix(b.apkRaw, []byte("ADBd")) {
		t.Fatalf("the .apk starts with %q; want ADBd (deflate)", b.apkRaw[:min(4, len(b.apkRaw))])
	}
	if len(b.apk.Blocks) < 2 || b.apk.Blocks[0] != "ADB" {
		t.Fatalf("blocks %v; want ADB, then DATA blocks", b.apk.Blocks)
	}
	for i, blk := range b.apk.Blocks[1:] {
		if blk != "DATA" {
			t.Errorf("block %d is %s; want DATA", i+1, blk)
		}
	}
	if len(b.apk.Unknown) != 0 {
		t.Errorf("slots set that no field is known for: %v", b.apk.Unknown)
	}
	if got, want := b.apk.ADB[0], byte(0); got != want {
		t.Errorf("ADB compat version %d; want %d", got, want)
	}
	wantName := "wgpanel-" + b.ipkVersion + ".apk"
	if filepath.Base(b.apkPath) != wantName || filepath.Base(filepath.Dir(b.apkPath)) != wrtArch {
		t.Errorf("package file %s; want %s/%s", b.apkPath, wrtArch, wantName)
	}
}

// TestAPKInfo checks every package info field.
func TestAPKInfo(t *testing.T) {
	b := buildPackages(t, wrtArch)
	in := b.apk.Info
	want := map[string]string{
		"name":        "wgpanel",
		"version":     b.ipkVersion,
		"arch":        wrtArch,
		"license":     "MIT",
		"origin":      "wgpanel",
		"maintainer":  b.pkg.Control["Maintainer"],
		"url":         "https://github.com/wgpanel/wgpanel",
		"description": "",
	}
	for k, v := range want {
		got, ok := in.Fields[k]
		switch {
		case !ok:
			t.Errorf("info has no %s", k)
		case k == "description":
			if !strings.Contains(got, "WireGuard") || strings.Contains(got, "\n") {
				t.Errorf("description %q; want one line naming WireGuard", got)
			}
		case got != v:
			t.Errorf("%s: %q; want %q", k, got, v)
		}
	}
	for k := range in.Fields {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected info field %s: %q", k, in.Fields[k])
		}
	}
	if !apkVersionValid(in.Fields["version"]) {
		t.Errorf("version %q is not valid for apk", in.Fields["version"])
	}
	if !slices.Equal(in.Depends, []string{"kmod-wireguard", "wireguard-tools"}) {
		t.Errorf("depends %q; want kmod-wireguard, wireguard-tools", in.Depends)
	}
	if !slices.Equal(in.Provides, []string{"wgpanel-any"}) {
		t.Errorf("provides %q; want wgpanel-any, as OpenWrt's packages", in.Provides)
	}
	var files uint64
	for _, d := range b.apk.Paths {
		for _, f := range d.Files {
			files += f.Size
		}
	}
	if in.InstalledSize != files {
		t.Errorf("installed-size %d; want the files' %d bytes", in.InstalledSize, files)
	}
	// The identity apk keys the installed package on: the SHA-256 of the
	// ADB block written with this field zeroed, cut to 20 bytes.
	if len(in.Hashes) != 20 {
		t.Fatalf("hashes is %d bytes; want 20", len(in.Hashes))
	}
	i := bytes.Index(b.apk.ADB, in.Hashes)
	zeroed := slices.Clone(b.apk.ADB)
	clear(zeroed[i : i+20])
	if sum := sha256.Sum256(zeroed); !bytes.Equal(sum[:20], in.Hashes) {
		t.Errorf("hashes %x; want %x", in.Hashes, sum[:20])
	}
}

// TestAPKFiles checks the file tree against the .ipk and the repository:
// the same files with the same modes, owners and contents, plus the
// /lib/apk/packages files; directories sorted, each file's size and SHA-256
// matching its DATA block, the blocks in tree order, mtimes from
// SOURCE_DATE_EPOCH (the last commit's time).
func TestAPKFiles(t *testing.T) {
	b := buildPackages(t, wrtArch)
	epoch := commitTime(t)

	// Directories: sorted, unique, 0755 root:root, every parent present.
	var names []string
	for _, d := range b.apk.Paths {
		names = append(names, d.Name)
		if d.ACL != (apkcheck.ACL{Mode: 0o755, User: "root", Group: "root"}) {
			t.Errorf("directory %s: %+v; want 0755 root:root", d.Name, d.ACL)
		}
		if p := path.Dir(d.Name); p != "." && !slices.Contains(names, p) {
			t.Errorf("directory %s comes before or without its parent %s", d.Name, p)
		}
		if !slices.IsSortedFunc(d.Files, func(a, b apkcheck.File) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("files of %s are not sorted by name", d.Name)
		}
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("directories %q are not sorted and unique", names)
	}

	// Data blocks: one per non-empty file, in tree order, matching size.
	type idx struct{ p, f uint32 }
	var order []idx
	for _, blk := range b.apk.Data {
		order = append(order, idx{blk.PathIdx, blk.FileIdx})
	}
	var wantOrder []idx
	for i, d := range b.apk.Paths {
		for j, f := range d.Files {
			if f.Size > 0 {
				wantOrder = append(wantOrder, idx{uint32(i + 1), uint32(j + 1)})
			}
		}
	}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("data blocks for (path, file) %v; want %v", order, wantOrder)
	}

	want := map[string]packageFile{}
	for _, f := range packageFiles {
		want[f.path] = f
	}
	for _, m := range apkMetaFiles {
		want[m] = packageFile{m, 0o644, ""}
	}
	var all []string
	for _, d := range b.apk.Paths {
		for _, f := range d.Files {
			p := "/" + d.Name + "/" + f.Name
			all = append(all, p)
			w, ok := want[p]
			if !ok {
				t.Errorf("unexpected file %s", p)
				continue
			}
			delete(want, p)
			_, data, _ := b.apk.File(p)
			if f.ACL != (apkcheck.ACL{Mode: uint64(w.mode), User: "root", Group: "root"}) {
				t.Errorf("%s: %+v; want %04o root:root", p, f.ACL, w.mode)
			}
			if f.Size != uint64(len(data)) {
				t.Errorf("%s: size %d; its data block holds %d bytes", p, f.Size, len(data))
			}
			if sum := sha256.Sum256(data); !bytes.Equal(f.Hash, sum[:]) {
				t.Errorf("%s: hash %x; its data has SHA-256 %x", p, f.Hash, sum)
			}
			if len(f.Target) != 0 {
				t.Errorf("%s has a link target; want a regular file", p)
			}
			if f.MTime != uint64(epoch) {
				t.Errorf("%s: mtime %d; want SOURCE_DATE_EPOCH %d", p, f.MTime, epoch)
			}
			if ipk := b.pkg.DataFile(p); slices.Contains(apkMetaFiles, p) {
				if ipk != nil {
					t.Errorf("the .ipk carries %s too", p)
				}
			} else if ipk == nil || !bytes.Equal(ipk.Body, data) || ipk.Header.Mode&0o7777 != w.mode {
				t.Errorf("%s differs from the .ipk's", p)
			}
		}
	}
	for p := range want {
		t.Errorf("no %s", p)
	}

	// OpenWrt's package metadata: the file list, and no conffiles (the
	// defaults come from the uci-defaults script).
	_, list, _ := b.apk.File("/lib/apk/packages/wgpanel.list")
	slices.Sort(all)
	if string(list) != strings.Join(all, "\n")+"\n" {
		t.Errorf("wgpanel.list is\n%s\nwant every file of the package:\n%s", list, strings.Join(all, "\n"))
	}
	for _, c := range []string{"/lib/apk/packages/wgpanel.conffiles", "/lib/apk/packages/wgpanel.conffiles_static"} {
		if _, body, _ := b.apk.File(c); len(body) != 0 {
			t.Errorf("%s lists %q; want no conffile", c, body)
		}
	}
}

// TestAPKScripts checks the scripts: post-install and post-upgrade are the
// ipk's postinst, pre-deinstall its prerm, and there are no others.
func TestAPKScripts(t *testing.T) {
	b := buildPackages(t, wrtArch)
	postinst := readRepoFile(t, "packaging/scripts/postinst")
	prerm := readRepoFile(t, "packaging/scripts/prerm")
	want := map[string][]byte{"post-install": postinst, "post-upgrade": postinst, "pre-deinstall": prerm}
	for name, body := range b.apk.Scripts {
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected script %s", name)
			continue
		}
		delete(want, name)
		if !bytes.Equal(body, w) {
			t.Errorf("%s differs from the repository's script", name)
		}
	}
	for name := range want {
		t.Errorf("no %s script", name)
	}
	if !bytes.Equal(b.pkg.ControlFile("postinst").Body, postinst) {
		t.Error("the .ipk's postinst is not the .apk's post-install")
	}
}

// TestAPKBinary checks /usr/bin/wgpanel of the .apk: the same bytes as the
// .ipk's, a 32-bit little-endian ARM EABI5 static executable.
func TestAPKBinary(t *testing.T) {
	b := buildPackages(t, wrtArch)
	_, bin, ok := b.apk.File("/usr/bin/wgpanel")
	if !ok {
		t.Fatal("no /usr/bin/wgpanel")
	}
	if ipk := b.pkg.DataFile("/usr/bin/wgpanel"); ipk == nil || !bytes.Equal(ipk.Body, bin) {
		t.Fatal("/usr/bin/wgpanel differs from the .ipk's")
	}
	checkELF(t, bin, elfWant{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_ARM})
	if v := binary.LittleEndian.Uint32(bin[36:40]) >> 24; v != 5 {
		t.Errorf("ARM EABI version %d; want 5", v)
	}
}

// TestAPKReproducible packs the same binary again with the same
// SOURCE_DATE_EPOCH and wants the same bytes.
func TestAPKReproducible(t *testing.T) {
	b := buildPackages(t, wrtArch)
	again, err := os.ReadFile(packAPK(t, b, b.ipkVersion, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b.apkRaw) {
		t.Error("a second pack of the same binary gave different bytes")
	}
}

// commitTime is what the Makefile takes as SOURCE_DATE_EPOCH.
func commitTime(t *testing.T) int64 {
	t.Helper()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	out, err := runIn(context.Background(), testutil.RepoRoot(t), "git", "log", "-1", "--format=%ct")
	if err != nil {
		t.Fatalf("git log: %v\n%s", err, out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// packAPK packs the binary of b again, as `make apk` does, with version
// and the last commit's time, into dir, and returns the package's path.
func packAPK(t *testing.T, b *built, version, dir string) string {
	t.Helper()
	root := testutil.RepoRoot(t)
	bin := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(b.apkPath))), "build", wrtArch, "wgpanel")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.GoTool(), "run", "./packaging/apkpack", "-binary", bin, "-arch", wrtArch,
		"-version", version, "-root", root, "-out", dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(commitTime(t), 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apkpack: %v\n%s", err, out)
	}
	return filepath.Join(dir, wrtArch, "wgpanel-"+version+".apk")
}
