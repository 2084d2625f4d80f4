package vm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wgpanel/wgpanel/e2e/vm/internal/debs"
)

// modules are the kernel modules the VM loads, besides their dependencies:
// WireGuard, veth for the namespaces, bridge for wgdev's tests.
var modules = []string{"wireguard", "veth", "bridge"}

// initramfs is what goes into the VM besides the packages.
type initramfs struct {
	set      *debs.Set
	triplet  string            // Debian's multiarch directory: x86_64-linux-gnu
	programs map[string][]byte // path in the VM -> static program of the test's
	guestArg string            // the guest's flags
}

// build returns the cpio archive.
func (in *initramfs) build() ([]byte, error) {
	a := newArchive()
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "tmp", "etc", "root", "var/run"} {
		a.dir(d)
	}
	a.charDev("dev/console", 5, 1) // without it /init prints nothing
	a.charDev("dev/null", 1, 3)

	bb, err := os.ReadFile(filepath.Join(in.set.Root("busybox-static"), "bin", "busybox"))
	if err != nil {
		return nil, fmt.Errorf("busybox-static: %w", err)
	}
	a.file("bin/busybox", 0o755, bb)
	a.symlink("bin/sh", "busybox")

	// Debian's dynamic ip and wg, with the loader and libraries they name.
	for _, prog := range []struct{ pkg, path string }{
		{"iproute2", "bin/ip"},
		{"wireguard-tools", "usr/bin/wg"},
	} {
		if err := in.addDynamic(a, prog.pkg, prog.path); err != nil {
			return nil, err
		}
	}

	order, err := in.addModules(a)
	if err != nil {
		return nil, err
	}
	for path, data := range in.programs {
		a.file(path, 0o755, data)
	}
	a.file("init", 0o755, []byte(initScript(order, in.guestArg)))

	var buf bytes.Buffer
	if err := a.writeTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// initScript mounts what the programs need, loads the modules (in an order
// where each follows its dependencies), runs the guest and powers off.
func initScript(modules []string, guestArgs string) string {
	return `#!/bin/busybox sh
/bin/busybox --install -s
# Debian's ip (in /bin) before busybox's (in /sbin), which has no netns.
export PATH=/bin:/usr/bin:/sbin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
echo "WGVM BOOT $(cut -d' ' -f1 /proc/uptime)"
for m in ` + strings.Join(modules, " ") + `; do
	insmod /lib/modules/vm/$m.ko || echo "WGVM STEP modules FAIL insmod $m"
done
/guest ` + guestArgs + `
echo "WGVM HALT $(cut -d' ' -f1 /proc/uptime)"
reboot -f
`
}

// addModules adds the modules and their dependencies, read from each
// module's .modinfo (the kernel package has no modules.dep), and returns
// them in load order.
func (in *initramfs) addModules(a *archive) ([]string, error) {
	kroot := in.set.KernelRoot()
	dirs, err := filepath.Glob(filepath.Join(kroot, "lib", "modules", "*", "kernel"))
	if err != nil || len(dirs) != 1 {
		return nil, fmt.Errorf("%s: want one lib/modules/VERSION/kernel, found %q", in.set.Kernel, dirs)
	}
	byName := map[string]string{}
	err = filepath.WalkDir(dirs[0], func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			byName[strings.ReplaceAll(strings.TrimSuffix(d.Name(), ".ko"), "-", "_")] = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module %s depends on itself through %s", name, from)
		case 2:
			return nil
		}
		state[name] = 1
		path, ok := byName[name]
		if !ok {
			return fmt.Errorf("%s has no module %s (needed by %s)", in.set.Kernel, name, from)
		}
		deps, err := moduleDepends(path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		a.file("lib/modules/vm/"+name+".ko", 0o644, data)
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, m := range modules {
		if err := visit(m, "the test"); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleDepends reads depends= from a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("%s has no .modinfo", path)
	}
	data, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// addDynamic adds a dynamic program of package pkg at path, with its
// program interpreter and every library it needs, transitively, taken
// from the unpacked packages and put where the loader looks.
func (in *initramfs) addDynamic(a *archive, pkg, path string) error {
	root := in.set.Root(pkg)
	data, err := readFollow(root, path)
	if err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	a.file(path, 0o755, data)
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s %s: %w", pkg, path, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return err
			}
			interp := strings.TrimRight(string(b), "\x00")
			ld, err := in.findFile(strings.TrimPrefix(interp, "/"))
			if err != nil {
				return fmt.Errorf("%s's loader: %w", path, err)
			}
			a.file(interp, 0o755, ld)
		}
	}
	return in.addLibs(a, f, path, map[string]bool{})
}

func (in *initramfs) addLibs(a *archive, f *elf.File, who string, seen map[string]bool) error {
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: %w", who, err)
	}
	for _, lib := range libs {
		if seen[lib] {
			continue
		}
		seen[lib] = true
		var data []byte
		var where string
		for _, dir := range []string{"lib/" + in.triplet, "usr/lib/" + in.triplet} {
			if data, err = in.findFile(dir + "/" + lib); err == nil {
				where = dir + "/" + lib
				break
			}
		}
		if where == "" {
			return fmt.Errorf("library %s that %s needs is in none of the packages (add its package to debs)", lib, who)
		}
		a.file(where, 0o755, data)
		lf, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", lib, err)
		}
		if err := in.addLibs(a, lf, lib, seen); err != nil {
			return err
		}
	}
	return nil
}

// findFile looks for rel in every unpacked package.
func (in *initramfs) findFile(rel string) ([]byte, error) {
	for _, root := range in.set.Roots {
		if data, err := readFollow(root, rel); err == nil {
			return data, nil
		}
	}
	return nil, fmt.Errorf("no package has /%s", rel)
}

// readFollow reads rel inside root, following symlinks (relative or
// absolute) within root, as they would resolve on the installed system.
func readFollow(root, rel string) ([]byte, error) {
	p := filepath.Join(root, rel)
	for range 10 {
		target, err := os.Readlink(p)
		if err != nil {
			return os.ReadFile(p)
		}
		if filepath.IsAbs(target) {
			p = filepath.Join(root, target)
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	return nil, fmt.Errorf("%s: too many symlinks", rel)
}
