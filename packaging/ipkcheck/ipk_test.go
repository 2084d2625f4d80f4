package ipkcheck

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Size budgets from the packaging issue: the stripped ARMv7 binary and the
// .ipk must fit a router's flash comfortably.
const (
	maxBinaryBytes = 8_000_000
	maxIPKBytes    = 3_500_000
)

// TestIPKOuterFormat checks the archive opkg opens: a gzip'd tar (not ar)
// holding exactly ./debian-binary "2.0\n", ./control.tar.gz and
// ./data.tar.gz, in that order, as regular files owned by root.
func TestIPKOuterFormat(t *testing.T) {
	b := buildPackages(t, wrtArch)
	if !bytes.HasPrefix(b.raw, []byte{0x1f, 0x8b}) {
		t.Fatalf("the .ipk starts with % x; want the gzip magic 1f 8b", b.raw[:min(8, len(b.raw))])
	}
	var names []string
	for _, m := range b.pkg.Members {
		names = append(names, m.Header.Name)
	}
	want := []string{"./debian-binary", "./control.tar.gz", "./data.tar.gz"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("outer members %q; want %q", names, want)
	}
	for _, m := range b.pkg.Members {
		checkHeader(t, "outer "+m.Header.Name, m.Header, 0o644, tar.TypeReg)
	}
	if got := string(b.pkg.Member("debian-binary").Body); got != "2.0\n" {
		t.Errorf("debian-binary is %q; want %q", got, "2.0\n")
	}
	for _, name := range []string{"control.tar.gz", "data.tar.gz"} {
		if body := b.pkg.Member(name).Body; !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
			t.Errorf("%s is not gzip'd (starts with % x)", name, body[:min(4, len(body))])
		}
	}
	wantName := "wgpanel_" + b.ipkVersion + "_" + wrtArch + ".ipk"
	if !strings.HasSuffix(b.path, "/"+wantName) {
		t.Errorf("package file %s; want it named %s", b.path, wantName)
	}
}

// checkHeader checks a tar entry's owner, mode and type. opkg's tar reader
// knows the ustar/GNU types only: a PAX header ('x', 'g') would be an
// unknown entry to it.
func checkHeader(t *testing.T, what string, h *tar.Header, mode int64, typ byte) {
	t.Helper()
	if h.Uid != 0 || h.Gid != 0 {
		t.Errorf("%s: owner %d:%d; want 0:0 (root:root)", what, h.Uid, h.Gid)
	}
	if h.Mode&0o7777 != mode {
		t.Errorf("%s: mode %04o; want %04o", what, h.Mode&0o7777, mode)
	}
	if h.Typeflag != typ {
		t.Errorf("%s: type %q; want %q", what, h.Typeflag, typ)
	}
	if h.Format&tar.FormatPAX != 0 {
		t.Errorf("%s: written as PAX; want GNU or ustar for opkg", what)
	}
}

