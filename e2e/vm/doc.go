// Package vm holds the tests that boot a real Linux kernel with the
// WireGuard module under qemu (TCG, no KVM, no network device) and run the
// router's own path in it: Debian's cloud kernel on amd64, and Debian's
// armmp kernel on `qemu-system-arm -M virt` with the exact binary of the
// ARMv7 .ipk. See vm_test.go and ../../shared docs TESTING.md, "A real
// kernel in a VM".
package vm
