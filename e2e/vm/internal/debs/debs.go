// Package debs fetches and unpacks the Debian packages the VM tests boot:
// a kernel with the WireGuard module, busybox, and the dynamic programs
// (iproute2's ip, wireguard-tools' wg) with their libraries. It uses apt's
// own clients (apt-cache, apt-get download) and dpkg-deb, installs nothing,
// and keeps everything in a cache directory that is never committed.
package debs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Arch is a Debian architecture and what the VM tests need of it.
type Arch struct {
	Debian     string // Debian's name: amd64, armhf
	KernelMeta string // the meta package that names today's kernel
}

var (
	AMD64 = Arch{Debian: "amd64", KernelMeta: "linux-image-cloud-amd64"}
	ARMHF = Arch{Debian: "armhf", KernelMeta: "linux-image-armmp"}

	// All are the architectures the VM tests boot.
	All = []Arch{AMD64, ARMHF}
)

// userland are the packages besides the kernel: busybox for the shell and
// modprobe, and Debian's ip and wg with the libraries they load (ip:
// libbpf, libelf, libmnl, libbsd, libcap; libbpf and libelf: zlib; libbsd:
// libmd).
var userland = []string{
	"busybox-static", "iproute2", "wireguard-tools",
	"libc6", "libbpf1", "libelf1", "libmnl0", "libbsd0", "libmd0", "libcap2", "zlib1g",
}

// EnvCache names the cache directory; .ci/run sets it.
const EnvCache = "WGPANEL_VM_CACHE"

// CacheDir returns the cache directory: $WGPANEL_VM_CACHE, else
// wgpanel-vm in the user's cache directory.
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCache); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the VM packages: set %s", EnvCache)
	}
	return filepath.Join(d, "wgpanel-vm"), nil
}

// Set is the unpacked packages of one architecture.
type Set struct {
	Arch   Arch
	Kernel string            // the versioned kernel package, e.g. linux-image-6.1.0-57-cloud-amd64
	Roots  map[string]string // package -> directory it is unpacked in
}

// Root returns the directory package pkg is unpacked in.
func (s *Set) Root(pkg string) string { return s.Roots[pkg] }

// KernelRoot is the kernel package's directory.
func (s *Set) KernelRoot() string { return s.Roots[s.Kernel] }

// Fetch resolves each architecture's versioned kernel through its meta
// package (old versioned kernels vanish from the mirror after security
// updates), downloads what the cache lacks and unpacks it. The apt lists
// must be current (apt-get update; for armhf after dpkg --add-architecture
// armhf). It asks apt twice in all, whatever the number of architectures:
// each apt call costs seconds where apt keeps no package cache (Debian's
// container images).
func Fetch(ctx context.Context, cache string, arches []Arch, log io.Writer) (map[Arch]*Set, error) {
	kernels, err := resolveKernels(ctx, arches)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, a := range arches {
		for _, p := range append([]string{kernels[a]}, userland...) {
			all = append(all, qualified(p, a))
		}
	}
	files, err := uris(ctx, all)
	if err != nil {
		return nil, err
	}
	sets := map[Arch]*Set{}
	for _, a := range arches {
		s := &Set{Arch: a, Kernel: kernels[a], Roots: map[string]string{}}
		pkgs := append([]string{s.Kernel}, userland...)
		debDir := filepath.Join(cache, "debs", a.Debian)
		if err := os.MkdirAll(debDir, 0o755); err != nil {
			return nil, err
		}
		var missing []string
		for _, p := range pkgs {
			if !files[qualified(p, a)].cached(debDir) {
				missing = append(missing, qualified(p, a))
			}
		}
		if len(missing) > 0 {
			start := time.Now()
			if out, err := run(ctx, debDir, "apt-get", append([]string{"download", "-q"}, missing...)...); err != nil {
				return nil, fmt.Errorf("apt-get download: %w\n%s", err, out)
			}
			fmt.Fprintf(log, "downloaded %d %s packages in %v\n", len(missing), a.Debian, time.Since(start).Round(time.Millisecond))
		}
		for _, p := range pkgs {
			f := files[qualified(p, a)]
			root := filepath.Join(cache, "root", a.Debian, strings.TrimSuffix(f.name, ".deb"))
			if err := unpack(ctx, debDir, f, root); err != nil {
				return nil, err
			}
			s.Roots[p] = root
		}
		sets[a] = s
	}
	return sets, nil
}