// TestIPKControl checks every field of ./control.
func TestIPKControl(t *testing.T) {
	b := buildPackages(t, wrtArch)
	c := b.pkg.Control
	maintainer := regexp.MustCompile(`^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$`)
	opkgVersion := regexp.MustCompile(`^[0-9][A-Za-z0-9._+~]*-r[0-9]+$`)
	tests := []struct {
		field string
		check func(v string) bool
		want  string
	}{
		{"Package", eq("wgpanel"), "wgpanel"},
		{"Version", func(v string) bool { return v == b.ipkVersion && opkgVersion.MatchString(v) },
			b.ipkVersion + " (make print-version), an opkg version ending in -rN"},
		{"Depends", eq("kmod-wireguard, wireguard-tools"), "kmod-wireguard, wireguard-tools"},
		{"Section", eq("net"), "net"},
		{"Architecture", eq(wrtArch), wrtArch},
		{"License", eq("MIT"), "MIT"},
		{"Maintainer", maintainer.MatchString, "Name <address@host>"},
		{"Priority", eq("optional"), "optional"},
		{"Homepage", eq("https://github.com/wgpanel/wgpanel"), "https://github.com/wgpanel/wgpanel"},
		{"Installed-Size", func(v string) bool { return v == strconv.FormatInt(b.pkg.DataTarSize, 10) },
			strconv.FormatInt(b.pkg.DataTarSize, 10) + " (bytes of the uncompressed data tar, as ipkg-build writes)"},
		{"Description", func(v string) bool {
			first, _, _ := strings.Cut(v, "\n")
			return strings.Contains(first, "WireGuard") && strings.Contains(v, "\n")
		}, "a one-line summary naming WireGuard and a longer text"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.field] = true
		t.Run(tt.field, func(t *testing.T) {
			v, ok := c[tt.field]
			if !ok {
				t.Fatalf("control has no %s field", tt.field)
			}
			if !tt.check(v) {
				t.Errorf("%s: %q; want %s", tt.field, v, tt.want)
			}
		})
	}
	for _, f := range b.pkg.ControlOrder {
		if !seen[f] {
			t.Errorf("control has unexpected field %s: %q", f, c[f])
		}
	}
	// Description's continuation lines start with a space; opkg joins them.
	raw := string(b.pkg.ControlFile("control").Body)
	if !strings.Contains(raw, "\nDescription: ") || !strings.Contains(raw, "\n wgpanel ") {
		t.Errorf("Description is not written as a field with space-indented continuation lines:\n%s", raw)
	}
}

func eq(want string) func(string) bool { return func(v string) bool { return v == want } }

// TestIPKInstalledSize checks that Installed-Size is in bytes, as opkg reads
// it (nfpm writes KiB), and plausible: at least the files' sizes.
func TestIPKInstalledSize(t *testing.T) {
	b := buildPackages(t, wrtArch)
	size, err := strconv.ParseInt(b.pkg.Control["Installed-Size"], 10, 64)
	if err != nil {
		t.Fatalf("Installed-Size %q: %v", b.pkg.Control["Installed-Size"], err)
	}
	var files int64
	for _, e := range b.pkg.DataTar {
		files += int64(len(e.Body))
	}
	if size < files || size > files+64<<10 {
		t.Errorf("Installed-Size %d; want the data tar's length, between the files' %d bytes and %d", size, files, files+64<<10)
	}
	if size < b.binSize {
		t.Errorf("Installed-Size %d is smaller than the binary (%d bytes): KiB instead of bytes?", size, b.binSize)
	}
}

// TestIPKControlTar checks the entries of control.tar.gz and the scripts.
func TestIPKControlTar(t *testing.T) {
	b := buildPackages(t, wrtArch)
	want := map[string]int64{
		"./control":   0o644,
		"./conffiles": 0o644,
		"./postinst":  0o755,
		"./prerm":     0o755,
	}
	for _, e := range b.pkg.ControlTar {
		mode, ok := want[e.Header.Name]
		if !ok {
			t.Errorf("control.tar.gz has unexpected entry %q", e.Header.Name)
			continue
		}
		checkHeader(t, "control.tar.gz "+e.Header.Name, e.Header, mode, tar.TypeReg)
		delete(want, e.Header.Name)
	}
	for name := range want {
		t.Errorf("control.tar.gz has no %s", name)
	}
	// No conffile: /etc/config/wgpanel comes from the uci-defaults script
	// (see TestPackageFiles), so that opkg never leaves a wgpanel-opkg.
	if got := strings.TrimSpace(string(b.pkg.ControlFile("conffiles").Body)); got != "" {
		t.Errorf("conffiles lists %q; want none", got)
	}
	for _, s := range []string{"postinst", "prerm"} {
		e := b.pkg.ControlFile(s)
		if e == nil {
			continue
		}
		if repo := readRepoFile(t, "packaging/scripts/"+s); !bytes.Equal(e.Body, repo) {
			t.Errorf("%s in the package differs from packaging/scripts/%s", s, s)
		}
		if !bytes.HasPrefix(e.Body, []byte("#!/bin/sh\n")) {
			t.Errorf("%s does not start with #!/bin/sh", s)
		}
	}
}

