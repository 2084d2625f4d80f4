// Command ipkpack packs a built wgpanel binary into an OpenWrt .ipk.
//
// It is run by the repository's Makefile (`make ipk`) and lives in its own
// module so that nfpm and its dependencies stay out of wgpanel's go.mod.
//
// The archive itself is written by nfpm's ipk packager, which produces the
// format OpenWrt's ipkg-build writes: a gzip'd tar holding ./debian-binary,
// ./control.tar.gz and ./data.tar.gz, in GNU tar format with numeric owner
// root:root. One field needs fixing afterwards: nfpm writes Installed-Size
// in KiB, as dpkg does, but opkg reads it as bytes (it divides by 1024 for
// its free-space check), and ipkg-build writes the size in bytes of the
// uncompressed data tar. fixInstalledSize rewrites that one line and leaves
// every other byte of every member as nfpm wrote it.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/ipk" // registers the ipk packager
)

const description = `Web panel for a road-warrior WireGuard server on OpenWrt.
wgpanel keeps the WireGuard server and its peers in UCI (/etc/config/network),
applies every change live, and serves a page on the LAN at port 8080 where a
phone is added by scanning a QR code.`

// Architectures maps the OpenWrt package architectures wgpanel is built for
// to nothing but their presence: the Makefile owns the GOARCH mapping, this
// list only refuses a typo before it becomes a package opkg will not install.
var architectures = map[string]bool{
	"arm_cortex-a9_vfpv3-d16": true,
	"aarch64_cortex-a53":      true,
	"mipsel_24kc":             true,
	"mips_24kc":               true,
	"x86_64":                  true,
}

