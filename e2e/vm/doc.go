// Package vm holds the tests that boot a real Linux kernel with the
// WireGuard module under qemu and run the router's own path in it, the one
// the other tests cannot reach on a machine without the module: Debian's
// cloud kernel on amd64 with wgpanel's router build, and Debian's armmp
// kernel on `qemu-system-arm -M virt` (ARMv7, the WRT3200ACM's CPU family)
// with the exact binary of the ARMv7 .ipk that `make ipk` builds.
//
// Each VM runs under TCG (no KVM) with no network device at all
// (-nodefaults -nic none), so nothing it does can reach the host. Its
// initramfs is written by the test (a cpio "newc" archive, cpio_test.go):
// busybox, the wireguard, veth and bridge modules with the dependencies
// their .modinfo names, Debian's ip and wg with their libraries, an /init
// script, and the test's own static programs: the guest (internal/guest),
// which plays netifd, the phone and a LAN host around `wgpanel serve` and
// prints one line per step on the console, wgpanel itself, and
// internal/wgdev's test binary, run as root against the module. The test
// parses the console and reports each step and each wgdev test as a
// subtest, with the boot and run times.
//
// The Debian packages come from apt (internal/debs): the versioned kernel
// is resolved through its meta package on every run, downloaded with
// `apt-get download` into a cache directory ($WGPANEL_VM_CACHE, else
// wgpanel-vm in the user's cache directory), checked against apt's hash
// and unpacked with dpkg-deb. The host needs qemu-system-x86,
// qemu-system-arm, make and git, and apt lists that include armhf:
//
//	dpkg --add-architecture armhf && apt-get update
//	apt-get install qemu-system-x86 qemu-system-arm
//	go test ./e2e/vm
//
// Without them the tests skip, saying what is missing; under CI=true they
// fail. .ci/run fills the cache with internal/fetchdebs before the tests.
package vm