// packageFile is a file both packages install, with its mode (owner
// root:root) and, where it comes from the repository, that file.
type packageFile struct {
	path string
	mode int64
	repo string // repository path; "" for the binary
}

// packageFiles are the files of both packages.
var packageFiles = []packageFile{
	{"/usr/bin/wgpanel", 0o755, ""},
	{"/etc/init.d/wgpanel", 0o755, "init.d/wgpanel"},
	{"/etc/hotplug.d/iface/90-wgpanel", 0o644, "hotplug/90-wgpanel"},
	{"/etc/uci-defaults/90-wgpanel", 0o644, "openwrt/files/wgpanel.uci-defaults"},
	{"/lib/upgrade/keep.d/wgpanel", 0o644, "openwrt/files/wgpanel.keep"},
}

// TestIPKData checks data.tar.gz: exactly packageFiles with their parent
// directories, owned by root with the right modes, with the repository's
// contents.
func TestIPKData(t *testing.T) {
	b := buildPackages(t, wrtArch)
	type want struct {
		mode int64
		typ  byte
		body []byte // nil: not compared
	}
	wants := map[string]want{}
	for _, f := range packageFiles {
		var body []byte
		if f.repo != "" {
			body = readRepoFile(t, f.repo)
		}
		wants["."+f.path] = want{f.mode, tar.TypeReg, body}
		for d := path.Dir(f.path); d != "/"; d = path.Dir(d) {
			wants["."+d+"/"] = want{0o755, tar.TypeDir, nil}
		}
	}
	for _, e := range b.pkg.DataTar {
		w, ok := wants[e.Header.Name]
		if !ok {
			t.Errorf("data.tar.gz has unexpected entry %q", e.Header.Name)
			continue
		}
		delete(wants, e.Header.Name)
		checkHeader(t, "data.tar.gz "+e.Header.Name, e.Header, w.mode, w.typ)
		if w.body != nil && !bytes.Equal(e.Body, w.body) {
			t.Errorf("%s in the package differs from the repository's file", e.Header.Name)
		}
	}
	for name := range wants {
		t.Errorf("data.tar.gz has no %s", name)
	}
}

// TestIPKBinary checks that /usr/bin/wgpanel is what the WRT3200ACM runs:
// a static, stripped 32-bit little-endian ARM EABI5 executable, built by Go
// for GOARM=7 without cgo, with the version stamped.
func TestIPKBinary(t *testing.T) {
	b := buildPackages(t, wrtArch)
	bin := b.pkg.DataFile("/usr/bin/wgpanel")
	if bin == nil {
		t.Fatal("no /usr/bin/wgpanel")
	}
	checkELF(t, bin.Body, elfWant{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_ARM})
	f, err := elf.NewFile(bytes.NewReader(bin.Body))
	if err != nil {
		t.Fatal(err)
	}
	// e_flags carries the ARM EABI version in its top byte.
	flags := elfFlags(bin.Body, f)
	if v := flags >> 24; v != 5 {
		t.Errorf("ARM EABI version %d (e_flags %#x); want 5", v, flags)
	}
	checkBuildInfo(t, bin.Body, map[string]string{
		"GOOS": "linux", "GOARCH": "arm", "GOARM": "7", "CGO_ENABLED": "0", "-trimpath": "true",
	})
}

// elfFlags returns e_flags, which debug/elf does not expose: in a 32-bit
// ELF header it is the word at offset 36.
func elfFlags(b []byte, f *elf.File) uint32 {
	return f.ByteOrder.Uint32(b[36:40])
}

