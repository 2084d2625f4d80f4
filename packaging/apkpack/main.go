// Command apkpack packs a built wgpanel binary into an OpenWrt 25.12 .apk
// (apk-tools 3's apkv3 format), with the same files, modes and owners as the
// .ipk that packaging/nfpm writes, plus the /lib/apk/packages/wgpanel.*
// files OpenWrt's own packages carry. It is run by the Makefile (`make apk`)
// and needs nothing but the standard library and packaging/apkv3.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wgpanel/wgpanel/packaging/apkv3"
)

// description is the one line apk shows; apk's description is a single line.
const description = "Web panel for a road-warrior WireGuard server on OpenWrt: peers kept in UCI, applied live, added by QR code"

// architectures are the OpenWrt package architectures wgpanel is built for:
// a typo would give a package apk refuses to install.
var architectures = []string{"arm_cortex-a9_vfpv3-d16", "aarch64_cortex-a53", "mipsel_24kc", "mips_24kc", "x86_64"}

type options struct {
	binary, arch, version, root, outDir, maintainer string
	mtime                                           int64
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "", "path of the built wgpanel binary")
	flag.StringVar(&o.arch, "arch", "arm_cortex-a9_vfpv3-d16", "OpenWrt package architecture")
	flag.StringVar(&o.version, "version", "", "package version, e.g. 0.0.0_p120-r1")
	flag.StringVar(&o.root, "root", ".", "repository root (holds init.d/, hotplug/, openwrt/files/, packaging/scripts/)")
	flag.StringVar(&o.outDir, "out", "dist", "output directory; the package is written to OUT/ARCH/wgpanel-VERSION.apk")
	flag.StringVar(&o.maintainer, "maintainer", "wgpanel developers <wgpanel@users.noreply.github.com>", "maintainer field")
	flag.Parse()

	o.mtime = time.Now().Unix()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec < 0 {
			fatalf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
		}
		o.mtime = sec
	}
	out, err := run(o)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Println(out)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apkpack: "+format+"\n", args...)
	os.Exit(1)
}

// source is one file of the package taken from the repository.
type source struct {
	dest string
	rel  string // repository path; "" for the binary
	mode uint32
}

// sources are the files both packages install (see packaging/nfpm).
var sources = []source{
	{"/usr/bin/wgpanel", "", 0o755},
	{"/etc/init.d/wgpanel", "init.d/wgpanel", 0o755},
	{"/etc/hotplug.d/iface/90-wgpanel", "hotplug/90-wgpanel", 0o644},
	{"/etc/uci-defaults/90-wgpanel", "openwrt/files/wgpanel.uci-defaults", 0o644},
	{"/lib/upgrade/keep.d/wgpanel", "openwrt/files/wgpanel.keep", 0o644},
}

func run(o options) (string, error) {
	if o.binary == "" {
		return "", fmt.Errorf("-binary is required")
	}
	if !slices.Contains(architectures, o.arch) {
		return "", fmt.Errorf("unknown architecture %q; use one of %s", o.arch, strings.Join(architectures, ", "))
	}
	if !apkv3.ValidVersion(o.version) {
		return "", fmt.Errorf("version %q is not valid for apk (want e.g. 0.0.0_p120-r1; see make print-version)", o.version)
	}
	read := func(p string) ([]byte, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		return b, nil
	}
	file := func(dest string, mode uint32, data []byte) apkv3.File {
		return apkv3.File{Path: dest, Mode: mode, User: "root", Group: "root", MTime: o.mtime, Data: data}
	}
	var files []apkv3.File
	for _, s := range sources {
		p := o.binary
		if s.rel != "" {
			p = filepath.Join(o.root, filepath.FromSlash(s.rel))
		}
		data, err := read(p)
		if err != nil {
			return "", err
		}
		files = append(files, file(s.dest, s.mode, data))
	}
	postinst, err := read(filepath.Join(o.root, "packaging", "scripts", "postinst"))
	if err != nil {
		return "", err
	}
	prerm, err := read(filepath.Join(o.root, "packaging", "scripts", "prerm"))
	if err != nil {
		return "", err
	}

	// OpenWrt's packages list their files and conffiles under
	// /lib/apk/packages, where sysupgrade and OpenWrt's shell functions
	// look for them. wgpanel has no conffile: its defaults come from a
	// uci-defaults script, so that wgpanel's own writes to
	// /etc/config/wgpanel never make apk leave a .apk-new beside it;
	// /lib/upgrade/keep.d/wgpanel keeps the file across a sysupgrade.
	const meta = "/lib/apk/packages/wgpanel"
	var list []string
	for _, f := range files {
		list = append(list, f.Path)
	}
	list = append(list, meta+".conffiles", meta+".conffiles_static", meta+".list")
	slices.Sort(list)
	files = append(files,
		file(meta+".list", 0o644, []byte(strings.Join(list, "\n")+"\n")),
		file(meta+".conffiles", 0o644, nil),
		file(meta+".conffiles_static", 0o644, nil),
	)

	pkg := &apkv3.Package{
		Info: apkv3.Info{
			Name:        "wgpanel",
			Version:     o.version,
			Description: description,
			Arch:        o.arch,
			License:     "MIT",
			Origin:      "wgpanel",
			Maintainer:  o.maintainer,
			URL:         "https://github.com/wgpanel/wgpanel",
			Depends:     []string{"kmod-wireguard", "wireguard-tools"},
			Provides:    []string{"wgpanel-any"},
		},
		Files: files,
		// apk runs post-upgrade instead of post-install on an upgrade; the
		// script tells the two apart by APK_SCRIPT.
		Scripts: apkv3.Scripts{PostInstall: postinst, PostUpgrade: postinst, PreDeinstall: prerm},
	}
	var buf bytes.Buffer
	if err := pkg.Write(&buf); err != nil {
		return "", err
	}
	dir := filepath.Join(o.outDir, o.arch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "wgpanel-"+o.version+".apk")
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}
