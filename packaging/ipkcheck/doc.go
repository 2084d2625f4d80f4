// Package ipkcheck opens an OpenWrt .ipk the way opkg does and checks the
// packages that `make ipk` and `make apk` build.
//
// Read takes an .ipk apart: the outer gzip'd tar (the format OpenWrt's
// ipkg-build writes and opkg reads; not the ar archive a Debian package
// uses), the control fields, and the entries of control.tar.gz and
// data.tar.gz. It only reads and reports; what correct wgpanel packages
// look like is stated by the tests beside it. They build both packages with
// the repository's Makefile; check every control field and apk info field,
// file mode, owner, SHA-256 and script, and the .apk's blocks (read by
// packaging/apkcheck, not by the writer); check that the binary is a static
// 32-bit ARM EABI5 ELF, the same in both; check the version scheme against
// apk's and opkg's ordering rules; run the maintainer scripts in a busybox
// root as apk and opkg run them; run shellcheck; start the packaged ARMv7
// binary under qemu-arm-static; and, given WGPANEL_APK, install, upgrade
// and remove the .apk with a real apk-tools 3.
//
// The package is stdlib only and lives in the main module so that the
// README's `go test ./...` runs these tests; the .ipk packer
// (packaging/nfpm) is a separate module.
package ipkcheck