type elfWant struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
}

// checkELF checks the class, byte order and machine of an executable, and
// that it is static (no interpreter, no dynamic section) and stripped.
func checkELF(t *testing.T, b []byte, w elfWant) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	if f.Class != w.class || f.Data != w.data || f.Machine != w.machine {
		t.Errorf("ELF %v %v %v; want %v %v %v", f.Class, f.Data, f.Machine, w.class, w.data, w.machine)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("ELF type %v; want ET_EXEC", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("has a %v program header: not a static binary", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("has a .symtab section: not stripped (-s)")
	}
	if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
		t.Error("has DWARF debug info (-w missing)")
	}
}

// checkBuildInfo checks the Go build settings recorded in the binary. With
// -trimpath Go does not record -ldflags, so the version stamp is checked by
// running the binary (TestQEMUSmoke, and natively for x86_64).
func checkBuildInfo(t *testing.T, b []byte, want map[string]string) {
	t.Helper()
	bi, err := buildinfo.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("no Go build info: %v", err)
	}
	if bi.Path != "github.com/wgpanel/wgpanel/cmd/wgpanel" {
		t.Errorf("built from %q; want github.com/wgpanel/wgpanel/cmd/wgpanel", bi.Path)
	}
	got := map[string]string{}
	for _, s := range bi.Settings {
		got[s.Key] = s.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("build setting %s=%q; want %q", k, got[k], v)
		}
	}
}