func qualified(pkg string, a Arch) string { return pkg + ":" + a.Debian }

// resolveKernels returns the versioned kernel package each meta package
// depends on.
func resolveKernels(ctx context.Context, arches []Arch) (map[Arch]string, error) {
	args := []string{"depends"}
	for _, a := range arches {
		args = append(args, qualified(a.KernelMeta, a))
	}
	out, err := run(ctx, "", "apt-cache", args...)
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends: %w\n%s", err, out)
	}
	// apt-cache prints each package asked for on a line of its own (with
	// :arch for a foreign one), then its dependencies indented.
	kernels := map[Arch]string{}
	var cur *Arch
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") {
			cur = nil
			for i, a := range arches {
				if line == a.KernelMeta || line == qualified(a.KernelMeta, a) {
					cur = &arches[i]
				}
			}
			continue
		}
		f := strings.Fields(line)
		if cur != nil && len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") && kernels[*cur] == "" {
			kernels[*cur] = strings.TrimSuffix(f[1], ":"+cur.Debian)
		}
	}
	for _, a := range arches {
		if kernels[a] == "" {
			return nil, fmt.Errorf("%s names no kernel (apt-get update, and for armhf dpkg --add-architecture armhf first?):\n%s", qualified(a.KernelMeta, a), out)
		}
	}
	return kernels, nil
}

// debFile is one package file as apt would download it.
type debFile struct {
	name   string
	size   int64
	sha256 string
}

func (f debFile) cached(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, f.name))
	return err == nil && fi.Size() == f.size
}

// verify checks the downloaded file against the hash apt gave.
func (f debFile) verify(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, f.name))
	if err != nil {
		return fmt.Errorf("package %s: %w", f.name, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != f.sha256 {
		os.Remove(filepath.Join(dir, f.name))
		return fmt.Errorf("package %s: SHA256 %s; apt expects %s (removed; run again)", f.name, got, f.sha256)
	}
	return nil
}

// uris asks apt which file each package (name:arch) is, without
// downloading. It runs in an empty directory: apt-get prints nothing for a
// package whose file is already in the current one.
func uris(ctx context.Context, qualified []string) (map[string]debFile, error) {
	dir, err := os.MkdirTemp("", "wgpanel-vm-uris-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out, err := run(ctx, dir, "apt-get", append([]string{"download", "--print-uris", "-q"}, qualified...)...)
	if err != nil {
		return nil, fmt.Errorf("apt-get download --print-uris: %w\n%s", err, out)
	}
	files := map[string]debFile{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// 'URI' NAME_VERSION_ARCH.deb SIZE SHA256:HEX
		f := strings.Fields(sc.Text())
		if len(f) != 4 || !strings.HasSuffix(f[1], ".deb") || !strings.HasPrefix(f[3], "SHA256:") {
			continue
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(f[1], ".deb"), "_")
		if len(parts) != 3 {
			continue
		}
		files[parts[0]+":"+parts[2]] = debFile{name: f[1], size: size, sha256: strings.ToLower(strings.TrimPrefix(f[3], "SHA256:"))}
	}
	for _, q := range qualified {
		if _, ok := files[q]; !ok {
			return nil, fmt.Errorf("apt has no file for %s:\n%s", q, out)
		}
	}
	return files, nil
}

// unpack checks package f against apt's hash and extracts it into root,
// once: a marker file says it is complete.
func unpack(ctx context.Context, debDir string, f debFile, root string) error {
	done := filepath.Join(root, ".unpacked")
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	if err := f.verify(debDir); err != nil {
		return err
	}
	deb := filepath.Join(debDir, f.name)
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if out, err := run(ctx, "", "dpkg-deb", "-x", deb, root); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w\n%s", filepath.Base(deb), err, out)
	}
	return os.WriteFile(done, nil, 0o644)
}

func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	if _, err := exec.LookPath(name); err != nil {
		return nil, fmt.Errorf("%s is not installed: %w", name, errors.Unwrap(err))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}