// validVersion is what opkg accepts and compares sensibly: an upstream
// version starting with a digit, optionally followed by -revision.
var validVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9._+~]*(-[A-Za-z0-9.+~]+)?$`)

type options struct {
	binary     string
	arch       string
	version    string
	root       string
	outDir     string
	maintainer string
	mtime      time.Time
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "", "path of the built wgpanel binary")
	flag.StringVar(&o.arch, "arch", "arm_cortex-a9_vfpv3-d16", "OpenWrt package architecture")
	flag.StringVar(&o.version, "version", "", "package version, e.g. 0.1.0-r1")
	flag.StringVar(&o.root, "root", "../..", "repository root (holds init.d/, hotplug/, openwrt/files/, packaging/scripts/)")
	flag.StringVar(&o.outDir, "out", "", "output directory (default ROOT/dist)")
	flag.StringVar(&o.maintainer, "maintainer", "wgpanel developers <wgpanel@users.noreply.github.com>", "Maintainer field")
	flag.Parse()

	o.mtime = time.Now().UTC().Truncate(time.Second)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fatalf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
		}
		o.mtime = time.Unix(sec, 0).UTC()
	}
	if o.outDir == "" {
		o.outDir = filepath.Join(o.root, "dist")
	}

	path, err := run(o)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Println(path)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ipkpack: "+format+"\n", args...)
	os.Exit(1)
}

// run writes OUT/wgpanel_VERSION_ARCH.ipk and returns its path.
func run(o options) (string, error) {
	if o.binary == "" {
		return "", errors.New("-binary is required")
	}
	if !architectures[o.arch] {
		return "", fmt.Errorf("unknown architecture %q", o.arch)
	}
	if !validVersion.MatchString(o.version) {
		return "", fmt.Errorf("version %q is not a valid opkg version (want e.g. 0.0.0_p120-r1)", o.version)
	}
	src := func(rel string) (string, error) {
		p := filepath.Join(o.root, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	root := func(mode os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: o.mtime}
	}
	contents := files.Contents{{Source: o.binary, Destination: "/usr/bin/wgpanel", FileInfo: root(0o755)}}
	for _, f := range []struct {
		rel, dest string
		mode      os.FileMode
	}{
		{"init.d/wgpanel", "/etc/init.d/wgpanel", 0o755},
		{"hotplug/90-wgpanel", "/etc/hotplug.d/iface/90-wgpanel", 0o644},
		// No conffile: /etc/config/wgpanel is written by this uci-defaults
		// script when missing, and by wgpanel itself later, so an upgrade
		// never leaves a wgpanel-opkg beside it. keep.d keeps it across a
		// sysupgrade.
		{"openwrt/files/wgpanel.uci-defaults", "/etc/uci-defaults/90-wgpanel", 0o644},
		{"openwrt/files/wgpanel.keep", "/lib/upgrade/keep.d/wgpanel", 0o644},
	} {
		p, err := src(f.rel)
		if err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{Source: p, Destination: f.dest, FileInfo: root(f.mode)})
	}
	postinst, err := src("packaging/scripts/postinst")
	if err != nil {
		return "", err
	}
	prerm, err := src("packaging/scripts/prerm")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(o.binary); err != nil {
		return "", err
	}

	info := &nfpm.Info{
		Name:          "wgpanel",
		Arch:          o.arch,
		Platform:      "linux",
		Version:       o.version,
		VersionSchema: "none", // keep "0.1.0-r1" as written; semver parsing would turn it into 0.1.0~r1
		Section:       "net",
		Priority:      "optional",
		Maintainer:    o.maintainer,
		Description:   description,
		Homepage:      "https://github.com/wgpanel/wgpanel",
		License:       "MIT",
		MTime:         o.mtime,
		Overridables: nfpm.Overridables{
			Depends:  []string{"kmod-wireguard", "wireguard-tools"},
			Contents: contents,
			Scripts:  nfpm.Scripts{PostInstall: postinst, PreRemove: prerm},
			IPK:      nfpm.IPK{Arch: o.arch},
		},
	}
	info = nfpm.WithDefaults(info)
	info.Umask = 0o022

	packager, err := nfpm.Get("ipk")
	if err != nil {
		return "", err
	}
	var raw bytes.Buffer
	if err := packager.Package(info, &raw); err != nil {
		return "", fmt.Errorf("nfpm: %w", err)
	}
	fixed, err := fixInstalledSize(raw.Bytes())
	if err != nil {
		return "", err
	}

	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(o.outDir, fmt.Sprintf("wgpanel_%s_%s.ipk", o.version, o.arch))
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, fixed, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

// member is one entry of the outer archive, kept with its original header.
type member struct {
	hdr  *tar.Header
	data []byte
}

// fixInstalledSize sets Installed-Size in ./control to the byte size of the
// uncompressed data tar, as OpenWrt's ipkg-build does.
func fixInstalledSize(ipk []byte) ([]byte, error) {
	outer, err := readTarGz(ipk)
	if err != nil {
		return nil, fmt.Errorf("read nfpm output: %w", err)
	}
	var dataSize int64 = -1
	for _, m := range outer {
		if m.hdr.Name == "./data.tar.gz" {
			zr, err := gzip.NewReader(bytes.NewReader(m.data))
			if err != nil {
				return nil, fmt.Errorf("data.tar.gz: %w", err)
			}
			dataSize, err = io.Copy(io.Discard, zr)
			if err != nil {
				return nil, fmt.Errorf("data.tar.gz: %w", err)
			}
		}
	}
	if dataSize < 0 {
		return nil, errors.New("nfpm output has no ./data.tar.gz")
	}

	sizeLine := regexp.MustCompile(`(?m)^Installed-Size: .*$`)
	replaced := false
	for _, m := range outer {
		if m.hdr.Name != "./control.tar.gz" {
			continue
		}
		inner, err := readTarGz(m.data)
		if err != nil {
			return nil, fmt.Errorf("control.tar.gz: %w", err)
		}
		for _, c := range inner {
			if c.hdr.Name != "./control" {
				continue
			}
			line := []byte("Installed-Size: " + strconv.FormatInt(dataSize, 10))
			if sizeLine.Match(c.data) {
				c.data = sizeLine.ReplaceAll(c.data, line)
			} else {
				// nfpm omits the field when the size rounds down to 0 KiB.
				c.data = append(bytes.TrimRight(c.data, "\n"), '\n')
				c.data = append(append(c.data, line...), '\n')
			}
			c.hdr.Size = int64(len(c.data))
			replaced = true
		}
		if m.data, err = writeTarGz(inner); err != nil {
			return nil, err
		}
		m.hdr.Size = int64(len(m.data))
	}
	if !replaced {
		return nil, errors.New("nfpm output has no ./control in ./control.tar.gz")
	}
	return writeTarGz(outer)
}

func readTarGz(b []byte) ([]*member, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var ms []*member
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return ms, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		ms = append(ms, &member{hdr: hdr, data: data})
	}
}

func writeTarGz(ms []*member) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		// Headers are written back in the GNU format nfpm used; opkg's tar
		// reader does not understand PAX extended headers.
		m.hdr.Format = tar.FormatGNU
		if err := tw.WriteHeader(m.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(m.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