// checkVersion runs `wgpanel version` (through runner, e.g. qemu-arm-static,
// when runner is not "") and checks it prints the stamped version.
func checkVersion(t *testing.T, runner, bin, version string) {
	t.Helper()
	args := []string{bin, "version"}
	if runner != "" {
		args = append([]string{runner}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	if fields := strings.Fields(string(out)); !slices.Contains(fields, version) {
		t.Errorf("wgpanel version printed %q; want it to name %s (-X main.version)", out, version)
	}
}

// TestSizeBudget reports the sizes the issue sets targets for and fails
// when one is exceeded.
func TestSizeBudget(t *testing.T) {
	b := buildPackages(t, wrtArch)
	ipk := int64(len(b.raw))
	t.Logf("ARMv7 binary (stripped): %d bytes (%.2f MB, budget %.1f MB)", b.binSize, float64(b.binSize)/1e6, maxBinaryBytes/1e6)
	t.Logf(".ipk: %d bytes (%.2f MB, budget %.1f MB)", ipk, float64(ipk)/1e6, maxIPKBytes/1e6)
	t.Logf(".apk: %d bytes (%.2f MB, budget %.1f MB)", len(b.apkRaw), float64(len(b.apkRaw))/1e6, maxIPKBytes/1e6)
	if int64(len(b.apkRaw)) > maxIPKBytes {
		t.Errorf(".apk is %d bytes; the budget is %d", len(b.apkRaw), maxIPKBytes)
	}
	if b.binSize > maxBinaryBytes {
		t.Errorf("ARMv7 binary is %d bytes; the budget is %d", b.binSize, maxBinaryBytes)
	}
	if ipk > maxIPKBytes {
		t.Errorf(".ipk is %d bytes; the budget is %d", ipk, maxIPKBytes)
	}
}

// TestIPKOtherArchitectures builds the package for the other supported
// OpenWrt architectures and checks each binary's target. It compiles
// wgpanel four more times, so -short skips it.
func TestIPKOtherArchitectures(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles wgpanel for four more architectures; skipped with -short")
	}
	tests := []struct {
		arch   string
		elf    elfWant
		goarch map[string]string
	}{
		{"aarch64_cortex-a53", elfWant{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64},
			map[string]string{"GOARCH": "arm64"}},
		{"mipsel_24kc", elfWant{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_MIPS},
			map[string]string{"GOARCH": "mipsle", "GOMIPS": "softfloat"}},
		{"mips_24kc", elfWant{elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_MIPS},
			map[string]string{"GOARCH": "mips", "GOMIPS": "softfloat"}},
		{"x86_64", elfWant{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64},
			map[string]string{"GOARCH": "amd64", "GOAMD64": "v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			b := buildPackages(t, tt.arch)
			if got := b.pkg.Control["Architecture"]; got != tt.arch {
				t.Errorf("Architecture %q; want %q", got, tt.arch)
			}
			if !strings.HasSuffix(b.path, "_"+tt.arch+".ipk") {
				t.Errorf("package file %s does not end in _%s.ipk", b.path, tt.arch)
			}
			if got := b.apk.Info.Fields["arch"]; got != tt.arch {
				t.Errorf(".apk arch %q; want %q", got, tt.arch)
			}
			if _, apkBin, _ := b.apk.File("/usr/bin/wgpanel"); !bytes.Equal(apkBin, b.pkg.DataFile("/usr/bin/wgpanel").Body) {
				t.Error("the .apk's binary differs from the .ipk's")
			}
			bin := b.pkg.DataFile("/usr/bin/wgpanel")
			if bin == nil {
				t.Fatal("no /usr/bin/wgpanel")
			}
			checkELF(t, bin.Body, tt.elf)
			want := map[string]string{"GOOS": "linux", "CGO_ENABLED": "0", "-trimpath": "true"}
			for k, v := range tt.goarch {
				want[k] = v
			}
			checkBuildInfo(t, bin.Body, want)
			if tt.arch == "x86_64" && runtime.GOARCH == "amd64" {
				exe := filepath.Join(t.TempDir(), "wgpanel")
				if err := os.WriteFile(exe, bin.Body, 0o755); err != nil {
					t.Fatal(err)
				}
				checkVersion(t, "", exe, b.version)
			}
			t.Logf("%s: binary %d bytes, .ipk %d bytes, .apk %d bytes", tt.arch, b.binSize, len(b.raw), len(b.apkRaw))
		})
	}
}

// TestReadRejects checks that Read refuses what opkg would: an ar archive
// (the Debian format some ipk packagers write), a plain tar, and a package
// whose control file does not parse.
func TestReadRejects(t *testing.T) {
	good := map[string][]byte{
		"./debian-binary":  []byte("2.0\n"),
		"./control.tar.gz": tarGz(t, map[string][]byte{"./control": []byte("Package: x\nVersion: 1-r1\n")}),
		"./data.tar.gz":    tarGz(t, map[string][]byte{"./usr/bin/x": []byte("x")}),
	}
	tests := []struct {
		name    string
		ipk     []byte
		wantErr string // "" means Read must succeed
	}{
		{"valid", tarGz(t, good), ""},
		{"ar archive", []byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"), "ar archive"},
		{"plain tar", plainTar(t, good), "not gzip"},
		{"no data", tarGz(t, map[string][]byte{"./debian-binary": good["./debian-binary"], "./control.tar.gz": good["./control.tar.gz"]}), "no data.tar.gz"},
		{"bad control", tarGz(t, map[string][]byte{
			"./debian-binary":  good["./debian-binary"],
			"./control.tar.gz": tarGz(t, map[string][]byte{"./control": []byte("Package: x\nPackage: y\n")}),
			"./data.tar.gz":    good["./data.tar.gz"],
		}), "repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.ipk))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Read: %v; want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Read error %v; want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestParseControl checks the control file parser on the forms opkg reads.
func TestParseControl(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"fields", "Package: wgpanel\nVersion: 0.1.0-r1\n", map[string]string{"Package": "wgpanel", "Version": "0.1.0-r1"}, false},
		{"continuation", "Description: one\n two\n .\n", map[string]string{"Description": "one\ntwo\n."}, false},
		{"no final newline", "Package: wgpanel", nil, true},
		{"blank line", "Package: a\n\nVersion: 1\n", nil, true},
		{"repeated", "Package: a\nPackage: b\n", nil, true},
		{"not a field", "Package wgpanel\n", nil, true},
		{"leading continuation", " x\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := ParseControl([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseControl(%q) error %v; want error %v", tt.in, err, tt.wantErr)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q; want %q", k, got[k], v)
				}
			}
			if !tt.wantErr && len(got) != len(tt.want) {
				t.Errorf("got %d fields %v; want %d", len(got), got, len(tt.want))
			}
		})
	}
}

