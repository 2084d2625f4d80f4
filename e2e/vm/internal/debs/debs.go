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

// Fetch resolves the versioned kernel through the meta package (old
// versioned kernels vanish from the mirror after security updates),
// downloads what the cache lacks and unpacks it. The apt lists must be
// current (apt-get update; for armhf after dpkg --add-architecture armhf).
func Fetch(ctx context.Context, cache string, a Arch, log io.Writer) (*Set, error) {
	kernel, err := resolveKernel(ctx, a)
	if err != nil {
		return nil, err
	}
	pkgs := append([]string{kernel}, userland...)
	debDir := filepath.Join(cache, "debs", a.Debian)
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return nil, err
	}
	files, err := uris(ctx, a, pkgs)
	if err != nil {
		return nil, err
	}
	s := &Set{Arch: a, Kernel: kernel, Roots: map[string]string{}}
	var missing []string
	for _, p := range pkgs {
		if !files[p].cached(debDir) {
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
		f := files[p]
		root := filepath.Join(cache, "root", a.Debian, strings.TrimSuffix(f.name, ".deb"))
		if err := unpack(ctx, debDir, f, root); err != nil {
			return nil, err
		}
		s.Roots[p] = root
	}
	return s, nil
}

func qualified(pkg string, a Arch) string { return pkg + ":" + a.Debian }

// resolveKernel returns the versioned kernel package the meta package
// depends on.
func resolveKernel(ctx context.Context, a Arch) (string, error) {
	out, err := run(ctx, "", "apt-cache", "depends", qualified(a.KernelMeta, a))
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w\n%s", a.KernelMeta, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			return strings.TrimSuffix(f[1], ":"+a.Debian), nil
		}
	}
	return "", fmt.Errorf("%s names no kernel (apt-get update, and for armhf dpkg --add-architecture armhf first?):\n%s", a.KernelMeta, out)
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

// uris asks apt which file each package is, without downloading. It runs
// in an empty directory: apt-get prints nothing for a package whose file
// is already in the current one.
func uris(ctx context.Context, a Arch, pkgs []string) (map[string]debFile, error) {
	dir, err := os.MkdirTemp("", "wgpanel-vm-uris-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"download", "--print-uris", "-q"}
	for _, p := range pkgs {
		args = append(args, qualified(p, a))
	}
	out, err := run(ctx, dir, "apt-get", args...)
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
		pkg, _, _ := strings.Cut(f[1], "_")
		files[pkg] = debFile{name: f[1], size: size, sha256: strings.ToLower(strings.TrimPrefix(f[3], "SHA256:"))}
	}
	for _, p := range pkgs {
		if _, ok := files[p]; !ok {
			return nil, fmt.Errorf("apt knows no package %s for %s:\n%s", p, a.Debian, out)
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
