// Package ipkcheck opens an OpenWrt .ipk the way opkg does and checks the
// package that `make ipk` builds.
//
// Read takes an .ipk apart: the outer gzip'd tar (the format OpenWrt's
// ipkg-build writes and opkg reads; not the ar archive a Debian package
// uses), the control fields, and the entries of control.tar.gz and
// data.tar.gz. It only reads and reports; what a correct wgpanel package
// looks like is stated by the tests beside it, which build the package with
// the repository's Makefile, check every control field, file mode, owner and
// script, check that the binary is a static 32-bit ARM EABI5 ELF, run the
// maintainer scripts against a fake init script, run shellcheck, and start
// the packaged ARMv7 binary under qemu-arm-static.
//
// The package is stdlib only and lives in the main module so that the
// README's `go test ./...` runs these tests; the packer itself
// (packaging/nfpm) is a separate module.
package ipkcheck