// tarGz builds a gzip'd tar of regular files in sorted name order.
func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plainTar(t, files))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func plainTar(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, Format: tar.FormatGNU}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenWrtMakefileFiles checks that openwrt/Makefile, the package for an
// SDK, installs the same files from the same sources with the same modes
// as `make ipk` and `make apk`, and has no conffile.
func TestOpenWrtMakefileFiles(t *testing.T) {
	mk := string(readRepoFile(t, "openwrt/Makefile"))
	for _, f := range packageFiles {
		if f.repo == "" {
			continue // the binary: GoPackage/Package/Install/Bin
		}
		macro := map[int64]string{0o755: "INSTALL_BIN", 0o644: "INSTALL_DATA"}[f.mode]
		line := "$(" + macro + ") $(PKG_BUILD_DIR)/" + f.repo + " $(1)" + f.path
		if !strings.Contains(mk, line) {
			t.Errorf("openwrt/Makefile does not install %s as\n\t%s", f.path, line)
		}
	}
	if strings.Contains(mk, "Package/wgpanel/conffiles") {
		t.Error("openwrt/Makefile declares conffiles; the defaults come from the uci-defaults script")
	}
}

// TestOpenWrtMakefileGCFlags checks that openwrt/Makefile builds with the
// repository Makefile's ROUTER_GCFLAGS: without them the ARMv7 binary is
// about 0.5 MB larger, over the 8 MB the package must stay under.
func TestOpenWrtMakefileGCFlags(t *testing.T) {
	repo := string(readRepoFile(t, "Makefile"))
	start := strings.Index(repo, "ROUTER_GCFLAGS ?=")
	if start < 0 {
		t.Fatal("the Makefile has no ROUTER_GCFLAGS")
	}
	def := repo[start:]
	def = def[:strings.Index(def, "\nGCFLAGS")]
	var want []string
	for _, m := range regexp.MustCompile(`-gcflags=([^\s=]+)=(\S*)`).FindAllStringSubmatch(def, -1) {
		if m[1] == "all" {
			if m[2] != "-l" {
				t.Fatalf("ROUTER_GCFLAGS sets all=%s; this test knows all=-l", m[2])
			}
			continue
		}
		want = append(want, m[1])
	}
	if len(want) == 0 {
		t.Fatalf("no package patterns found in %q", def)
	}

	mk := string(readRepoFile(t, "openwrt/Makefile"))
	if !strings.Contains(mk, `-gcflags "all=-l $(GO_PKG_DEFAULT_GCFLAGS)"`) {
		t.Error(`openwrt/Makefile does not pass -gcflags "all=-l ..."`)
	}
	m := regexp.MustCompile(`\$\(foreach p,([^,]+),\s*\\?\s*-gcflags "\$\(p\)=\$\(GO_PKG_DEFAULT_GCFLAGS\)"\)`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatal("openwrt/Makefile has no foreach over the packages that keep inlining")
	}
	if got := strings.Fields(m[1]); !slices.Equal(got, want) {
		t.Errorf("openwrt/Makefile keeps inlining in %q; ROUTER_GCFLAGS in %q", got, want)
	}
	if !strings.Contains(mk, "$(call GoPackage/Build/Compile,$(WGPANEL_GCFLAGS))") {
		t.Error("openwrt/Makefile does not pass WGPANEL_GCFLAGS to GoPackage/Build/Compile")
	}
}
